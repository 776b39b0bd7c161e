"""The Data page's dataset list names each dataset uniquely, saying what it is, and never shows a vault location
(issue 14)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from workbench.ui.qt_main_window import QtMainWindow

_SCHEMA = (("name", "string"), ("age", "int64"))


def _register(project: Any, name: str, path: str, char: str) -> Any:
    return project.register_dataset(name, path, char * 64, "csv", "utf-8", ",", 10, 100, _SCHEMA, {})


def _two_anonymizations(project: Any, tmp_path: Any) -> tuple[Any, Any, Any]:
    parent = _register(project, "clinic_intake.csv", str(tmp_path / "clinic_intake.csv"), "a")
    policy = project.save_policy({"v": 1}, name="P", dataset_id=parent.id)
    one = _register(project, "clinic_intake.anonymized.csv", "vault:1dbb" + "0" * 60 + ".csv", "b")
    two = _register(project, "clinic_intake.anonymized.csv", "vault:2dbb" + "0" * 60 + ".csv", "c")
    for child in (one, two):
        project.add_lineage(child.id, parent.id, "anonymize", {"policy_id": policy.id, "policy_name": "P"})
    return parent, one, two


def _items(combo: Any) -> list[tuple[str, str]]:
    return [
        (combo.itemText(i), str(combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or "")) for i in range(combo.count())
    ]


def test_the_dataset_list_names_each_dataset_uniquely(window: QtMainWindow, tmp_path: Any) -> None:
    _two_anonymizations(window.project, tmp_path)
    window.data_page.refresh_dataset_list()
    items = _items(window.data_page.dataset_box)
    texts = [text for text, _ in items]
    assert len(texts) == 3 and len(set(texts)) == 3, texts
    assert texts[0].startswith("clinic_intake.csv (original)")
    assert all("anonymized with policy P v1" in t for t in texts[1:]), texts
    assert not any("vault:" in text or "vault:" in tip for text, tip in items), items
    assert items[1][1] == "in the encrypted project as clinic_intake.anonymized.csv"
