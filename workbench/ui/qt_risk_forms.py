"""The Risk page's forms: the columns with their roles for this page (quasi-identifier, sensitive, not used) and
their hierarchies; the generalization target (k, suppression, optional l, t, average risk, metric); and the card
that shows a generalization's result.

Roles chosen here are for the measurement and the generalization only: the project's saved roles are changed on the
Data page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from workbench.core.risk.criteria import L_VARIANTS, Target

ROLE_CHOICES = (("quasi-identifier", "quasi_identifier"), ("sensitive", "sensitive"), ("not used", ""))


class QtRiskColumns(QTableWidget):
    """One row per column: its name, its role on this page (a combo) and the hierarchy a generalization uses."""

    def __init__(self) -> None:
        super().__init__(0, 3)
        self.setHorizontalHeaderLabels(["Column", "Role here", "Hierarchy"])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.setMinimumHeight(170)
        self.setMaximumHeight(230)

    def set_columns(self, columns: Sequence[str], roles: Mapping[str, str]) -> None:
        """Fill the table: quasi-identifiers and sensitive columns from ``roles``, every other column not used."""
        self.setRowCount(len(columns))
        for row, column in enumerate(columns):
            self.setItem(row, 0, QTableWidgetItem(column))
            combo = QComboBox()
            for text, role in ROLE_CHOICES:
                combo.addItem(text, role)
            role = roles.get(column, "")
            combo.setCurrentIndex(max(combo.findData(role if role in ("quasi_identifier", "sensitive") else ""), 0))
            self.setCellWidget(row, 1, combo)
            self.setItem(row, 2, QTableWidgetItem("built from the values" if role == "quasi_identifier" else ""))

    def columns(self) -> list[str]:
        return [self._name(row) for row in range(self.rowCount())]

    def _name(self, row: int) -> str:
        item = self.item(row, 0)
        return item.text() if item is not None else ""

    def _combo(self, row: int) -> QComboBox:
        widget = self.cellWidget(row, 1)
        assert isinstance(widget, QComboBox)
        return widget

    def with_role(self, role: str) -> list[str]:
        """The columns given ``role`` on this page, in the table's order."""
        return [self._name(r) for r in range(self.rowCount()) if self._combo(r).currentData() == role]

    def set_role(self, column: str, role: str) -> None:
        """Give ``column`` ``role`` ("quasi_identifier", "sensitive" or "") on this page."""
        row = self.columns().index(column)
        self._combo(row).setCurrentIndex(self._combo(row).findData(role))

    def show_hierarchies(self, described: Mapping[str, str]) -> None:
        """Say which hierarchy each quasi-identifier got (from a folder, or built from its values, and how)."""
        for row in range(self.rowCount()):
            text = described.get(self._name(row))
            if text is not None:
                self.setItem(row, 2, QTableWidgetItem(text))


def _spin(low: int, high: int, value: int, off: str | None = None) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    if off is not None:
        spin.setSpecialValueText(off)
    return spin


def _double(
    low: float, high: float, value: float, step: float, decimals: int, off: str | None = None
) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    spin.setValue(value)
    if off is not None:
        spin.setSpecialValueText(off)
    return spin


class QtGeneralizeForm(QGroupBox):
    """The target of a generalization: k, the suppression limit and, optionally, l-diversity or t-closeness of a
    sensitive column and an average-risk threshold; and the information-loss metric (ARX's)."""

    def __init__(self) -> None:
        super().__init__("Generalize to a target")
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.k_spin = _spin(1, 1_000_000, 5)
        self.suppression_spin = _double(0.0, 100.0, 4.0, 1.0, 1)
        self.suppression_spin.setSuffix(" %")
        row = QHBoxLayout()
        row.addWidget(self.k_spin)
        row.addWidget(QLabel("records suppressed at most"))
        row.addWidget(self.suppression_spin)
        form.addRow("k", _wrap(row))
        self.sensitive_combo = QComboBox()
        form.addRow("Sensitive column", self.sensitive_combo)
        self.l_spin = _spin(0, 1000, 0, "off")
        self.l_variant = QComboBox()
        self.l_variant.addItems(list(L_VARIANTS))
        self.c_spin = _double(0.01, 1000.0, 3.0, 0.5, 2)
        self.c_spin.setPrefix("c = ")
        row = QHBoxLayout()
        for widget in (self.l_spin, self.l_variant, self.c_spin):
            row.addWidget(widget)
        form.addRow("l-diversity", _wrap(row))
        self.t_spin = _double(0.0, 1.0, 0.0, 0.05, 3, "off")
        self.risk_spin = _double(0.0, 1.0, 0.0, 0.05, 3, "off")
        row = QHBoxLayout()
        row.addWidget(self.t_spin)
        row.addWidget(QLabel("average risk ≤"))
        row.addWidget(self.risk_spin)
        form.addRow("t-closeness", _wrap(row))
        self.metric_combo = QComboBox()
        self.metric_combo.addItem("non-uniform entropy (ARX, monotonic)", "entropy")
        self.metric_combo.addItem("loss (ARX)", "loss")
        form.addRow("Information loss", self.metric_combo)
        self.l_variant.currentTextChanged.connect(self._on_variant)
        self._on_variant(self.l_variant.currentText())

    def _on_variant(self, variant: str) -> None:
        self.c_spin.setVisible(variant == "recursive")

    def set_sensitive(self, columns: Sequence[str]) -> None:
        current = self.sensitive_combo.currentText()
        self.sensitive_combo.clear()
        self.sensitive_combo.addItem("(none)", None)
        for column in columns:
            self.sensitive_combo.addItem(column, column)
        # keep the analyst's choice; the first time (nothing chosen yet), the first sensitive column
        chosen = self.sensitive_combo.findText(current) if current else (1 if columns else 0)
        self.sensitive_combo.setCurrentIndex(max(chosen, 0))

    def sensitive(self) -> str | None:
        data = self.sensitive_combo.currentData()
        return str(data) if data else None

    def target(self) -> Target:
        """The target as set; :meth:`Target.validate` says what is missing."""
        return Target(
            k=self.k_spin.value(),
            max_suppression=self.suppression_spin.value() / 100.0,
            l=self.l_spin.value() or None,
            l_variant=self.l_variant.currentText(),
            c=self.c_spin.value(),
            t=self.t_spin.value() or None,
            average_risk=self.risk_spin.value() or None,
        )

    def loss_metric(self) -> str:
        return str(self.metric_combo.currentData())


def _wrap(layout: QHBoxLayout) -> QWidget:
    layout.setContentsMargins(0, 0, 0, 0)
    box = QWidget()
    box.setLayout(layout)
    return box


class QtGeneralizeResult(QGroupBox):
    """A generalization's result: the levels per quasi-identifier, what was suppressed, the information loss, the
    lattice searched, and the new dataset as the analyst finds it."""

    ROWS = ("Levels", "Suppressed", "Information loss", "Search", "New dataset")

    def __init__(self) -> None:
        super().__init__("Last generalization")
        form = QFormLayout(self)
        self.values: dict[str, QLabel] = {}
        for name in self.ROWS:
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(name, label)
            self.values[name] = label
        self.hide()

    def show_outcome(self, outcome: dict[str, Any], heights: Mapping[str, int]) -> None:
        levels = outcome["levels"] or {}
        self.values["Levels"].setText(", ".join(f"{q} {lv} of {heights.get(q, 0) - 1}" for q, lv in levels.items()))
        n = outcome["risk_before"]["records"] if outcome.get("risk_before") else 0
        share = f" ({outcome['suppressed_records'] / n:.2%} of {n:,})" if n else ""
        self.values["Suppressed"].setText(
            f"{outcome['suppressed_records']:,} records{share}; at most {outcome['suppression_limit']:,} allowed"
        )
        metric = "non-uniform entropy" if outcome["metric"] == "entropy" else "ARX loss"
        self.values["Information loss"].setText(f"{outcome['information_loss']:.6g} ({metric})")
        self.values["Search"].setText(
            f"{outcome['nodes_checked']:,} of {outcome['lattice_size']:,} transformations checked in "
            f"{outcome['seconds'] * 1000:.0f} ms"
        )
        self.values["New dataset"].setText(str(outcome.get("output_name") or outcome.get("location") or "—"))
        self.show()

    def text(self) -> str:
        """Every row as "name: value", one a line (for tests and for copying)."""
        return "\n".join(f"{name}: {self.values[name].text()}" for name in self.ROWS)
