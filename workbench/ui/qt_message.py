"""The message shown on a page (a bad file, a refused setting, a job's outcome): one look for every page."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

PAGE_MESSAGE_PROPERTY = "page_message"
"""A dynamic property set on every label that shows a page message."""

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
    label.setProperty(PAGE_MESSAGE_PROPERTY, True)
    label.show()


def page_message_shows(page: QWidget, text: str) -> bool:
    """Whether a message label of ``page`` (one that :func:`show_page_message` filled) shows ``text`` now: the window
    then does not repeat it as a notification."""
    wanted = text.strip()
    if not wanted:
        return False
    for label in page.findChildren(QLabel):
        if not label.property(PAGE_MESSAGE_PROPERTY) or not label.isVisibleTo(page):
            continue
        shown = label.text().strip()
        if shown and (wanted in shown or shown in wanted):
            return True
    return False
