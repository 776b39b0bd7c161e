"""The Train page's result card: how the last finished run compares with its majority baseline and with a
non-private run of the same recipe (the sentence of :func:`workbench.core.train.results.compare_result`, the same
one ``workbench train`` prints), and where its model was saved: a path, or the encrypted project's vault, with an
Export button that writes a copy (in clear, after asking, audited) through
:func:`workbench.services.training.export_model_job`."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from workbench.core.jobs import CancelToken, JobGenerator
from workbench.ui.qt_jobs import QtJobRunner

EMPTY_TEXT = "When a run ends, how it compares with its baselines and where its model is kept are said here."


def model_location(model_path: str | None, run_id: int | None) -> str:
    """Where a run's model is, as the analyst will find it."""
    if not model_path:
        return "No model was kept."
    if str(model_path).startswith("vault:"):
        return (
            f"Model kept in the encrypted project's vault as the model of run {run_id} (never written in clear; "
            "Export… writes a copy outside the project)."
        )
    return f"Model saved to {model_path}"


class QtRunResult(QFrame):
    """The last finished run's result line and model location, with Export… for its model."""

    def __init__(self, runner: QtJobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        self.label = QLabel(EMPTY_TEXT)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export model…")
        self.export_button.hide()
        self.export_button.clicked.connect(self._on_export_clicked)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        self._runner = runner
        self._session: Callable[[], Any] | None = None
        self._encrypted = False
        self._run_id: int | None = None
        self._exports: dict[int, Path] = {}
        self._lines: list[str] = []
        runner.sig_job_succeeded.connect(self._on_job_succeeded)
        runner.sig_job_failed.connect(self._on_job_failed)

    def set_session(self, session: Callable[[], Any] | None, *, encrypted: bool) -> None:
        """``session`` makes the :class:`~workbench.services.session.ProjectSession` an export runs in."""
        self._session, self._encrypted = session, encrypted

    def clear(self) -> None:
        self._run_id = None
        self.label.setText(EMPTY_TEXT)
        self.export_button.hide()

    def show_result(self, name: str, final: dict[str, Any], comparison: str) -> None:
        """Show a finished run: its name, the comparison sentence and where its model is."""
        self._run_id = final.get("run_id")
        self._lines = [
            f"<b>{html.escape(name)}</b>: {html.escape(comparison)}",
            html.escape(model_location(final.get("model_path"), self._run_id)),
        ]
        self.label.setText("<br>".join(self._lines))
        self.export_button.setVisible(bool(final.get("model_path")) and self._run_id is not None)

    def text(self) -> str:
        """The card's text without markup (for tests)."""
        return html.unescape(self.label.text().replace("<br>", "\n").replace("<b>", "").replace("</b>", ""))

    @Slot()
    def _on_export_clicked(self) -> None:
        if self._run_id is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the model", str(Path.home() / f"run-{self._run_id}.pt"))
        if not path:
            return
        if self._encrypted:
            answer = QMessageBox.question(
                self,
                "Export in clear?",
                "This project is encrypted. Exporting writes the model in clear outside the vault, where the "
                "workbench no longer protects it (a model can memorise rows). The export is recorded in the "
                "project's audit log.\n\nExport in clear?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.export_model(path)

    def export_model(self, path: str | Path) -> int | None:
        """Export the shown run's model to ``path`` as a job (in clear from an encrypted project: the analyst
        confirmed it); returns the job id."""
        from workbench.services.training import export_model_job

        if self._session is None or self._run_id is None:
            return None
        session, run_id, target = self._session(), self._run_id, Path(path)

        def job(token: CancelToken) -> JobGenerator[Any]:
            return (yield from export_model_job(session, run_id, target, in_clear=True, overwrite=True, token=token))

        job_id = self._runner.submit(f"Export the model of run {run_id}", job, kind="export")
        self._exports[job_id] = target
        return job_id

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        target = self._exports.pop(job_id, None)
        if target is not None:
            self.label.setText("<br>".join([*self._lines, html.escape(f"Model exported to {result or target}")]))

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if self._exports.pop(job_id, None) is not None:
            failed = f"<span style='color:#a01919'>Export failed: {html.escape(message)}</span>"
            self.label.setText("<br>".join([*self._lines, failed]))
