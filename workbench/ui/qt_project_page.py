"""What the pages that work on the open project share: the message line on the page and the project session.

A page sets ``self._window`` (the main window) and ``self.message`` (a QLabel made by
:func:`workbench.ui.qt_message.page_message` or alike) in its ``__init__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QWidget

from workbench.ui.qt_message import show_page_message

if TYPE_CHECKING:
    from workbench.services.session import ProjectSession
    from workbench.ui.qt_main_window import QtMainWindow


class QtProjectPage(QWidget):
    """A page of the window that works on the open project (Risk, Federation, Keys and sharing, Report, Audit log)."""

    _window: QtMainWindow
    message: QLabel

    def show_message(self, level: str, text: str) -> None:
        show_page_message(self.message, level, text)

    def message_text(self) -> str:
        """The page's message, or "" when none is shown."""
        return "" if self.message.isHidden() else self.message.text()

    def _session(self) -> ProjectSession | None:
        """The open project with its vault, or ``None`` (said on the page) when no project is open."""
        from workbench.services.session import ProjectSession

        if self._window.project is None:
            self.show_message("error", "Open a project first.")
            return None
        return ProjectSession(self._window.project, self._window.vault_ctl.vault)
