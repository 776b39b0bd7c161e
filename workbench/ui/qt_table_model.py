"""A virtualized table model over an Arrow table.

The view asks only for the cells it paints. The model converts rows to Python values a block at a time (256 rows)
and keeps a small LRU of blocks, so scrolling a million rows costs a handful of small Arrow slices, not a
conversion of the whole table. Sorting computes a permutation with Arrow's ``sort_indices`` (which releases the
GIL) in a job, and the model then reads rows through it.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

BLOCK_ROWS = 256
MAX_BLOCKS = 64
_MISSING_BRUSH = QBrush(QColor("#f3f0f7"))
_NUMERIC_ALIGN = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

AnyIndex = QModelIndex | QPersistentModelIndex


def format_cell(value: Any) -> str:
    """How a cell value is shown: compact, locale-neutral, empty for missing values."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.6g}"
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    text = str(value)
    # One line per cell; the tooltip shows the whole value.
    return text if "\n" not in text else text.replace("\r\n", " ⏎ ").replace("\n", " ⏎ ")


class ArrowTableModel(QAbstractTableModel):
    """Read-only, sortable model over a ``pyarrow.Table``."""

    sig_sort_requested = Signal(int, object)
    """(column, Qt.SortOrder): the view asked for a sort; the page computes it in a job and calls apply_order."""

    def __init__(self, table: pa.Table, parent: Any = None) -> None:
        super().__init__(parent)
        self._table = table
        self._names = list(table.column_names)
        self._numeric = [_is_numeric(table.schema.field(i).type) for i in range(table.num_columns)]
        self._order: np.ndarray | None = None  # row permutation after a sort
        self._blocks: OrderedDict[int, list[list[Any]]] = OrderedDict()
        self.sort_column = -1
        self.sort_order = Qt.SortOrder.AscendingOrder

    @property
    def table(self) -> pa.Table:
        return self._table

    # --- Qt model API ---------------------------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else int(self._table.num_rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._names)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return format_cell(self.value(index.row(), index.column()))
        if role == Qt.ItemDataRole.ToolTipRole:
            value = self.value(index.row(), index.column())
            return None if value is None else str(value)[:2000]
        if role == Qt.ItemDataRole.TextAlignmentRole and self._numeric[index.column()]:
            return _NUMERIC_ALIGN
        if role == Qt.ItemDataRole.BackgroundRole and self.value(index.row(), index.column()) is None:
            return _MISSING_BRUSH
        return None

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._names[section] if 0 <= section < len(self._names) else None
        # Row headers show the row's position in the file (1-based), also after sorting.
        return str(self.source_row(section) + 1)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if 0 <= column < len(self._names):
            self.sig_sort_requested.emit(column, order)

    # --- access -----------------------------------------------------------------------------------------------

    def source_row(self, row: int) -> int:
        return int(self._order[row]) if self._order is not None else row

    def value(self, row: int, column: int) -> Any:
        block_no, offset = divmod(row, BLOCK_ROWS)
        block = self._blocks.get(block_no)
        if block is None:
            block = self._load_block(block_no)
        else:
            self._blocks.move_to_end(block_no)
        return block[column][offset]

    def _load_block(self, block_no: int) -> list[list[Any]]:
        start = block_no * BLOCK_ROWS
        stop = min(start + BLOCK_ROWS, self._table.num_rows)
        if self._order is None:
            part = self._table.slice(start, stop - start)
        else:
            part = self._table.take(self._order[start:stop])
        block = [col.to_pylist() for col in part.columns]
        self._blocks[block_no] = block
        if len(self._blocks) > MAX_BLOCKS:
            self._blocks.popitem(last=False)
        return block

    def apply_order(self, column: int, order: Qt.SortOrder, permutation: np.ndarray | None) -> None:
        """Show rows in ``permutation`` order (``None``: file order). Called in the GUI thread."""
        self.layoutAboutToBeChanged.emit()
        self._order = permutation
        self._blocks.clear()
        self.sort_column, self.sort_order = column, order
        self.layoutChanged.emit()


def compute_sort_permutation(table: pa.Table, column: int, descending: bool) -> np.ndarray:
    """Row order that sorts ``table`` by one column, missing values last. Pure function, safe in a worker."""
    import pyarrow.compute as pc

    indices = pc.sort_indices(
        table.select([column]),
        sort_keys=[(table.column_names[column], "descending" if descending else "ascending", "at_end")],
    )
    return indices.to_numpy()


def _is_numeric(arrow_type: Any) -> bool:
    import pyarrow.types as pat

    return bool(pat.is_integer(arrow_type) or pat.is_floating(arrow_type) or pat.is_decimal(arrow_type))
