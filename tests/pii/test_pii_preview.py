"""The live preview: spans and replacements line up, the cache spares the NER, a cancelled preview stops.

Newest-request-wins is the window's debouncer's job: tests/ui/test_latest_job.py."""

from __future__ import annotations

import pyarrow as pa
import pytest

from workbench.core.demo import generate_clinic_intake
from workbench.core.errors import JobCancelled
from workbench.core.jobs import CancelToken
from workbench.core.pii.analyzer import AnalyzerHandle
from workbench.core.pii.keys import AnonymizationKeys
from workbench.core.pii.operators import OperatorConfig
from workbench.core.pii.policy import ColumnPolicy, ColumnTreatment, Policy
from workbench.core.pii.preview import preview_rows

KEYS = AnonymizationKeys.derive(b"p" * 32)
POLICY = (
    Policy()
    .with_column("note", ColumnPolicy(ColumnTreatment.FREE_TEXT))
    .with_column("name", ColumnPolicy(ColumnTreatment.ENTITY, "PERSON"))
    .with_column("national_id", ColumnPolicy(ColumnTreatment.DROP))
)


@pytest.fixture(scope="module")
def rows() -> pa.Table:
    return pa.Table.from_pylist(generate_clinic_intake(20, seed=21))


def test_cells_spans_and_replacements_line_up(rows: pa.Table, analyzer: AnalyzerHandle) -> None:
    result = preview_rows(rows.slice(5, 10), POLICY, KEYS, CancelToken(), row_offset=5, analyzer=analyzer)
    assert result.columns == tuple(rows.column_names)
    assert [r.row for r in result.rows] == list(range(5, 15))
    for row in result.rows:
        cells = {c.column: c for c in row.cells}
        assert cells["sex"].original == cells["sex"].anonymized and cells["sex"].treatment == "keep"
        assert cells["national_id"].anonymized is None and cells["national_id"].treatment == "drop"
        assert cells["name"].anonymized == "<PERSON>" and cells["name"].spans[0].end == len(cells["name"].original)
        note = cells["note"]
        assert note.spans and len(note.spans) == len(note.replacements)
        for span, repl in zip(note.spans, note.replacements, strict=True):
            assert span.entity_type == repl.entity_type
            assert note.anonymized[repl.start : repl.end] == f"<{span.entity_type}>"
            assert 0 <= span.start < span.end <= len(note.original)
    assert result.legend_counts["PERSON"] >= 10 + 10  # the name column plus names in the notes
    assert list(result.legend_counts.values()) == sorted(result.legend_counts.values(), reverse=True)


def test_operator_change_does_not_rerun_the_ner(rows: pa.Table, analyzer: AnalyzerHandle) -> None:
    view = rows.slice(0, 12)
    analyzer.cache.clear()
    first = preview_rows(view, POLICY, KEYS, analyzer=analyzer)
    assert first.texts_analyzed == 12
    calls = analyzer.texts_analyzed
    masked = POLICY.with_entity_operator("PERSON", OperatorConfig.create("mask", chars_to_mask=2))
    second = preview_rows(view, masked, KEYS, analyzer=analyzer)
    assert second.texts_analyzed == 0 and analyzer.texts_analyzed == calls  # no NER: the cache answered
    a, b = first.rows[0].cells[-2], second.rows[0].cells[-2]  # the note
    assert a.spans == b.spans and a.anonymized != b.anonymized and "**" in b.anonymized
    stricter = preview_rows(view, POLICY.with_threshold(0.9), KEYS, analyzer=analyzer)
    assert stricter.texts_analyzed == 0 and analyzer.texts_analyzed == calls  # threshold: re-filtered only
    assert sum(stricter.legend_counts.values()) < sum(first.legend_counts.values())
    pseudonyms = POLICY.with_entity_operator("PERSON", OperatorConfig.create("pseudonym"))
    p1 = preview_rows(view, pseudonyms, KEYS, analyzer=analyzer)
    p2 = preview_rows(view, pseudonyms, KEYS, analyzer=analyzer)
    assert p1.rows == p2.rows  # consistent pseudonyms from refresh to refresh


def test_cancelled_preview_stops(rows: pa.Table, analyzer: AnalyzerHandle) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        preview_rows(rows.slice(0, 5), POLICY, KEYS, token, analyzer=analyzer)
