"""Policies: JSON round trip, strict validation with clear errors, storage in the project with history and lineage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core.pii.operators import OperatorConfig
from workbench.core.pii.policy import (
    ColumnPolicy,
    ColumnTreatment,
    Policy,
    PolicyError,
    load_latest_policy,
    load_policy,
    save_policy_file,
    save_policy_to_project,
)
from workbench.core.project.store import Project


def sample_policy() -> Policy:
    return (
        Policy(name="clinic")
        .with_entity_operator("PERSON", OperatorConfig.create("pseudonym"))
        .with_entity_operator("PHONE_NUMBER", OperatorConfig.create("mask", chars_to_mask=4, from_end=True))
        .with_column("name", ColumnPolicy(ColumnTreatment.ENTITY, "PERSON"))
        .with_column("zip", ColumnPolicy(ColumnTreatment.ENTITY, "ZIP_CODE", OperatorConfig.create("generalize")))
        .with_column("note", ColumnPolicy(ColumnTreatment.FREE_TEXT))
        .with_column("ssn", ColumnPolicy(ColumnTreatment.DROP))
        .with_threshold(0.5)
        .with_allow_list(["Springfield Clinic"])
        .with_deny_list({"PERSON": ["Dr. Who"]})
        .with_subject_column("record_id")
    )


def test_round_trip_and_lookups(tmp_path: Path) -> None:
    policy = sample_policy()
    assert Policy.from_json(policy.to_json()) == policy
    path = save_policy_file(policy, tmp_path / "policy.json")
    assert load_policy(path) == policy
    assert policy.operator_for("PERSON").operator == "pseudonym"
    assert policy.operator_for("LOCATION").operator == "replace"  # the default operator
    assert policy.operator_for_column("name") == OperatorConfig.create("pseudonym")
    assert policy.operator_for_column("zip") == OperatorConfig.create("generalize")
    assert policy.column("unknown").treatment is ColumnTreatment.KEEP
    assert policy.needs_keys(["name"]) and not policy.needs_keys(["zip"])
    settings = policy.detection_settings()
    assert settings.threshold == 0.5 and "springfield clinic" in settings.allow_list
    assert hash(policy) == hash(Policy.from_json(policy.to_json()))
    data = json.loads(policy.to_json())
    assert data["schema_version"] == 1 and data["entities"]["PHONE_NUMBER"] == {
        "operator": "mask",
        "chars_to_mask": 4,
        "from_end": True,
    }


BASE = {"schema_version": 1}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", r"policy.json: not valid JSON \(line 1, column 2"),
        ("[]", "policy.json: the policy must be a JSON object, not a list"),
        (json.dumps({"name": "x"}), 'policy.json: missing "schema_version"'),
        (
            json.dumps({"schema_version": 7}),
            "policy.json: unknown schema_version 7; this workbench reads version 1 .*newer",
        ),
        (json.dumps({"schema_version": "1"}), "policy.json: schema_version must be a whole number, not a string"),
        (
            json.dumps({**BASE, "entities": {"PERSON": {"operator": "mask2"}}}),
            r"policy.json: entity PERSON: unknown operator 'mask2'; choose one of: keep, redact, replace, mask, "
            r"keyed_hash, encrypt, pseudonym, generalize",
        ),
        (
            json.dumps({**BASE, "entities": {"PERSON": {"operator": "mask", "chars_to_mask": "4"}}}),
            "policy.json: entity PERSON: operator 'mask': chars_to_mask must be a whole number, not a string",
        ),
        (json.dumps({**BASE, "threshold": 2}), "policy.json: threshold must be between 0 and 1, not 2"),
        (json.dumps({**BASE, "threshold": True}), "policy.json: threshold must be a number between 0 and 1, not true"),
        (json.dumps({**BASE, "colums": {}}), "policy.json: unknown field 'colums'; known fields: schema_version"),
        (
            json.dumps({**BASE, "columns": {"zip": {"treatment": "entity"}}}),
            "policy.json: column 'zip': treatment 'entity' needs an entity_type",
        ),
        (
            json.dumps({**BASE, "columns": {"zip": {"treatment": "hide"}}}),
            "policy.json: column 'zip': unknown treatment 'hide'; choose one of: keep, drop, entity, free_text",
        ),
        (json.dumps({**BASE, "allow_list": "Anna"}), "policy.json: allow_list must be a list of strings, not a string"),
        (
            json.dumps({**BASE, "deny_list": {"person": ["x"]}}),
            "policy.json: deny_list: 'person' is not an entity type",
        ),
        (json.dumps({**BASE, "entities": {"PERSON": 5}}), "policy.json: entity PERSON: an operator must be an object"),
    ],
)
def test_bad_policies_get_clear_errors(document: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_json(document, source="policy.json")


def test_missing_file_and_shorthand_columns(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such policy file"):
        load_policy(tmp_path / "nope.json")
    policy = Policy.from_json(json.dumps({**BASE, "columns": {"note": "free_text", "ssn": "drop"}}))
    assert policy.column("note").treatment is ColumnTreatment.FREE_TEXT
    assert policy.column("ssn").treatment is ColumnTreatment.DROP


def _register(project: Project, fingerprint: str) -> int:
    record = project.register_dataset(
        name=f"d-{fingerprint}", path=f"/tmp/{fingerprint}.csv", fingerprint=fingerprint, format="csv",
        encoding="utf-8", delimiter=",", rows=3, size_bytes=10, schema=[("name", "string")], roles={},
    )  # fmt: skip
    return record.id


def test_policies_are_versioned_in_the_project_and_changes_audited(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p") as project:
        dataset = _register(project, "aaa")
        first = sample_policy()
        id1 = save_policy_to_project(project, first, dataset)
        second = first.with_entity_operator("PERSON", OperatorConfig.create("replace")).with_threshold(0.6)
        id2 = save_policy_to_project(project, second, dataset)
        assert id2 > id1
        assert load_latest_policy(project, dataset) == second
        assert [r.id for r in project.policy_history(dataset)] == [id2, id1]
        assert load_latest_policy(project, None) is None
        project_wide = save_policy_to_project(project, Policy(name="site default"))
        assert project.latest_policy(None).id == project_wide  # type: ignore[union-attr]
        entries = [e for e in project.audit_log() if e.action == "pii_policy.saved"]
        assert len(entries) == 3
        change = dict(entries[1].detail)
        assert change["policy_id"] == id2 and change["dataset_id"] == dataset
        assert change["changes"]["entities"] == {"PERSON": ["pseudonym", "replace"]}
        assert change["changes"]["threshold"] == [0.5, 0.6]
        assert "Springfield" not in json.dumps([dict(e.detail) for e in project.audit_log()])  # no list terms
        # a removed dataset takes its policies along
        project.remove_dataset(dataset)
        assert project.policy_history(dataset) == []


def test_lineage_survives_the_removal_of_the_parent(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p") as project:
        parent, child = _register(project, "p1"), _register(project, "c1")
        entry = project.add_lineage(child, parent, "anonymize", {"policy_id": 3, "rows": 3})
        assert (entry.child_dataset_id, entry.parent_dataset_id, entry.operation) == (child, parent, "anonymize")
        assert dict(entry.detail) == {"policy_id": 3, "rows": 3}
        assert project.lineage(parent) == project.lineage(child) == [entry]
        assert project.audit_log(1)[0].action == "dataset.derived"
        project.remove_dataset(parent)
        kept = project.lineage(child)
        assert len(kept) == 1 and kept[0].parent_dataset_id is None
        from workbench.core.errors import ProjectError

        with pytest.raises(ProjectError, match="no dataset with id 999"):
            project.add_lineage(999, None, "anonymize")
