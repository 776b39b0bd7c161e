"""The Anonymize page gets ready in the background (analyzer and column detection) while the analyst is on another
page, gives way while they use the window, and its first preview then comes at once, with the time it really took."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from tests.ui.test_main_window import load
from workbench.core.demo import clinic_intake_csv_text
from workbench.core.jobs import JobState
from workbench.core.project.store import Project
from workbench.ui.qt_activity import activity_clock
from workbench.ui.qt_main_window import QtMainWindow

DETECT = "Detect personal data in the columns of"


@pytest.fixture
def window(qtbot, tmp_path: Path):  # noqa: ANN001, ANN201
    w = QtMainWindow(Project.create(tmp_path / "p"))
    qtbot.addWidget(w)
    w.pii_page._detection._timer.setInterval(300)  # the background start delay, shortened for the test
    w.show()
    yield w
    w.runner.begin_shutdown()
    w.runner.cancel_all()
    w.runner.wait_all(10)


def _jobs(window: QtMainWindow, prefix: str) -> list:  # noqa: ANN001
    return [s for s in window.runner.registry.snapshots() if s.title.startswith(prefix)]


def _clinic(tmp_path: Path) -> Path:
    source = tmp_path / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=40), encoding="utf-8")
    return source


def test_columns_are_detected_in_the_background_and_the_first_preview_is_prompt(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    load(qtbot, window, _clinic(tmp_path))
    page = window.pii_page
    qtbot.waitUntil(lambda: page.detections() is not None, timeout=60_000)  # without opening the page
    assert window.pages.currentWidget() is not window._frames[window._page_names.index("Anonymize")]
    assert page.last_preview() is None  # no preview for a page nobody looks at
    assert gc.get_freeze_count() > 0  # the analyzer is out of the collector's full passes
    started = time.perf_counter()
    window.nav.setCurrentRow(window._page_names.index("Anonymize"))
    qtbot.waitUntil(lambda: page.last_preview() is not None, timeout=20_000)
    waited_ms = (time.perf_counter() - started) * 1000
    assert len(_jobs(window, DETECT)) == 1  # opening the page did not detect again
    shown = page.preview.last_end_to_end_ms
    assert shown is not None and shown >= page.last_preview().elapsed_ms
    assert shown <= waited_ms + 1  # what the status says is the wait the analyst had
    assert f"on screen {shown:,.0f} ms after the request" in page.preview_status.text()


def test_background_work_waits_while_the_analyst_is_active_and_hurries_when_the_page_opens(
    qtbot, window, tmp_path  # noqa: ANN001
) -> None:
    load(qtbot, window, _clinic(tmp_path))
    clock = activity_clock()
    assert clock is not None
    typing = QTimer()
    typing.setInterval(50)  # a key press on the table every 50 ms: an analyst at work
    view = window.data_page.table_view
    typing.timeout.connect(lambda: qtbot.keyClick(view, "a"))
    typing.start()
    try:
        qtbot.waitUntil(lambda: len(_jobs(window, DETECT)) == 1, timeout=5_000)
        qtbot.wait(1_500)
        (job,) = _jobs(window, DETECT)
        assert job.state is JobState.RUNNING
        assert job.progress is None or job.progress.done == 0  # still waiting before its first step
        assert clock.idle_for() < 0.4
        window.nav.setCurrentRow(window._page_names.index("Anonymize"))  # needed now: no more waiting
        qtbot.waitUntil(lambda: window.pii_page.detections() is not None, timeout=60_000)
        qtbot.waitUntil(lambda: window.pii_page.last_preview() is not None, timeout=20_000)
    finally:
        typing.stop()
    assert len(_jobs(window, DETECT)) == 1
