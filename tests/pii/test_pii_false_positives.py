"""Fewer false positives on clinical notes (issue 13): places that are also first names, clinical abbreviations,
relative dates (a policy choice); scored on the demo notes against the generator's gold spans."""

from __future__ import annotations

from dataclasses import replace

from workbench.core.demo import note_gold_spans
from workbench.core.jobs import drive
from workbench.core.pii.analyzer import AnalyzerHandle
from workbench.core.pii.evaluate import GoldSample, GoldSpan, evaluate_job
from workbench.core.pii.policy import Policy
from workbench.core.pii.postprocess import DetectionSettings, is_relative_date, resolve_spans


def _found(analyzer: AnalyzerHandle, text: str, settings: DetectionSettings) -> set[tuple[str, str]]:
    return {
        (text[s.start : s.end], s.entity_type) for s in resolve_spans(text, analyzer.analyze_raw([text])[0], settings)
    }


def test_place_names_abbreviations_and_relative_dates(analyzer: AnalyzerHandle) -> None:
    settings = Policy().detection_settings()
    found = _found(analyzer, "Referred by Dr. Smith from Savannah.", settings)
    assert ("Savannah", "LOCATION") in found and ("Savannah", "PERSON") not in found and ("Smith", "PERSON") in found
    found = _found(analyzer, "Patient Jo Kim presented with COPD and CKD; the ECG was normal.", settings)
    assert not {t for t, e in found if e == "ORGANIZATION"} and ("Jo Kim", "PERSON") in found
    text = "Seen today: worse since last week, seen again on Tuesday, March 3, 2026."
    dates = {t for t, e in _found(analyzer, text, settings) if e == "DATE_TIME"}
    assert "today" not in dates and not any("last week" in d for d in dates) and any("2026" in d for d in dates)
    opted_in = {
        t
        for t, e in _found(analyzer, text, Policy().with_relative_dates(True).detection_settings())
        if e == "DATE_TIME"
    }
    assert "today" in opted_in
    assert is_relative_date("the last weeks") and not is_relative_date("Tuesday") and not is_relative_date("May 2024")
    assert Policy.from_json(Policy().with_relative_dates(True).to_json()).relative_dates


def test_demo_notes_scored_against_the_generator_gold(analyzer: AnalyzerHandle) -> None:
    notes = note_gold_spans(120, seed=777)
    for note, spans in notes[:20]:
        assert spans and all(0 <= s.start < s.end <= len(note) for s in spans)
    gold = [GoldSample(n, tuple(GoldSpan(s.start, s.end, s.entity_type) for s in spans)) for n, spans in notes]
    after = DetectionSettings.create()
    before = replace(after, places_over_names=False, drop_clinical_terms=False, relative_dates=True)
    old, _ = drive(evaluate_job(gold, analyzer, before, workers=1))
    new, _ = drive(evaluate_job(gold, analyzer, after, workers=1))
    old_per, new_per = dict(old.per_entity), dict(new.per_entity)
    for entity in ("PERSON", "LOCATION", "DATE_TIME", "PHONE_NUMBER"):
        assert new_per[entity].recall >= old_per[entity].recall - 1e-9, entity
        assert new_per[entity].precision >= old_per[entity].precision - 1e-9, entity
    assert new_per["DATE_TIME"].precision > old_per["DATE_TIME"].precision
    assert new_per["LOCATION"].recall > old_per["LOCATION"].recall  # Savannah, Madison... now places
    assert new.any_type.precision > old.any_type.precision and new.any_type.recall >= old.any_type.recall
    assert new_per.get("ORGANIZATION") is None or new_per["ORGANIZATION"].detected < old_per["ORGANIZATION"].detected
