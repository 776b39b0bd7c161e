"""Background work that gives way to the user: an activity clock and a pacer.

Work done ahead of time (warming the personal-data analyzer, detecting a dataset's columns before the Anonymize page
is opened) competes with the GUI thread for the interpreter. Run while the analyst scrolls a table, it made repaints
late (commit d60084b: p99 4 -> 213 ms). So such a job calls :meth:`Pacer.pace` between its steps: the call returns
once the user has been idle for a moment, or at once when the work became urgent (the page that needs it is now on
screen) or there is no user to wait for.

:class:`ActivityClock` is the one shared piece of state: the GUI thread stamps it on every input event
(``workbench.ui.qt_activity``) and workers read it; a float written and read under a lock. Qt-free.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from workbench.core.jobs import CancelToken

QUIET_S = 0.4
"""How long the user must have been idle before a background step starts."""


class ActivityClock:
    """When the user last did something (monotonic seconds); thread-safe."""

    __slots__ = ("_last", "_lock", "_now")

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._last = float("-inf")

    def touch(self) -> None:
        """The user did something now (called on the GUI thread for every input event)."""
        stamp = self._now()
        with self._lock:
            self._last = stamp

    def idle_for(self) -> float:
        """Seconds since the last input (``inf`` before any)."""
        with self._lock:
            last = self._last
        return self._now() - last


class Pacer:
    """Paces one background job: :meth:`pace` waits until the user is idle unless the job became urgent.

    ``clock=None`` never waits (the command line, tests). :meth:`hurry` (thread-safe) makes every later and any
    waiting :meth:`pace` return at once.
    """

    def __init__(self, clock: ActivityClock | None, quiet_s: float = QUIET_S, poll_s: float = 0.05) -> None:
        self._clock = clock
        self._quiet = quiet_s
        self._poll = poll_s
        self._urgent = threading.Event()
        self.waited_s = 0.0
        """Total time spent waiting for the user to be idle (read after the job)."""

    @property
    def urgent(self) -> bool:
        return self._urgent.is_set()

    def hurry(self) -> None:
        """Stop giving way: the result is needed now."""
        self._urgent.set()

    def pace(self, token: CancelToken) -> None:
        """Return when the user has been idle for ``quiet_s``, or at once if urgent; raise on cancellation."""
        token.raise_if_cancelled()
        clock = self._clock
        if clock is None:
            return
        started = time.monotonic()
        while not self._urgent.is_set():
            idle = clock.idle_for()
            if idle >= self._quiet:
                break
            if token.wait(min(self._poll, self._quiet - idle)):
                break
        self.waited_s += time.monotonic() - started
        token.raise_if_cancelled()
