"""Jobs: cancel tokens, immutable progress snapshots and a thread-safe job registry.

Long work in the workbench is a *job generator*: a plain generator that takes a :class:`CancelToken`, yields
:class:`Progress` snapshots as it goes and returns its result (``return value`` ends the generator; the value is
``StopIteration.value``). The generator knows nothing about threads or Qt; the CLI drives it with
:func:`drive` (with a progress callback) and the GUI drives it in a QThread (``workbench.ui.qt_jobs``).

The :class:`JobRegistry` is the one place that knows which jobs exist and in which state they are. It is shared
by worker threads (which report progress) and the GUI thread (which reads snapshots and asks for cancellation),
so all its state sits behind one ``threading.Lock``. It never calls out (no callbacks, no signals) while holding
that lock.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from workbench.core.errors import JobCancelled

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Progress:
    """One immutable progress report from a running job.

    ``total`` is ``None`` while the amount of work is unknown (an indeterminate bar). ``payload`` carries an
    optional immutable value for the consumer, such as the first rows of a dataset being loaded.
    """

    phase: str
    done: float = 0.0
    total: float | None = None
    unit: str = ""
    message: str = ""
    payload: Any = field(default=None, compare=False)

    @property
    def fraction(self) -> float | None:
        """Share of the work done in [0, 1], or ``None`` when the total is unknown."""
        if self.total is None or self.total <= 0:
            return None
        return max(0.0, min(1.0, self.done / self.total))


JobGenerator = Generator[Progress, None, R]
"""The shape of every long-running core function: yields progress, returns its result."""


class CancelToken:
    """A flag a job polls to learn that it should stop.

    Setting it is thread-safe and idempotent. Jobs call :meth:`raise_if_cancelled` at safe points; the job runner
    turns the resulting :class:`JobCancelled` into the ``CANCELLED`` state.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking early on cancellation; returns whether it was cancelled."""
        return self._event.wait(timeout)


class JobState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    """What the registry knows about one job at one moment. Immutable, so it can cross threads freely."""

    job_id: int
    title: str
    kind: str
    state: JobState
    progress: Progress | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None

    @property
    def eta_seconds(self) -> float | None:
        """Estimated seconds left, from the rate so far; ``None`` when it cannot be estimated yet."""
        if self.state is not JobState.RUNNING or self.started_at is None or self.progress is None:
            return None
        frac = self.progress.fraction
        if frac is None or frac <= 0.02:
            return None
        elapsed = time.monotonic() - self.started_at
        return elapsed * (1.0 - frac) / frac


@dataclass(slots=True)
class _JobEntry:
    snapshot: JobSnapshot
    token: CancelToken


class JobRegistry:
    """Thread-safe registry of jobs.

    Workers call :meth:`start`, :meth:`report` and :meth:`finish`; the GUI calls :meth:`snapshots`,
    :meth:`cancel` and :meth:`cancel_all`. Finished jobs are kept (up to ``keep_finished``) so the UI can show
    how they ended.
    """

    def __init__(self, keep_finished: int = 50) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, _JobEntry] = {}
        self._ids = itertools.count(1)
        self._keep_finished = keep_finished

    def create(self, title: str, kind: str = "") -> tuple[int, CancelToken]:
        """Register a new pending job; returns its id and its cancel token."""
        token = CancelToken()
        with self._lock:
            job_id = next(self._ids)
            snap = JobSnapshot(job_id, title, kind, JobState.PENDING, None, time.monotonic(), None, None, None)
            self._jobs[job_id] = _JobEntry(snap, token)
        return job_id, token

    def start(self, job_id: int) -> None:
        with self._lock:
            entry = self._jobs[job_id]
            entry.snapshot = replace(entry.snapshot, state=JobState.RUNNING, started_at=time.monotonic())

    def report(self, job_id: int, progress: Progress) -> None:
        with self._lock:
            entry = self._jobs.get(job_id)
            if entry is not None and not entry.snapshot.state.finished:
                entry.snapshot = replace(entry.snapshot, progress=progress)

    def finish(self, job_id: int, state: JobState, error: str | None = None) -> None:
        if not state.finished:
            raise ValueError(f"finish() needs a final state, got {state}")
        with self._lock:
            entry = self._jobs[job_id]
            entry.snapshot = replace(entry.snapshot, state=state, finished_at=time.monotonic(), error=error)
            self._prune_locked()

    def cancel(self, job_id: int) -> bool:
        """Ask one job to stop; returns False when it is unknown or already finished."""
        with self._lock:
            entry = self._jobs.get(job_id)
            if entry is None or entry.snapshot.state.finished:
                return False
            token = entry.token
        token.cancel()
        return True

    def cancel_all(self) -> int:
        """Ask every unfinished job to stop; returns how many were asked."""
        with self._lock:
            tokens = [e.token for e in self._jobs.values() if not e.snapshot.state.finished]
        for token in tokens:
            token.cancel()
        return len(tokens)

    def snapshot(self, job_id: int) -> JobSnapshot | None:
        with self._lock:
            entry = self._jobs.get(job_id)
            return entry.snapshot if entry else None

    def snapshots(self) -> list[JobSnapshot]:
        with self._lock:
            return [e.snapshot for e in self._jobs.values()]

    def active(self) -> list[JobSnapshot]:
        with self._lock:
            return [e.snapshot for e in self._jobs.values() if not e.snapshot.state.finished]

    def _prune_locked(self) -> None:
        finished = [jid for jid, e in self._jobs.items() if e.snapshot.state.finished]
        for jid in finished[: max(0, len(finished) - self._keep_finished)]:
            del self._jobs[jid]


def drive(gen: JobGenerator[R], on_progress: Callable[[Progress], None] | None = None) -> R:
    """Run a job generator to its end in the calling thread and return its result.

    Used by the CLI and tests. Exceptions (including :class:`JobCancelled`) propagate unchanged.
    """
    while True:
        try:
            progress = next(gen)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if on_progress is not None:
            on_progress(progress)


class Throttle:
    """Lets a job yield progress at most every ``interval`` seconds, so consumers are not flooded."""

    __slots__ = ("_interval", "_last")

    def __init__(self, interval: float = 0.05) -> None:
        self._interval = interval
        self._last = -float("inf")

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            return True
        return False
