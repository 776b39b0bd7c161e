"""The Audit log page (issue 18): the project's entries in a table under the chain's verdict; filters by kind,
dataset and time reduce the rows; an entry changed in SQLite behind the window's back is named on Verify, in red;
the head is copied; export writes CSV and JSON of the rows shown, and is itself audited."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from tests.support.planted import CANARY_NAME, canary_csv
from workbench.core.jobs import drive
from workbench.core.project.store import DB_FILE_NAME
from workbench.services.datasets import add_dataset_job
from workbench.services.session import ProjectSession
from workbench.ui.qt_audit_page import PAGE_NAME, QtAuditPage, compact_detail, install


def _page_with_entries(window, tmp_path: Path) -> QtAuditPage:  # noqa: ANN001
    session = ProjectSession(window.project)
    drive(add_dataset_job(session, canary_csv(tmp_path / "a.csv", rows=12)))
    drive(add_dataset_job(session, canary_csv(tmp_path / "b.csv", rows=15)))
    first = window.project.datasets()[0]
    window.project.set_roles(first.id, {"follow_up": "label", "age": "sensitive"})
    window.project.audit("setting.changed", key="something")
    page = install(window)
    window.show_page(PAGE_NAME)
    assert page.isVisible()
    return page


def _select(combo, text: str) -> None:  # noqa: ANN001
    index = combo.findText(text)
    assert index >= 0, [combo.itemText(i) for i in range(combo.count())]
    combo.setCurrentIndex(index)


def _actions(page: QtAuditPage) -> list[str]:
    return [page.model.row(i)["action"] for i in range(page.model.rowCount())]


def test_entries_shown_and_filtered(window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page_with_entries(window, tmp_path)
    actions = _actions(page)
    assert actions.count("dataset.registered") == 2 and "dataset.roles_changed" in actions
    assert "setting.changed" in actions and page.count_label.text() == f"{len(actions)} entries shown"
    assert "every entry verifies" in page.chain_label.text()
    assert page.model.data(page.model.index(0, 2)) == actions[0]
    assert CANARY_NAME not in " ".join(page.model.data(page.model.index(r, 3)) for r in range(len(actions)))

    _select(page.kind_combo, "setting")
    assert _actions(page) == ["setting.changed"]
    _select(page.kind_combo, "dataset")
    assert set(_actions(page)) == {"dataset.registered", "dataset.roles_changed"}

    _select(page.kind_combo, "All kinds")
    first = window.project.datasets()[0]
    _select(page.dataset_combo, f"{first.name} (original)")
    shown = [page.model.row(i) for i in range(page.model.rowCount())]
    assert {r["action"] for r in shown} == {"dataset.registered", "dataset.roles_changed"}
    assert all(json.loads(r["detail_json"]).get("dataset_id") == first.id for r in shown)

    _select(page.dataset_combo, "All datasets")
    page.time_check.setChecked(True)
    page.from_edit.setDate(QDate(2001, 1, 1))
    page.to_edit.setDate(QDate(2001, 1, 2))
    assert page.model.rowCount() == 0
    page.to_edit.setDate(QDate(2999, 1, 1))
    assert page.model.rowCount() == len(actions)


def test_tampering_is_named_on_verify(window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page_with_entries(window, tmp_path)
    assert "BROKEN" not in page.chain_label.text()
    folder = window.project.folder
    with sqlite3.connect(folder / DB_FILE_NAME) as conn:
        conn.execute("UPDATE audit_log SET detail_json = ? WHERE id = 2", ('{"dataset_id": 7}',))
    conn.close()
    page.verify_button.click()
    text = page.chain_label.text()
    assert "BROKEN at entry 2" in text and "#b00020" in text  # in red
    assert page.model.broken_at == 2
    row = next(r for r in range(page.model.rowCount()) if page.model.row(r)["id"] == 2)
    assert page.model.data(page.model.index(row, 0), 8) is not None  # Qt.BackgroundRole: the broken row marked
    assert "Traceback" not in page.message_text()


def test_copy_head(window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page_with_entries(window, tmp_path)
    head = page.copy_head()
    seq, _, digest = head.partition(":")
    assert int(seq) == max(page.model.row(i)["id"] for i in range(page.model.rowCount())) and len(digest) == 64
    assert QGuiApplication.clipboard().text() == head and head in page.head_label.text()


def test_export_csv_and_json(window, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    page = _page_with_entries(window, tmp_path)
    _select(page.kind_combo, "dataset")
    shown = page.model.rowCount()
    out_csv, out_json = tmp_path / "log.csv", tmp_path / "log.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out_csv), ""))
    page.export_csv_button.click()
    with out_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == shown and all(r["action"].startswith("dataset.") for r in rows)
    assert set(rows[0]) >= {"id", "ts", "action", "detail_json", "entry_hash"}
    assert f"{shown} entries exported to {out_csv}" in page.message_text()

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out_json), ""))
    page.export_json_button.click()
    entries = json.loads(out_json.read_text())
    assert [e["id"] for e in entries] == [int(r["id"]) for r in rows]
    assert isinstance(entries[0]["detail"], dict)
    for path in (out_csv, out_json):
        assert CANARY_NAME not in path.read_text()
    _select(page.kind_combo, "All kinds")
    assert _actions(page).count("audit_log.exported") == 2


def test_a_bad_export_path_is_said_on_the_page(window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page_with_entries(window, tmp_path)
    missing = tmp_path / "file-not-folder"
    missing.write_text("")
    assert page.export(missing / "log.csv", "csv") is None
    assert page.message.property("level") == "error" and "Nothing was exported" in page.message_text()


def test_compact_detail() -> None:
    assert compact_detail('{"dataset_id": 3, "name": "a.csv", "columns": ["x", "y"]}') == (
        'dataset_id=3, name=a.csv, columns=["x","y"]'
    )
    assert compact_detail(json.dumps({"k": "v" * 500}), limit=20).endswith("…")


def test_an_encrypted_project_s_log_is_read_and_verified_while_locked(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.support.planted import PASSPHRASE
    from tests.support.qt import wait_for_job

    wait_for_job(qtbot, window.runner, window.flows.encrypt_project(PASSPHRASE))
    drive(add_dataset_job(ProjectSession(window.project, window.vault_ctl.vault), canary_csv(tmp_path / "a.csv")))
    page = install(window)
    window.show_page(PAGE_NAME)
    assert "project.encrypted" in _actions(page) and "dataset.registered" in _actions(page)
    assert "the head is signed by key" in page.chain_label.text()

    window.vault_ctl.lock()
    window.project.audit("setting.changed", key="while-locked")  # written locked: signed at the next unlocked change
    page.verify_button.click()
    assert "setting.changed" in _actions(page) and "BROKEN" not in page.chain_label.text()
    assert "written while it was locked" in page.chain_label.text() and page.message_text() == ""
