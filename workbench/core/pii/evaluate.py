"""Scoring the detector against labelled text (presidio-research's synthetic-data format).

Input: a JSON list of samples ``{"full_text": str, "spans": [{"entity_type", "start_position",
"end_position"}, ...]}`` (character offsets, end exclusive), as ``synth_dataset_v2.json``.

Matching is by overlap: a detected span and a gold span match when they share at least one character.

* **Typed** (per entity): both types are first mapped to a common vocabulary with :data:`ENTITY_MAPPING`
  (presidio-research's ``presidio_entities_map`` plus the workbench's own types: STREET_ADDRESS and GPE are
  LOCATION, DOMAIN_NAME is URL, BANK_CARD is CREDIT_CARD, CN_MOBILE is PHONE_NUMBER...). For each type T, recall
  is the share of gold T spans overlapped by a detected T span and precision the share of detected T spans that
  overlap a gold T span. The typed overall figures are micro-averages over the types present in the gold data;
  detections of types the gold data never labels (e.g. US_BANK_NUMBER, UK_NHS) are left out of them, as
  presidio-research leaves out entities outside the dataset's set.
* **Any type**: a detected span is correct when it overlaps any gold span, and a gold span is found when any
  detected span overlaps it, whatever the types. Every detection counts here.

F-scores use beta = 2 (recall weighs four times as much as precision), as Presidio's evaluation does.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle
from workbench.core.pii.analyzer import AnalyzerHandle, iter_raw_analysis
from workbench.core.pii.postprocess import DetectedSpan, DetectionSettings, resolve_spans
from workbench.core.safe_io import InputRefusedError, escape_for_terminal, parse_json, read_small_text

BETA = 2.0
#: The largest gold file read (bytes); presidio-research's synth_dataset_v2.json is about 1 MB.
GOLD_LIMIT = 64 << 20

ENTITY_MAPPING: Mapping[str, str] = {
    # people
    "PERSON": "PERSON", "PER": "PERSON", "FIRST_NAME": "PERSON", "LAST_NAME": "PERSON", "PATIENT": "PERSON",
    "STAFF": "PERSON", "HCW": "PERSON",
    # places
    "LOCATION": "LOCATION", "LOC": "LOCATION", "GPE": "LOCATION", "FACILITY": "LOCATION", "CITY": "LOCATION",
    "ADDRESS": "LOCATION", "STREET_ADDRESS": "LOCATION",
    "ZIP": "ZIP_CODE", "ZIP_CODE": "ZIP_CODE",
    # organisations, nationalities, titles
    "ORGANIZATION": "ORGANIZATION", "ORG": "ORGANIZATION", "HOSPITAL": "ORGANIZATION", "NRP": "NRP",
    "NORP": "NRP", "NATIONALITY": "NRP", "TITLE": "TITLE", "PREFIX": "TITLE", "AGE": "AGE",
    # dates
    "DATE_TIME": "DATE_TIME", "DATE": "DATE_TIME", "TIME": "DATE_TIME", "BIRTHDAY": "DATE_TIME",
    "DATE_OF_BIRTH": "DATE_TIME", "DOB": "DATE_TIME",
    # contact and internet
    "PHONE_NUMBER": "PHONE_NUMBER", "PHONE": "PHONE_NUMBER", "CN_MOBILE": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS", "EMAIL": "EMAIL_ADDRESS", "URL": "URL", "DOMAIN_NAME": "URL",
    "DOMAIN": "URL", "IP_ADDRESS": "IP_ADDRESS",
    # money and identifiers
    "CREDIT_CARD": "CREDIT_CARD", "BANK_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN_CODE", "IBAN": "IBAN_CODE",
    "US_SSN": "US_SSN", "SSN": "US_SSN", "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
}  # fmt: skip
"""Gold and detected entity types -> the common type they are compared under (others keep their name)."""


class EvalDataError(WorkbenchError):
    """The gold file is missing or not in the expected format; the message names the item and the field."""


@dataclass(frozen=True, slots=True)
class GoldSpan:
    start: int
    end: int
    entity_type: str


@dataclass(frozen=True, slots=True)
class GoldSample:
    text: str
    spans: tuple[GoldSpan, ...]


@dataclass(frozen=True, slots=True)
class Scores:
    """Precision, recall and F2 with the counts behind them."""

    precision: float
    recall: float
    f2: float
    correct_detected: int
    detected: int
    found_gold: int
    gold: int

    @classmethod
    def from_counts(cls, correct_detected: int, detected: int, found_gold: int, gold: int) -> Scores:
        precision = correct_detected / detected if detected else 0.0
        recall = found_gold / gold if gold else 0.0
        b2 = BETA * BETA
        f2 = (1 + b2) * precision * recall / (b2 * precision + recall) if precision + recall else 0.0
        return cls(precision, recall, f2, correct_detected, detected, found_gold, gold)

    def to_json(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f2": round(self.f2, 4),
            "correct_detected": self.correct_detected,
            "detected": self.detected,
            "found_gold": self.found_gold,
            "gold": self.gold,
        }


@dataclass(frozen=True, slots=True)
class EvalReport:
    """The scores of one detector on one gold file.

    Attributes
    ----------
    texts:
        Number of samples.
    any_type:
        Overall scores when any overlap counts, whatever the types.
    typed:
        Overall typed scores (micro-average over the gold data's types).
    per_entity:
        ``(common type, typed scores)``, sorted by type.
    gold_recall_any_type:
        ``(gold type as written in the file, any-type recall, gold count)``, sorted by count.
    """

    texts: int
    any_type: Scores
    typed: Scores
    per_entity: tuple[tuple[str, Scores], ...]
    gold_recall_any_type: tuple[tuple[str, float, int], ...]
    threshold: float
    elapsed_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "texts": self.texts,
            "threshold": self.threshold,
            "any_type": self.any_type.to_json(),
            "typed": self.typed.to_json(),
            "per_entity": {k: v.to_json() for k, v in self.per_entity},
            "gold_recall_any_type": {k: {"recall": round(r, 4), "gold": n} for k, r, n in self.gold_recall_any_type},
            "elapsed_s": round(self.elapsed_s, 2),
            "matching": "overlap of at least one character; F2 (beta = 2)",
        }


def load_gold(path: str | Path) -> list[GoldSample]:
    """Read a gold file in presidio-research's format, checking every item.

    Raises
    ------
    EvalDataError
        For a missing file, a folder, device or silent FIFO, a file over :data:`GOLD_LIMIT` bytes, bad or too
        deeply nested JSON, or an item without ``full_text``/``spans`` or with bad offsets (the
        message names the item index, never its text).
    """
    file = Path(path)
    name = escape_for_terminal(file.name)
    try:  # bounded: a device or folder is refused, a FIFO times out, at most GOLD_LIMIT bytes are read
        text = read_small_text(file, what="gold file", limit=GOLD_LIMIT)
        data = parse_json(text, source=name, what="gold file")
    except InputRefusedError as exc:
        raise EvalDataError(str(exc)) from None
    if not isinstance(data, list):
        raise EvalDataError(f"{name}: expected a JSON list of samples with full_text and spans")
    samples: list[GoldSample] = []
    for i, item in enumerate(data):
        where = f"{name}: item {i}"
        if not isinstance(item, dict) or not isinstance(item.get("full_text"), str):
            raise EvalDataError(f"{where}: needs a string field full_text")
        text = item["full_text"]
        raw_spans = item.get("spans", [])
        if not isinstance(raw_spans, list):
            raise EvalDataError(f"{where}: spans must be a list")
        spans = []
        for j, span in enumerate(raw_spans):
            if not isinstance(span, dict):
                raise EvalDataError(f"{where}: span {j} must be an object")
            etype, start, end = span.get("entity_type"), span.get("start_position"), span.get("end_position")
            if not isinstance(etype, str) or not isinstance(start, int) or not isinstance(end, int):
                raise EvalDataError(
                    f"{where}: span {j} needs entity_type (string), start_position and end_position (integers)"
                )
            if not 0 <= start < end <= len(text):
                raise EvalDataError(f"{where}: span {j} has offsets outside the text or end <= start")
            spans.append(GoldSpan(start, end, etype))
        samples.append(GoldSample(text, tuple(spans)))
    return samples


def _common(entity_type: str, mapping: Mapping[str, str]) -> str:
    return mapping.get(entity_type, entity_type)


def _overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def score(
    gold: Sequence[GoldSample],
    detected: Sequence[Sequence[DetectedSpan]],
    *,
    mapping: Mapping[str, str] = ENTITY_MAPPING,
    threshold: float = 0.0,
    elapsed_s: float = 0.0,
) -> EvalReport:
    """Score ``detected`` (one span list per sample, in order) against ``gold`` (see the module docstring)."""
    if len(gold) != len(detected):
        raise ValueError(f"{len(detected)} detection lists for {len(gold)} gold samples")
    any_correct = any_detected = any_found = any_gold = 0
    typed: dict[str, list[int]] = {}  # type -> [correct detected, detected, found gold, gold]
    gold_by_type: Counter[str] = Counter()
    found_by_type: Counter[str] = Counter()
    for sample, spans in zip(gold, detected, strict=True):
        any_detected += len(spans)
        any_gold += len(sample.spans)
        any_correct += sum(1 for d in spans if any(_overlap(d.start, d.end, g.start, g.end) for g in sample.spans))
        for g in sample.spans:
            hit = any(_overlap(d.start, d.end, g.start, g.end) for d in spans)
            any_found += hit
            gold_by_type[g.entity_type] += 1
            found_by_type[g.entity_type] += hit
            common = _common(g.entity_type, mapping)
            counts = typed.setdefault(common, [0, 0, 0, 0])
            counts[3] += 1
            counts[2] += any(
                _common(d.entity_type, mapping) == common and _overlap(d.start, d.end, g.start, g.end) for d in spans
            )
        for d in spans:
            common = _common(d.entity_type, mapping)
            counts = typed.setdefault(common, [0, 0, 0, 0])
            counts[1] += 1
            counts[0] += any(
                _common(g.entity_type, mapping) == common and _overlap(d.start, d.end, g.start, g.end)
                for g in sample.spans
            )
    per_entity = tuple((k, Scores.from_counts(*v)) for k, v in sorted(typed.items()))
    in_gold = [v for v in typed.values() if v[3] > 0]
    typed_overall = Scores.from_counts(
        sum(v[0] for v in in_gold), sum(v[1] for v in in_gold), sum(v[2] for v in in_gold), sum(v[3] for v in in_gold)
    )
    recall_by_gold = tuple(
        sorted(
            ((k, found_by_type[k] / n, n) for k, n in gold_by_type.items()),
            key=lambda item: (-item[2], item[0]),
        )
    )
    return EvalReport(
        texts=len(gold),
        any_type=Scores.from_counts(any_correct, any_detected, any_found, any_gold),
        typed=typed_overall,
        per_entity=per_entity,
        gold_recall_any_type=recall_by_gold,
        threshold=threshold,
        elapsed_s=elapsed_s,
    )


def detect_job(
    texts: Sequence[str],
    handle: AnalyzerHandle,
    settings: DetectionSettings,
    token: CancelToken | None = None,
    *,
    workers: int | None = None,
) -> JobGenerator[list[tuple[DetectedSpan, ...]]]:
    """The workbench detector's spans for each text, as a job (phase ``detecting``, unit ``texts``)."""
    token = token or CancelToken()
    unique = list(dict.fromkeys(texts))
    raw: list[Any] = [()] * len(unique)
    throttle = Throttle(0.1)
    yield Progress("detecting", 0, len(unique), "texts")
    for done, (index, spans) in enumerate(iter_raw_analysis(handle, unique, token=token, workers=workers), start=1):
        raw[index] = spans
        if throttle.ready():
            yield Progress("detecting", done, len(unique), "texts")
    resolved = {text: resolve_spans(text, raw[i], settings) for i, text in enumerate(unique)}
    yield Progress("detecting", len(unique), len(unique), "texts")
    return [resolved[text] for text in texts]


def plain_presidio_spans(
    handle: AnalyzerHandle, texts: Iterable[str], threshold: float
) -> list[tuple[DetectedSpan, ...]]:
    """Spans from ``AnalyzerEngine.analyze(text, score_threshold=threshold)`` per text: plain Presidio, no
    post-processing (overlapping spans stay), for comparisons."""
    out = []
    for text in texts:
        results = handle.engine.analyze(text, language=handle.settings.language, score_threshold=threshold)
        out.append(tuple(DetectedSpan(r.start, r.end, r.entity_type, float(r.score)) for r in results))
    return out


def evaluate_job(
    gold: Sequence[GoldSample],
    handle: AnalyzerHandle,
    settings: DetectionSettings,
    token: CancelToken | None = None,
    *,
    workers: int | None = None,
) -> JobGenerator[tuple[EvalReport, list[tuple[DetectedSpan, ...]]]]:
    """Detect on every gold text and score; returns the report and the detected spans (in input order)."""
    started = time.monotonic()
    detected = yield from detect_job([s.text for s in gold], handle, settings, token, workers=workers)
    report = score(gold, detected, threshold=settings.threshold, elapsed_s=time.monotonic() - started)
    return report, detected


def write_spans_jsonl(path: str | Path, detected: Iterable[Sequence[DetectedSpan]]) -> Path:
    """One JSON line per text, in order: ``{"spans": [{"start", "end", "entity_type", "score"}, ...]}``."""
    file = Path(path)
    with file.open("w", encoding="utf-8", newline="\n") as handle:
        for spans in detected:
            handle.write(json.dumps({"spans": [s.to_json() for s in spans]}, ensure_ascii=False) + "\n")
    return file
