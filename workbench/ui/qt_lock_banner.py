"""The lock state where the analyst looks: a banner above every page while the project is locked, and the icons
of the status bar (shipped in :mod:`workbench.resources`, so they render without any emoji font)."""

from __future__ import annotations

from importlib import resources

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

LOCKED_BANNER_TEXT = "This project is locked: unlock to see or change its data."

_icons: dict[str, QIcon] = {}


def icon_path(name: str) -> str:
    """The file of the shipped icon ``name`` (``locked``, ``unlocked``, ``step-done``...)."""
    return str(resources.files("workbench.resources").joinpath("icons", f"{name}.svg"))


def icon(name: str) -> QIcon:
    """The shipped icon ``name``, loaded once."""
    if name not in _icons:
        _icons[name] = QIcon(icon_path(name))
    return _icons[name]


class QtLockBanner(QFrame):
    """Shown at the top of the central area while the vault is locked; its button asks for the passphrase."""

    sig_unlock_requested = Signal()
    """The analyst clicked Unlock."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lock_banner")
        self.setStyleSheet("QFrame#lock_banner {background:#fff4e5; border:1px solid #e8c48f; border-radius:3px;}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        symbol = QLabel()
        symbol.setPixmap(icon("locked").pixmap(16, 16))
        self.label = QLabel(LOCKED_BANNER_TEXT)
        self.label.setStyleSheet("color:#663c00;")
        self.label.setWordWrap(True)
        self.unlock_button = QPushButton("Unlock…")
        self.unlock_button.clicked.connect(self.sig_unlock_requested.emit)
        layout.addWidget(symbol, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.unlock_button)
        self.hide()


class QtLockStatus(QWidget):
    """The status bar's lock state: an icon and a word, empty for a project that is not encrypted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.icon_label = QLabel()
        self.text_label = QLabel()
        layout.addWidget(self.icon_label)
        layout.addWidget(self.text_label)
        self.state = "none"
        self.set_state("none")

    def set_state(self, state: str) -> None:
        self.state = state
        texts = {"none": "", "locked": "Encrypted · locked", "unlocked": "Encrypted · unlocked"}
        self.text_label.setText(texts[state])
        if state == "none":
            self.icon_label.clear()
            self.icon_label.hide()
        else:
            self.icon_label.setPixmap(icon(state).pixmap(16, 16))
            self.icon_label.show()
        self.setToolTip({"none": "", "locked": LOCKED_BANNER_TEXT, "unlocked": "Ctrl+Shift+L locks it."}[state])

    def text(self) -> str:
        return self.text_label.text()
