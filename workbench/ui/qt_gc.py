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
import logging

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
        if gc.isenabled():  # a library switched it back on (srsly did: workbench.core.pii.analyzer)
            gc.disable()
            _warn_once()
        n = next(ticks)
        gc.collect(2 if n % 300 == 0 else 1 if n % 10 == 0 else 0)

    timer = QTimer(app)
    timer.setInterval(_INTERVAL_MS)
    timer.timeout.connect(tick)
    timer.start()
    _timer = timer
    gc.disable()


def freeze_long_lived() -> None:
    """Move the objects alive now out of the collector's reach (``gc.freeze``), once per process: call it on the GUI
    thread when something big that lives as long as the process has been built (the personal-data analyzer:
    spaCy's vocabulary and Presidio's recognizers, hundreds of thousands of objects). Full collections then no
    longer walk them, so the timer's pass every 30 s stays short (measured with the analyzer loaded: 315-380 ms per
    full pass at load average 9; 0 ms after the freeze). The young generations are collected first, so little
    garbage is frozen with them. The price: an object alive now that later becomes garbage *in a reference cycle*
    is never freed (objects freed by reference counting, most of them, are not affected); once per process."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect(1)
    gc.freeze()


_frozen = False
_warned = False


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        logging.getLogger("workbench.ui").warning(
            "the garbage collector had been switched back on by a library; switched off again (it must run on the "
            "GUI thread only)"
        )
