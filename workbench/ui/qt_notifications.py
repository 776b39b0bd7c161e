"""Non-modal notifications: a stack of dismissible banners in a corner of the main window.

Background errors become notifications, never modal dialogs (modal dialogs are for decisions only). Errors stay
until dismissed; information fades after a few seconds. Messages come from core errors, which never contain
dataset values.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

_STYLES = {
    "error": "background:#fdecea; border:1px solid #e0a8a3; color:#611a15;",
    "warning": "background:#fff4e5; border:1px solid #e8c48f; color:#663c00;",
    "info": "background:#e8f4fd; border:1px solid #9cc7e8; color:#0d3c61;",
}


class QtNotification(QFrame):
    sig_closed = Signal()
    """The banner was dismissed or expired."""

    def __init__(self, level: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level = level
        self._dismissed = False
        self.setObjectName("notification")
        self.setStyleSheet(f"QFrame#notification {{{_STYLES[level]} border-radius:4px;}}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

    @Slot()
    def dismiss(self) -> None:
        if self._dismissed:
            return
        self._dismissed = True
        self.hide()
        self.sig_closed.emit()
        self.deleteLater()


class QtNotificationArea(QWidget):
    """Holds the visible notifications, newest at the bottom, at most ``limit`` at once."""

    def __init__(self, parent: QWidget | None = None, limit: int = 4, info_timeout_ms: int = 6000) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self._limit = limit
        self._info_timeout_ms = info_timeout_ms
        self._items: list[QtNotification] = []
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, False)
        self.hide()

    def notify(self, level: str, text: str) -> QtNotification:
        item = QtNotification(level, text, self)
        item.sig_closed.connect(self._on_closed)
        self._items.append(item)
        self._layout.addWidget(item)
        while len(self._items) > self._limit:
            self._items[0].dismiss()
        if level == "info":
            QTimer.singleShot(self._info_timeout_ms, item, item.dismiss)
        self.show()
        self.adjustSize()
        self.raise_()
        return item

    def messages(self) -> list[tuple[str, str]]:
        return [(n.level, n.label.text()) for n in self._items]

    @Slot()
    def _on_closed(self) -> None:
        sender = self.sender()
        self._items = [n for n in self._items if n is not sender]
        if not self._items:
            self.hide()
        self.adjustSize()
