"""The navigation list as a workflow: the steps in order, each with its state for the dataset shown (an icon and
a tooltip saying why), from :func:`workbench.services.workflow.workflow_state`."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from workbench.services.workflow import ATTENTION, DONE, NOT_STARTED, StepState
from workbench.ui.qt_lock_banner import icon

STATE_WORDS = {DONE: "done", ATTENTION: "needs attention", NOT_STARTED: "not started"}
_STATE_ICONS = {DONE: "step-done", ATTENTION: "step-attention", NOT_STARTED: "step-todo"}


class QtWorkflowNav(QListWidget):
    """One row per page; a page that is a workflow step (``step`` given to :meth:`add_step`) shows its state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(16, 16))
        self._fit_width()
        self._steps: list[str | None] = []
        self.states: dict[str, StepState] = {}

    def add_step(self, name: str, step: str | None) -> None:
        item = QListWidgetItem(name)
        if step is None:  # not a workflow step: a blank icon keeps its name in line with the steps'
            blank = QPixmap(self.iconSize())
            blank.fill(Qt.GlobalColor.transparent)
            item.setIcon(QIcon(blank))
        self.addItem(item)
        self._steps.append(step)
        self._fit_width()

    def _fit_width(self) -> None:
        """As wide as the longest name with its icon (in the current font), so it scales with the system font."""
        metrics = self.fontMetrics()
        longest = max([metrics.horizontalAdvance(self.item(r).text()) for r in range(self.count())] + [80])
        self.setFixedWidth(longest + self.iconSize().width() + 4 * metrics.averageCharWidth() + 12)

    def set_states(self, states: dict[str, StepState]) -> None:
        """Show each step's state (steps missing from ``states`` show none)."""
        self.states = dict(states)
        for row, step in enumerate(self._steps):
            item = self.item(row)
            if step is None:
                continue
            state = states.get(step)
            name = item.text()
            if state is None:
                item.setIcon(icon("step-todo"))
                item.setToolTip(name)
                item.setData(256, None)
                continue
            item.setIcon(icon(_STATE_ICONS[state.state]))
            item.setToolTip(f"{name}: {STATE_WORDS[state.state]}. {state.reason}")
            item.setData(256, state.state)  # Qt.UserRole: what tests and screen readers can query

    def state_of(self, name: str) -> str | None:
        for row in range(self.count()):
            if self.item(row).text() == name:
                value = self.item(row).data(256)
                return str(value) if value is not None else None
        return None
