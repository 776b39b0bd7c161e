"""From raw detections to the spans the analyst sees and the anonymizer replaces.

:func:`resolve_spans` takes the raw results of :class:`~workbench.core.pii.analyzer.AnalyzerHandle` (all
recognizers and context enhancement, nothing filtered) and, in this order:

1. keeps results scoring at least the threshold and removes duplicates exactly as
   ``AnalyzerEngine.analyze(score_threshold=...)`` does (``EntityRecognizer.remove_duplicates``), so the
   threshold can move without running the NER again;
2. drops known false positives: a ``UK_NHS`` hit on what is written like an ordinary phone number (an overlapping
   phone detection, brackets, a ``+`` or dots around the digits, an extension), unless "NHS" is written just
   before it; a ``URL`` hit inside an e-mail address (Presidio reports the domain of every address as a URL);
   a ``DATE_TIME`` hit on a number that a pattern recognizer identified (an age, a mobile or card number);
   a ``PERSON`` hit on a place that is also a first name ("from Savannah", "in Madison": a LOCATION hit on the
   same words, after a place preposition); a clinical abbreviation (COPD, CKD, ECG...) read as an organisation,
   person, place or nationality; and, unless the policy asks for them (``relative_dates``), relative dates
   ("today", "last week": no digit, month or weekday);
3. drops allow-listed values (whole span, case-insensitive) and entity types the analyst did not ask for;
4. adds deny-listed terms (whole words, case-insensitive, score 1.0);
5. resolves overlaps so that the spans are disjoint, like Presidio's anonymizer: intersecting spans of one type
   merge, a span inside another is dropped (equal spans: the higher score, then the entity type name, wins),
   and of two partly overlapping spans the lower-scoring one is trimmed;
6. joins spans of one type separated only by spaces ("John" + "Smith"), as ``AnonymizerEngine`` does.

The result is sorted and disjoint, so replacing each span from the end gives the same text as Presidio's
``AnonymizerEngine.anonymize`` on the same spans.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from workbench.core.pii.analyzer import RawSpan

DEFAULT_THRESHOLD = 0.4
"""Default score threshold (presidio-research's evaluation default)."""

NUMBER_TYPES_OVER_DATES = frozenset(
    {"AGE", "CN_MOBILE", "CN_RESIDENT_ID", "BANK_CARD", "CREDIT_CARD", "PHONE_NUMBER", "US_SSN", "UK_NHS",
     "IBAN_CODE", "IP_ADDRESS", "US_BANK_NUMBER", "US_ITIN", "US_PASSPORT", "US_DRIVER_LICENSE"}
)  # fmt: skip
"""Types whose detection, covering a spaCy DATE_TIME hit, removes it: spaCy's small model reads many numbers
(an age, an 11-digit mobile number) as dates."""


@dataclass(frozen=True, slots=True)
class DetectedSpan:
    """A piece of personal data in a text: ``text[start:end]`` is of ``entity_type`` with confidence ``score``."""

    start: int
    end: int
    entity_type: str
    score: float

    def to_json(self) -> dict[str, Any]:
        """``{"start", "end", "entity_type", "score"}`` (score rounded to 4 decimals)."""
        return {"start": self.start, "end": self.end, "entity_type": self.entity_type, "score": round(self.score, 4)}


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    """Everything between raw detection and the final spans; hashable, so results can be cached by it.

    Attributes
    ----------
    threshold:
        Minimum score, in [0, 1].
    allow_list:
        Values never reported (compared whole, stripped and case-folded).
    deny_list:
        ``(entity_type, terms)`` pairs: terms always reported as that type.
    entities:
        Report only these types; ``None`` reports every type.
    suppress_nhs_on_phones, drop_url_in_email, drop_dates_on_numbers, places_over_names, drop_clinical_terms:
        The false-positive filters (on by default).
    relative_dates:
        Report relative dates ("today", "last week") as DATE_TIME; off by default (a policy choice, for policies
        that generalize dates).
    """

    threshold: float = DEFAULT_THRESHOLD
    allow_list: frozenset[str] = field(default_factory=frozenset)
    deny_list: tuple[tuple[str, tuple[str, ...]], ...] = ()
    entities: frozenset[str] | None = None
    suppress_nhs_on_phones: bool = True
    drop_url_in_email: bool = True
    drop_dates_on_numbers: bool = True
    places_over_names: bool = True
    drop_clinical_terms: bool = True
    relative_dates: bool = False

    @classmethod
    def create(
        cls,
        threshold: float = DEFAULT_THRESHOLD,
        allow_list: Iterable[str] = (),
        deny_list: Mapping[str, Iterable[str]] | None = None,
        entities: Iterable[str] | None = None,
        relative_dates: bool = False,
    ) -> DetectionSettings:
        """Build settings from plain lists and dicts (normalising the allow list)."""
        return cls(
            threshold=float(threshold),
            allow_list=frozenset(_fold(v) for v in allow_list if _fold(v)),
            deny_list=tuple(
                sorted(
                    (etype, tuple(sorted({t.strip() for t in terms if t.strip()})))
                    for etype, terms in (deny_list or {}).items()
                )
            ),
            entities=frozenset(entities) if entities is not None else None,
            relative_dates=relative_dates,
        )


def _fold(value: str) -> str:
    return value.strip().casefold()


# ---- 1. threshold and Presidio's duplicate removal --------------------------------------------------------


def remove_duplicates(results: Iterable[RawSpan]) -> list[RawSpan]:
    """``EntityRecognizer.remove_duplicates`` on tuples: drop zero scores and same-type spans contained in another
    with an equal or higher score."""
    ordered = sorted(set(results), key=lambda r: (r[2], r[0], -(r[1] - r[0]), -r[3]))
    kept: list[RawSpan] = []
    for _, group in groupby(ordered, key=lambda r: r[2]):
        active: list[RawSpan] = []
        for result in group:
            if result[3] == 0:
                continue
            active = [a for a in active if a[1] >= result[0]]
            if any(result[0] >= a[0] and result[1] <= a[1] and result[3] <= a[3] for a in active):
                continue
            kept.append(result)
            active.append(result)
    return kept


# ---- 2. false positives -------------------------------------------------------------------------------------

_PHONE_PREFIX = re.compile(r"(?:\+\d{0,3}[\s.-]?|\(|\d[\s.-]|tel[.:]?\s*|phone[:\s]*|call\s+)$", re.IGNORECASE)
_PHONE_SUFFIX = re.compile(r"^(?:\s*(?:x|ext\.?|extension)\s*\d+|\))", re.IGNORECASE)
_NHS_NEAR = re.compile(r"\bnhs\b", re.IGNORECASE)


def _overlaps(a: RawSpan | DetectedSpan, start: int, end: int) -> bool:
    a_start, a_end = (a.start, a.end) if isinstance(a, DetectedSpan) else (a[0], a[1])
    return a_start < end and start < a_end


def looks_like_phone_number(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` (10 digits) is written the way phone numbers are, not NHS numbers.

    NHS numbers are written ``943 476 5919`` or ``9434765919``; phone numbers often carry brackets, dots, a
    ``+``/country code or trunk digit before them, or an extension after them.
    """
    value = text[start:end]
    if "." in value or "(" in value or ")" in value:
        return True
    if _PHONE_PREFIX.search(text[max(0, start - 12) : start]):
        return True
    return bool(_PHONE_SUFFIX.match(text[end : end + 12]))


CLINICAL_ABBREVIATIONS = frozenset(
    {"COPD", "CKD", "ECG", "EKG", "EEG", "MRI", "CT", "HIV", "ICU", "UTI", "GERD", "CHF", "CAD", "AFIB", "HTN",
     "T2DM", "IBS", "IBD", "COVID", "COVID-19", "CBC", "BMI", "DVT", "TIA", "CVA", "OSA", "PTSD", "ADHD", "ENT",
     "NSAID", "NSAIDS", "PRN", "BID", "TID", "QID", "MRSA", "RSV", "URI", "ARDS", "ESRD", "NICU", "CPAP", "INR"}
)  # fmt: skip
"""Clinical abbreviations the NER reads as organisations (or people, places): never personal data on their own."""
_NER_TYPES = frozenset({"ORGANIZATION", "PERSON", "LOCATION", "NRP"})
_PLACE_BEFORE = re.compile(r"\b(?:from|in|to|near|at|via|of)\s+$", re.IGNORECASE)
_MONTH_OR_DAY = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august|"
    r"september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)


def is_relative_date(value: str) -> bool:
    """Whether a DATE_TIME text is relative ("today", "this week", "the last weeks"): no digit, month or weekday."""
    return not any(ch.isdigit() for ch in value) and _MONTH_OR_DAY.search(value) is None


def _is_false_positive(text: str, span: RawSpan, everything: Sequence[RawSpan], settings: DetectionSettings) -> bool:
    start, end, etype, _ = span
    if (
        etype in _NER_TYPES
        and settings.drop_clinical_terms
        and text[start:end].strip().upper() in CLINICAL_ABBREVIATIONS
    ):
        return True
    if etype == "PERSON" and settings.places_over_names and _PLACE_BEFORE.search(text[max(0, start - 12) : start]):
        # "from Savannah": a first name that is also a place, and a place recognizer saw the same words
        return any(
            o[2] == "LOCATION" and o[0] == start and o[1] == end and o[3] >= settings.threshold for o in everything
        )
    if etype == "DATE_TIME" and not settings.relative_dates and is_relative_date(text[start:end]):
        return True
    if etype == "UK_NHS" and settings.suppress_nhs_on_phones:
        if _NHS_NEAR.search(text[max(0, start - 40) : start]):
            return False
        phone_hit = any(o[2] == "PHONE_NUMBER" and _overlaps(o, start, end) for o in everything)
        return phone_hit or looks_like_phone_number(text, start, end)
    if etype == "URL" and settings.drop_url_in_email:
        return any(o[2] == "EMAIL_ADDRESS" and o[0] <= start and end <= o[1] for o in everything)
    if etype == "DATE_TIME" and settings.drop_dates_on_numbers:
        return any(
            o[2] in NUMBER_TYPES_OVER_DATES and o[3] >= settings.threshold and o[0] <= start and end <= o[1]
            for o in everything
        )
    return False


# ---- 4. deny list ------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _deny_patterns(deny_list: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    compiled = []
    for etype, terms in deny_list:
        if terms:
            alternation = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
            compiled.append((etype, re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)))
    return tuple(compiled)


# ---- 5. and 6. overlaps -----------------------------------------------------------------------------------


def _merge_same_type(spans: list[list[Any]]) -> list[list[Any]]:
    out: list[list[Any]] = []
    spans.sort(key=lambda s: (s[2], s[0], s[1]))
    for _, group in groupby(spans, key=lambda s: s[2]):
        current: list[Any] | None = None
        for span in group:
            if current is not None and span[0] < current[1]:
                current[1] = max(current[1], span[1])
                current[3] = max(current[3], span[3])
            else:
                if current is not None:
                    out.append(current)
                current = list(span)
        if current is not None:
            out.append(current)
    return out


def _remove_contained(spans: list[list[Any]]) -> list[list[Any]]:
    # Longest first at each start; of equal spans the best (score, then type name) first.
    spans.sort(key=lambda s: (s[0], -s[1], -s[3], s[2]))
    kept: list[list[Any]] = []
    largest_end = -1
    previous: list[Any] | None = None
    for span in spans:
        if previous is not None and span[0] == previous[0] and span[1] == previous[1]:
            continue  # an equal span that lost on score or name
        if span[1] <= largest_end:
            continue  # inside an earlier span
        kept.append(span)
        previous = span
        largest_end = max(largest_end, span[1])
    return kept


def _trim_partial_overlaps(text: str, spans: list[list[Any]]) -> list[list[Any]]:
    spans.sort(key=lambda s: (s[0], s[1]))
    i = 0
    while i < len(spans) - 1:
        current, following = spans[i], spans[i + 1]
        if current[1] <= following[0]:
            i += 1
            continue
        if current[3] >= following[3]:
            following[0] = current[1]
        else:
            current[1] = following[0]
        for span in (current, following):  # no leading or trailing blanks after a cut
            while span[0] < span[1] and text[span[0]].isspace():
                span[0] += 1
            while span[1] > span[0] and text[span[1] - 1].isspace():
                span[1] -= 1
        spans = [s for s in spans if s[0] < s[1]]
        spans.sort(key=lambda s: (s[0], s[1]))
        i = max(0, i - 1)
    return spans


def _join_space_separated(text: str, spans: list[list[Any]]) -> list[list[Any]]:
    joined: list[list[Any]] = []
    for span in spans:
        if joined:
            prev = joined[-1]
            gap = text[prev[1] : span[0]]
            if prev[2] == span[2] and gap and gap.strip(" ") == "":
                prev[1] = span[1]
                prev[3] = max(prev[3], span[3])
                continue
        joined.append(span)
    return joined


def resolve_spans(text: str, raw: Sequence[RawSpan], settings: DetectionSettings) -> tuple[DetectedSpan, ...]:
    """The final, disjoint spans of ``text`` (see the module docstring for the steps).

    Parameters
    ----------
    text:
        The analysed text.
    raw:
        Raw ``(start, end, entity_type, score)`` results for ``text``. Results of
        ``AnalyzerEngine.analyze`` converted to tuples work too (thresholding them again changes nothing).
    settings:
        Threshold, allow and deny lists, entity filter.
    """
    kept = remove_duplicates(r for r in raw if r[3] >= settings.threshold)
    spans: list[list[Any]] = []
    for span in kept:
        if _is_false_positive(text, span, raw, settings):
            continue
        if settings.entities is not None and span[2] not in settings.entities:
            continue
        if settings.allow_list and _fold(text[span[0] : span[1]]) in settings.allow_list:
            continue
        spans.append(list(span))
    for etype, pattern in _deny_patterns(settings.deny_list):
        for match in pattern.finditer(text):
            spans.append([match.start(), match.end(), etype, 1.0])
    if not spans:
        return ()
    spans = _merge_same_type(spans)
    spans = _remove_contained(spans)
    spans = _trim_partial_overlaps(text, spans)
    spans = _join_space_separated(text, spans)
    return tuple(DetectedSpan(int(s[0]), int(s[1]), str(s[2]), float(s[3])) for s in spans)


def count_entities(spans: Iterable[DetectedSpan]) -> dict[str, int]:
    """Number of spans per entity type."""
    counts: dict[str, int] = {}
    for span in spans:
        counts[span.entity_type] = counts.get(span.entity_type, 0) + 1
    return counts
