"""Anonymization operators: what happens to a detected value.

After Presidio's anonymizer: every operator is an :class:`Operator` subclass with a name, a declared parameter
list and an ``operate`` method, registered in a registry (:func:`register_operator`) from which
:func:`get_operator` and :func:`operator_specs` (for the GUI's menus and forms) read. An
:class:`OperatorConfig` names an operator with validated parameters; it is what a policy stores.

The operators:

``keep``
    Leave the value as it is.
``redact``
    Remove the value (empty string).
``replace``
    ``<ENTITY_TYPE>``, or a fixed ``new_value``.
``mask``
    Overwrite ``chars_to_mask`` characters (all by default) with ``masking_char``, from the start or the end;
    ``skip_separators`` masks only letters and digits (``***-***-4567``).
``keyed_hash``
    Hex HMAC-SHA256 of the value under the project's hash key: the same value gives the same token in every run
    of the project, and nobody without the key can test a guess.
``pseudonym``
    A realistic fake of the same kind (name, phone, e-mail, city...), derived from an HMAC of the value under the
    project's pseudonym key, so the same value gets the same fake in every row and run. Dates move by an offset
    that is the same for every date of one subject (``subject`` in the context, e.g. a patient id) or of the
    whole dataset, so intervals are kept.
``encrypt``
    AES-256-GCM under the project's encryption key; the token ``ENC1.<base64url(nonce|ciphertext|tag)>`` is
    reversed by :func:`decrypt_token` / :func:`decrypt_text` (the de-anonymize action). Each encryption has a
    fresh nonce, so equal values give different tokens (no equality leak).
``generalize``
    Age to bands (``30-39``, ``90+``), ZIP code to a prefix (``021**``), date to month or year.

Operators never log values. Keyed operators raise :class:`OperatorError` when no keys are given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import random
import re
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ClassVar

from workbench.core.errors import WorkbenchError
from workbench.core.pii.keys import AnonymizationKeys


class OperatorError(WorkbenchError):
    """An operator is unknown, misconfigured, or lacks the keys it needs."""


class DecryptionError(WorkbenchError):
    """A token cannot be decrypted (another project's key, or the token was altered)."""


# ---- parameters ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of an operator, described for validation and for building a form.

    ``kind`` is ``"str"``, ``"char"`` (one character), ``"int"``, ``"bool"`` or ``"choice"``. ``optional``
    parameters accept ``None`` (JSON ``null``), which means the documented default behaviour.
    """

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    optional: bool = False

    def validate(self, value: Any) -> Any:
        """The value, checked and normalised; raises ValueError with a sentence saying what is expected."""
        if value is None:
            if self.optional:
                return None
            raise ValueError(f"{self.name} must be given ({self.help})")
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false, not {_type_name(value)}")
            return value
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{self.name} must be a whole number, not {_type_name(value)}")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"{self.name} must be at least {self.minimum}, not {value}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"{self.name} must be at most {self.maximum}, not {value}")
            return value
        if not isinstance(value, str):
            raise ValueError(f"{self.name} must be a string, not {_type_name(value)}")
        if self.kind == "char" and len(value) != 1:
            raise ValueError(f"{self.name} must be exactly one character, not {len(value)}")
        if self.kind == "choice" and value not in self.choices:
            raise ValueError(f"{self.name} must be one of: {', '.join(self.choices)}; not {value!r}")
        return value

    def to_json(self) -> dict[str, Any]:
        """A JSON description (for a GUI form or documentation)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": self.default, "help": self.help}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        out["optional"] = self.optional
        return out


def _type_name(value: Any) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


@dataclass(frozen=True, slots=True)
class OperatorContext:
    """What an operator may know besides the value.

    Attributes
    ----------
    entity_type:
        The detected type (``PERSON``...), or the column's entity type.
    keys:
        The project's keys, for keyed operators.
    subject:
        An identifier of the person the value belongs to (e.g. the row's patient id) for per-subject date
        shifts; ``None`` shifts all dates of the dataset alike.
    """

    entity_type: str
    keys: AnonymizationKeys | None = None
    subject: str | None = None


# ---- the operator ABC and registry ------------------------------------------------------------------------------


class Operator(ABC):
    """Base class of anonymization operators (see the module docstring).

    Subclasses set the class attributes and implement :meth:`operate`. Operators are stateless apart from
    caches; one instance serves every thread.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[ParamSpec, ...]] = ()
    needs_keys: ClassVar[bool] = False
    deterministic: ClassVar[bool] = True
    """Same value, context and keys give the same output (so results may be cached per value)."""
    reversible: ClassVar[bool] = False
    uses_subject: ClassVar[bool] = False
    """The output may depend on ``OperatorContext.subject``."""

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``params`` against :attr:`params`; returns them complete (defaults filled in).

        Raises
        ------
        OperatorError
            Naming the unknown or invalid parameter and what is expected.
        """
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            choices = ", ".join(known) if known else "none"
            raise OperatorError(f"operator {self.name!r} has no parameter {unknown[0]!r}; its parameters: {choices}")
        out: dict[str, Any] = {}
        for spec in self.params:
            value = params.get(spec.name, spec.default)
            try:
                out[spec.name] = spec.validate(value)
            except ValueError as exc:
                raise OperatorError(f"operator {self.name!r}: {exc}") from None
        return out

    @abstractmethod
    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        """The anonymized form of ``text``. ``params`` were validated by :meth:`validate`."""


_REGISTRY: dict[str, Operator] = {}
_REGISTRY_LOCK = threading.Lock()


def register_operator(cls: type[Operator]) -> type[Operator]:
    """Class decorator: add an operator to the registry (the name must be new)."""
    with _REGISTRY_LOCK:
        if cls.name in _REGISTRY:
            raise ValueError(f"an operator named {cls.name!r} is already registered")
        _REGISTRY[cls.name] = cls()
    return cls


def operator_names() -> tuple[str, ...]:
    """Registered operator names, in registration order."""
    with _REGISTRY_LOCK:
        return tuple(_REGISTRY)


def get_operator(name: str) -> Operator:
    """The registered operator called ``name``.

    Raises
    ------
    OperatorError
        ``unknown operator 'x'; choose one of: keep, redact, ...``.
    """
    with _REGISTRY_LOCK:
        operator = _REGISTRY.get(name)
    if operator is None:
        raise OperatorError(f"unknown operator {name!r}; choose one of: {', '.join(operator_names())}")
    return operator


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """What the GUI needs to list an operator in a menu and build its form."""

    name: str
    label: str
    description: str
    params: tuple[ParamSpec, ...]
    needs_keys: bool
    reversible: bool
    deterministic: bool


def operator_specs() -> tuple[OperatorSpec, ...]:
    """Every registered operator, described (for menus, forms and ``--help``)."""
    with _REGISTRY_LOCK:
        operators = list(_REGISTRY.values())
    return tuple(
        OperatorSpec(op.name, op.label, op.description, op.params, op.needs_keys, op.reversible, op.deterministic)
        for op in operators
    )


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    """An operator with validated parameters; immutable and hashable. Build with :meth:`create`.

    ``params`` holds every parameter (defaults filled in) as sorted ``(name, value)`` pairs.
    """

    operator: str
    params: tuple[tuple[str, Any], ...] = field(default=())

    @classmethod
    def create(cls, operator: str, **params: Any) -> OperatorConfig:
        """Validate and build; raises :class:`OperatorError` for an unknown operator or parameter."""
        validated = get_operator(operator).validate(params)
        return cls(operator, tuple(sorted(validated.items())))

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def spec(self) -> Operator:
        return get_operator(self.operator)

    def to_json(self) -> dict[str, Any]:
        """``{"operator": name, **params}`` with parameters that differ from the defaults."""
        defaults = {p.name: p.default for p in self.spec.params}
        out: dict[str, Any] = {"operator": self.operator}
        out.update({k: v for k, v in self.params if defaults.get(k, object()) != v})
        return out

    @classmethod
    def from_json(cls, data: Any) -> OperatorConfig:
        """Parse ``{"operator": name, ...params}`` (or a bare operator name); raises :class:`OperatorError`."""
        if isinstance(data, str):
            return cls.create(data)
        if not isinstance(data, Mapping):
            raise OperatorError(f'an operator must be an object like {{"operator": "replace"}}, not {_type_name(data)}')
        if "operator" not in data:
            raise OperatorError(f'missing "operator"; choose one of: {", ".join(operator_names())}')
        name = data["operator"]
        if not isinstance(name, str):
            raise OperatorError(f'"operator" must be a string naming one of: {", ".join(operator_names())}')
        params = {k: v for k, v in data.items() if k != "operator"}
        return cls.create(name, **params)

    def describe(self) -> str:
        """Short text for menus and reports, e.g. ``mask(chars_to_mask=4, from_end=true)``."""
        shown = {k: v for k, v in self.to_json().items() if k != "operator"}
        if not shown:
            return self.operator
        inner = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in shown.items())
        return f"{self.operator}({inner})"


def apply_operator(config: OperatorConfig, text: str, context: OperatorContext) -> str:
    """Run ``config`` on one value; raises :class:`OperatorError` when a keyed operator has no keys."""
    operator = get_operator(config.operator)
    if operator.needs_keys and context.keys is None:
        raise OperatorError(
            f"operator {config.operator!r} needs the project's keys; open a project (or pass a key file) before "
            "anonymizing with it"
        )
    return operator.operate(text, config.param_dict, context)


# ---- simple operators ------------------------------------------------------------------------------------------


@register_operator
class KeepOperator(Operator):
    name = "keep"
    label = "Keep"
    description = "Leave the value unchanged."

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        return text


@register_operator
class RedactOperator(Operator):
    name = "redact"
    label = "Redact"
    description = "Remove the value entirely."

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        return ""


@register_operator
class ReplaceOperator(Operator):
    name = "replace"
    label = "Replace with <TYPE>"
    description = "Replace the value with its entity type in angle brackets, or with a fixed text."
    params = (ParamSpec("new_value", "str", None, "fixed replacement text; empty: <ENTITY_TYPE>", optional=True),)

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        new_value = params.get("new_value")
        return new_value if new_value is not None else f"<{context.entity_type}>"


@register_operator
class MaskOperator(Operator):
    name = "mask"
    label = "Mask"
    description = "Overwrite characters with a masking character, from the start or from the end."
    params = (
        ParamSpec("masking_char", "char", "*", "the character written over the value"),
        ParamSpec("chars_to_mask", "int", None, "how many characters to mask; empty: all", minimum=0, optional=True),
        ParamSpec("from_end", "bool", False, "mask the last characters instead of the first"),
        ParamSpec("skip_separators", "bool", False, "mask and count only letters and digits (keeps -, space, @...)"),
    )

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        char = params.get("masking_char", "*")
        count = params.get("chars_to_mask")
        from_end = bool(params.get("from_end", False))
        skip = bool(params.get("skip_separators", False))
        positions = [i for i, ch in enumerate(text) if ch.isalnum()] if skip else list(range(len(text)))
        if count is not None:
            if count == 0:
                positions = []
            elif from_end:
                positions = positions[-count:]
            else:
                positions = positions[:count]
        chars = list(text)
        for i in positions:
            chars[i] = char
        return "".join(chars)


@register_operator
class KeyedHashOperator(Operator):
    name = "keyed_hash"
    label = "Keyed hash"
    description = "HMAC-SHA256 with the project's secret key: the same value always gives the same hex token."
    params = (ParamSpec("length", "int", 16, "hex digits kept (8-64)", minimum=8, maximum=64),)
    needs_keys = True

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        assert context.keys is not None
        digest = hmac.new(context.keys.hmac_key, text.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[: int(params.get("length", 16))]


# ---- encryption --------------------------------------------------------------------------------------------------

TOKEN_PREFIX = "ENC1."
_TOKEN_RE = re.compile(r"ENC1\.([A-Za-z0-9_-]{38,})")
_AAD = b"privacy-workbench/pii/encrypt/v1"
_NONCE_BYTES = 12


def encrypt_value(text: str, keys: AnonymizationKeys) -> str:
    """AES-256-GCM token of ``text``: ``ENC1.`` + base64url(nonce | ciphertext | tag), without padding."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(keys.aes_key).encrypt(nonce, text.encode("utf-8"), _AAD)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def decrypt_token(token: str, keys: AnonymizationKeys) -> str:
    """The original value of one ``ENC1.`` token.

    Raises
    ------
    DecryptionError
        If the token is malformed, was made with another key, or was altered.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    match = _TOKEN_RE.fullmatch(token.strip())
    if match is None:
        raise DecryptionError(f"not an encryption token: it must start with {TOKEN_PREFIX!r} and be base64url")
    body = match.group(1)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise DecryptionError("the encryption token is damaged (not base64url)") from None
    try:
        plain = AESGCM(keys.aes_key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD)
    except InvalidTag:
        raise DecryptionError("cannot decrypt: the token was made with another project's key or was altered") from None
    return plain.decode("utf-8")


def decrypt_text(text: str, keys: AnonymizationKeys) -> str:
    """``text`` with every ``ENC1.`` token replaced by its original value (the de-anonymize action)."""
    return _TOKEN_RE.sub(lambda m: decrypt_token(m.group(0), keys), text)


def contains_tokens(text: str) -> bool:
    """Whether ``text`` holds at least one encryption token."""
    return bool(_TOKEN_RE.search(text))


@register_operator
class EncryptOperator(Operator):
    name = "encrypt"
    label = "Encrypt (reversible)"
    description = "AES-256-GCM with the project's key; authorised users can restore the original (de-anonymize)."
    needs_keys = True
    deterministic = False
    reversible = True

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        assert context.keys is not None
        return encrypt_value(text, context.keys)


# ---- dates -------------------------------------------------------------------------------------------------------

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_MONTH_INDEX = {m.lower(): i + 1 for i, m in enumerate(_MONTHS)} | {m[:3].lower(): i + 1 for i, m in enumerate(_MONTHS)}
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})((?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?)$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DOT_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_MONTH_DAY_YEAR = re.compile(r"^([A-Za-z]{3,9})\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})$")
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)? ([A-Za-z]{3,9})\.?,? (\d{4})$")
_MONTH_YEAR = re.compile(r"^([A-Za-z]{3,9})\.? (\d{4})$")


@dataclass(frozen=True, slots=True)
class ParsedDate:
    """A date read from text, remembering its layout so that a changed date is written the same way.

    ``style`` is one of ``iso``, ``us`` (03/14/2024), ``dot`` (14.03.2024), ``mdy`` (March 14, 2024), ``dmy``
    (14 March 2024) and ``my`` (March 2024).
    """

    value: date
    style: str
    suffix: str = ""  # an ISO time part, kept as it is
    short_month: bool = False
    padded: bool = True

    @property
    def has_day(self) -> bool:
        return self.style != "my"

    def format(self, d: date) -> str:
        """``d`` in this date's layout."""
        month = _month_name(d.month, self.short_month)
        if self.style == "iso":
            return d.isoformat() + self.suffix
        if self.style == "us":
            return f"{d.month:02d}/{d.day:02d}/{d.year}" if self.padded else f"{d.month}/{d.day}/{d.year}"
        if self.style == "dot":
            return f"{d.day:02d}.{d.month:02d}.{d.year}"
        if self.style == "mdy":
            return f"{month} {d.day}, {d.year}"
        if self.style == "dmy":
            return f"{d.day} {month} {d.year}"
        return f"{month} {d.year}"


def parse_date(text: str) -> ParsedDate | None:
    """Read a date in a common layout (ISO, 03/14/2024, 14.03.2024, March 14, 2024, 14 March 2024, March 2024).

    Returns ``None`` for anything else (relative dates, times alone, ambiguous text).
    """
    s = text.strip()
    try:
        if m := _ISO_DATE.match(s):
            return ParsedDate(date(int(m[1]), int(m[2]), int(m[3])), "iso", suffix=m.group(4))
        if m := _US_DATE.match(s):
            return ParsedDate(date(int(m[3]), int(m[1]), int(m[2])), "us", padded=len(m[1]) == 2)
        if m := _DOT_DATE.match(s):
            return ParsedDate(date(int(m[3]), int(m[2]), int(m[1])), "dot")
        if (m := _MONTH_DAY_YEAR.match(s)) and m[1].lower() in _MONTH_INDEX:
            return ParsedDate(date(int(m[3]), _MONTH_INDEX[m[1].lower()], int(m[2])), "mdy", short_month=len(m[1]) == 3)
        if (m := _DAY_MONTH_YEAR.match(s)) and m[2].lower() in _MONTH_INDEX:
            return ParsedDate(date(int(m[3]), _MONTH_INDEX[m[2].lower()], int(m[1])), "dmy", short_month=len(m[2]) == 3)
        if (m := _MONTH_YEAR.match(s)) and m[1].lower() in _MONTH_INDEX:
            return ParsedDate(date(int(m[2]), _MONTH_INDEX[m[1].lower()], 1), "my", short_month=len(m[1]) == 3)
    except ValueError:  # 2024-02-30 and the like
        return None
    return None


def _month_name(month: int, short: bool) -> str:
    name = _MONTHS[month - 1]
    return name[:3] if short else name


# ---- pseudonyms ------------------------------------------------------------------------------------------------


class _FakerPool(threading.local):
    """One Faker per thread (Faker's random state is per instance and not thread-safe)."""

    def __init__(self) -> None:
        from faker import Faker

        self.fake = Faker("en_US")


_fakers = _FakerPool()


def _seed(key: bytes, *parts: str) -> int:
    message = "\x1f".join(parts).encode("utf-8")
    return int.from_bytes(hmac.new(key, message, hashlib.sha256).digest()[:8], "big")


def _match_case(original: str, fake: str) -> str:
    if original.isupper() and len(original) > 1:
        return fake.upper()
    if original.islower():
        return fake.lower()
    return fake


def _replace_digits(text: str, rng: random.Random, luhn: bool = False) -> str:
    """Same layout, other digits (the first digit stays non-zero); with ``luhn`` the last digit is a check digit."""
    from workbench.core.pii.recognizers.checksums import luhn_check_digit

    digit_positions = [i for i, ch in enumerate(text) if ch.isdigit()]
    chars = list(text)
    for n, i in enumerate(digit_positions):
        chars[i] = str(rng.randint(1, 9) if n == 0 else rng.randint(0, 9))
    if luhn and len(digit_positions) >= 2:
        payload = "".join(chars[i] for i in digit_positions[:-1])
        chars[digit_positions[-1]] = luhn_check_digit(payload)
    return "".join(chars)


def _replace_alnum(text: str, rng: random.Random) -> str:
    out = []
    for ch in text:
        if ch.isdigit():
            out.append(str(rng.randint(0, 9)))
        elif ch.isalpha() and ch.isascii():
            letter = chr(rng.randint(0, 25) + 65)
            out.append(letter if ch.isupper() else letter.lower())
        else:
            out.append(ch)
    return "".join(out)


def _fake_cn_resident_id(text: str, rng: random.Random) -> str:
    from workbench.core.pii.recognizers.checksums import CN_PROVINCE_CODES, cn_id_check_char

    province = rng.choice(sorted(CN_PROVINCE_CODES - {71, 81, 82}))
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 60))
    first17 = f"{province:02d}{rng.randint(1, 99):02d}{rng.randint(1, 99):02d}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + cn_id_check_char(first17)


def _fake_person(text: str, key: bytes, fake: Any) -> str:
    """A fake name with as many words as the original; each word maps on its own, so "Anna" and "Anna Berg"
    get the same fake first name."""
    from workbench.core.pii.recognizers.gazetteers import gazetteers

    words = text.split()
    if not words:
        return text
    names = gazetteers()
    out = []
    for position, word in enumerate(words):
        bare = word.strip(".,")
        if len(bare) <= 1:  # an initial stays an initial
            fake.seed_instance(_seed(key, "PERSON-initial", bare.upper()))
            out.append(fake.random_uppercase_letter() + word[len(bare) :] if bare else word)
            continue
        canonical = bare.title() if bare.isupper() else bare
        is_last = position == len(words) - 1 and len(words) > 1
        if len(words) == 1:
            is_last = canonical in names.last_names and canonical not in names.first_names
        fake.seed_instance(_seed(key, "PERSON-last" if is_last else "PERSON-first", canonical.casefold()))
        if is_last:
            new = fake.last_name()
        elif canonical in names.female_first_names:
            new = fake.first_name_female()
        else:
            new = fake.first_name_male() if canonical in names.first_names else fake.first_name()
        out.append(_match_case(bare, new))
    return " ".join(out)


@register_operator
class PseudonymOperator(Operator):
    name = "pseudonym"
    label = "Consistent pseudonym"
    description = (
        "A realistic fake of the same kind (name, phone, e-mail, date...), the same for the same value in every "
        "row and run of the project."
    )
    params = (
        ParamSpec("max_shift_days", "int", 180, "largest date shift in days (dates move by 1 to this many days)",
                  minimum=1, maximum=3650),
    )  # fmt: skip
    needs_keys = True
    uses_subject = True
    _CACHE_SIZE = 100_000

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[bytes, str, str, str | None, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        assert context.keys is not None
        key = context.keys.pseudonym_key
        shift = int(params.get("max_shift_days", 180))
        subject = context.subject if context.entity_type == "DATE_TIME" else None
        cache_key = (key, context.entity_type, text, subject, shift)
        with self._lock:
            hit = self._cache.get(cache_key)
        if hit is not None:
            return hit
        result = self._make(text, context.entity_type, key, subject, shift)
        with self._lock:
            self._cache[cache_key] = result
            if len(self._cache) > self._CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    @staticmethod
    def date_offset(key: bytes, subject: str | None, max_shift_days: int) -> int:
        """The shift in days (never 0) of every date of ``subject`` (``None``: the whole dataset)."""
        rng = random.Random(_seed(key, "DATE_TIME-shift", subject or ""))
        magnitude = rng.randint(1, max_shift_days)
        return magnitude if rng.random() < 0.5 else -magnitude

    def _make(self, text: str, entity_type: str, key: bytes, subject: str | None, max_shift: int) -> str:
        fake = _fakers.fake
        value = text.strip()
        rng = random.Random(_seed(key, entity_type, value))
        fake.seed_instance(_seed(key, entity_type, value))
        if entity_type == "DATE_TIME":
            parsed = parse_date(value)
            if parsed is None:
                return f"<{entity_type}>"
            moved = parsed.value + timedelta(days=self.date_offset(key, subject, max_shift))
            return parsed.format(moved)
        if entity_type == "PERSON":
            return _fake_person(value, key, fake)
        if entity_type == "EMAIL_ADDRESS":
            local = f"{fake.first_name()}.{fake.last_name()}{rng.randint(1, 99)}".lower()
            local = "".join(ch for ch in local if ch.isascii() and (ch.isalnum() or ch == "."))
            return f"{local}@{fake.safe_domain_name()}"
        if entity_type in ("PHONE_NUMBER", "US_SSN", "ZIP_CODE", "US_BANK_NUMBER", "UK_NHS", "US_ITIN"):
            return _replace_digits(value, rng)
        if entity_type in ("CREDIT_CARD", "BANK_CARD"):
            return _replace_digits(value, rng, luhn=True)
        if entity_type == "CN_MOBILE":
            prefix = re.match(r"^(?:\+86|0086)[ -]?", value)
            head = prefix.group(0) if prefix else ""
            body = _replace_digits(value[len(head) :], rng)
            second = str(rng.randint(3, 9))
            at = next((i for i, ch in enumerate(body) if ch.isdigit()), None)
            if at is not None:
                body = body[:at] + "1" + body[at + 1 :]
                nxt = next((i for i in range(at + 1, len(body)) if body[i].isdigit()), None)
                if nxt is not None:
                    body = body[:nxt] + second + body[nxt + 1 :]
            return head + body
        if entity_type == "CN_RESIDENT_ID":
            return _fake_cn_resident_id(value, rng)
        if entity_type in ("LOCATION", "GPE"):
            return _match_case(value, fake.city())
        if entity_type == "STREET_ADDRESS":
            return fake.street_address()
        if entity_type == "ORGANIZATION":
            return _match_case(value, fake.company())
        if entity_type == "IP_ADDRESS":
            return fake.ipv6() if ":" in value else fake.ipv4_public()
        if entity_type == "URL":
            return f"https://{fake.domain_word()}.example/"
        if entity_type in ("US_DRIVER_LICENSE", "US_PASSPORT", "IBAN_CODE", "MEDICAL_LICENSE"):
            return _replace_alnum(value, rng)
        if entity_type == "AGE" and value.isdigit():
            return str(max(0, int(value) + rng.randint(-2, 2)))
        # No fake generator for this type: a stable token still links equal values.
        return f"<{entity_type}_{_seed(key, entity_type, value) & 0xFFFFFFFF:08x}>"


# ---- generalization --------------------------------------------------------------------------------------------

_DIGITS_ONLY = re.compile(r"\d+")


@register_operator
class GeneralizeOperator(Operator):
    name = "generalize"
    label = "Generalize"
    description = "Coarser values: age to bands, ZIP code to a prefix, date to month or year."
    params = (
        ParamSpec("kind", "choice", "auto", "what the value is; auto: from the entity type",
                  choices=("auto", "age", "zip", "date")),
        ParamSpec("age_band", "int", 10, "width of an age band in years", minimum=1, maximum=50),
        ParamSpec("age_top", "int", 90, "ages from this value up become one band (90+)", minimum=1, maximum=150),
        ParamSpec("zip_digits", "int", 3, "leading ZIP digits kept", minimum=0, maximum=9),
        ParamSpec("date_granularity", "choice", "month", "keep the month or only the year",
                  choices=("month", "year")),
    )  # fmt: skip

    _AUTO = {"AGE": "age", "ZIP_CODE": "zip", "DATE_TIME": "date"}

    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        kind = params.get("kind", "auto")
        if kind == "auto":
            kind = self._AUTO.get(context.entity_type, "")
        value = text.strip()
        if kind == "age":
            return self._age(value, int(params.get("age_band", 10)), int(params.get("age_top", 90)), context)
        if kind == "zip":
            digits = int(params.get("zip_digits", 3))
            if not re.fullmatch(r"[0-9A-Za-z -]{3,10}", value):
                return f"<{context.entity_type}>"
            kept = 0
            out = []
            for ch in value:
                if ch.isalnum():
                    out.append(ch if kept < digits else "*")
                    kept += 1
                else:
                    out.append(ch)
            return "".join(out)
        if kind == "date":
            parsed = parse_date(value)
            if parsed is None:
                return f"<{context.entity_type}>"
            if params.get("date_granularity", "month") == "year":
                return f"{parsed.value.year:04d}"
            return f"{parsed.value.year:04d}-{parsed.value.month:02d}"
        return f"<{context.entity_type}>"

    @staticmethod
    def _age(value: str, band: int, top: int, context: OperatorContext) -> str:
        match = _DIGITS_ONLY.fullmatch(value)
        if match is None:
            return f"<{context.entity_type}>"
        age = int(value)
        if age >= top:
            return f"{top}+"
        low = (age // band) * band
        high = min(low + band - 1, top - 1)
        return f"{low}-{high}" if band > 1 else str(age)


# ---- batch helpers -----------------------------------------------------------------------------------------------


def needs_keys(configs: Iterable[OperatorConfig]) -> bool:
    """Whether any of ``configs`` needs the project's keys."""
    return any(get_operator(c.operator).needs_keys for c in configs)


def shift_for(keys: AnonymizationKeys, subject: str | None, max_shift_days: int = 180) -> timedelta:
    """The date shift the ``pseudonym`` operator applies for ``subject`` (for reports and tests)."""
    return timedelta(days=PseudonymOperator.date_offset(keys.pseudonym_key, subject, max_shift_days))
