"""The anonymize job: same output as a per-record Presidio loop, input untouched, cancellation, workers, output."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from workbench.core.demo import generate_clinic_intake
from workbench.core.errors import JobCancelled
from workbench.core.jobs import CancelToken, Progress, drive
from workbench.core.pii.analyzer import AnalyzerHandle
from workbench.core.pii.engine import (
    OutputError,
    anonymize_table,
    anonymize_table_job,
    default_output_path,
    write_output,
)
from workbench.core.pii.keys import AnonymizationKeys
from workbench.core.pii.operators import OperatorConfig, OperatorError, decrypt_text
from workbench.core.pii.policy import ColumnPolicy, ColumnTreatment, Policy, PolicyError
from workbench.core.pii.postprocess import resolve_spans

KEYS = AnonymizationKeys.derive(b"k" * 32)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return generate_clinic_intake(60, seed=5)


@pytest.fixture(scope="module")
def table(rows: list[dict[str, str]]) -> pa.Table:
    return pa.Table.from_pylist(rows)


REPLACE_NOTES = Policy(name="replace").with_column("note", ColumnPolicy(ColumnTreatment.FREE_TEXT))


def test_output_equals_a_plain_per_record_presidio_loop(
    table: pa.Table, rows: list[dict[str, str]], analyzer: AnalyzerHandle
) -> None:
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import RecognizerResult

    result = anonymize_table(table, REPLACE_NOTES, analyzer=analyzer, workers=1)
    anonymizer = AnonymizerEngine()
    settings = REPLACE_NOTES.detection_settings()
    for row, ours in zip(rows, result.table.column("note").to_pylist(), strict=True):
        found = analyzer.engine.analyze(row["note"], language="en", score_threshold=REPLACE_NOTES.threshold)
        spans = resolve_spans(row["note"], [(r.start, r.end, r.entity_type, r.score) for r in found], settings)
        expected = anonymizer.anonymize(
            row["note"], [RecognizerResult(s.entity_type, s.start, s.end, s.score) for s in spans]
        ).text
        assert ours == expected
    assert result.table.column("name").to_pylist() == table.column("name").to_pylist()  # not in the policy: kept
    assert result.entity_counts["PERSON"] > 60 and result.unique_texts == 60


def test_input_is_not_mutated_and_treatments_apply(table: pa.Table, analyzer: AnalyzerHandle) -> None:
    before = table.to_pylist()
    policy = (
        REPLACE_NOTES.with_column("name", ColumnPolicy(ColumnTreatment.ENTITY, "PERSON"))
        .with_column("national_id", ColumnPolicy(ColumnTreatment.DROP))
        .with_column("zip", ColumnPolicy(ColumnTreatment.ENTITY, "ZIP_CODE", OperatorConfig.create("generalize")))
        .with_column("email", ColumnPolicy(ColumnTreatment.ENTITY, "EMAIL_ADDRESS", OperatorConfig.create("encrypt")))
        .with_entity_operator("PERSON", OperatorConfig.create("keyed_hash"))
    )
    result = anonymize_table(table, policy, KEYS, analyzer=analyzer, workers=1)
    assert table.to_pylist() == before
    out = result.table
    assert "national_id" not in out.column_names and out.num_rows == table.num_rows
    names = out.column("name").to_pylist()
    assert all(len(n) == 16 for n in names) and names[0] != table.column("name")[0].as_py()
    # keyed hash: the same name gives the same token in the column and inside the notes
    first = table.column("name")[0].as_py()
    assert names[0] in out.column("note")[0].as_py() or first not in table.column("note")[0].as_py()
    assert all(z.endswith("**") for z in out.column("zip").to_pylist())
    emails = out.column("email").to_pylist()
    assert [decrypt_text(e, KEYS) for e in emails] == table.column("email").to_pylist()
    assert result.column_counts["email"] == {"EMAIL_ADDRESS": 60}
    assert "PERSON" in result.column_counts["note"]


def test_keyed_policies_need_keys_and_columns_must_exist(table: pa.Table, analyzer: AnalyzerHandle) -> None:
    keyed = REPLACE_NOTES.with_entity_operator("PERSON", OperatorConfig.create("pseudonym"))
    with pytest.raises(OperatorError, match="uses pseudonym, which need the project's keys"):
        anonymize_table(table, keyed, None, analyzer=analyzer)
    with pytest.raises(PolicyError, match="names column 'nope', which the dataset does not have"):
        anonymize_table(table, REPLACE_NOTES.with_column("nope", ColumnPolicy(ColumnTreatment.DROP)))


def test_progress_and_cancellation(table: pa.Table, analyzer: AnalyzerHandle) -> None:
    analyzer.cache.clear()
    seen: list[Progress] = []
    token = CancelToken()
    before = analyzer.texts_analyzed

    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        if progress.phase == "analysing free text" and progress.done == 0:
            token.cancel()

    with pytest.raises(JobCancelled):
        drive(
            anonymize_table_job(table, REPLACE_NOTES, token=token, analyzer=analyzer, workers=1, chunk_size=8),
            on_progress,
        )
    assert seen and seen[0].total == 60 and seen[0].unit == "texts"
    assert analyzer.texts_analyzed - before <= 8, "cancelled: at most the chunk in flight (8 texts) was analysed"
    phases = []
    drive(anonymize_table_job(table, REPLACE_NOTES, analyzer=analyzer, workers=1), lambda p: phases.append(p.phase))
    assert phases[0] == "analysing free text" and phases[-1] == "applying the policy"


def test_repeated_texts_are_analysed_once_and_workers_agree(analyzer: AnalyzerHandle) -> None:
    notes = [r["note"] for r in generate_clinic_intake(40, seed=9)]
    table = pa.table({"note": notes * 3, "other": notes[::-1] * 3})
    policy = REPLACE_NOTES.with_column("other", ColumnPolicy(ColumnTreatment.FREE_TEXT))
    analyzer.cache.clear()
    one = anonymize_table(table, policy, analyzer=analyzer, workers=1)
    assert one.unique_texts == 40 and one.texts_analysed == 40
    analyzer.cache.clear()
    two = anonymize_table(table, policy, analyzer=analyzer, workers=2, chunk_size=8)
    assert two.workers == 2 and two.texts_analysed == 40
    assert two.table.equals(one.table) and two.entity_counts == one.entity_counts
    assert one.entity_counts["PERSON"] == 2 * 3 * sum(
        1 for spans in (resolve_spans(n, analyzer.analyze_raw([n])[0], policy.detection_settings()) for n in notes)
        for s in spans if s.entity_type == "PERSON"
    )  # fmt: skip


def test_write_output_next_to_never_over_the_source(tmp_path: Path, table: pa.Table) -> None:
    source = tmp_path / "clinic.csv"
    source.write_text("a\n1\n", encoding="utf-8")
    small = table.slice(0, 5)
    with pytest.raises(OutputError, match="this is the original dataset"):
        write_output(small, source, source=source, overwrite=True)
    assert source.read_text(encoding="utf-8") == "a\n1\n"
    target = default_output_path(source, "csv")
    assert target == tmp_path / "clinic.anonymized.csv"
    from workbench.core.data.load import load_dataset

    for fmt in ("csv", "parquet", "jsonl"):
        path = write_output(small, default_output_path(source, fmt), source=source)
        assert path.parent == tmp_path
        back = load_dataset(path)
        assert back.num_rows == 5 and back.column_names == small.column_names
    assert default_output_path(source, "csv").name == "clinic.anonymized-2.csv"
    with pytest.raises(OutputError, match="the file exists"):
        write_output(small, target)
    with pytest.raises(OutputError, match="cannot tell the output format"):
        write_output(small, tmp_path / "out.xlsx")
