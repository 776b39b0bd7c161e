"""A wrong passphrase keeps the dialog open with the reason in it (issue 14): the analyst tries again or cancels.
The dialog's ``exec`` is replaced by a driver that types into the real dialog and clicks its real buttons."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog

from tests.support.planted import PASSPHRASE
from tests.support.qt import wait_for_job
from workbench.ui.qt_main_window import QtMainWindow
from workbench.ui.qt_vault import QtPassphraseDialog


def _driver(qtbot: Any, attempts: list[str], cancel_at_end: bool = False) -> Callable[[QtPassphraseDialog], int]:
    """An ``exec`` that enters each passphrase in turn, waiting for each check; records what the dialog said."""

    def drive(dialog: QtPassphraseDialog) -> int:
        dialog.show()
        for text in attempts:
            assert dialog.isVisible(), "the dialog is still open for the next try"
            dialog.edit.setText(text)
            dialog.ok_button.click()
            assert dialog.checking is not None or not dialog.isVisible()
            qtbot.waitUntil(lambda: dialog.checking is None, timeout=20_000)
            drive.errors.append(dialog.error_label.text() if dialog.isVisible() else "")  # type: ignore[attr-defined]
        if cancel_at_end and dialog.isVisible():
            dialog.reject()
        return dialog.result()

    drive.errors = []  # type: ignore[attr-defined]
    return drive


@pytest.fixture
def locked_window(qtbot: Any, window: QtMainWindow) -> QtMainWindow:
    wait_for_job(qtbot, window.runner, window.flows.encrypt_project(PASSPHRASE))
    window.vault_ctl.lock()
    assert window.vault_ctl.state == "locked"
    return window


def test_unlock_retries_after_a_wrong_passphrase(qtbot: Any, locked_window: QtMainWindow,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    window = locked_window
    drive = _driver(qtbot, ["not the passphrase", PASSPHRASE])
    monkeypatch.setattr(QtPassphraseDialog, "exec", drive)
    assert window.unlock_dialog() is True
    first, second = drive.errors  # type: ignore[attr-defined]
    assert "wrong passphrase" in first.lower() and "try again" in first.lower()
    assert second == "", "the right passphrase closed the dialog"
    assert window.vault_ctl.state == "unlocked" and not window.lock_banner.isVisible()
    wrong = [m for _, m in window.notifications.messages() if "wrong passphrase" in m.lower()]
    assert wrong == [], "said in the dialog, not again as a notification"
    qtbot.waitUntil(lambda: not window.runner.running_count(), timeout=10_000)


def test_cancel_after_a_wrong_passphrase_leaves_it_locked(qtbot: Any, locked_window: QtMainWindow,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    window = locked_window
    monkeypatch.setattr(QtPassphraseDialog, "exec", _driver(qtbot, ["wrong"], cancel_at_end=True))
    assert window.unlock_dialog() is False
    assert window.vault_ctl.state == "locked" and window.lock_banner.isVisible()


def test_opening_an_encrypted_project_retries_in_the_same_dialog(
    qtbot: Any, window: QtMainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.core.crypto import kdf
    from workbench.core.jobs import drive as drive_job
    from workbench.core.project.store import Project
    from workbench.services.encryption import encrypt_project_job

    folder = tmp_path / "locked"
    session, _ = drive_job(encrypt_project_job(Project.create(folder), PASSPHRASE, kdf=kdf.minimum_params()))
    session.close()
    shown: list[QtPassphraseDialog] = []
    drive = _driver(qtbot, ["nope", "still not", PASSPHRASE])

    def exec_(dialog: QtPassphraseDialog) -> int:
        shown.append(dialog)
        return drive(dialog)

    monkeypatch.setattr(QtPassphraseDialog, "exec", exec_)
    assert window.open_project(folder) is True
    assert len(shown) == 1, "one dialog for every try"
    assert [("wrong passphrase" in e.lower()) for e in drive.errors] == [True, True, False]  # type: ignore[attr-defined]
    assert window.project is not None and window.project.folder == folder.resolve()
    assert window.vault_ctl.state == "unlocked"
    assert shown[0].result() == QDialog.DialogCode.Accepted
    qtbot.waitUntil(lambda: not window.runner.running_count(), timeout=10_000)
