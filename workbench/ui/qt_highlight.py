"""Painting text with highlighted spans (detected PII, replacements) in table cells, and a colour legend."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

HTML_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""Item data role under which a model returns the cell as highlighted HTML."""

_PALETTE = {
    "PERSON": "#ffd6d6",
    "LOCATION": "#d6ecff",
    "PHONE_NUMBER": "#ffe9c7",
    "EMAIL_ADDRESS": "#e6dcff",
    "DATE_TIME": "#d9f2df",
    "US_SSN": "#ffd0ec",
    "CREDIT_CARD": "#f4e3c1",
    "BANK_CARD": "#f4e3c1",
    "URL": "#e0f0f0",
    "IP_ADDRESS": "#e8e8d0",
    "NRP": "#f0dcdc",
    "CN_RESIDENT_ID": "#ffd0ec",
    "CN_MOBILE": "#ffe9c7",
}


def entity_color(entity_type: str) -> str:
    """A stable light colour per entity type (fixed for the common ones, derived from the name otherwise)."""
    if entity_type in _PALETTE:
        return _PALETTE[entity_type]
    digest = hashlib.sha256(entity_type.encode()).digest()
    r, g, b = (200 + digest[i] % 55 for i in range(3))
    return f"#{r:02x}{g:02x}{b:02x}"


def spans_to_html(text: str, spans: Iterable[tuple[int, int, str]], title: bool = True) -> str:
    """``text`` as HTML with each (start, end, entity_type) span on its entity's colour. Overlaps: first wins."""
    out: list[str] = []
    pos = 0
    for start, end, entity in sorted(spans):
        if start < pos or end <= start:
            continue
        out.append(html.escape(text[pos:start]))
        tip = f' title="{html.escape(entity)}"' if title else ""
        out.append(f'<span style="background:{entity_color(entity)}"{tip}>{html.escape(text[start:end])}</span>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")


class HtmlDelegate(QStyledItemDelegate):
    """Renders the model's :data:`HTML_ROLE` as rich text, wrapped to the column width."""

    def _document(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QTextDocument:
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(3)
        doc.setHtml(index.data(HTML_ROLE) or html.escape(str(index.data(Qt.ItemDataRole.DisplayRole) or "")))
        doc.setTextWidth(max(40, option.rect.width()))
        return doc

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        doc = self._document(option, index)
        painter.save()
        painter.translate(option.rect.topLeft())
        painter.setClipRect(QRectF(0, 0, option.rect.width(), option.rect.height()))
        ctx = QAbstractTextDocumentLayout.PaintContext()
        if opt.state & QStyle.StateFlag.State_Selected:
            ctx.palette.setColor(QPalette.ColorRole.Text, opt.palette.color(QPalette.ColorRole.HighlightedText))
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:  # noqa: N802
        doc = self._document(option, index)
        return QSize(int(doc.idealWidth()), int(doc.size().height()))


class QtLegend(QLabel):
    """One coloured chip per entity type with its count, wrapped over as many lines as the width needs (a chip never
    breaks: its name and count are joined by non-breaking spaces)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self._texts: list[str] = []

    def set_counts(self, counts: Mapping[str, int] | Sequence[tuple[str, int]]) -> None:
        items = sorted(counts.items() if isinstance(counts, Mapping) else counts, key=lambda kv: (-kv[1], kv[0]))
        self._texts = [f"{entity} {count:,}" for entity, count in items]
        if not items:
            self._texts = ["No personal data detected in the visible rows."]
            self.setText(f'<span style="color:#666;">{self._texts[0]}</span>')
            return
        chips = [
            f'<span style="background:{entity_color(entity)};">&nbsp;{html.escape(entity)}&nbsp;{count:,}&nbsp;</span>'
            for entity, count in items
        ]
        self.setText(" &nbsp; ".join(chips))

    def texts(self) -> list[str]:
        return list(self._texts)
