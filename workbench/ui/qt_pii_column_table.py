"""The Anonymize page's column table: per column what detection found, its treatment (keep, drop, free text, or an
entity type) and, for an entity column, an operator overriding the entity type's.

The table only shows and reads choices: the page holds the policy, decides whether an edit counts (not while it
fills the controls, not without a policy) and applies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

if TYPE_CHECKING:
    from workbench.core.pii.column_detect import ColumnDetection
    from workbench.core.pii.policy import ColumnPolicy, Policy

BY_ENTITY = "(entity type's operator)"

# Treatments as shown in the column table; "entity:TYPE" items are added per entity type.
_TREATMENTS = (("Keep", "keep"), ("Drop column", "drop"), ("Free text (detect inside)", "free_text"))


class QtColumnTable(QTableWidget):
    """Column | Detected | Treatment | Operator. ``sig_edited(column)`` when the analyst changes a combo; the page
    then reads the choice with :meth:`chosen`."""

    sig_edited = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self._rows: dict[str, int] = {}
        self.setHorizontalHeaderLabels(["Column", "Detected", "Treatment", "Operator"])
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    def clear_rows(self) -> None:
        self.setRowCount(0)
        self._rows = {}

    def show_policy(
        self,
        columns: Sequence[str],
        policy: Policy,
        detections: Sequence[ColumnDetection] | None,
        entity_types: Sequence[str],
    ) -> None:
        """Rows for ``columns`` (rebuilt when the columns changed), each showing its detection (``None``: still
        running) and ``policy``'s treatment, without signals."""
        from workbench.core.pii.policy import ColumnTreatment

        found = {d.column: d for d in detections or ()}
        names = list(columns)
        widgets_lost = any(_combo(self, row, 2) is None or _combo(self, row, 3) is None for row in self._rows.values())
        if list(self._rows) != names or widgets_lost or self.rowCount() != len(names):
            self._rebuild(names)
        for name, row in self._rows.items():
            d = found.get(name)
            detected = self.item(row, 1) or QTableWidgetItem("")
            if d is None:
                detected.setText("…" if detections is None else "")
            else:
                what = d.entity_type or d.kind.value.replace("_", " ")
                detected.setText(f"{what} ({d.confidence:.0%})")
                detected.setToolTip(d.reason)
            cp = policy.column(name)
            treat = _combo(self, row, 2)
            op = _combo(self, row, 3)
            treat.blockSignals(True)
            op.blockSignals(True)
            treat.clear()
            for label, value in _TREATMENTS:
                treat.addItem(label, value)
            types = list(entity_types)
            if cp.entity_type and cp.entity_type not in types:
                types.append(cp.entity_type)
            for entity in types:
                treat.addItem(f"Entity: {entity}", f"entity:{entity}")
            current = f"entity:{cp.entity_type}" if cp.treatment is ColumnTreatment.ENTITY else cp.treatment.value
            treat.setCurrentIndex(max(0, treat.findData(current)))
            op.setCurrentIndex(max(0, op.findData(cp.operator.operator if cp.operator else None)))
            op.setEnabled(cp.treatment is ColumnTreatment.ENTITY)
            treat.blockSignals(False)
            op.blockSignals(False)
        # The combos were refilled: fit the Treatment and Operator columns to their new contents (never clipped).
        self.resizeColumnsToContents()

    def _rebuild(self, names: Sequence[str]) -> None:
        from workbench.core.pii.operators import operator_specs

        self.clear_rows()
        for name in names:
            row = self.rowCount()
            self.insertRow(row)
            self.setItem(row, 0, QTableWidgetItem(name))
            self.setItem(row, 1, QTableWidgetItem(""))
            treat = QComboBox()
            treat.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            treat.setProperty("column", name)
            treat.currentIndexChanged.connect(self._on_combo)
            op = QComboBox()
            op.addItem(BY_ENTITY, None)
            for spec in operator_specs():
                op.addItem(spec.label, spec.name)
            op.setProperty("column", name)
            op.currentIndexChanged.connect(self._on_combo)
            self.setCellWidget(row, 2, treat)
            self.setCellWidget(row, 3, op)
            self._rows[name] = row

    def combos(self, column: str) -> tuple[QComboBox, QComboBox] | None:
        """The (treatment, operator) combos of ``column``'s row."""
        row = self._rows.get(column)
        if row is None:
            return None
        return _combo(self, row, 2), _combo(self, row, 3)

    @Slot(int)
    def _on_combo(self, _index: int) -> None:
        sender = self.sender()
        column = sender.property("column") if sender is not None else None
        if column:
            self.sig_edited.emit(column)

    def chosen(self, column: str) -> ColumnPolicy | None:
        """The treatment picked for ``column``; the operator combo is enabled only for an entity treatment."""
        from workbench.core.pii.operators import OperatorConfig
        from workbench.core.pii.policy import ColumnPolicy, ColumnTreatment

        combos = self.combos(column)
        if combos is None:
            return None
        treat, op = combos
        value = str(treat.currentData())
        op.setEnabled(value.startswith("entity:"))
        if value.startswith("entity:"):
            name = op.currentData()
            config: OperatorConfig | None = OperatorConfig.create(name) if name else None
            return ColumnPolicy(ColumnTreatment.ENTITY, entity_type=value.split(":", 1)[1], operator=config)
        return ColumnPolicy(ColumnTreatment(value))


def _combo(table: QTableWidget, row: int, column: int) -> QComboBox:
    return cast(QComboBox, table.cellWidget(row, column))
