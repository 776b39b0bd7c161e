"""Suggesting a privacy role for a column from its name and from a sample of its values.

The suggestion is a starting point for the analyst, who confirms or changes it. It errs on the protective
side: when the values say "direct identifier" (they look like e-mail addresses, phone numbers or unique ids)
that wins over a milder reading of the name. Reasons are short sentences that name the rule, never a value,
because they are stored in the project and may be shown in reports.

Name matching works on normalised tokens: ``"PatientFirstName"``, ``"patient_first_name"`` and
``"patient-first-name"`` all become ``patient first name``. Keywords of five letters or more also match inside
a longer token (``"birthdate"`` contains ``birth``); short keywords (``id``, ``age``, ``sex``, ``zip``) must
be a whole token, so ``"stage"`` is not an age and ``"ethnicity"`` is not a city. A few keywords in German,
French, Spanish, Dutch and Italian are included.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workbench.core.data.dataset import ColumnRole

# Each rule: (role, keywords). Order matters: the first rule with a matching keyword wins, so more specific
# rules come first (label names are exact; "city_name" is a quasi-identifier before "name" makes it direct).
_LABEL_EXACT = frozenset({"label", "labels", "target", "class", "outcome", "y", "ground_truth"})

_DIRECT_SPECIFIC: tuple[str, ...] = (
    "email", "e_mail", "mail", "courriel", "correo",
    "phone", "telephone", "telefon", "telefono", "tel", "mobile", "cell", "handy", "fax",
    "ssn", "social_security", "national_id", "nationalid", "nin", "nino", "nhs", "passport", "mrn",
    "medical_record", "bsn", "dni", "nif", "insee", "personnummer", "tax_id", "taxid", "steuerid", "iban",
    "credit_card", "card_number", "licence", "license_number", "driver_license", "account_number",
    "firstname", "first_name", "forename", "given_name", "givenname", "lastname", "last_name", "surname",
    "family_name", "familyname", "fullname", "full_name", "middle_name", "maiden_name",
    "username", "user_name",
    "vorname", "nachname", "prenom", "apellido", "apellidos", "achternaam", "cognome", "patient_name",
    "address", "addr", "street", "adresse", "strasse", "straße", "direccion", "indirizzo", "straat",
    "ip", "ip_address", "ipaddress", "mac_address", "device_id", "imei",
)  # fmt: skip
_QUASI: tuple[str, ...] = (
    "dob", "birth", "birthday", "geburtsdatum", "naissance", "nacimiento", "age", "alter", "edad",
    "zip", "zipcode", "postcode", "postal", "postleitzahl", "plz", "code_postal",
    "sex", "gender", "geschlecht", "sexe", "sexo",
    "race", "ethnicity", "ethnic", "nationality", "citizenship",
    "city", "town", "stadt", "ville", "ciudad", "county", "region", "district", "country", "state",
    "occupation", "profession", "job", "job_title", "employer", "beruf",
    "marital", "marital_status", "civil_status", "familienstand",
    "education", "height", "weight", "latitude", "longitude", "lat", "lon", "lng", "geo",
)  # fmt: skip
_SENSITIVE: tuple[str, ...] = (
    "diagnosis", "diagnose", "diagnoses", "diagnostic", "condition", "disease", "illness", "icd", "icd10",
    "symptom", "symptoms", "treatment", "medication", "medications", "medicine", "drug", "prescription",
    "hiv", "cancer", "pregnancy", "pregnant", "disability", "mental_health", "psychiatric",
    "salary", "income", "wage", "wages", "gehalt", "einkommen", "revenu", "salario", "debt", "credit_score",
    "religion", "religious", "faith", "sexual_orientation", "orientation", "political", "party_affiliation",
    "union_member", "criminal", "conviction", "genetic", "biometric",
)  # fmt: skip
_FREE_TEXT: tuple[str, ...] = (
    "note", "notes", "comment", "comments", "description", "desc", "text", "remark", "remarks", "narrative",
    "summary", "message", "body", "feedback", "free_text", "freetext", "details", "bemerkung", "commentaire",
)  # fmt: skip
_DIRECT_GENERIC: tuple[str, ...] = (
    "name", "nom", "nombre", "naam", "nome", "patient", "id", "identifier", "uuid", "guid",
)  # fmt: skip
# Keywords long enough to be found inside compound names ("birthdate") that would misfire there.
_WHOLE_TOKEN_ONLY = frozenset({"state", "alter", "party", "faith", "union", "phone", "notes", "condition"})

_RULES: tuple[tuple[ColumnRole, tuple[str, ...]], ...] = (
    (ColumnRole.DIRECT_IDENTIFIER, _DIRECT_SPECIFIC),
    (ColumnRole.QUASI_IDENTIFIER, _QUASI),
    (ColumnRole.SENSITIVE, _SENSITIVE),
    (ColumnRole.FREE_TEXT, _FREE_TEXT),
    (ColumnRole.DIRECT_IDENTIFIER, _DIRECT_GENERIC),
)

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE_RE = re.compile(r"^\+?[\d\s().\-/]{7,22}$")
_DATE_LIKE_RE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_CODE_ID_RE = re.compile(r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9_\-./]{3,39}$")
_DIGITS_RE = re.compile(r"^\d+$")
_IP_RE = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,7}$")

VALUE_SHARE = 0.8
"""Share of sampled values that must match a value pattern for it to decide the role."""
MIN_ID_ROWS = 10
"""A column needs at least this many rows before "all values unique" says it is an identifier."""


def name_tokens(name: str) -> list[str]:
    """Split a column name into lower-case tokens: camelCase, snake_case, kebab-case, spaces and dots."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name.strip())
    spaced = re.sub(r"(?i)e[-_ ]mail", "email", spaced)
    return [t for t in re.split(r"[^0-9a-zà-öø-ÿß]+", spaced.lower()) if t]


def _keyword_matches(keyword: str, tokens: list[str], joined: str) -> bool:
    if "_" in keyword:  # a multi-word keyword: match the token sequence
        return f"_{keyword}_" in f"_{joined}_"
    if keyword in tokens:
        return True
    # plural of a whole-token keyword ("notes", "diagnoses" are listed; "comments" too) or a long keyword
    # embedded in a compound token ("birthdate", "phonenumber", "emailaddress")
    if any(t == keyword + "s" for t in tokens):
        return True
    return len(keyword) >= 5 and keyword not in _WHOLE_TOKEN_ONLY and any(keyword in t for t in tokens)


def role_from_name(name: str) -> tuple[ColumnRole, str] | None:
    """The role a column name suggests, with its reason, or ``None`` when the name says nothing."""
    tokens = name_tokens(name)
    if not tokens:
        return None
    joined = "_".join(tokens)
    if joined in _LABEL_EXACT:
        return ColumnRole.LABEL, f"name matches '{joined}'"
    for role, keywords in _RULES:
        for keyword in keywords:
            if _keyword_matches(keyword, tokens, joined):
                return role, f"name matches '{keyword}'"
    return None


def _share(values: Sequence[str], pattern: re.Pattern[str]) -> float:
    if not values:
        return 0.0
    return sum(1 for v in values if pattern.match(v.strip())) / len(values)


def _phone_share(values: Sequence[str]) -> float:
    def is_phone(v: str) -> bool:
        v = v.strip()
        if not _PHONE_RE.match(v) or _DATE_LIKE_RE.match(v):
            return False
        digits = sum(c.isdigit() for c in v)
        if v.count(".") == 1 and not any(c in v for c in " ()-/"):
            return False  # a decimal number
        # bare digit strings are more often numbers or ids; a phone number has separators or a leading '+'
        return 7 <= digits <= 15 and (v.startswith("+") or any(c in v for c in " ()-./"))

    return sum(1 for v in values if is_phone(v)) / len(values) if values else 0.0


def _looks_like_code(value: str) -> bool:
    """An id-like code: letters and digits without spaces, not a date; bare digits need 7 or more."""
    v = value.strip()
    if not _CODE_ID_RE.match(v) or _DATE_LIKE_RE.match(v):
        return False
    return not _DIGITS_RE.match(v) or len(v) >= 7


def role_from_values(
    dtype: str, values_sample: Sequence[str], distinct: int, rows: int
) -> tuple[ColumnRole, str] | None:
    """The role the values suggest, with its reason, or ``None`` when they suggest nothing."""
    if dtype == "text":
        return ColumnRole.FREE_TEXT, "values are long free-form text"
    if dtype not in ("string", "integer") or not values_sample:
        return None
    if dtype == "string":
        share = _share(values_sample, _EMAIL_RE)
        if share >= VALUE_SHARE:
            return ColumnRole.DIRECT_IDENTIFIER, f"{share:.0%} of sampled values look like e-mail addresses"
        share = _share(values_sample, _IP_RE)
        if share >= VALUE_SHARE:
            return ColumnRole.DIRECT_IDENTIFIER, f"{share:.0%} of sampled values look like IP addresses"
        share = _phone_share(values_sample)
        if share >= VALUE_SHARE:
            return ColumnRole.DIRECT_IDENTIFIER, f"{share:.0%} of sampled values look like phone numbers"
    unique = rows >= MIN_ID_ROWS and distinct == rows
    if unique and dtype == "string":
        share = _share(values_sample, _UUID_RE)
        if share >= VALUE_SHARE:
            return ColumnRole.DIRECT_IDENTIFIER, "all values are unique and look like UUIDs"
        share = sum(1 for v in values_sample if _looks_like_code(v)) / len(values_sample)
        if share >= VALUE_SHARE:
            return ColumnRole.DIRECT_IDENTIFIER, "all values are unique and look like identifiers"
    return None


def suggest_role(
    name: str, dtype: str, values_sample: Sequence[str], distinct: int, rows: int
) -> tuple[ColumnRole, str]:
    """Suggest a privacy role for a column and say why.

    Parameters
    ----------
    name:
        The column name.
    dtype:
        The :class:`~workbench.core.data.dataset.ColumnSummary` dtype class (``string``, ``text``, ...).
    values_sample:
        Some non-missing values as strings (the first few hundred are enough).
    distinct:
        Exact number of distinct non-null values in the column.
    rows:
        Number of rows in the column (missing included).

    Returns
    -------
    tuple of (ColumnRole, str)
        The role and a short reason that names the rule, never a value.
    """
    by_name = role_from_name(name)
    by_values = role_from_values(dtype, values_sample, distinct, rows)
    values_direct = by_values is not None and by_values[0] is ColumnRole.DIRECT_IDENTIFIER
    if values_direct and (by_name is None or by_name[0] is not ColumnRole.DIRECT_IDENTIFIER):
        return by_values  # type: ignore[return-value]
    if by_name is not None:
        return by_name
    if by_values is not None:
        return by_values
    return ColumnRole.OTHER, "neither the name nor the values suggest a privacy role"
