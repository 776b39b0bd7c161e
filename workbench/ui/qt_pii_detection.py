"""Column detection for the Anonymize page: the jobs that warm up the personal-data analyzer and detect, per column,
what personal data it holds, and the label that says how far that is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QLabel

from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.ui.qt_jobs import QtJobRunner

if TYPE_CHECKING:
    from workbench.core.data.dataset import Dataset
    from workbench.core.pii.column_detect import ColumnDetection
    from workbench.core.pii.policy import Policy


class QtColumnDetection(QObject):
    """Runs detection for one dataset at a time; ``sig_detected(tuple of ColumnDetection)`` when it is done.
    :attr:`label` shows what it is doing, then how many columns hold personal data."""

    sig_detected = Signal(object)

    def __init__(self, runner: QtJobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._job: int | None = None
        self.label = QLabel("")
        self.label.setWordWrap(True)
        runner.sig_job_succeeded.connect(self._on_job_succeeded)
        runner.sig_job_failed.connect(self._on_job_failed)
        runner.sig_job_cancelled.connect(self._on_job_cancelled)

    def start(self, ds: Dataset, policy: Policy | None) -> None:
        """Warm up the analyzer for ``policy`` and detect the columns of ``ds`` (background jobs)."""
        table = ds.table

        def warm(token: CancelToken) -> JobGenerator[Any]:
            from workbench.core.pii.preview import warm_up

            yield Progress("loading the personal-data analyzer", 0, None, "")
            warm_up(policy)
            return None

        def detect(token: CancelToken) -> JobGenerator[Any]:
            from workbench.core.pii.column_detect import detect_columns_job

            return (yield from detect_columns_job(table, token))

        self._runner.submit("Warm up the personal-data analyzer", warm, kind="preview")
        self._job = self._runner.submit(f"Detect personal data in the columns of {ds.name}", detect, "preview")
        self.label.setText("Detecting personal data in the columns…")

    def cancel(self) -> None:
        """Stop a detection still running (its result will not be reported)."""
        if self._job is not None:
            self._runner.cancel(self._job)
            self._job = None

    def show_found(self, detections: Sequence[ColumnDetection]) -> None:
        found = [d for d in detections if d.entity_type or d.kind.value == "free_text"]
        self.label.setText(
            f"{len(found)} of {len(detections)} column(s) hold personal data (hover a row for the reason)."
        )

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        if job_id == self._job:
            self._job = None
            self.sig_detected.emit(tuple(result))

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if job_id == self._job:
            self._job = None
            self.label.setText(f"Column detection failed: {message}")

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        if job_id == self._job:
            self._job = None
            self.label.setText("Column detection was cancelled.")
