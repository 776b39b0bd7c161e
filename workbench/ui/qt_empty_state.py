"""A page's frame in the main window: the page in a scroll area (so every page fits a 1366x768 screen), or, while
the page has nothing to work on, an empty state that says what to do next with a button that goes there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from workbench.ui.qt_main_window import QtMainWindow


class QtEmptyState(QWidget):
    """A sentence saying what to do next and a button that does it (or goes where it is done)."""

    sig_action = Signal()
    """The button was clicked."""

    def __init__(self, text: str, action: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setStyleSheet("color:#444; font-size:14px;")
        layout.addWidget(self.label)
        self.button = QPushButton(action)
        self.button.clicked.connect(self.sig_action.emit)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)


class QtPageFrame(QStackedWidget):
    """Shows ``page`` in a resizable scroll area, or ``empty`` (when given) while :meth:`set_empty` says so."""

    def __init__(self, page: QWidget, empty: QtEmptyState | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.page = page
        self.empty = empty
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(page)
        self.addWidget(self.scroll_area)
        if empty is not None:
            self.addWidget(empty)

    def set_page(self, page: QWidget) -> None:
        """Show ``page`` instead of the current one (the caller disposes of that)."""
        old = self.scroll_area.takeWidget()
        if old is not None:
            old.hide()
        self.page = page
        self.scroll_area.setWidget(page)

    @property
    def is_empty(self) -> bool:
        return self.empty is not None and self.currentWidget() is self.empty

    def set_empty(self, empty: bool) -> None:
        if self.empty is None:
            return
        target = self.empty if empty else self.scroll_area
        if self.currentWidget() is not target:
            self.setCurrentWidget(target)


class QtWelcomePage(QWidget):
    """Shown when no project is open."""

    def __init__(self, window: QtMainWindow) -> None:
        super().__init__(window)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        title = QLabel(
            "<h2>Privacy Workbench</h2><p>Open a project to start. A project is a folder that keeps "
            "your datasets, their column roles and an audit log.</p>"
        )
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        row = QHBoxLayout()
        row.addStretch(1)
        for text, slot in (
            ("New project…", window.new_project),
            ("Open project…", window.open_project_dialog),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
