"""The message shown on a page (a bad file, a refused setting, a job's outcome): one look for every page."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

PAGE_MESSAGE_STYLES = {
    "error": "background:#fdecea; color:#611a15; border:1px solid #e0a8a3;",
    "warning": "background:#fff4e5; color:#663c00; border:1px solid #e8c48f;",
    "info": "background:#e8f4fd; color:#0d3c61; border:1px solid #9cc7e8;",
}


def show_page_message(label: QLabel, level: str, text: str) -> None:
    """Show ``text`` in ``label`` styled for ``level`` (error, warning or info); the level is kept as a property."""
    label.setStyleSheet(PAGE_MESSAGE_STYLES[level] + " padding:6px; border-radius:3px;")
    label.setText(text)
    label.setProperty("level", level)
    label.show()
