"""The window's project flows that take several steps: opening an encrypted project (passphrase, unlock job, retry),
encrypting the open project (plan, passphrase, job), exporting a dataset or a model (file, in-clear question, job).

Each step calls a use case of :mod:`workbench.services` in a job; the outcomes come back on ``@Slot`` methods of this
GUI-thread object, which hands the resulting project to the main window.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMessageBox

from workbench.core.jobs import CancelToken, JobGenerator
from workbench.ui.qt_vault import QtPassphraseDialog

if TYPE_CHECKING:
    from workbench.ui.qt_main_window import QtMainWindow


class QtProjectFlows(QObject):
    """Owned by the main window; see the module docstring."""

    def __init__(self, window: QtMainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._opening: dict[int, tuple[Path, bool]] = {}
        self._encrypting: dict[int, tuple[Path, str]] = {}
        window.runner.sig_job_succeeded.connect(self._on_job_succeeded)
        window.runner.sig_job_failed.connect(self._on_job_failed)

    # ---- opening an encrypted project -------------------------------------------------------------------------

    def open_encrypted(self, folder: Path, passphrase: str | None) -> bool:
        """Unlock and open ``folder``: with ``passphrase``, or by asking for it (again after a wrong one)."""
        if passphrase is None:
            return self.ask_passphrase_and_open(folder)
        self.unlock_and_open(folder, passphrase, interactive=False)
        return True

    def ask_passphrase_and_open(self, folder: Path, problem: str | None = None) -> bool:
        """Ask for the passphrase and open ``folder``: the dialog stays open after a wrong passphrase (saying so)
        until the project opens or the analyst cancels. True when it was opened."""
        text = f"The project {folder.name} is encrypted. Enter its passphrase to open it."
        dialog = QtPassphraseDialog(self._window, "Open encrypted project", text)
        if problem:
            dialog.show_error(problem)

        def attempt(passphrase: str) -> int:
            job_id = self.unlock_and_open(folder, passphrase, interactive=False)
            self._window.failure_shown_elsewhere(job_id)
            return job_id

        dialog.check_with(self._window.runner, attempt)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        dialog.deleteLater()
        return accepted

    def unlock_and_open(self, folder: Path, passphrase: str, *, interactive: bool) -> int:
        """The unlock job; ``interactive``: ask again when the passphrase is wrong."""
        from workbench.services.opening import open_session_job

        def job(token: CancelToken) -> JobGenerator[Any]:
            return (yield from open_session_job(folder, passphrase, token))

        job_id = self._window.runner.submit(f"Unlock {folder.name}", job, kind="vault")
        self._opening[job_id] = (folder, interactive)
        return job_id

    # ---- encrypting the open project --------------------------------------------------------------------------

    @Slot()
    def encrypt_project_dialog(self) -> None:
        from workbench.services.encryption import ERASURE_NOTE, plan_encryption

        window = self._window
        if window.project is None or window.vault_ctl.state != "none":
            return
        lines = plan_encryption(window.project).lines()
        shown = "\n".join(f"• {line}" for line in lines[:8])
        if len(lines) > 8:
            shown += f"\n• … and {len(lines) - 8} more"
        dialog = QtPassphraseDialog(
            window,
            "Encrypt this project",
            "Choose a passphrase for this project. Its store (names, roles, policies, runs, audit log), its datasets, "
            "models and outputs, and everything added later are kept encrypted with a key derived from it. Without "
            f"it nobody, including you, can read them: keep it safe.\n\nWhat will happen:\n{shown}\n\n{ERASURE_NOTE}",
            new=True,
        )
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.encrypt_project(dialog.passphrase())

    def encrypt_project(self, passphrase: str) -> int | None:
        """Encrypt the open project as a job (see :mod:`workbench.services.encryption`); the pages let go of it
        meanwhile and show it again, encrypted and unlocked, when the job is done. Refused while jobs run."""
        from workbench.services.encryption import encrypt_project_job

        window = self._window
        project = window.project
        if project is None or window.vault_ctl.state != "none":
            return None
        if window.runner.registry.active():
            window.notify("warning", "Finish or cancel the running jobs before encrypting the project.")
            return None
        params = window.vault_ctl.kdf_params
        folder = project.folder
        window.set_project(None)

        def job(token: CancelToken) -> JobGenerator[Any]:
            return (yield from encrypt_project_job(project, passphrase, kdf=params, token=token))

        job_id = window.runner.submit("Encrypt project", job, kind="vault")
        self._encrypting[job_id] = (folder, passphrase)
        return job_id

    # ---- job outcomes -----------------------------------------------------------------------------------------

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        window = self._window
        if job_id in self._opening:
            self._opening.pop(job_id)
            window.replace_project(result.project, result.vault)
            for note in result.notes:
                window.notify("info", note)
        elif job_id in self._encrypting:
            self._encrypting.pop(job_id)
            session, report = result
            window.replace_project(session.project, session.vault)
            window.notify("info", f"The project is now encrypted: {report.summary()}.")
            for path in report.in_clear:
                window.notify("warning", f"Still in clear at {path} (registered outside the project; not touched).")

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if job_id in self._opening:
            folder, interactive = self._opening.pop(job_id)
            if interactive and "passphrase" in message:
                self.ask_passphrase_and_open(folder, message)
        elif job_id in self._encrypting:
            # The encryption stopped part-way: open the project again as it now is (finishing the encryption when
            # it got far enough to have a vault).
            folder, passphrase = self._encrypting.pop(job_id)
            self._window.open_project(folder, passphrase=passphrase)

    # ---- exports ----------------------------------------------------------------------------------------------

    def _confirm_in_clear(self, what: str) -> bool:
        """From an encrypted project an export is written in clear: ask first (the export is audited)."""
        if self._window.vault_ctl.state == "none":
            return True
        answer = QMessageBox.question(
            self._window,
            "Export in clear?",
            f"This project is encrypted. Exporting writes {what} in clear outside the vault, where the workbench "
            "no longer protects it. The export is recorded in the project's audit log.\n\nExport in clear?",
        )
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def export_dataset_dialog(self) -> None:
        window = self._window
        record_id = window.data_page.record_id
        if window.project is None or record_id is None:
            window.notify("warning", "Open a dataset of the project on the Data page first.")
            return
        path, _ = QFileDialog.getSaveFileName(window, "Export the dataset", str(Path.home()))
        if path and self._confirm_in_clear("the whole dataset"):
            self.export_dataset(record_id, path, in_clear=True)

    @Slot()
    def export_model_dialog(self) -> None:
        from workbench.core.dp.runs import RunStore

        window = self._window
        if window.project is None:
            return
        runs = [r for r in RunStore(window.project, recover=False).runs() if r.model_path]
        if not runs:
            window.notify("warning", "No training run of this project kept a model yet.")
            return
        run_id, ok = QInputDialog.getInt(window, "Export a model", "Run id:", runs[-1].id, runs[0].id, runs[-1].id)
        if not ok:
            return
        path, _ = QFileDialog.getSaveFileName(window, "Export the model", str(Path.home() / f"run-{run_id}.pt"))
        if path and self._confirm_in_clear(f"the model of run {run_id}"):
            self.export_model(run_id, path, in_clear=True)

    def check_opened(self, project: Any, vault: Any) -> bool:
        """What every open does (``services.opening.check_session``): the privacy ledger checked against its record,
        the audit chain's head signed from now on. A refusal closes nothing here; the caller shows the message."""
        from workbench.core.errors import WorkbenchError
        from workbench.services.opening import check_session
        from workbench.services.session import ProjectSession

        try:
            check_session(ProjectSession(project, vault))
        except WorkbenchError as exc:
            self._window.notify("error", str(exc))
            return False
        return True

    def _session(self) -> Any:
        from workbench.services.session import ProjectSession

        assert self._window.project is not None
        return ProjectSession(self._window.project, self._window.vault_ctl.vault)

    def export_dataset(self, record_id: int, path: str | Path, *, in_clear: bool) -> int:
        """Export a dataset of the project to ``path`` as a job (``in_clear``: the analyst confirmed it)."""
        from workbench.services.datasets import export_dataset_job

        session, target = self._session(), Path(path)
        record = session.project.get_dataset(record_id)

        def job(token: CancelToken) -> JobGenerator[Any]:
            return (
                yield from export_dataset_job(session, record, target, in_clear=in_clear, overwrite=True, token=token)
            )

        return self._window.runner.submit(f"Export {record.name}", job, kind="export")

    def export_model(self, run_id: int, path: str | Path, *, in_clear: bool) -> int:
        """Export a run's model to ``path`` as a job (``in_clear``: the analyst confirmed it)."""
        from workbench.services.training import export_model_job

        session, target = self._session(), Path(path)

        def job(token: CancelToken) -> JobGenerator[Any]:
            return (
                yield from export_model_job(session, run_id, target, in_clear=in_clear, overwrite=True, token=token)
            )

        return self._window.runner.submit(f"Export the model of run {run_id}", job, kind="export")
