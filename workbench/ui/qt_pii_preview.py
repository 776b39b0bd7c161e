"""The Anonymize page's preview: a legend with the counts per entity type, the preview's status, the temporary-key
note, and a table with each shown column original and anonymized side by side, the detected spans and their
replacements highlighted per entity type."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.qt_highlight import HTML_ROLE, HtmlDelegate, QtLegend, spans_to_html

if TYPE_CHECKING:
    from workbench.core.pii.preview import PreviewCell, PreviewResult

MAX_PREVIEW_LINES = 4
"""A preview row is at most this many lines tall; the whole cell is in its tooltip."""
TEMP_KEY_NOTE = "Preview uses a temporary key; encrypt the project to keep keyed tokens consistent across runs."


def preview_columns(result: PreviewResult | None) -> list[str]:
    """Columns shown: the free-text ones and those the policy changes."""
    if result is None or not result.rows:
        return []
    return [c.column for c in result.rows[0].cells if c.treatment != "keep"]


def anonymized_texts(result: PreviewResult | None, column: str) -> list[str | None]:
    """The anonymized cells of ``column`` in ``result``."""
    if result is None:
        return []
    return [c.anonymized for row in result.rows for c in row.cells if c.column == column]


class QtPiiPreview(QWidget):
    """Legend, status line, key note and the side-by-side table; :meth:`show_result` fills them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.legend = QtLegend()
        layout.addWidget(self.legend)
        status = QHBoxLayout()
        self.status = QLabel("No preview yet.")
        self.key_note = QLabel(TEMP_KEY_NOTE)
        self.key_note.setStyleSheet("color:#663c00; font-size:small;")
        self.key_note.setWordWrap(True)
        status.addWidget(self.status, 1)
        layout.addLayout(status)
        layout.addWidget(self.key_note)
        self.table = QTableWidget(0, 0)
        self.table.setItemDelegate(HtmlDelegate(self.table))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.horizontalHeader().setDefaultSectionSize(220)
        layout.addWidget(self.table, 1)
        self._requested_at: dict[int, float] = {}
        self.last_end_to_end_ms: float | None = None
        """From the request of the shown preview to the table being filled (what the analyst waited)."""

    def requested(self, number: int) -> None:
        """Preview request ``number`` was made now (its result will say how long it took to be shown)."""
        self._requested_at[number] = time.perf_counter()
        self.status.setText("Updating the preview…")

    def clear(self) -> None:
        """No dataset: an empty table and legend."""
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.legend.set_counts({})
        self.status.setText("No preview yet.")

    def show_result(self, result: PreviewResult, number: int | None = None) -> None:
        """The legend, the status line and the table for ``result``, the answer to request ``number``; the status
        says how long the analyst waited for it (request to table filled, including the wait for the analyzer)."""
        self.legend.set_counts(result.legend_counts)
        self._fill_table(result)
        requested = self._requested_at.get(number) if number is not None else None
        self._requested_at = {n: t for n, t in self._requested_at.items() if number is None or n > number}
        waited = (time.perf_counter() - requested) * 1000 if requested is not None else None
        self.last_end_to_end_ms = waited
        shown = f"on screen {waited:,.0f} ms after the request" if waited is not None else f"{result.elapsed_ms:.0f} ms"
        self.status.setText(
            f"First {len(result.rows)} row(s) · {shown} (analysis {result.elapsed_ms:,.0f} ms)"
            + (f" · {result.texts_analyzed} text(s) analysed" if result.texts_analyzed else "")
        )

    def _fill_table(self, result: PreviewResult) -> None:
        shown = preview_columns(result)
        t = self.table
        t.setUpdatesEnabled(False)
        try:
            t.clearContents()
            t.setColumnCount(2 * len(shown))
            t.setRowCount(len(result.rows))
            headers: list[str] = []
            for name in shown:
                headers += [name, f"{name} → anonymized"]
            t.setHorizontalHeaderLabels(headers)
            t.setVerticalHeaderLabels([str(r.row + 1) for r in result.rows])
            for r, row in enumerate(result.rows):
                cells = {c.column: c for c in row.cells}
                for i, name in enumerate(shown):
                    before, after = _cell_items(cells[name])
                    t.setItem(r, 2 * i, before)
                    t.setItem(r, 2 * i + 1, after)
        finally:
            t.setUpdatesEnabled(True)
        t.resizeRowsToContents()
        cap = t.fontMetrics().lineSpacing() * MAX_PREVIEW_LINES + 8
        for r in range(t.rowCount()):
            if t.rowHeight(r) > cap:
                t.setRowHeight(r, cap)


def _cell_items(cell: PreviewCell) -> tuple[QTableWidgetItem, QTableWidgetItem]:
    """The original and the anonymized item of one preview cell, spans highlighted."""
    original = cell.original or ""
    before = QTableWidgetItem(original)
    before.setToolTip(original)
    before.setData(HTML_ROLE, spans_to_html(original, [(s.start, s.end, s.entity_type) for s in cell.spans]))
    if cell.anonymized is None and cell.treatment == "drop":
        after = QTableWidgetItem("(column dropped)")
        after.setData(HTML_ROLE, '<span style="color:#888">(column dropped)</span>')
    else:
        new = cell.anonymized or ""
        after = QTableWidgetItem(new)
        after.setToolTip(new)
        after.setData(HTML_ROLE, spans_to_html(new, [(s.start, s.end, s.entity_type) for s in cell.replacements]))
    return before, after
