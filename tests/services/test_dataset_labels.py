"""Dataset names in lists are unique and say what they are; a vault location is never shown (issue 14)."""

from __future__ import annotations

from typing import Any

from workbench.services.dataset_labels import dataset_label, dataset_labels, dataset_location

_SCHEMA = (("name", "string"), ("age", "int64"))


def _register(project: Any, name: str, path: str, char: str) -> Any:
    return project.register_dataset(name, path, char * 64, "csv", "utf-8", ",", 10, 100, _SCHEMA, {})


def test_two_anonymizations_of_one_dataset_get_two_labels(project: Any, tmp_path: Any) -> None:
    parent = _register(project, "clinic_intake.csv", str(tmp_path / "clinic_intake.csv"), "a")
    first_policy = project.save_policy({"v": 1}, name="P", dataset_id=parent.id)
    second_policy = project.save_policy({"v": 2}, name="P", dataset_id=parent.id)
    one = _register(project, "clinic_intake.anonymized.csv", "vault:1dbb" + "0" * 60 + ".csv", "b")
    two = _register(project, "clinic_intake.anonymized.csv", "vault:2dbb" + "0" * 60 + ".csv", "c")
    three = _register(project, "clinic_intake.anonymized.csv", "vault:3dbb" + "0" * 60 + ".csv", "d")
    for child, policy in ((one, first_policy), (two, second_policy), (three, second_policy)):
        project.add_lineage(child.id, parent.id, "anonymize", {"policy_id": policy.id, "policy_name": "P"})

    assert dataset_label(parent, project) == "clinic_intake.csv (original)"
    assert dataset_label(one, project).startswith("clinic_intake.anonymized.csv (anonymized with policy P v1, ")
    assert "policy P v2" in dataset_label(two, project)
    labels = dataset_labels(project.datasets(), project)
    assert len(set(labels.values())) == 4, labels
    assert labels[two.id] != labels[three.id] and labels[three.id].endswith(f"#{three.id}")
    assert not any("vault:" in label for label in labels.values())
    assert dataset_location(one) == "in the encrypted project as clinic_intake.anonymized.csv"
    assert dataset_location(parent) == str(tmp_path / "clinic_intake.csv")


def test_without_a_project_every_dataset_is_an_original(project: Any) -> None:
    record = _register(project, "a.csv", "/data/a.csv", "e")
    assert dataset_label(record, None) == "a.csv (original)"
