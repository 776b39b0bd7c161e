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


def test_loading_the_spacy_model_in_a_worker_leaves_the_collector_off(qtbot) -> None:  # noqa: ANN001
    """spaCy reads its model with srsly, which switched the collector back on after every msgpack read: in a worker
    that re-enabled automatic collection there, and a Qt object destroyed in the worker deadlocked the window."""
    from workbench.core.pii.analyzer import DEFAULT_SPACY_MODEL, import_nlp_stack, load_spacy_pipeline

    QtJobRunner()
    assert not gc.isenabled()
    import_nlp_stack()
    states: list[bool] = []

    def worker() -> None:
        load_spacy_pipeline(DEFAULT_SPACY_MODEL)
        states.append(gc.isenabled())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(120)
    assert states == [False]
    assert not gc.isenabled()


def test_the_gui_timer_switches_a_re_enabled_collector_off_again(qtbot) -> None:  # noqa: ANN001
    QtJobRunner()
    gc.enable()  # as a library might
    qtbot.waitUntil(lambda: not gc.isenabled(), timeout=2_000)
