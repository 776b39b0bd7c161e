"""The per-column summary table with an editable role column."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from workbench.core.data.dataset import ColumnRole, ColumnSummary

AnyIndex = QModelIndex | QPersistentModelIndex

ROLE_COLORS = {
    ColumnRole.DIRECT_IDENTIFIER: QColor("#fde2e1"),
    ColumnRole.QUASI_IDENTIFIER: QColor("#fff1d6"),
    ColumnRole.SENSITIVE: QColor("#ece1fb"),
    ColumnRole.FREE_TEXT: QColor("#dff0fb"),
    ColumnRole.LABEL: QColor("#e2f5e4"),
    ColumnRole.OTHER: QColor("#ffffff"),
}

HEADERS = ("Column", "Type", "Missing", "Distinct", "Role", "Why suggested", "Examples")
COL_ROLE = 4


class ColumnSummaryModel(QAbstractTableModel):
    """Rows are the dataset's columns; the Role cell is editable and announces changes."""

    sig_roles_changed = Signal(object)
    """dict[str, ColumnRole]: the whole role map after the analyst changed one role."""

    def __init__(
        self,
        summaries: tuple[ColumnSummary, ...] = (),
        roles: dict[str, ColumnRole] | None = None,
        rows: int = 0,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._summaries = summaries
        self._rows = rows
        self._roles = dict(roles) if roles else {s.name: s.suggested_role for s in summaries}

    def set_data(self, summaries: tuple[ColumnSummary, ...], roles: dict[str, ColumnRole], rows: int) -> None:
        self.beginResetModel()
        self._summaries = summaries
        self._roles = {s.name: roles.get(s.name, s.suggested_role) for s in summaries}
        self._rows = rows
        self.endResetModel()

    def roles(self) -> dict[str, ColumnRole]:
        return dict(self._roles)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._summaries)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid() and index.column() == COL_ROLE:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        s = self._summaries[index.row()]
        col = index.column()
        current = self._roles[s.name]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if col == 0:
                return s.name
            if col == 1:
                return s.dtype
            if col == 2:
                pct = (100.0 * s.missing / self._rows) if self._rows else 0.0
                return f"{s.missing:,} ({pct:.1f}%)" if s.missing else "0"
            if col == 3:
                return f"{s.distinct:,}"
            if col == COL_ROLE:
                return current.label if role == Qt.ItemDataRole.DisplayRole else current.value
            if col == 5:
                suffix = "" if current is s.suggested_role else f" (suggested: {s.suggested_role.label})"
                return s.role_reason + suffix
            if col == 6:
                return ", ".join(s.examples)
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_ROLE:
            return ROLE_COLORS[current]
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_ROLE:
            return "Double-click to change the role. Roles are saved with the dataset in the project."
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if not index.isValid() or index.column() != COL_ROLE or role != Qt.ItemDataRole.EditRole:
            return False
        try:
            new_role = value if isinstance(value, ColumnRole) else ColumnRole.parse(str(value))
        except ValueError:
            return False
        name = self._summaries[index.row()].name
        if self._roles[name] is new_role:
            return False
        self._roles[name] = new_role
        row = index.row()
        self.dataChanged.emit(self.index(row, COL_ROLE), self.index(row, 5))
        self.sig_roles_changed.emit(dict(self._roles))
        return True

    def set_role(self, column_name: str, role: ColumnRole) -> bool:
        for row, s in enumerate(self._summaries):
            if s.name == column_name:
                return self.setData(self.index(row, COL_ROLE), role.value)
        return False


class RoleDelegate(QStyledItemDelegate):
    """A combo box editor listing every column role."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: AnyIndex) -> QWidget:  # noqa: N802
        combo = QComboBox(parent)
        for role in ColumnRole:
            combo.addItem(role.label, role.value)
        return combo

    def setEditorData(self, editor: QWidget, index: AnyIndex) -> None:  # noqa: N802
        assert isinstance(editor, QComboBox)
        pos = editor.findData(index.data(Qt.ItemDataRole.EditRole))
        editor.setCurrentIndex(max(pos, 0))

    def setModelData(self, editor: QWidget, model: Any, index: AnyIndex) -> None:  # noqa: N802
        assert isinstance(editor, QComboBox)
        model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)
