"""The residual check (issue 13): what a policy lets through is found again in the output; what the operators
inserted never counts; kept values are kept, not residue; large tables are sampled with a stated confidence."""

from __future__ import annotations

import pyarrow as pa
import pytest

from workbench.core.demo import generate_clinic_intake
from workbench.core.jobs import drive
from workbench.core.pii.analyzer import AnalyzerHandle
from workbench.core.pii.engine import ReplacementSpan, anonymize_table
from workbench.core.pii.keys import AnonymizationKeys
from workbench.core.pii.operators import OperatorConfig
from workbench.core.pii.policy import ColumnPolicy, ColumnTreatment, Policy
from workbench.core.pii.postprocess import resolve_spans
from workbench.core.pii.preview import preview_rows
from workbench.core.pii.residual import (
    RESIDUAL_THRESHOLD,
    classify,
    mask_example,
    preview_residual_job,
    residual_check_table_job,
    residual_settings,
    upper_bound_95,
)

KEYS = AnonymizationKeys.derive(b"r" * 32)
NOTES = Policy(name="notes").with_column("note", ColumnPolicy(ColumnTreatment.FREE_TEXT))


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rows = generate_clinic_intake(40, seed=21)
    assert sum(r["note"].count("Contact number") + r["note"].count(" at ") for r in rows) > 3  # notes hold phones
    return pa.Table.from_pylist(rows)


def test_a_threshold_that_lets_phone_numbers_through_shows_them_as_residue(
    table: pa.Table, analyzer: AnalyzerHandle
) -> None:
    loose = NOTES.with_threshold(0.95)
    result = anonymize_table(table, loose, analyzer=analyzer, workers=1)
    report = drive(residual_check_table_job(result, loose, analyzer=analyzer, workers=1))
    assert report.residue_counts.get("PHONE_NUMBER", 0) > 0
    assert not report.sampled and report.cells_checked == table.num_rows
    assert "PHONE_NUMBER" in report.statement() and "all 40 text cells" in report.statement()
    assert "examples" not in report.to_json() and report.to_json()["residue_counts"]["PHONE_NUMBER"] > 0
    # The same threshold in the preview says so before Apply (no extra NER: the cached detections at 0.3).
    preview = preview_rows(table.slice(0, 20), loose, None, analyzer=analyzer)
    assert dict(preview.let_through).get("PHONE_NUMBER", 0) > 0
    assert "PHONE_NUMBER" in preview.let_through_sentence() and "0.95" in preview.let_through_sentence()
    # At the default threshold the phones are replaced and nothing of the kind remains.
    strict = anonymize_table(table, NOTES, analyzer=analyzer, workers=1)
    clean = drive(residual_check_table_job(strict, NOTES, analyzer=analyzer, workers=1))
    assert clean.residue_counts.get("PHONE_NUMBER", 0) == 0
    assert (
        dict(preview_rows(table.slice(0, 20), NOTES, None, analyzer=analyzer).let_through).get("PHONE_NUMBER") is None
    )


def test_inserted_pseudonyms_are_never_residue(table: pa.Table, analyzer: AnalyzerHandle) -> None:
    policy = NOTES.with_default_operator(OperatorConfig.create("pseudonym"))
    result = anonymize_table(table, policy, KEYS, analyzer=analyzer, workers=1)
    report = drive(residual_check_table_job(result, policy, analyzer=analyzer, workers=1))
    settings = residual_settings(policy)
    on_inserted = outside = 0
    for text in result.table.column("note").to_pylist():
        inserted = result.inserted.get(text, ())
        for span in resolve_spans(text, analyzer.analyze_raw([text])[0], settings):
            if any(r.start < span.end and span.start < r.end for r in inserted):
                on_inserted += 1
            else:
                outside += 1
    assert on_inserted > 20, "the fake names and phones are detected again by the scan..."
    assert report.total == outside, "...but only what lies outside them counts"
    # The rule itself, on one text: the same detection is residue without the record of the insertion.
    text = "Call Jane Smith today."
    raw = analyzer.analyze_raw([text])[0]
    fake = (ReplacementSpan(5, 15, "PERSON", "pseudonym", True),)
    assert not [s for s in classify(text, raw, fake, settings)[0] if s.entity_type == "PERSON"]
    assert [s for s in classify(text, raw, (), settings)[0] if s.entity_type == "PERSON"]


def test_kept_values_are_kept_not_residue(table: pa.Table, analyzer: AnalyzerHandle) -> None:
    policy = NOTES.with_entity_operator("TITLE", OperatorConfig.create("keep"))
    result = anonymize_table(table, policy, analyzer=analyzer, workers=1)
    report = drive(residual_check_table_job(result, policy, analyzer=analyzer, workers=1))
    assert result.kept_counts.get("TITLE", 0) > 0 and "TITLE" not in result.entity_counts
    assert "TITLE" not in report.residue_counts  # "Dr." is still there, on purpose: kept, never residue
    preview = preview_rows(table.slice(0, 20), policy, None, analyzer=analyzer)
    assert dict(preview.kept).get("TITLE", 0) > 0
    previewed = drive(preview_residual_job(preview, policy, analyzer=analyzer))
    assert previewed.cells_checked == 20 and "TITLE" not in previewed.residue_counts


def test_large_tables_are_sampled_with_a_confidence_statement(table: pa.Table, analyzer: AnalyzerHandle) -> None:
    result = anonymize_table(table, NOTES, analyzer=analyzer, workers=1)
    job = residual_check_table_job(result, NOTES, analyzer=analyzer, workers=1, max_full=10, sample_size=8, seed=3)
    report = drive(job)
    assert report.sampled and report.cells_checked == 8 and report.cells_total == 40 and report.seed == 3
    assert "uniform random sample of 8 of 40" in report.statement() and "95 % confidence" in report.statement()
    # Rule of three: 0 residues in 2,000 cells -> fewer than 0.15 % with 95 % confidence.
    assert upper_bound_95(0, 2000) == pytest.approx(3 / 2000, rel=0.01)
    assert upper_bound_95(5, 100) > 0.05
    assert NOTES.threshold > RESIDUAL_THRESHOLD
    assert mask_example("555-0134") == "5••-••••"
