"""Encrypted projects in the window: unlock and lock the vault, change its passphrase, auto-lock.

Opening and encrypting a project are use cases of :mod:`workbench.services` started by the main window; this
controller holds the vault of the open project. Key derivation is deliberately slow (about half a second), so
unlocking runs as a job: the window
never freezes while a passphrase is checked. Passphrases live in Python strings only as long as the dialog and the
job need them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.ui.qt_jobs import QtJobRunner

if TYPE_CHECKING:
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.project.store import Project

log = logging.getLogger("workbench.ui.vault")

MIN_NEW_PASSPHRASE = 10
_ACTIVITY_EVENTS = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel}


class QtPassphraseDialog(QDialog):
    """Asks for a passphrase; with ``new=True`` asks twice and checks length and match inline.

    With :meth:`check_with`, OK starts a job that tries the passphrase and the dialog stays open until it succeeds:
    a wrong passphrase is said in the dialog and the analyst can try again, or cancel.
    """

    def __init__(self, parent: QWidget | None, title: str, message: str, new: bool = False, old: bool = False):
        super().__init__(parent)
        self.setWindowTitle(title)
        self._new = new
        layout = QVBoxLayout(self)
        text = QLabel(message)
        text.setWordWrap(True)
        layout.addWidget(text)
        form = QFormLayout()
        self.old_edit: QLineEdit | None = None
        if old:
            self.old_edit = QLineEdit()
            self.old_edit.setEchoMode(QLineEdit.EchoMode.Password)
            form.addRow("Current passphrase:", self.old_edit)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("New passphrase:" if new else "Passphrase:", self.edit)
        self.confirm_edit: QLineEdit | None = None
        if new:
            self.confirm_edit = QLineEdit()
            self.confirm_edit.setEchoMode(QLineEdit.EchoMode.Password)
            form.addRow("Repeat it:", self.confirm_edit)
        layout.addLayout(form)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color:#a01919;")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self._runner: QtJobRunner | None = None
        self._attempt: Callable[[str], int | None] | None = None
        self.checking: int | None = None
        """The job trying the entered passphrase, while it runs."""

    def check_with(self, runner: QtJobRunner, attempt: Callable[[str], int | None]) -> None:
        """On OK, call ``attempt(passphrase)`` (it starts a job on ``runner`` and returns its id, or ``None`` when
        there is nothing to try) and close only when that job succeeds."""
        self._runner, self._attempt = runner, attempt
        runner.sig_job_succeeded.connect(self._on_check_succeeded)
        runner.sig_job_failed.connect(self._on_check_failed)
        runner.sig_job_cancelled.connect(self._on_check_cancelled)

    def show_error(self, text: str) -> None:
        self.error_label.setStyleSheet("color:#a01919;")
        self.error_label.setText(text)
        self.error_label.show()

    def _set_checking(self, job_id: int | None) -> None:
        self.checking = job_id
        busy = job_id is not None
        self.ok_button.setEnabled(not busy)
        for edit in (self.old_edit, self.edit, self.confirm_edit):
            if edit is not None:
                edit.setEnabled(not busy)
        if busy:
            self.error_label.setStyleSheet("color:#555;")
            self.error_label.setText("Checking the passphrase…")
            self.error_label.show()

    @Slot(int, object)
    def _on_check_succeeded(self, job_id: int, result: object) -> None:
        if job_id == self.checking:
            self._set_checking(None)
            self.accept()

    @Slot(int, str)
    def _on_check_failed(self, job_id: int, message: str) -> None:
        if job_id != self.checking:
            return
        self._set_checking(None)
        self.show_error(f"{message[:1].upper()}{message[1:]}. Try again, or Cancel.")
        self.edit.selectAll()
        self.edit.setFocus()

    @Slot(int)
    def _on_check_cancelled(self, job_id: int) -> None:
        if job_id == self.checking:
            self._set_checking(None)

    def done(self, result: int) -> None:
        """Closing stops listening to the runner; Cancel while a passphrase is checked cancels that job."""
        if self._runner is not None:
            if self.checking is not None and result != QDialog.DialogCode.Accepted.value:
                self._runner.cancel(self.checking)
            for signal, slot in (
                (self._runner.sig_job_succeeded, self._on_check_succeeded),
                (self._runner.sig_job_failed, self._on_check_failed),
                (self._runner.sig_job_cancelled, self._on_check_cancelled),
            ):
                signal.disconnect(slot)
            self._runner = None
        super().done(result)

    def problem(self) -> str | None:
        """Why the entered text cannot be accepted, or None."""
        value = self.edit.text()
        if self.old_edit is not None and not self.old_edit.text():
            return "Enter the current passphrase."
        if not value:
            return "Enter a passphrase."
        if self._new:
            if len(value) < MIN_NEW_PASSPHRASE:
                return f"Use at least {MIN_NEW_PASSPHRASE} characters (a few unrelated words work well)."
            if self.confirm_edit is not None and self.confirm_edit.text() != value:
                return "The two entries differ."
        return None

    @Slot()
    def _on_accept(self) -> None:
        problem = self.problem()
        if problem:
            self.show_error(problem)
            return
        if self._attempt is None:
            self.accept()
            return
        if self.checking is not None:
            return
        job_id = self._attempt(self.passphrase())
        if job_id is None:
            self.reject()
            return
        self._set_checking(job_id)

    def passphrase(self) -> str:
        return self.edit.text()

    def old_passphrase(self) -> str:
        return self.old_edit.text() if self.old_edit is not None else ""


class QtVaultController(QObject):
    """Owns the open project's vault (if it is encrypted) and its lock state."""

    sig_state_changed = Signal(str)
    """'none' (project not encrypted), 'locked' or 'unlocked'."""
    sig_message = Signal(str, str)
    """(level, text) for the window's notifications."""

    def __init__(self, runner: QtJobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self.vault: ProjectVault | None = None
        self.project: Project | None = None
        self.auto_lock_seconds = 15 * 60.0
        self.kdf_params: Any = None
        """KDF parameters for new vaults; None: tuned to about 0.5 s on this machine (tests pass cheap ones)."""
        self._pending: dict[int, str] = {}
        runner.sig_job_succeeded.connect(self._on_job_succeeded)
        runner.sig_job_failed.connect(self._on_job_failed)
        self._timer = QTimer(self)
        self._timer.setInterval(5000)
        self._timer.timeout.connect(self._check_idle)
        self._timer.start()

    # --- state --------------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        if self.vault is None:
            return "none"
        return "unlocked" if self.vault.is_unlocked else "locked"

    def set_session(self, project: Project | None, vault: ProjectVault | None) -> None:
        """The open project and its vault (``None``: not encrypted); a previous vault is locked."""
        if self.vault is not None and self.vault is not vault:
            self.vault.lock()
        self.project = project
        self.vault = vault
        self.sig_state_changed.emit(self.state)

    def unlock(self, passphrase: str) -> int | None:
        vault = self.vault
        if vault is None:
            return None

        def job(token: CancelToken) -> JobGenerator[Any]:
            yield Progress("unlock", 0, None, "", "checking the passphrase")
            vault.unlock(passphrase)
            return vault

        return self._submit("Unlock project", job, "unlock")

    def change_passphrase(self, old: str, new: str) -> int | None:
        vault = self.vault
        if vault is None:
            return None

        project, params = self.project, self.kdf_params

        def job(token: CancelToken) -> JobGenerator[Any]:
            from workbench.services.encryption import change_passphrase
            from workbench.services.session import ProjectSession

            yield Progress("change passphrase", 0, None, "", "re-wrapping the project key")
            if project is None:
                raise WorkbenchError("no project is open")
            change_passphrase(ProjectSession(project, vault), old, new, kdf=params)
            return vault

        return self._submit("Change passphrase", job, "change")

    @Slot()
    def lock(self) -> None:
        if self.vault is not None and self.vault.is_unlocked:
            self.vault.lock()
            log.info("vault locked")
            self.sig_state_changed.emit(self.state)

    def touch(self) -> None:
        if self.vault is not None and self.vault.is_unlocked:
            self.vault.touch()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Installed on the application: user input postpones auto-lock."""
        if event.type() in _ACTIVITY_EVENTS:
            self.touch()
        return False

    @Slot()
    def _check_idle(self) -> None:
        vault = self.vault
        if vault is None or not vault.is_unlocked or self.auto_lock_seconds <= 0:
            return
        if vault.idle_seconds >= self.auto_lock_seconds:
            self.lock()
            minutes = self.auto_lock_seconds / 60
            self.sig_message.emit("info", f"The project was locked after {minutes:g} idle minutes.")

    # --- jobs ---------------------------------------------------------------------------------------------

    def _submit(self, title: str, factory: Any, kind: str) -> int:
        job = self._runner.submit(title, factory, kind="vault")
        self._pending[job] = kind
        return job

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        kind = self._pending.pop(job_id, None)
        if kind is None:
            return
        if kind == "unlock":
            self.sig_message.emit("info", "Project unlocked.")
        elif kind == "change":
            self.sig_message.emit("info", "Passphrase changed. The old one no longer unlocks this project.")
        self.sig_state_changed.emit(self.state)

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if self._pending.pop(job_id, None) is not None:
            self.sig_state_changed.emit(self.state)
