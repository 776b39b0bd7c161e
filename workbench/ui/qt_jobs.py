"""Run core job generators in QThreads and bring their results back to the GUI thread.

Every job is a core generator (``workbench.core.jobs``). A :class:`QtJobThread` drives one generator in its own
thread and emits its signals from there. The :class:`QtJobRunner`, which lives in the GUI thread, receives them on
``@Slot`` methods (queued across threads, so they run in the GUI thread) and re-emits its own ``sig_job_*``
signals, which pages connect to. Pages never connect to a worker's signals directly: in PySide6 6.12 a lambda
connected to a worker signal runs in the worker thread, even with a queued connection.

Every started thread is kept in a class-level set until it has finished, so no QThread is ever destroyed while
running, and tests can check that none is left behind (``tests/ui/conftest.py``).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QObject, QThread, Signal, Slot

from workbench.core.errors import JobCancelled, WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator, JobRegistry, JobState, Progress
from workbench.ui.qt_activity import favour_gui_thread
from workbench.ui.qt_gc import collect_on_gui_thread

log = logging.getLogger("workbench.jobs")

JobFactory = Callable[[CancelToken], JobGenerator[Any]]
BACKGROUND_KINDS = frozenset({"preview"})
"""Job kinds cancelled silently on quit (short, derived work that is simply redone)."""


def _describe_unexpected(exc: BaseException) -> str:
    """Log an unexpected exception without its message (it might quote data) and return a user message."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unexpected %s in a job (message withheld: it may contain data)\n%s", type(exc).__name__, frames)
    return f"Unexpected internal error ({type(exc).__name__}). The details are in the log file."


class QtJobThread(QThread):
    """Drives one job generator. Emits at most one progress signal per ``interval`` seconds, plus the first
    snapshot that carries a payload (such as the first rows of a dataset), at once."""

    sig_progress = Signal(int, object)
    """(job id, Progress) from the worker thread."""
    sig_succeeded = Signal(int, object)
    """(job id, result) when the generator returned."""
    sig_failed = Signal(int, str)
    """(job id, user-facing message) when it raised."""
    sig_cancelled = Signal(int)
    """(job id) when it stopped on its cancel token."""

    def __init__(
        self,
        job_id: int,
        token: CancelToken,
        factory: JobFactory,
        registry: JobRegistry,
        interval: float = 0.05,
        kind: str = "",
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.kind = kind
        self.token = token
        self._factory = factory
        self._registry = registry
        self._interval = interval

    def run(self) -> None:  # noqa: D102 - QThread entry point
        registry, job_id = self._registry, self.job_id
        registry.start(job_id)
        last_emit = -float("inf")
        payload_sent = False
        try:
            gen = self._factory(self.token)
            while True:
                try:
                    progress: Progress = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                registry.report(job_id, progress)
                now = time.monotonic()
                first_payload = progress.payload is not None and not payload_sent
                if first_payload or now - last_emit >= self._interval:
                    last_emit = now
                    payload_sent = payload_sent or progress.payload is not None
                    self.sig_progress.emit(job_id, progress)
            # A token set after the last step still counts as success: the work is done and its result valid.
            registry.finish(job_id, JobState.SUCCEEDED)
            self.sig_succeeded.emit(job_id, result)
        except JobCancelled:
            registry.finish(job_id, JobState.CANCELLED)
            self.sig_cancelled.emit(job_id)
        except WorkbenchError as exc:
            registry.finish(job_id, JobState.FAILED, str(exc))
            self.sig_failed.emit(job_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - a job must never take the app down
            message = _describe_unexpected(exc)
            registry.finish(job_id, JobState.FAILED, message)
            self.sig_failed.emit(job_id, message)


class QtJobRunner(QObject):
    """Starts jobs and relays their outcome to GUI-thread listeners."""

    sig_job_started = Signal(int, str)
    """(job id, title) right after a job was started."""
    sig_job_progress = Signal(int, object)
    """(job id, Progress), throttled by the worker."""
    sig_job_succeeded = Signal(int, object)
    """(job id, result)."""
    sig_job_failed = Signal(int, str)
    """(job id, user-facing message without data values)."""
    sig_job_cancelled = Signal(int)
    """(job id)."""
    sig_job_ended = Signal(int)
    """(job id) after any of the three outcomes, once its thread has stopped."""

    _live_threads: ClassVar[set[QtJobThread]] = set()

    def __init__(self, registry: JobRegistry | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry if registry is not None else JobRegistry()
        self._threads: dict[int, QtJobThread] = {}
        self._accepting = True
        collect_on_gui_thread()  # garbage holding Qt objects must never be collected in a worker (a deadlock)
        favour_gui_thread()  # a busy worker gives the interpreter back within 1 ms, not 5

    # --- starting and stopping -------------------------------------------------------------------------------

    def submit(self, title: str, factory: JobFactory, kind: str = "", interval: float = 0.05) -> int:
        """Start ``factory(token)`` in a new thread; returns the job id."""
        if not self._accepting:
            raise RuntimeError("the job runner is shutting down and accepts no new jobs")
        job_id, token = self.registry.create(title, kind)
        thread = QtJobThread(job_id, token, factory, self.registry, interval, kind)
        thread.sig_progress.connect(self._on_progress)
        thread.sig_succeeded.connect(self._on_succeeded)
        thread.sig_failed.connect(self._on_failed)
        thread.sig_cancelled.connect(self._on_cancelled)
        thread.finished.connect(self._on_thread_finished)
        self._threads[job_id] = thread
        QtJobRunner._live_threads.add(thread)
        log.info("job %d started: %s", job_id, kind or "job")
        thread.start()
        self.sig_job_started.emit(job_id, title)
        return job_id

    @property
    def accepting(self) -> bool:
        """False once :meth:`begin_shutdown` was called: timers and debouncers must not start new jobs then."""
        return self._accepting

    def begin_shutdown(self) -> None:
        """Refuse new jobs from now on (the window is closing)."""
        self._accepting = False

    def resume_accepting(self) -> None:
        """Undo :meth:`begin_shutdown` (closing was abandoned)."""
        self._accepting = True

    def cancel(self, job_id: int) -> bool:
        return self.registry.cancel(job_id)

    def cancel_all(self) -> int:
        return self.registry.cancel_all()

    def running_count(self, include_background: bool = True) -> int:
        """Threads still running; ``include_background=False`` leaves out short background work (previews,
        plans) that the user need not be asked about before quitting."""
        return sum(
            1
            for t in self._threads.values()
            if t.isRunning() and (include_background or t.kind not in BACKGROUND_KINDS)
        )

    def wait_all(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for every thread of this runner to stop, keeping the GUI painted."""
        deadline = time.monotonic() + timeout_s
        while True:
            running = [t for t in self._threads.values() if t.isRunning()]
            if not running:
                break
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                return False
            running[0].wait(QDeadlineTimer(min(left_ms, 50)))
            QCoreApplication.processEvents()
        # Deliver the queued outcome signals so listeners see every job end.
        QCoreApplication.processEvents()
        return True

    @classmethod
    def live_threads(cls) -> list[QtJobThread]:
        """Threads started by any runner that have not yet been cleaned up (for tests and shutdown)."""
        return [t for t in cls._live_threads if t.isRunning()]

    # --- slots: these run in the GUI thread ----------------------------------------------------------------

    @Slot(int, object)
    def _on_progress(self, job_id: int, progress: Progress) -> None:
        self.sig_job_progress.emit(job_id, progress)

    @Slot(int, object)
    def _on_succeeded(self, job_id: int, result: object) -> None:
        log.info("job %d succeeded", job_id)
        self.sig_job_succeeded.emit(job_id, result)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        log.info("job %d failed", job_id)
        self.sig_job_failed.emit(job_id, message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        log.info("job %d cancelled", job_id)
        self.sig_job_cancelled.emit(job_id)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        if not isinstance(thread, QtJobThread):
            return
        self._threads.pop(thread.job_id, None)
        QtJobRunner._live_threads.discard(thread)
        thread.deleteLater()
        self.sig_job_ended.emit(thread.job_id)
