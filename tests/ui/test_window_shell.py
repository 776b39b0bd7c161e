"""The window's shell (issue 14): it fits a 1366x768 laptop, every control of every page can be scrolled to, the job
panel collapses with its latest progress in the status bar, and the lock state shows on every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QFont, QPixmap
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QScrollArea,
    QScrollBar,
    QWidget,
)

from tests.support.qt import wait_for_job
from workbench.core.demo import clinic_intake_csv_text
from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.ui.qt_lock_banner import LOCKED_BANNER_TEXT, icon, icon_path
from workbench.ui.qt_main_window import NO_DATASET_TEXT, QtMainWindow

INPUTS = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QAbstractSlider)
SMALL_SCREEN = (1366, 700)  # 1366x768 less a taskbar and a title bar


def _quiet_pages(window: QtMainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    """Showing the Anonymize and Train pages starts the analyzer and a plan: not needed to measure the layout."""
    monkeypatch.setattr(window.pii_page, "_start_deferred", lambda: None)
    monkeypatch.setattr(window.train_page, "_request_plan", lambda: None)


def _load_demo(qtbot: Any, window: QtMainWindow, tmp_path: Path) -> None:
    source = tmp_path / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=40), encoding="utf-8")
    wait_for_job(qtbot, window.runner, window.data_page.load_file(source))
    assert window.data_page.dataset is not None


def _inputs_of(page: QWidget) -> list[tuple[QWidget, list[QScrollArea]]]:
    """Enabled inputs of ``page`` that are shown, each with the scroll areas inside the page that hold it (innermost
    first). Inputs inside a table or a plot (which scroll themselves) are left out."""
    found = []
    for widget in page.findChildren(QWidget):
        if not isinstance(widget, INPUTS) or isinstance(widget, QScrollBar):
            continue  # (a scroll area's own bars are how it scrolls, not a control of the page)
        if not widget.isVisibleTo(page) or not widget.isEnabled():
            continue
        parent, areas, nested = widget.parentWidget(), [], False
        while parent is not None and parent is not page:
            if isinstance(parent, QScrollArea):
                areas.append(parent)
            elif isinstance(parent, QAbstractScrollArea):
                nested = True
                break
            parent = parent.parentWidget()
        if not nested:
            found.append((widget, areas))
    return found


def _in_view(widget: QWidget, area: QAbstractScrollArea) -> tuple[bool, bool]:
    """(some of ``widget`` is in ``area``'s view, all of it is)."""
    viewport = area.viewport()
    shown = QRect(widget.mapTo(viewport, QPoint(0, 0)), widget.size()).intersected(viewport.rect())
    return not shown.isEmpty(), shown.size() == widget.size()


def test_minimum_size_fits_a_small_laptop(window: QtMainWindow) -> None:
    hint = window.minimumSizeHint()
    assert hint.width() <= SMALL_SCREEN[0] and hint.height() <= SMALL_SCREEN[1], hint
    assert window.minimumSize().height() <= SMALL_SCREEN[1]


def test_minimum_size_fits_with_a_larger_font(qtbot: Any, project: Any) -> None:
    """125 % text (a laptop at 125 % scaling, or a larger system font) still fits."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.font()
    larger = QFont(before)
    larger.setPointSizeF(before.pointSizeF() * 1.25)
    app.setFont(larger)
    try:
        w = QtMainWindow(project)
        qtbot.addWidget(w)
        hint = w.minimumSizeHint()
        assert hint.width() <= SMALL_SCREEN[0] and hint.height() <= SMALL_SCREEN[1], hint
    finally:
        app.setFont(before)


def test_every_control_of_every_page_can_be_scrolled_to_at_1366x768(
    qtbot: Any, window: QtMainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _quiet_pages(window, monkeypatch)
    window.resize(1366, 768)
    _load_demo(qtbot, window, tmp_path)
    for name in window._page_names:
        window.show_page(name)
        frame = window.page_frame(name)
        assert not frame.is_empty, name
        qtbot.wait(20)
        inputs = _inputs_of(frame.page)
        assert len(inputs) >= 3, (name, inputs)
        for widget, inner in inputs:
            label = f"{name}: {type(widget).__name__} {getattr(widget, 'text', lambda: '')()!r}"
            for area in [*inner, frame.scroll_area]:  # innermost first, then the window's
                area.ensureWidgetVisible(widget, 0, 0)
            for area in [*inner, frame.scroll_area]:
                some, whole = _in_view(widget, area)
                assert some, f"{label} is out of reach"
                # A widget no larger than the view is entirely in view once scrolled to.
                if widget.height() <= area.viewport().height() and widget.width() <= area.viewport().width():
                    assert whole, f"{label} is only partly in view"


def test_pages_without_a_dataset_say_what_to_do_next(qtbot: Any, window: QtMainWindow, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    _quiet_pages(window, monkeypatch)
    window.show_page("Train")
    frame = window.page_frame("Train")
    assert frame.is_empty and frame.empty is not None and frame.empty.isVisible()
    assert frame.empty.label.text() == NO_DATASET_TEXT
    frame.empty.button.click()
    assert window.current_page() is window.data_page
    assert not window.page_frame("Data").is_empty, "the Data page is where a dataset is loaded: never empty"
    _load_demo(qtbot, window, tmp_path)
    assert not window.page_frame("Train").is_empty and not window.page_frame("Anonymize").is_empty


def _slow_job(token: CancelToken) -> JobGenerator[None]:
    for i in range(400):
        token.raise_if_cancelled()
        yield Progress("slow", i, 400, "rows", "crunching")
        import time

        time.sleep(0.01)


def test_job_panel_is_collapsed_and_the_status_bar_shows_the_latest_progress(qtbot: Any, window: QtMainWindow) -> None:
    assert not window.job_dock.isVisible(), "collapsed by default"
    job = window.runner.submit("Crunch numbers", _slow_job)
    qtbot.waitUntil(lambda: "crunching" in window.job_status.text(), timeout=3000)
    assert "Crunch numbers" in window.job_status.text() and window.job_status.bar.isVisible()
    assert "(1)" in window.job_status.toggle.text()
    window.job_status.toggle.click()
    assert window.job_dock.isVisible()
    window.job_status.toggle.click()
    assert not window.job_dock.isVisible()
    window.runner.cancel(job)
    wait_for_job(qtbot, window.runner, job)
    window.job_status.refresh()
    assert "cancelled" in window.job_status.text() and not window.job_status.bar.isVisible()


def test_shipped_icons_load_and_render() -> None:
    for name in ("locked", "unlocked", "step-done", "step-attention", "step-todo"):
        assert Path(icon_path(name)).is_file(), name
        assert not icon(name).isNull(), name
        pixmap = icon(name).pixmap(16, 16)
        assert not pixmap.isNull() and pixmap.width() == 16, name
        assert not QPixmap(icon_path(name)).isNull(), f"{name}: the SVG image plugin reads it"


def test_locking_shows_the_banner_on_every_page(qtbot: Any, window: QtMainWindow,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from tests.support.planted import PASSPHRASE

    _quiet_pages(window, monkeypatch)
    wait_for_job(qtbot, window.runner, window.flows.encrypt_project(PASSPHRASE))
    assert window.vault_ctl.state == "unlocked" and not window.lock_banner.isVisible()
    assert window.lock_label.icon_label.pixmap() is not None and not window.lock_label.icon_label.pixmap().isNull()
    window.vault_ctl.lock()
    for name in window._page_names:
        window.show_page(name)
        assert window.lock_banner.isVisible(), name
        assert window.lock_banner.label.text() == LOCKED_BANNER_TEXT
    assert "locked" in window.lock_label.text()
    # The empty pages say why there is nothing to see, and their button unlocks.
    assert "locked" in window.page_frame("Train").empty.label.text()
    job_ids: list[int] = []
    monkeypatch.setattr(window, "unlock_dialog", lambda: job_ids.append(window.vault_ctl.unlock(PASSPHRASE)))
    window.lock_banner.sig_unlock_requested.disconnect()
    window.lock_banner.sig_unlock_requested.connect(window.unlock_dialog)
    window.lock_banner.unlock_button.click()
    wait_for_job(qtbot, window.runner, job_ids[0])
    assert window.vault_ctl.state == "unlocked" and not window.lock_banner.isVisible()


def test_notifications_stay_clear_of_the_lock_banner(qtbot: Any, window: QtMainWindow) -> None:
    from tests.support.planted import PASSPHRASE

    wait_for_job(qtbot, window.runner, window.flows.encrypt_project(PASSPHRASE))
    window.vault_ctl.lock()
    window.notify("error", "Something to read.")
    banner, area = window.lock_banner.geometry(), window.notifications.geometry()
    assert banner.height() > 0 and not banner.intersects(area), (banner, area)
