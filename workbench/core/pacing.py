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
FRESH_BEAT_S = 0.15
"""The GUI thread's heartbeat must be this recent: older, it is busy (or was starved by the step that just ended)
and the input it has not handled yet cannot have stamped the clock."""


class ActivityClock:
    """When the user last did something (monotonic seconds); thread-safe."""

    __slots__ = ("_beat", "_last", "_lock", "_now")

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._beat: float | None = None

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

    def beat(self) -> None:
        """The GUI thread is handling its events (called from a short timer on the GUI thread)."""
        stamp = self._now()
        with self._lock:
            self._beat = stamp

    def beat_age(self) -> float:
        """Seconds since the GUI thread's last heartbeat (0 when it has none: then only input counts)."""
        with self._lock:
            beat = self._beat
        return 0.0 if beat is None else self._now() - beat


class Pacer:
    """Paces one background job: :meth:`pace` waits until the user is idle unless the job became urgent.

    Idle means no input for ``quiet_s`` *and* a recent heartbeat from the GUI thread: right after a long step the GUI
    thread may not have run yet, and input it has not handled has not stamped the clock (under load, a step of
    more than ``quiet_s`` otherwise looked like an idle user, and the next step followed at once).

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
            if idle >= self._quiet and clock.beat_age() < FRESH_BEAT_S:
                break
            if token.wait(self._poll if idle >= self._quiet else min(self._poll, self._quiet - idle)):
                break
        self.waited_s += time.monotonic() - started
        token.raise_if_cancelled()
