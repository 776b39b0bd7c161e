"""Evaluation: metrics on a hand-made gold file with known numbers, the spans file, and the shared Presidio set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core.jobs import drive
from workbench.core.pii.analyzer import get_analyzer
from workbench.core.pii.evaluate import (
    EvalDataError,
    GoldSample,
    GoldSpan,
    evaluate_job,
    load_gold,
    score,
    write_spans_jsonl,
)
from workbench.core.pii.postprocess import DetectedSpan, DetectionSettings

SHARED_GOLD = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "eval" / "presidio_synth" / "synth_dataset_v2.json"
)


def test_metrics_on_a_hand_made_example() -> None:
    gold = [
        GoldSample("Anna lives in Oslo", (GoldSpan(0, 4, "PERSON"), GoldSpan(14, 18, "GPE"))),
        GoldSample("Call 555-0100 now", (GoldSpan(5, 13, "PHONE_NUMBER"),)),
        GoldSample("Nothing here", ()),
    ]
    detected = [
        (DetectedSpan(0, 4, "PERSON", 0.9), DetectedSpan(14, 18, "ORGANIZATION", 0.5)),  # Oslo: wrong type
        (DetectedSpan(5, 9, "US_BANK_NUMBER", 0.4),),  # overlaps the phone, wrong type, not a gold type
        (DetectedSpan(0, 7, "PERSON", 0.6),),  # a false positive
    ]
    report = score(gold, detected)
    # any type: 3 of 4 detections overlap gold, 3 of 3 gold spans are found
    assert (report.any_type.correct_detected, report.any_type.detected) == (3, 4)
    assert (report.any_type.found_gold, report.any_type.gold) == (3, 3)
    assert report.any_type.precision == pytest.approx(0.75) and report.any_type.recall == pytest.approx(1.0)
    assert report.any_type.f2 == pytest.approx(5 * 0.75 * 1.0 / (4 * 0.75 + 1.0))  # 0.9375
    per = dict(report.per_entity)
    assert (per["PERSON"].precision, per["PERSON"].recall) == (0.5, 1.0)  # 1 of 2 PERSON detections right
    assert (per["LOCATION"].recall, per["LOCATION"].detected) == (0.0, 0)  # GPE maps to LOCATION; Oslo was ORG
    assert per["ORGANIZATION"].precision == 0.0
    assert per["PHONE_NUMBER"].recall == 0.0
    # typed overall: micro over gold types (PERSON, LOCATION, PHONE_NUMBER); US_BANK_NUMBER and ORG left out
    assert (report.typed.correct_detected, report.typed.detected) == (1, 2)
    assert (report.typed.found_gold, report.typed.gold) == (1, 3)
    assert dict((k, r) for k, r, _ in report.gold_recall_any_type) == {"PERSON": 1.0, "GPE": 1.0, "PHONE_NUMBER": 1.0}


def test_gold_file_errors_and_spans_output(tmp_path: Path) -> None:
    bad = tmp_path / "gold.json"
    bad.write_text(
        json.dumps([{"full_text": "abc", "spans": [{"entity_type": "X", "start_position": 2, "end_position": 9}]}])
    )
    with pytest.raises(EvalDataError, match="item 0: span 0 has offsets outside the text"):
        load_gold(bad)
    bad.write_text(json.dumps([{"text": "abc"}]))
    with pytest.raises(EvalDataError, match="item 0: needs a string field full_text"):
        load_gold(bad)
    bad.write_text("{oops")
    with pytest.raises(EvalDataError, match="not valid JSON"):
        load_gold(bad)
    out = write_spans_jsonl(tmp_path / "spans.jsonl", [(DetectedSpan(0, 4, "PERSON", 0.85),), ()])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"spans": [{"start": 0, "end": 4, "entity_type": "PERSON", "score": 0.85}]},
        {"spans": []},
    ]


@pytest.mark.skipif(not SHARED_GOLD.is_file(), reason=f"shared evaluation data not present at {SHARED_GOLD}")
def test_detector_beats_the_goal_on_a_slice_of_presidios_set() -> None:
    gold = load_gold(SHARED_GOLD)[:300]
    report, detected = drive(evaluate_job(gold, get_analyzer(), DetectionSettings(), workers=1))
    assert len(detected) == 300
    assert report.any_type.f2 >= 0.83  # the whole file: see benchmarks/bench_pii_eval.py
    assert dict(report.per_entity)["PERSON"].recall >= 0.75
