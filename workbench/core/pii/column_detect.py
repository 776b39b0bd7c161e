"""Column-level detection for tables: which columns hold which kind of personal data, and how sure we are.

As presidio-structured does, each column's type comes from a sample of its values run through the analyzer
(the most common entity type among the values, with its average score); the column's name adds a second
opinion (``email``, ``phone``, ``dob``, ``zip``... in several languages). Long, many-word values make a
free-text column, whose spans are counted per entity type instead.

The result is a tuple of frozen :class:`ColumnDetection`, one per column, which the analyst can overrule in
the policy (:func:`workbench.core.pii.policy.policy_template` turns detections into a starting policy).
Reasons name rules, never values.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.core.jobs import CancelToken, JobGenerator, Progress, drive
from workbench.core.pii.analyzer import AnalyzerHandle, get_analyzer
from workbench.core.pii.postprocess import DetectionSettings, resolve_spans

if TYPE_CHECKING:
    import pyarrow as pa


class ColumnKind(enum.StrEnum):
    """What a column holds."""

    ENTITY = "entity"  # every value is one piece of personal data of one type
    FREE_TEXT = "free_text"  # text with personal data inside it
    NONE = "none"  # no personal data found


@dataclass(frozen=True, slots=True)
class ColumnDetection:
    """The detection for one column.

    Attributes
    ----------
    column:
        Column name.
    kind:
        :class:`ColumnKind`.
    entity_type:
        For ``ENTITY`` columns, the type (``PERSON``, ``EMAIL_ADDRESS``...); else ``None``.
    confidence:
        In [0, 1]: for ``ENTITY``, how sure the type is; for ``FREE_TEXT``, the share of sampled texts with at
        least one detection; for ``NONE``, the share of sampled values without one.
    reason:
        One sentence naming the rules that decided (no values).
    sampled:
        Number of values looked at.
    entity_counts:
        ``(entity_type, count)`` of the spans found in the sampled values, most frequent first.
    """

    column: str
    kind: ColumnKind
    entity_type: str | None
    confidence: float
    reason: str
    sampled: int
    entity_counts: tuple[tuple[str, int], ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.entity_counts)

    def to_json(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind.value,
            "entity_type": self.entity_type,
            "confidence": round(self.confidence, 3),
            "reason": self.reason,
            "sampled": self.sampled,
            "entity_counts": dict(self.entity_counts),
        }


# (entity type, keywords) in priority order; keywords match whole name tokens or token sequences.
NAME_HINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("EMAIL_ADDRESS", ("email", "e_mail", "mail", "courriel", "correo")),
    ("PHONE_NUMBER", ("phone", "telephone", "tel", "mobile", "cell", "fax", "telefon", "telefono", "handy")),
    ("US_SSN", ("ssn", "social_security")),
    ("CREDIT_CARD", ("credit_card", "card_number", "cc_number", "pan")),
    ("IBAN_CODE", ("iban",)),
    ("IP_ADDRESS", ("ip", "ip_address", "ipaddress")),
    ("URL", ("url", "website", "homepage", "web")),
    ("DATE_TIME", ("dob", "birth", "birthday", "birthdate", "date", "geburtsdatum", "naissance", "admitted",
                   "discharged", "visit", "timestamp")),
    ("ZIP_CODE", ("zip", "zipcode", "postcode", "postal", "postal_code", "plz")),
    ("AGE", ("age", "alter", "edad")),
    ("STREET_ADDRESS", ("address", "street", "addr", "adresse", "strasse", "direccion", "indirizzo")),
    ("LOCATION", ("city", "town", "country", "state", "county", "region", "stadt", "ville", "ciudad")),
    ("ORGANIZATION", ("employer", "company", "organization", "organisation", "firm")),
    ("ID", ("national_id", "nationalid", "passport", "nhs", "mrn", "medical_record", "id_number", "resident_id",
            "driver_license", "licence", "license_number")),
    ("PERSON", ("first_name", "firstname", "last_name", "lastname", "surname", "full_name", "fullname", "name",
                "patient", "patient_name", "given_name", "family_name", "forename", "vorname", "nachname", "prenom",
                "nom", "nombre", "apellido", "contact", "doctor", "physician")),
)  # fmt: skip
FREE_TEXT_HINTS = ("note", "notes", "comment", "comments", "description", "text", "remark", "remarks", "narrative",
                   "summary", "message", "body", "feedback", "free_text", "details", "report")  # fmt: skip
# Name tokens that mean "not a name" even when "name" is present ("file_name", "diagnosis_name").
_NOT_PERSON_TOKENS = frozenset({"file", "filename", "diagnosis", "product", "company", "city", "street", "drug",
                                "medication", "column", "field", "host", "hostname", "domain", "code"})  # fmt: skip
# Types a name hint accepts from the values as a more precise reading of itself.
_REFINES = {"ID": {"US_SSN", "US_PASSPORT", "UK_NHS", "CN_RESIDENT_ID", "US_DRIVER_LICENSE", "MEDICAL_LICENSE"},
            "PHONE_NUMBER": {"CN_MOBILE"}, "CREDIT_CARD": {"BANK_CARD"}, "LOCATION": {"STREET_ADDRESS"},
            "STREET_ADDRESS": {"LOCATION"}}  # fmt: skip

# Types that come from the statistical NER model rather than from patterns with checks.
_NER_TYPES = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "DATE_TIME", "NRP"})

VALUE_COVER = 0.7
"""A span must cover this share of a value's non-blank characters for the value to count as that type."""
MIN_VALUE_SHARE = 0.5
"""Share of sampled values that must agree on a type for the values alone to decide."""
FREE_TEXT_MIN_CHARS = 40
FREE_TEXT_MIN_WORDS = 6


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name.strip())
    spaced = re.sub(r"(?i)e[-_ ]mail", "email", spaced)
    return [t for t in re.split(r"[^0-9a-zà-öø-ÿß]+", spaced.lower()) if t]


def _keyword_in(keyword: str, tokens: list[str]) -> bool:
    if "_" in keyword:
        return f"_{keyword}_" in "_" + "_".join(tokens) + "_"
    return keyword in tokens or keyword + "s" in tokens or (len(keyword) >= 5 and any(keyword in t for t in tokens))


def name_hint(column: str) -> tuple[str | None, bool]:
    """``(entity type or None, looks like free text)`` from a column name alone."""
    tokens = _tokens(column)
    if not tokens:
        return None, False
    for entity_type, keywords in NAME_HINTS:
        if entity_type == "PERSON" and _NOT_PERSON_TOKENS & set(tokens):
            continue
        if any(_keyword_in(k, tokens) for k in keywords):
            return entity_type, False
    return None, any(_keyword_in(k, tokens) for k in FREE_TEXT_HINTS)


def _sample(column: pa.ChunkedArray | pa.Array, size: int, block: int = 4096) -> list[str]:
    """Up to ``size`` distinct non-blank values as strings, spread over the column (deterministic): first every
    ``n // (2 * size)``-th value, then, while too few were found, the values from the top. Only the values looked at
    become Python objects (a million-row column is never converted whole: that held the interpreter for a second)."""
    seen: dict[str, None] = {}
    n = len(column)
    if n == 0:
        return []
    step = max(1, n // (size * 2))

    def add(values: list[Any]) -> bool:
        for value in values:
            if value is None or isinstance(value, bool):
                continue
            text = str(value).strip()
            if text:
                seen.setdefault(text, None)
            if len(seen) >= size:
                return True
        return False

    import pyarrow as pa

    if add(column.take(pa.array(range(0, n, step), type=pa.int64())).to_pylist()):
        return list(seen)
    for first in range(0, n, block):
        if add(column.slice(first, block).to_pylist()):
            break
    return list(seen)


def detect_columns_job(
    table: pa.Table,
    token: CancelToken | None = None,
    *,
    analyzer: AnalyzerHandle | None = None,
    sample_size: int = 30,
    threshold: float = 0.4,
    columns: Sequence[str] | None = None,
) -> JobGenerator[tuple[ColumnDetection, ...]]:
    """Detect the personal data of each column, as a job (one progress step per column).

    Parameters
    ----------
    table:
        The data (not modified).
    token:
        Cancel token, checked between columns.
    analyzer:
        The analyzer to use (default: :func:`get_analyzer` with default settings).
    sample_size:
        Distinct values looked at per column.
    threshold:
        Score threshold for the detections.
    columns:
        Only these columns (default: all).
    """
    token = token or CancelToken()
    handle = analyzer or get_analyzer()
    settings = DetectionSettings.create(threshold=threshold)
    names = list(columns) if columns is not None else list(table.column_names)
    results: list[ColumnDetection] = []
    for done, column in enumerate(names):
        token.raise_if_cancelled()
        yield Progress("detecting personal data in columns", done, len(names), "columns")
        results.append(_detect_one(column, _sample(table.column(column), sample_size), handle, settings))
    yield Progress("detecting personal data in columns", len(names), len(names), "columns")
    return tuple(results)


def detect_columns(
    table: pa.Table, *, analyzer: AnalyzerHandle | None = None, sample_size: int = 30, threshold: float = 0.4
) -> tuple[ColumnDetection, ...]:
    """:func:`detect_columns_job` run to its end in this thread."""
    return drive(detect_columns_job(table, analyzer=analyzer, sample_size=sample_size, threshold=threshold))


def _detect_one(column: str, sample: list[str], handle: AnalyzerHandle, settings: DetectionSettings) -> ColumnDetection:
    hint, text_hint = name_hint(column)
    if not sample:
        return ColumnDetection(column, ColumnKind.NONE, None, 1.0, "the column has no values", 0)
    raw = handle.analyze_raw(sample)
    spans_per_value = [resolve_spans(v, r, settings) for v, r in zip(sample, raw, strict=True)]
    counts: Counter[str] = Counter(s.entity_type for spans in spans_per_value for s in spans)
    ordered_counts = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    n = len(sample)
    mean_chars = sum(len(v) for v in sample) / n
    mean_words = sum(len(v.split()) for v in sample) / n
    if mean_chars >= FREE_TEXT_MIN_CHARS and mean_words >= FREE_TEXT_MIN_WORDS and hint is None:
        with_pii = sum(1 for spans in spans_per_value if spans) / n
        why = "values are long free-form text"
        if text_hint:
            why += " and the name says so"
        return ColumnDetection(
            column, ColumnKind.FREE_TEXT, None, with_pii, f"{why}; {with_pii:.0%} of sampled texts hold personal data",
            n, ordered_counts,
        )  # fmt: skip
    # Whole-value votes: a value counts as type T when a T span covers most of it.
    votes: Counter[str] = Counter()
    scores: dict[str, list[float]] = {}
    for value, spans in zip(sample, spans_per_value, strict=True):
        solid = len(value.replace(" ", "")) or 1
        best = None
        for span in spans:
            covered = len(value[span.start : span.end].replace(" ", ""))
            if covered / solid >= VALUE_COVER and (best is None or span.score > best.score):
                best = span
        if best is not None:
            votes[best.entity_type] += 1
            scores.setdefault(best.entity_type, []).append(best.score)
    value_type, value_share, value_score = None, 0.0, 0.0
    if votes:
        value_type, top = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
        value_share = top / n
        value_score = sum(scores[value_type]) / len(scores[value_type])
    strong_values = value_type is not None and value_share >= MIN_VALUE_SHARE
    if hint is not None and strong_values and (value_type == hint or value_type in _REFINES.get(hint, ())):
        assert value_type is not None
        confidence = min(1.0, 0.5 + 0.5 * value_share * value_score)
        reason = f"name suggests {hint} and {value_share:.0%} of sampled values are {value_type}"
        return ColumnDetection(column, ColumnKind.ENTITY, value_type, confidence, reason, n, ordered_counts)
    if strong_values and hint is not None and value_type in _NER_TYPES:
        # spaCy reads short values poorly (a ZIP code as a DATE): the column name is the better witness.
        strong_values = False
    if strong_values:
        assert value_type is not None
        confidence = value_share * value_score
        reason = f"{value_share:.0%} of sampled values are {value_type} (mean score {value_score:.2f})"
        if hint is not None:
            reason += f"; the name suggests {hint}"
            confidence *= 0.8
        return ColumnDetection(column, ColumnKind.ENTITY, value_type, confidence, reason, n, ordered_counts)
    if hint is not None:
        confidence = 0.5 if value_share == 0 else 0.5 + 0.2 * value_share
        reason = f"name suggests {hint}; the sampled values do not say so clearly"
        return ColumnDetection(column, ColumnKind.ENTITY, hint, confidence, reason, n, ordered_counts)
    if text_hint and mean_words >= 3:
        with_pii = sum(1 for spans in spans_per_value if spans) / n
        reason = f"name suggests free text; {with_pii:.0%} of sampled texts hold personal data"
        return ColumnDetection(column, ColumnKind.FREE_TEXT, None, with_pii, reason, n, ordered_counts)
    confidence = 1.0 - value_share
    reason = "neither the name nor the sampled values suggest personal data"
    return ColumnDetection(column, ColumnKind.NONE, None, confidence, reason, n, ordered_counts)
