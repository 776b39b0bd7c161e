"""Debounced, cancellable jobs in which the newest request wins (for live previews).

Each request restarts a short debounce timer; when it fires, the previous job (if any) is cancelled and a new one
is started. Results of any job but the newest are dropped, so a slow, stale preview can never overwrite a newer
one, whatever order the threads finish in.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from workbench.ui.qt_jobs import JobFactory, QtJobRunner


class QtLatestJob(QObject):
    sig_result = Signal(int, object)
    """(request number, result) of the newest request only."""
    sig_failed = Signal(int, str)
    """(request number, message) of the newest request only."""
    sig_busy = Signal(bool)
    """True while a request is waiting or running."""

    def __init__(self, runner: QtJobRunner, title: str, debounce_ms: int = 120, parent: QObject | None = None):
        super().__init__(parent)
        self._runner = runner
        self._title = title
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._start_pending)
        self._pending: JobFactory | None = None
        self._request = 0
        self._job_request: dict[int, int] = {}
        self._current_job: int | None = None
        self.started_count = 0
        self.dropped_count = 0
        runner.sig_job_succeeded.connect(self._on_succeeded)
        runner.sig_job_failed.connect(self._on_failed)
        runner.sig_job_ended.connect(self._on_ended)

    @property
    def request_number(self) -> int:
        return self._request

    def request(self, factory: JobFactory, immediate: bool = False) -> int:
        """Ask for a new result; returns the request number its result will carry."""
        self._request += 1
        self._pending = factory
        self.sig_busy.emit(True)
        if immediate:
            self._timer.stop()
            self._start_pending()
        else:
            self._timer.start()
        return self._request

    def cancel(self) -> None:
        self._timer.stop()
        self._pending = None
        if self._current_job is not None:
            self._runner.cancel(self._current_job)

    def invalidate(self) -> None:
        """Forget every request made so far: the pending one is dropped, the running one cancelled, and no result
        of theirs is delivered (for when the caller's state moved on without a new request)."""
        self._request += 1
        self.cancel()
        if self._current_job is None:
            self.sig_busy.emit(False)

    @Slot()
    def _start_pending(self) -> None:
        factory, self._pending = self._pending, None
        if factory is None or not self._runner.accepting:
            return
        if self._current_job is not None:
            self._runner.cancel(self._current_job)
        job = self._runner.submit(self._title, factory, kind="preview")
        self._job_request[job] = self._request
        self._current_job = job
        self.started_count += 1

    @Slot(int, object)
    def _on_succeeded(self, job_id: int, result: Any) -> None:
        number = self._job_request.get(job_id)
        if number is None:
            return
        if number != self._request:
            self.dropped_count += 1
            return
        self.sig_result.emit(number, result)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        number = self._job_request.get(job_id)
        if number is not None and number == self._request:
            self.sig_failed.emit(number, message)

    @Slot(int)
    def _on_ended(self, job_id: int) -> None:
        if self._job_request.pop(job_id, None) is None:
            return
        if job_id == self._current_job:
            self._current_job = None
        if self._current_job is None and self._pending is None and not self._timer.isActive():
            self.sig_busy.emit(False)
