"""Honest counts (issue 13): "replaced" counts only what the operators changed; kept entities are reported as kept.

The counts of the anonymize job are compared with a character diff of each input and output note, computed
independently of the engine: a detected span that survives inside one unchanged block of the diff was kept.
"""

from __future__ import annotations

import difflib
from collections import Counter

import pyarrow as pa

from workbench.core.demo import generate_clinic_intake
from workbench.core.pii.analyzer import AnalyzerHandle
from workbench.core.pii.engine import anonymize_table
from workbench.core.pii.operators import OperatorConfig
from workbench.core.pii.policy import ColumnPolicy, ColumnTreatment, Policy
from workbench.core.pii.postprocess import resolve_spans

POLICY = (
    Policy(name="keep titles")
    .with_entity_operator("TITLE", OperatorConfig.create("keep"))
    .with_column("note", ColumnPolicy(ColumnTreatment.FREE_TEXT))
    .with_column("zip", ColumnPolicy(ColumnTreatment.ENTITY, "ZIP_CODE", OperatorConfig.create("keep")))
    .with_column("phone", ColumnPolicy(ColumnTreatment.ENTITY, "PHONE_NUMBER"))
)


def _unchanged(before: str, after: str) -> list[tuple[int, int]]:
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return [(i1, i2) for tag, i1, i2, _, _ in matcher.get_opcodes() if tag == "equal"]


def test_kept_entities_are_never_counted_as_replaced(analyzer: AnalyzerHandle) -> None:
    rows = generate_clinic_intake(40, seed=13)
    table = pa.Table.from_pylist(rows)
    result = anonymize_table(table, POLICY, analyzer=analyzer, workers=1)
    settings = POLICY.detection_settings()
    replaced: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    outputs = result.table.column("note").to_pylist()
    for row, after in zip(rows, outputs, strict=True):
        before = row["note"]
        blocks = _unchanged(before, after)
        for span in resolve_spans(before, analyzer.analyze_raw([before])[0], settings):
            survived = any(i1 <= span.start and span.end <= i2 for i1, i2 in blocks)
            (kept if survived else replaced)[span.entity_type] += 1
    kept["ZIP_CODE"] += sum(1 for r in rows if r["zip"].strip())
    replaced["PHONE_NUMBER"] += sum(1 for r in rows if r["phone"].strip())
    assert kept["TITLE"] > 0, "the demo notes name doctors (Dr.), so TITLE must be detected"
    assert dict(result.entity_counts) == dict(replaced)
    assert dict(result.kept_counts) == dict(kept)
    assert "TITLE" not in result.entity_counts and "ZIP_CODE" not in result.entity_counts
    # What the diff says kept is still in the output: every kept "Dr."/"Ms."/"Mr." is there.
    assert sum(n.count(t) for n in outputs for t in ("Dr.", "Ms.", "Mr.")) >= kept["TITLE"]
    assert result.summary()["kept_counts"]["TITLE"] == kept["TITLE"]
    assert result.column_kept_counts["zip"] == {"ZIP_CODE": len(rows)}
