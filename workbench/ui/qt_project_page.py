"""What the pages that work on the open project share: the message line on the page and the project session.

A page sets ``self._window`` (the main window) and ``self.message`` (a QLabel made by
:func:`workbench.ui.qt_message.page_message` or alike) in its ``__init__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QWidget

from workbench.core.errors import WorkbenchError
from workbench.ui.qt_message import show_page_message

if TYPE_CHECKING:
    from workbench.core.project.datasets import DatasetRecord
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

    def _datasets_and_choice(
        self, current: int | None, *, when_locked: bool = True
    ) -> tuple[list[DatasetRecord], int | None]:
        """The open project's datasets (a failure said on the page; none while locked unless ``when_locked``) and
        the one to choose: ``current``, else the dataset shown on the Data page."""
        project = self._window.project
        records: list[DatasetRecord] = []
        if project is not None and (when_locked or self._window.vault_ctl.state != "locked"):
            try:
                records = project.datasets()
            except WorkbenchError as exc:
                self.show_message("error", f"The project's datasets cannot be listed: {exc}")
        if current is None:
            shown = self._window.data_page.dataset
            match = [r.id for r in records if shown is not None and r.fingerprint == shown.fingerprint]
            current = match[0] if match else None
        return records, current
