"""A page's own progress row: a bar and a Cancel button, shown while one of its jobs runs (Keys and sharing,
Report). The bar follows the job's immutable progress snapshots."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from workbench.core.jobs import Progress


def progress_row(on_cancel: Callable[[], None]) -> tuple[QWidget, QProgressBar, QPushButton]:
    """The row (hidden until a job starts), its bar and its Cancel button (which calls ``on_cancel``)."""
    row = QHBoxLayout()
    bar = QProgressBar()
    bar.setMaximumHeight(16)
    cancel = QPushButton("Cancel")
    cancel.clicked.connect(on_cancel)
    row.addWidget(bar, 1)
    row.addWidget(cancel)
    row.setContentsMargins(0, 0, 0, 0)
    box = QWidget()
    box.setLayout(row)
    box.hide()
    return box, bar, cancel


def show_progress(bar: QProgressBar, progress: Progress) -> None:
    """A snapshot on the bar: busy when its fraction is unknown, else the fraction; its message as the text, elided
    to the bar's width (the whole message in the tooltip)."""
    if progress.fraction is None:
        bar.setRange(0, 0)
    else:
        bar.setRange(0, 1000)
        bar.setValue(int(progress.fraction * 1000))
    text = progress.message or progress.phase
    bar.setToolTip(text)
    elided = bar.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, max(bar.width() - 12, 40))
    bar.setFormat(elided)
