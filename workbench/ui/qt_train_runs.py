"""The Train page's table of runs: one row per run started on the page, with a checkbox that shows or hides its
curves, its status, the epsilon spent (accountant and delta named), validation accuracy against the majority
baseline, throughput and steps; live while it runs, final when it ends. It is never shorter than
:data:`MIN_VISIBLE_ROWS` rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from workbench.core.dp.accountant import format_delta

if TYPE_CHECKING:
    from workbench.core.dp.runs import MetricsSnapshot

MIN_VISIBLE_ROWS = 5
HEADERS = ["Show", "Run", "Status", "ε spent (accountant, δ)", "Val. accuracy", "Majority", "Samples/s", "Steps"]


class QtRunsTable(QTableWidget):
    """``sig_shown(job id, visible)`` when the analyst ticks or unticks a run's Show box."""

    sig_shown = Signal(int, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self.setHorizontalHeaderLabels(HEADERS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.itemChanged.connect(self._on_item_changed)
        self.fit_rows(MIN_VISIBLE_ROWS)

    def fit_rows(self, rows: int) -> None:
        """A minimum height that shows ``rows`` rows under the header, even with a horizontal scroll bar."""
        header = self.horizontalHeader().sizeHint().height()
        body = rows * self.verticalHeader().defaultSectionSize()
        scroll = self.horizontalScrollBar().sizeHint().height()
        self.setMinimumHeight(header + body + scroll + 2 * self.frameWidth() + 2)

    def rename_run(self, job_id: int, label: str) -> None:
        row = self.row_of(job_id)
        item = self.item(row, 1) if row is not None else None
        if item is not None:
            self.blockSignals(True)
            item.setText(label)
            self.blockSignals(False)

    def add_run(self, job_id: int, label: str, color: str) -> None:
        row = self.rowCount()
        self.blockSignals(True)
        self.insertRow(row)
        show = QTableWidgetItem()
        show.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        show.setCheckState(Qt.CheckState.Checked)
        show.setData(Qt.ItemDataRole.UserRole, job_id)
        show.setBackground(Qt.GlobalColor.white)
        self.setItem(row, 0, show)
        name = QTableWidgetItem(label)
        name.setForeground(QColor(color))
        self.setItem(row, 1, name)
        for col in range(2, 8):
            self.setItem(row, col, QTableWidgetItem("…" if col == 2 else ""))
        self.blockSignals(False)

    def set_note(self, job_id: int, text: str) -> None:
        """A tooltip over the run's whole row (how the run compares with its baselines)."""
        row = self.row_of(job_id)
        self.blockSignals(True)  # a changed Show item would say the run was ticked
        for col in range(self.columnCount()) if row is not None else ():
            item = self.item(row, col)  # type: ignore[arg-type]
            if item is not None:
                item.setToolTip(text)
        self.blockSignals(False)

    def row_of(self, job_id: int) -> int | None:
        for row in range(self.rowCount()):
            item = self.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == job_id:
                return row
        return None

    def set_row(
        self, job_id: int, status: str, result: dict[str, Any] | None = None, snap: MetricsSnapshot | None = None
    ) -> None:
        """Show a run's status and either its final ``result`` or its progress so far (``snap``)."""
        row = self.row_of(job_id)
        if row is None:
            return

        def put(column: int, text: str) -> None:
            item = self.item(row, column)
            assert item is not None  # every cell of a run's row is made by add_run
            item.setText(text)

        self.blockSignals(True)
        put(2, status)
        if result is not None:
            eps = result.get("epsilon_label") or "no guarantee (non-private)"
            put(3, eps)
            acc = result.get("val_accuracy")
            put(4, "" if acc is None else f"{acc:.3f}")
            put(5, f"{result.get('majority_baseline', 0):.3f}")
            put(6, f"{result.get('samples_per_second', 0):.1f}")
            put(7, str(result.get("steps", "")))
        elif snap is not None and snap.steps:
            if snap.accountant:
                put(3, f"{snap.last_epsilon:.3g} so far ({snap.accountant.upper()}, δ = {format_delta(snap.delta)})")
            if snap.val_accuracy:
                put(4, f"{snap.val_accuracy[-1]:.3f}")
            put(7, f"{snap.steps[-1]}/{snap.total_steps or '?'}")
        self.blockSignals(False)

    @Slot(QTableWidgetItem)
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        job_id = item.data(Qt.ItemDataRole.UserRole)
        if job_id is not None:
            self.sig_shown.emit(job_id, item.checkState() == Qt.CheckState.Checked)
