"""Non-modal notifications: a stack of dismissible banners in a corner of the main window.

Background errors become notifications, never modal dialogs (modal dialogs are for decisions only). Errors and
warnings stay until dismissed; information and success fade after :attr:`QtNotificationArea.fade_ms`. At most
:attr:`QtNotificationArea.limit` are visible (the oldest information goes first), and a text already shown is not
shown twice. Messages come from core errors, which never contain dataset values.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

_STYLES = {
    "error": "background:#fdecea; border:1px solid #e0a8a3; color:#611a15;",
    "warning": "background:#fff4e5; border:1px solid #e8c48f; color:#663c00;",
    "info": "background:#e8f4fd; border:1px solid #9cc7e8; color:#0d3c61;",
    "success": "background:#edf7ed; border:1px solid #9fcf9f; color:#1e4620;",
}
FADING_LEVELS = frozenset({"info", "success"})
"""Levels that disappear by themselves; the others stay until the analyst dismisses them."""


class QtNotification(QFrame):
    sig_closed = Signal()
    """The banner was dismissed or expired."""

    def __init__(self, level: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level = level if level in _STYLES else "info"
        self.text = text
        self._dismissed = False
        self.setObjectName("notification")
        self.setStyleSheet(f"QFrame#notification {{{_STYLES[self.level]} border-radius:4px;}}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton()
        self.close_button.setText("×")  # in every font, unlike a heavy multiplication sign
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)

    @property
    def fades(self) -> bool:
        return self.level in FADING_LEVELS

    @Slot()
    def dismiss(self) -> None:
        if self._dismissed:
            return
        self._dismissed = True
        self.hide()
        self.sig_closed.emit()
        self.deleteLater()


class QtNotificationArea(QWidget):
    """Holds the visible notifications, newest at the bottom, at most :attr:`limit` at once."""

    fade_ms = 4000
    """How long information and success stay (a class attribute: tests shorten it)."""
    limit = 3
    """How many notifications are visible at once."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self._items: list[QtNotification] = []
        self.hide()

    def notify(self, level: str, text: str) -> QtNotification | None:
        """Show ``text``; ``None`` when the same text is already shown (a fading one then stays longer)."""
        for existing in self._items:
            if existing.text == text:
                if existing.fades:
                    self._start_fade(existing)
                return None
        item = QtNotification(level, text, self)
        item.sig_closed.connect(self._on_closed)
        self._items.append(item)
        self._layout.addWidget(item)
        item.show()
        while len(self._items) > self.limit:
            self._oldest_to_drop().dismiss()
        if item.fades:
            self._start_fade(item)
        self.show()
        self.adjustSize()
        self.raise_()
        return item

    def _oldest_to_drop(self) -> QtNotification:
        """The oldest fading notification, or the oldest of all when every one is an error or a warning."""
        return next((n for n in self._items if n.fades), self._items[0])

    def _start_fade(self, item: QtNotification) -> None:
        timer = item.findChild(QTimer, "fade_timer")
        if timer is None:
            timer = QTimer(item)
            timer.setObjectName("fade_timer")
            timer.setSingleShot(True)
            timer.timeout.connect(item.dismiss)
        timer.start(self.fade_ms)

    def messages(self) -> list[tuple[str, str]]:
        return [(n.level, n.text) for n in self._items]

    def items(self) -> list[QtNotification]:
        return list(self._items)

    @Slot()
    def _on_closed(self) -> None:
        sender = self.sender()
        self._items = [n for n in self._items if n is not sender]
        if not self._items:
            self.hide()
        self.adjustSize()
