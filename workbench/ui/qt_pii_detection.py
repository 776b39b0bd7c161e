"""Column detection for the Anonymize page: one job that gets the personal-data analyzer ready and detects, per
column, what personal data the dataset holds (:func:`workbench.core.pii.warmup.warm_up_job`), and the label that
says how far that is.

The page starts it in the background a moment after a dataset is shown on another page (each step then waits for
the analyst to be idle: ``workbench.ui.qt_activity``), and hurries it when the page itself is opened, so the first
preview does not wait for spaCy to load.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel

from workbench.core.jobs import CancelToken, JobGenerator
from workbench.core.pacing import Pacer
from workbench.ui.qt_jobs import QtJobRunner

if TYPE_CHECKING:
    from workbench.core.data.dataset import Dataset
    from workbench.core.pii.column_detect import ColumnDetection
    from workbench.core.pii.policy import Policy
    from workbench.core.pii.warmup import WarmUpResult

BACKGROUND_DELAY_MS = 1500
"""How long after a dataset is shown (or a project opened) the background job starts, if no other job runs."""


class QtColumnDetection(QObject):
    """Runs the warm-up and detection for one dataset at a time; ``sig_detected(tuple of ColumnDetection)`` when the
    columns are known, ``sig_ready(WarmUpResult)`` when the job is done. :attr:`label` shows what it is doing, then
    how many columns hold personal data."""

    sig_detected = Signal(object)
    sig_ready = Signal(object)

    def __init__(self, runner: QtJobRunner, preview_rows: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._preview_rows = preview_rows
        self._job: int | None = None
        self._pacer: Pacer | None = None
        self._fingerprint: str | None = None
        self.last_result: WarmUpResult | None = None
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self._scheduled: tuple[Dataset | None, Policy | None, Callable[[], bool]] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(BACKGROUND_DELAY_MS)
        self._timer.timeout.connect(self._start_scheduled)
        runner.sig_job_succeeded.connect(self._on_job_succeeded)
        runner.sig_job_failed.connect(self._on_job_failed)
        runner.sig_job_cancelled.connect(self._on_job_cancelled)

    @property
    def running(self) -> bool:
        return self._job is not None

    def running_for(self, ds: Dataset | None) -> bool:
        """Whether a job for ``ds`` (``None``: for no dataset, the analyzer alone) is running."""
        return self._job is not None and self._fingerprint == (ds.fingerprint if ds is not None else None)

    def schedule(self, ds: Dataset | None, policy: Policy | None, page_visible: Callable[[], bool]) -> None:
        """Start a background job for ``ds`` (``None``: the analyzer alone, once) in a moment, unless the page is
        visible by then (it starts its own) or another job (a load, an apply) still runs (then later)."""
        self.cancel()
        self._scheduled = (ds, policy, page_visible)
        self._timer.start()

    def ensure(self, ds: Dataset, policy: Policy | None) -> None:
        """The page is on screen and needs ``ds``'s columns: hurry a job already under way for it, else start one."""
        self._timer.stop()
        self._scheduled = None
        if self.running_for(ds):
            self.hurry()
        else:
            self.start(ds, policy)

    @Slot()
    def _start_scheduled(self) -> None:
        if self._scheduled is None or not self._runner.accepting:
            return
        ds, policy, page_visible = self._scheduled
        if page_visible():
            self._scheduled = None
            return
        if self._runner.running_count(include_background=False):
            self._timer.start()  # a load or an apply is under way: do not compete with it
            return
        self._scheduled = None
        if ds is not None or self.last_result is None:
            self.start(ds, policy, background=True)

    def start(self, ds: Dataset | None, policy: Policy | None, *, background: bool = False) -> None:
        """Get the analyzer for ``policy`` ready and detect the columns of ``ds`` (``None``: the analyzer alone), in
        a job; ``background``: each step waits for the user to be idle until :meth:`hurry`."""
        from workbench.ui.qt_activity import activity_clock

        self.cancel()
        from workbench.core.pii.policy import ColumnTreatment

        table = ds.table if ds is not None else None
        settings = policy.analyzer_settings() if policy is not None else None
        free_text = tuple(c for c, p in (policy.columns if policy else ()) if p.treatment is ColumnTreatment.FREE_TEXT)
        pacer = Pacer(activity_clock() if background else None)

        def job(token: CancelToken) -> JobGenerator[Any]:
            from workbench.core.pii.warmup import warm_up_job

            rows = self._preview_rows
            return (yield from warm_up_job(settings, table, token, pacer, free_text=free_text, preview_rows=rows))

        title = f"Detect personal data in the columns of {ds.name}" if ds else "Load the personal-data analyzer"
        self._pacer, self._fingerprint = pacer, (ds.fingerprint if ds is not None else None)
        self._job = self._runner.submit(title, job, kind="preview")
        if ds is not None:
            self.label.setText("Detecting personal data in the columns…")

    def hurry(self) -> None:
        """The page is on screen: the running job stops giving way to the user."""
        if self._pacer is not None:
            self._pacer.hurry()

    def cancel(self) -> None:
        """Stop a job still running or scheduled (its result will not be reported)."""
        self._timer.stop()
        self._scheduled = None
        if self._job is not None:
            self._runner.cancel(self._job)
            self._job = None
            self._pacer = None

    def show_found(self, detections: Sequence[ColumnDetection]) -> None:
        found = [d for d in detections if d.entity_type or d.kind.value == "free_text"]
        self.label.setText(
            f"{len(found)} of {len(detections)} column(s) hold personal data (hover a row for the reason)."
        )

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        if job_id != self._job:
            return
        from workbench.ui.qt_gc import freeze_long_lived

        self._job, self._pacer = None, None
        self.last_result = result
        freeze_long_lived()  # the analyzer lives as long as the process: out of the collector's full passes
        if result.detections is not None:
            self.sig_detected.emit(tuple(result.detections))
        self.sig_ready.emit(result)

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if job_id == self._job:
            self._job, self._pacer = None, None
            self.label.setText(f"Column detection failed: {message}")

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        if job_id == self._job:
            self._job, self._pacer = None, None
            self.label.setText("Column detection was cancelled.")
