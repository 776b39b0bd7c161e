"""The Report page (issue 18): build the signed compliance report of one dataset, see where its files are and its
first page, and verify a report.

Building is :func:`workbench.ui.qt_report_pdf.make_report_job` (the same use case as ``workbench report``) run as a
job of the window's runner; the job also paints the first page into a temporary folder for the preview (deleted
with the next preview or the page). Verifying is :func:`workbench.services.report_signing.verify_report` against
the open project: the signatures, the manifest, this project's key, and that the audit log still extends the head
the report carries. An encrypted project must be unlocked to build a report (its signing key is in the vault).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.ui.qt_dataset_labels import add_dataset_items
from workbench.ui.qt_progress_row import progress_row, show_progress
from workbench.ui.qt_project_page import QtProjectPage

if TYPE_CHECKING:
    from workbench.services.report_signing import ReportVerdict
    from workbench.ui.qt_main_window import QtMainWindow
    from workbench.ui.qt_report_pdf import ReportFiles

PAGE_NAME = "Report"
PREVIEW_WIDTH = 360


class QtReportResult(QGroupBox):
    """The result card: where the report's files are, the audit-log head it carries, and how long it took."""

    ROWS = ("PDF", "HTML", "Manifest", "Signature", "Audit-log head", "Built in")

    def __init__(self) -> None:
        super().__init__("Last report")
        form = QFormLayout(self)
        self.values: dict[str, QLabel] = {}
        for name in self.ROWS:
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(name, label)
            self.values[name] = label
        self.hide()

    def show_files(self, files: ReportFiles) -> None:
        texts = (files.pdf, files.html, files.manifest, files.signature, files.audit_head, f"{files.seconds:.1f} s")
        for name, text in zip(self.ROWS, texts, strict=True):
            self.values[name].setText(str(text))
        self.show()

    def text(self) -> str:
        """Every row as "name: value", one a line (for tests and for copying)."""
        return "\n".join(f"{name}: {self.values[name].text()}" for name in self.ROWS)


class QtReportPage(QtProjectPage):
    """See the module docstring."""

    def __init__(self, window: QtMainWindow) -> None:
        super().__init__()
        self._window = window
        self._runner = window.runner
        self._job: int | None = None
        self._names: dict[int, str] = {}
        self._preview_dir: tempfile.TemporaryDirectory[str] | None = None
        self.files: ReportFiles | None = None
        self.verdict: ReportVerdict | None = None
        self._build()
        self._runner.sig_job_progress.connect(self._on_job_progress)
        self._runner.sig_job_succeeded.connect(self._on_job_succeeded)
        self._runner.sig_job_failed.connect(self._on_job_failed)
        self._runner.sig_job_cancelled.connect(self._on_job_cancelled)
        window.vault_ctl.sig_state_changed.connect(self._on_vault_state)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel(
            "A report states, for one dataset, its columns and roles, what anonymization replaced, the privacy budget, "
            "every training run against its baselines and the audit log's head. It is written as PDF and HTML with a "
            "manifest of the same facts, and signed with this project's key."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        row.addWidget(QLabel("Dataset"))
        self.dataset_combo = QComboBox()
        row.addWidget(self.dataset_combo, 1)
        self.build_button = QPushButton("Build signed report…")
        self.build_button.clicked.connect(self.build_dialog)
        row.addWidget(self.build_button)
        self.verify_button = QPushButton("Verify a report…")
        self.verify_button.clicked.connect(self.verify_dialog)
        row.addWidget(self.verify_button)
        layout.addLayout(row)
        self.progress_box, self.progress, self.cancel_button = progress_row(self._cancel)
        layout.addWidget(self.progress_box)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        layout.addWidget(self.message)
        card_row = QHBoxLayout()
        self.result = QtReportResult()
        card_row.addWidget(self.result, 1, Qt.AlignmentFlag.AlignTop)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        self.preview.setToolTip("The report's first page")
        self.preview.hide()
        card_row.addWidget(self.preview)
        layout.addLayout(card_row)
        self.verify_label = QLabel()
        self.verify_label.setWordWrap(True)
        self.verify_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verify_label.hide()
        layout.addWidget(self.verify_label)
        layout.addStretch(1)

    # --- state ----------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._job is not None

    def refresh(self) -> None:
        """List the project's datasets again, choosing the one on the Data page the first time."""
        project = self._window.project
        records, current = self._datasets_and_choice(self.dataset_combo.currentData())
        self.dataset_combo.clear()
        add_dataset_items(self.dataset_combo, records, project)  # the labels the Data page shows
        self._names = {r.id: r.name for r in records}
        self.dataset_combo.setCurrentIndex(max(self.dataset_combo.findData(current), 0))
        self.build_button.setEnabled(bool(records) and not self.busy)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh()

    @Slot(str)
    def _on_vault_state(self, _state: str) -> None:
        self.refresh()

    # --- building -------------------------------------------------------------------------------------------

    @Slot()
    def build_dialog(self) -> None:
        dataset_id = self.dataset_combo.currentData()
        if dataset_id is None:
            self.show_message("error", "Add a dataset on the Data page first: a report is about one dataset.")
            return
        name = Path(self._names.get(dataset_id, "")).stem or "dataset"
        suggested = str(Path.home() / f"{name}-report.pdf")
        path, _ = QFileDialog.getSaveFileName(self, "Save the signed report as", suggested, "PDF (*.pdf)")
        if path:
            self.build(Path(path) if path.lower().endswith(".pdf") else Path(path + ".pdf"))

    def build(self, out_pdf: Path) -> int | None:
        """Build, sign and write the report of the chosen dataset to ``out_pdf`` (replacing it and the files beside
        it: the save dialog asked), and paint its first page for the preview; a job of the window's runner."""
        from workbench.ui.qt_report_pdf import make_report_job, render_pages

        dataset_id = self.dataset_combo.currentData()
        if dataset_id is None:
            self.show_message("error", "Add a dataset on the Data page first: a report is about one dataset.")
            return None
        if self._window.vault_ctl.state == "locked":
            self.show_message("error", "The project is locked: unlock it first (the report is signed with its key).")
            return None
        session = self._session()
        if session is None or self.busy:
            return None
        self._drop_preview()
        preview_dir = self._preview_dir = tempfile.TemporaryDirectory(prefix="workbench-report-preview-")

        def job(token: CancelToken) -> JobGenerator[Any]:
            files = yield from make_report_job(session, int(dataset_id), out_pdf, overwrite=True, token=token)
            yield Progress("preview", 3, 3, "", "painting the first page")
            html_text = files.html.read_text(encoding="utf-8")
            pages = render_pages(html_text, Path(preview_dir.name), width=PREVIEW_WIDTH * 2)
            return files, pages[:1]

        self._job = self._runner.submit(f"Report on {self.dataset_combo.currentText()}", job, kind="report")
        self.build_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress_box.show()
        self.show_message("info", "Building the report…")
        return self._job

    def _drop_preview(self) -> None:
        self.preview.clear()
        self.preview.hide()
        if self._preview_dir is not None:
            self._preview_dir.cleanup()
            self._preview_dir = None

    def _finish(self, job_id: int) -> bool:
        if job_id != self._job:
            return False
        self._job = None
        self.progress_box.hide()
        self.build_button.setEnabled(self.dataset_combo.count() > 0)
        return True

    @Slot()
    def _cancel(self) -> None:
        if self._job is not None:
            self._runner.cancel(self._job)

    @Slot(int, object)
    def _on_job_progress(self, job_id: int, progress: Progress) -> None:
        if job_id != self._job:
            return
        show_progress(self.progress, progress)

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        if not self._finish(job_id):
            return
        files, pages = result
        self.files = files
        self.result.show_files(files)
        if pages:
            pixmap = QPixmap(str(pages[0]))
            self.preview.setPixmap(pixmap.scaledToWidth(PREVIEW_WIDTH, Qt.TransformationMode.SmoothTransformation))
            self.preview.show()
        self.show_message("info", f"Report written and signed: {files.pdf} (and the files beside it).")

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if self._finish(job_id):
            self._drop_preview()
            self.show_message("error", f"The report was not built. {message}")

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        if self._finish(job_id):
            self._drop_preview()
            self.show_message("info", "Cancelled.")

    # --- verifying ------------------------------------------------------------------------------------------

    @Slot()
    def verify_dialog(self) -> None:
        start = str(self.files.pdf) if self.files is not None else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Verify a report", start, "PDF (*.pdf)")
        if path:
            self.verify(Path(path))

    def verify(self, pdf: Path) -> ReportVerdict | None:
        """Check a report against the open project (its signatures, its manifest, this project's key and audit
        log) and show every check's line, then OK or NOT OK."""
        from html import escape

        from workbench.services.report_signing import verify_report

        session = self._session()
        if session is None:
            return None
        try:
            verdict = verify_report(pdf, session=session)
        except WorkbenchError as exc:
            self.verify_label.hide()
            self.show_message("error", f"{pdf.name} cannot be verified: {exc}")
            return None
        self.verdict = verdict
        color = "#1b5e20" if verdict.ok else "#b00020"
        lines = "<br>".join(escape(line) for line in verdict.lines)
        self.verify_label.setText(
            f"<b>{escape(pdf.name)}</b><br>{lines}<br>"
            f'<b style="color:{color}">report: {"OK" if verdict.ok else "NOT OK"}</b>'
        )
        self.verify_label.show()
        self.show_message("info" if verdict.ok else "error", f"{pdf.name}: {'OK' if verdict.ok else 'NOT OK'}")
        return verdict


def install(window: QtMainWindow) -> QtReportPage:
    """Create the page and add it to the window's navigation as "Report"."""
    page = QtReportPage(window)
    window.add_page(PAGE_NAME, page)
    return page
