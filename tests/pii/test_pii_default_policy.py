"""Safe defaults (issue 13): the default policy never keeps a direct identifier of the demo project (record_id
included); quasi-identifiers are generalized where an operator exists; sensitive columns are kept and flagged."""

from __future__ import annotations

from pathlib import Path

from workbench.core.demo_project import create_demo_project
from workbench.core.pii.analyzer import AnalyzerHandle
from workbench.core.pii.column_detect import detect_columns
from workbench.core.pii.policy import ColumnTreatment, Policy, policy_template


def test_the_demo_default_policy_keeps_no_direct_identifier(tmp_path: Path, analyzer: AnalyzerHandle) -> None:
    from workbench.core.data.load import load_dataset

    project, record = create_demo_project(tmp_path / "demo", rows=60)
    try:
        ds = load_dataset(record.path)
        roles = dict(record.roles)
    finally:
        project.close()
    direct = sorted(c for c, r in roles.items() if r == "direct_identifier")
    assert "record_id" in direct and len(direct) == 5
    detections = detect_columns(ds.table, analyzer=analyzer, sample_size=15)
    for keys in (False, True):
        policy = policy_template(detections, "demo", roles=roles, keys=keys)
        for column in direct:
            treatment = policy.column(column)
            assert treatment.treatment is not ColumnTreatment.KEEP, column
            assert treatment.role == "direct_identifier" and treatment.reason
            if keys:
                assert policy.operator_for_column(column).operator == "pseudonym", column
                assert "keyed pseudonym" in treatment.reason
            else:
                assert treatment.treatment is ColumnTreatment.DROP and "dropped" in treatment.reason
        assert policy.needs_keys(ds.column_names) is keys
        for column in ("date_of_birth", "zip"):
            assert policy.operator_for_column(column).operator == "generalize", column
            assert "generalized" in (policy.column(column).reason or "")
        assert policy.column("sex").treatment is ColumnTreatment.KEEP and "risk step" in policy.column("sex").reason
        assert policy.column("diagnosis").treatment is ColumnTreatment.KEEP
        assert policy.column("diagnosis").role == "sensitive" and "risk step" in policy.column("diagnosis").reason
        assert policy.column("note").treatment is ColumnTreatment.FREE_TEXT
        # The reasons and roles survive the JSON file.
        assert Policy.from_json(policy.to_json()) == policy
