"""Notifications (issue 14): information fades, errors stay until dismissed, at most three at once, no text twice,
and nothing the page shown already says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

from tests.support.qt import wait_for_job
from workbench.ui.qt_main_window import QtMainWindow
from workbench.ui.qt_notifications import QtNotificationArea


@pytest.fixture
def area(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[QtNotificationArea]:
    monkeypatch.setattr(QtNotificationArea, "fade_ms", 60)
    parent = QWidget()  # (held here for the test's length)
    qtbot.addWidget(parent)
    parent.show()
    yield QtNotificationArea(parent)
    parent.close()


def test_information_fades_and_errors_stay_until_dismissed(qtbot: Any, area: QtNotificationArea) -> None:
    area.notify("info", "Project unlocked.")
    area.notify("success", "Saved.")
    error = area.notify("error", "The file could not be read.")
    assert len(area.messages()) == 3 and area.isVisible()
    qtbot.waitUntil(lambda: area.messages() == [("error", "The file could not be read.")], timeout=2000)
    qtbot.wait(200)
    assert area.messages() == [("error", "The file could not be read.")], "an error stays"
    assert error is not None
    error.close_button.click()
    assert area.messages() == [] and not area.isVisible()


def test_the_default_fade_is_a_few_seconds() -> None:
    assert 2000 <= QtNotificationArea.fade_ms <= 8000 and QtNotificationArea.limit == 3


def test_at_most_three_and_the_oldest_information_goes_first(qtbot: Any, area: QtNotificationArea,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(QtNotificationArea, "fade_ms", 60_000)
    area.notify("error", "e1")
    area.notify("info", "i1")
    area.notify("info", "i2")
    area.notify("error", "e2")
    assert area.messages() == [("error", "e1"), ("info", "i2"), ("error", "e2")]
    area.notify("warning", "w1")
    assert area.messages() == [("error", "e1"), ("error", "e2"), ("warning", "w1")]
    area.notify("error", "e3")
    assert area.messages() == [("error", "e2"), ("warning", "w1"), ("error", "e3")], "all stay: the oldest goes"
    assert len([n for n in area.items() if n.isVisibleTo(area)]) == 3


def test_the_same_text_is_not_shown_twice(qtbot: Any, area: QtNotificationArea) -> None:
    assert area.notify("error", "Disk full.") is not None
    assert area.notify("error", "Disk full.") is None
    assert area.notify("warning", "Disk full.") is None
    assert area.messages() == [("error", "Disk full.")]


def test_what_the_page_says_is_not_repeated(qtbot: Any, window: QtMainWindow) -> None:
    window.data_page.show_banner("error", "Could not load the file. It is empty.")
    window.notify("error", "It is empty.")
    assert window.notifications.messages() == [], "the Data page shows it already"
    window.show_page("Train")
    window.notify("error", "It is empty.")
    assert window.notifications.messages() == [("error", "It is empty.")], "another page is shown: notify"


def test_a_failed_load_raises_the_page_message_and_no_duplicate_notification(
    qtbot: Any, window: QtMainWindow, tmp_path: Path
) -> None:
    bad = tmp_path / "empty.csv"
    bad.write_bytes(b"")
    wait_for_job(qtbot, window.runner, window.data_page.load_file(bad))
    assert window.data_page.banner.isVisible() and "empty.csv" in window.data_page.banner.text()
    assert not [m for _, m in window.notifications.messages() if "empty" in m.lower()]
    # The same failure while the analyst looks at another page is a notification (the page message is not seen).
    window.show_page("Train")
    wait_for_job(qtbot, window.runner, window.data_page.load_file(bad))
    assert [m for _, m in window.notifications.messages() if "empty.csv" in m]
