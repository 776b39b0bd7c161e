"""Cyclic garbage is collected on the GUI thread only once a job runner exists (a worker that collected garbage
holding Qt objects deadlocked against the GUI thread: workbench/ui/qt_gc.py)."""

from __future__ import annotations

import gc
import threading
import weakref

from workbench.ui.qt_jobs import QtJobRunner


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_garbage_made_in_a_worker_is_collected_on_the_gui_thread(qtbot) -> None:  # noqa: ANN001
    QtJobRunner()
    assert not gc.isenabled(), "automatic collection is off: it would run in whichever thread allocates"
    freed_in: list[str] = []

    def worker() -> None:
        node = _Node()
        weakref.finalize(node, lambda: freed_in.append(threading.current_thread().name))
        del node
        for _ in range(50_000):  # allocations that would have crossed the collector's thresholds here
            [object()]

    thread = threading.Thread(target=worker, name="worker")
    thread.start()
    thread.join()
    assert freed_in == [], "nothing was collected in the worker"
    qtbot.waitUntil(lambda: freed_in != [], timeout=5_000)
    assert freed_in == [threading.main_thread().name]
