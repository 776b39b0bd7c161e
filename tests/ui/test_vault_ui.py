"""Encrypted projects in the window: encrypt, import, lock drops decrypted data, unlock, auto-lock."""

from __future__ import annotations

from pathlib import Path

from tests.support.qt import wait_for_job
from workbench.core.project.secure_data import is_vault_path
from workbench.ui.qt_data_page import LOCKED_MESSAGE
from workbench.ui.qt_vault import QtPassphraseDialog

PW = "a long enough passphrase"
CANARY = "Quintessa-Vandermolen"


def _wait_job(qtbot, window, start) -> None:  # noqa: ANN001
    job = start()
    assert job is not None
    wait_for_job(qtbot, window.runner, job)


def _scan(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_encrypt_import_lock_unlock(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    assert window.vault_ctl.state == "none" and window.encrypt_action.isEnabled()
    _wait_job(qtbot, window, lambda: window.flows.encrypt_project(PW))
    assert window.vault_ctl.state == "unlocked" and "unlocked" in window.lock_label.text()
    src = tmp_path / "intake.csv"
    src.write_text(f"name,diagnosis\n{CANARY},J45\nBob,E11\n", encoding="utf-8")
    _wait_job(qtbot, window, lambda: window.data_page.load_file(src))
    ds = window.data_page.dataset
    assert ds is not None and is_vault_path(ds.path)
    record = window.project.datasets()[0]
    assert is_vault_path(record.path)
    assert _scan(window.project.folder, CANARY.encode()) == []

    window.vault_ctl.lock()
    assert window.vault_ctl.state == "locked"
    assert window.data_page.dataset is None, "locking drops the decrypted dataset from the view"
    assert window.cache.get(record.fingerprint) is None, "... and from memory"
    assert window.data_page.banner.text() == LOCKED_MESSAGE
    assert window.data_page.load_file(src) is None  # nothing is added while locked

    _wait_job(qtbot, window, lambda: window.vault_ctl.unlock("not the passphrase"))
    assert window.vault_ctl.state == "locked"
    assert any("wrong passphrase" in m.lower() for _, m in window.notifications.messages())

    _wait_job(qtbot, window, lambda: window.vault_ctl.unlock(PW))
    assert window.vault_ctl.state == "unlocked"
    qtbot.waitUntil(lambda: window.data_page.dataset is not None, timeout=10_000)
    assert window.data_page.dataset.fingerprint == record.fingerprint
    qtbot.waitUntil(lambda: not window.runner.running_count(), timeout=10_000)


def test_auto_lock_after_idle(qtbot, window) -> None:  # noqa: ANN001
    _wait_job(qtbot, window, lambda: window.flows.encrypt_project(PW))
    window.vault_ctl.auto_lock_seconds = 0.05
    qtbot.wait(100)
    window.vault_ctl._check_idle()
    assert window.vault_ctl.state == "locked"
    assert any("idle" in m for _, m in window.notifications.messages())


def test_passphrase_dialog_checks(qtbot) -> None:  # noqa: ANN001
    d = QtPassphraseDialog(None, "t", "m", new=True)
    qtbot.addWidget(d)
    d.edit.setText("short")
    assert "at least" in (d.problem() or "")
    d.edit.setText("long enough words here")
    d.confirm_edit.setText("different words here!!")
    assert d.problem() == "The two entries differ."
    d.confirm_edit.setText("long enough words here")
    assert d.problem() is None


def test_auto_lock_setting_is_saved(qtbot, window) -> None:  # noqa: ANN001
    action = next(a for a in window.auto_lock_menu.actions() if a.data() == 5)
    action.trigger()
    assert window.vault_ctl.auto_lock_seconds == 300
    assert window.settings_store.load().auto_lock_minutes == 5
    assert action.isChecked() and sum(a.isChecked() for a in window.auto_lock_menu.actions()) == 1
