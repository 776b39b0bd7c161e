"""Python's cyclic garbage collector runs on the GUI thread only, once Qt worker threads exist.

The collector runs in whichever thread happens to allocate when a threshold is crossed. When that is a worker
thread (a QThread running a job) and the garbage holds Qt objects (a closure over a page, a connection), their C++
destructors run in the worker while the GUI thread may wait for the GIL with Qt's locks held: a deadlock. Seen in
``tests/ui/test_main_window.py``: a column-detection worker inside ``QObject::~QObject`` under ``gc_collect_main``,
waiting for the GIL, while the GUI thread waited in an event filter. So automatic collection is turned off and a
GUI-thread timer collects instead: the youngest generation every 100 ms, the middle one every second, all of it every
30 seconds (what the thresholds would do, on the right thread).
"""

from __future__ import annotations

import gc
import itertools

from PySide6.QtCore import QCoreApplication, QTimer

_INTERVAL_MS = 100
_timer: QTimer | None = None


def collect_on_gui_thread() -> None:
    """Install the policy (idempotent); call it on the GUI thread once a QCoreApplication exists."""
    global _timer
    app = QCoreApplication.instance()
    if _timer is not None or app is None:
        return
    ticks = itertools.count(1)

    def tick() -> None:
        n = next(ticks)
        gc.collect(2 if n % 300 == 0 else 1 if n % 10 == 0 else 0)

    timer = QTimer(app)
    timer.setInterval(_INTERVAL_MS)
    timer.timeout.connect(tick)
    timer.start()
    _timer = timer
    gc.disable()
