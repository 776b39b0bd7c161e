"""The application's activity clock: every input event (keys, mouse buttons and moves, wheel, touch) stamps it, and
a 50 ms timer on the GUI thread beats it, so background work paced by :class:`workbench.core.pacing.Pacer` gives
way while the analyst is using the window or while the GUI thread is behind."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

from workbench.core.pacing import ActivityClock

_INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TouchEnd,
    }
)


HEARTBEAT_MS = 50
"""How often the GUI thread tells background work it is keeping up (``ActivityClock.beat``)."""


class _ActivityFilter(QObject):
    def __init__(self, clock: ActivityClock, parent: QObject) -> None:
        super().__init__(parent)
        self.clock = clock
        self.heartbeat = QTimer(self)
        self.heartbeat.setInterval(HEARTBEAT_MS)
        self.heartbeat.timeout.connect(clock.beat)
        self.heartbeat.start()
        clock.beat()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() in _INPUT_EVENTS:
            self.clock.touch()
        return False


_filter: _ActivityFilter | None = None


def activity_clock() -> ActivityClock | None:
    """The clock the application's input events stamp (installed on first call); ``None`` without an application."""
    global _filter
    app = QCoreApplication.instance()
    if app is None:
        return None
    if _filter is None or _filter.parent() is not app:
        _filter = _ActivityFilter(ActivityClock(), app)
        app.installEventFilter(_filter)
    return _filter.clock


GUI_SWITCH_INTERVAL_S = 0.001
"""How long a worker thread may keep the interpreter when the GUI thread asks for it (Python's default: 5 ms)."""


def favour_gui_thread() -> None:
    """Make worker threads hand the interpreter to the GUI thread after 1 ms instead of 5 (idempotent).

    A repaint calls into Python for every cell; each time the GUI thread gives the interpreter up for a C++ call and
    wants it back, a busy worker keeps it for up to the switch interval. Measured with
    ``benchmarks/bench_warmup_lag.py``'s ``urgent`` scenario (analyzer warm-up running while the table is
    wheel-scrolled, load average 8 on 2 cores): lag max 352-384 ms at 5 ms, 162-178 ms at 1 ms. A single busy worker
    (training) is not slowed: the interval only matters while another thread waits.
    """
    import sys

    if sys.getswitchinterval() > GUI_SWITCH_INTERVAL_S:
        sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
