"""The Anonymize page's table of operators per entity type: one row per entity type, with an operator combo and a
combo of parameter presets for that operator.

The table only shows and reads choices: the page holds the policy, decides whether an edit counts (not while it
fills the controls, not without a policy) and applies it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt, Signal, Slot
from PySide6.QtGui import QTextDocument, QTextOption
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from workbench.ui.qt_highlight import HTML_ROLE, HtmlDelegate, spans_to_html

if TYPE_CHECKING:
    from workbench.core.pii.column_detect import ColumnDetection
    from workbench.core.pii.operators import OperatorConfig
    from workbench.core.pii.policy import Policy
    from workbench.core.pii.preview import PreviewResult

COMMON_ENTITIES = (
    "PERSON", "LOCATION", "PHONE_NUMBER", "EMAIL_ADDRESS", "DATE_TIME", "US_SSN", "CREDIT_CARD", "IP_ADDRESS",
    "URL", "ZIP_CODE", "AGE", "ORGANIZATION", "NRP", "TITLE",
)  # fmt: skip


# A few useful values of whole-number parameters, the default first.
_INT_PRESETS = {"age_band": (10, 5, 20), "zip_digits": (3, 2, 1), "max_shift_days": (180, 30, 365)}


def operator_presets(name: str, entity_type: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Simple parameter choices for an operator's second combo: (label, params); the first is the defaults. With
    ``entity_type``, only the parameters the operator uses for that type (``Operator.params_for``)."""
    from workbench.core.pii.operators import get_operator

    if name == "mask":
        return [
            ("all characters", {}),
            ("last 4 characters", {"chars_to_mask": 4, "from_end": True}),
            ("first 4 characters", {"chars_to_mask": 4}),
            ("letters and digits only", {"skip_separators": True}),
        ]
    presets: list[tuple[str, dict[str, Any]]] = []
    for param in get_operator(name).params_for(entity_type):
        label = param.name.replace("_", " ")
        if param.kind == "choice" and param.name != "kind":
            for choice in param.choices:
                presets.append((f"{label}: {choice}", {} if choice == param.default else {param.name: choice}))
        for value in _INT_PRESETS.get(param.name, ()) if param.kind == "int" else ():
            presets.append((f"{label}: {value}", {} if value == param.default else {param.name: value}))
    if presets:
        # Defaults first.
        presets.sort(key=lambda p: bool(p[1]))
    return presets


def entity_types(
    policy: Policy | None, preview: PreviewResult | None, detections: Sequence[ColumnDetection] | None
) -> list[str]:
    """The rows to show: the common entity types, then (sorted) any other the policy, the last preview or column
    detection names."""
    found: list[str] = list(COMMON_ENTITIES)
    extra: set[str] = set()
    if policy is not None:
        extra.update(k for k, _ in policy.entities)
        extra.update(p.entity_type for _, p in policy.columns if p.entity_type)
    if preview is not None:
        extra.update(preview.legend_counts)
    for d in detections or ():
        if d.entity_type:
            extra.add(d.entity_type)
    return found + sorted(extra - set(found))


class _OneLineHtmlDelegate(HtmlDelegate):
    """An entity type on one line ("PHONE_NUMBER", never "PHONE_NU" / "MBER"): its size hint is the whole name."""

    def _document(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QTextDocument:
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(3)
        one_line = QTextOption()
        one_line.setWrapMode(QTextOption.WrapMode.NoWrap)
        doc.setDefaultTextOption(one_line)
        doc.setHtml(index.data(HTML_ROLE) or html.escape(str(index.data(Qt.ItemDataRole.DisplayRole) or "")))
        return doc

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:  # noqa: N802
        doc = self._document(option, index)
        return QSize(int(doc.idealWidth()) + 8, int(doc.size().height()))


class QtEntityOperatorTable(QTableWidget):
    """Entity type | Operator | Parameters. ``sig_edited(entity, operator_changed)`` when the analyst picks an
    operator or a preset; the page then reads the choice with :meth:`chosen`."""

    sig_edited = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self._rows: dict[str, int] = {}
        self.setHorizontalHeaderLabels(["Entity type", "Operator", "Parameters"])
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.setItemDelegateForColumn(0, _OneLineHtmlDelegate(self))

    def has_entity(self, entity_type: str) -> bool:
        return entity_type in self._rows

    def show_policy(self, entity_types: Sequence[str], policy: Policy | None) -> None:
        """Add rows for entity types not shown yet, then make every row show ``policy``'s operator (no signals)."""
        for entity in entity_types:
            if entity not in self._rows:
                self._add_row(entity)
        if policy is None:
            return
        for entity, row in self._rows.items():
            config = policy.operator_for(entity)
            op_box = _combo(self, row, 1)
            param_box = _combo(self, row, 2)
            op_box.blockSignals(True)
            param_box.blockSignals(True)
            op_box.setCurrentIndex(max(0, op_box.findData(config.operator)))
            _fill_presets(param_box, config, entity)
            op_box.blockSignals(False)
            param_box.blockSignals(False)

    def _add_row(self, entity: str) -> None:
        from workbench.core.pii.operators import operator_specs

        row = self.rowCount()
        self.insertRow(row)
        item = QTableWidgetItem(entity)
        item.setData(HTML_ROLE, spans_to_html(entity, [(0, len(entity), entity)], title=False))
        self.setItem(row, 0, item)
        op_box = QComboBox()
        for spec in operator_specs():
            suffix = " (needs the project key)" if spec.needs_keys else ""
            op_box.addItem(spec.label + suffix, spec.name)
            op_box.setItemData(op_box.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        op_box.setProperty("entity", entity)
        op_box.currentIndexChanged.connect(self._on_combo)
        param_box = QComboBox()
        param_box.setProperty("entity", entity)
        param_box.currentIndexChanged.connect(self._on_combo)
        self.setCellWidget(row, 1, op_box)
        self.setCellWidget(row, 2, param_box)
        self._rows[entity] = row

    def operator_combo(self, entity_type: str) -> QComboBox | None:
        row = self._rows.get(entity_type)
        return None if row is None else _combo(self, row, 1)

    def param_combo(self, entity_type: str) -> QComboBox | None:
        row = self._rows.get(entity_type)
        return None if row is None else _combo(self, row, 2)

    @Slot(int)
    def _on_combo(self, _index: int) -> None:
        sender = self.sender()
        entity = sender.property("entity") if sender is not None else None
        if entity and entity in self._rows:
            self.sig_edited.emit(entity, sender is self.operator_combo(entity))

    def chosen(self, entity_type: str, operator_changed: bool) -> tuple[str, dict[str, Any]] | None:
        """The (operator, parameters) picked for ``entity_type``. A new operator starts from its defaults: its
        preset combo is refilled (without signals)."""
        from workbench.core.pii.operators import OperatorConfig

        row = self._rows.get(entity_type)
        if row is None:
            return None
        op_box = _combo(self, row, 1)
        param_box = _combo(self, row, 2)
        name = op_box.currentData()
        params = None if operator_changed else param_box.currentData()
        if operator_changed:
            param_box.blockSignals(True)
            _fill_presets(param_box, OperatorConfig.create(name), entity_type)
            param_box.blockSignals(False)
        return name, params or {}


def _combo(table: QTableWidget, row: int, column: int) -> QComboBox:
    return cast(QComboBox, table.cellWidget(row, column))


def _fill_presets(box: QComboBox, config: OperatorConfig, entity_type: str | None = None) -> None:
    """The operator's parameter presets for ``entity_type``, the one matching ``config`` selected (or a 'custom'
    item)."""
    box.clear()
    presets = operator_presets(config.operator, entity_type)
    defaults = {k: v for k, v in _create_defaults(config.operator).items()}
    current = config.param_dict
    selected = -1
    for label, params in presets:
        box.addItem(label, params)
        if {**defaults, **params} == current:
            selected = box.count() - 1
    if selected < 0 and current != defaults:
        box.addItem(config.describe(), {k: v for k, v in current.items() if defaults.get(k) != v})
        selected = box.count() - 1
    box.setEnabled(box.count() > 1)
    if box.count() == 0:
        box.addItem("—", {})
    box.setCurrentIndex(max(0, selected))


def _create_defaults(operator: str) -> dict[str, Any]:
    from workbench.core.pii.operators import OperatorConfig

    return OperatorConfig.create(operator).param_dict
