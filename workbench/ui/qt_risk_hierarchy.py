"""The hierarchy editor of the Risk page (issue 17): one quasi-identifier's generalization hierarchy built with a
chosen builder (numeric intervals, dates, masking, ordered categories, one level) and its parameters, previewed
live (each value and its label per level, the first rows, with how many values and levels), exported as an ARX CSV
or used for the page's preview and generalization instead of the built or folder one.

The building is :func:`workbench.services.risk.build_hierarchy`, the same use case as ``workbench hierarchy``; a bad
parameter is said in the dialog, and "Use for this page" and "Export" wait until the parameters build a hierarchy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.ui.qt_message import show_page_message

if TYPE_CHECKING:
    from workbench.core.data.dataset import Dataset
    from workbench.core.risk.hierarchy import Hierarchy

PREVIEW_ROWS = 200
KIND_CHOICES = (
    ("Numeric intervals", "intervals"),
    ("Dates (month, year, decade)", "dates"),
    ("Masking from the right", "masking"),
    ("Ordered categories", "ordered"),
    ("One level (the value, then *)", "one-level"),
)
DATE_LEVELS = ("month", "year", "decade")


@dataclass(frozen=True, slots=True)
class HierarchyChoice:
    """A builder and its parameters, as the editor and :func:`build_hierarchy` take them."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


def _parse_list(text: str, name: str, kind: type) -> list[Any]:
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise WorkbenchError(f"{name} are comma-separated numbers, e.g. 5,10,20") from None


def suggested_choice(dataset: Dataset, column: str) -> HierarchyChoice:
    """The builder and parameters the page would build for ``column`` (its suggested hierarchy), as a start."""
    from workbench.services.risk import suggest_hierarchies

    hierarchies, what = suggest_hierarchies(dataset, [column])
    described = what[column]
    if described.startswith("intervals"):
        widths = []
        for label in hierarchies[column].rows[0][1:-1]:
            low, high = label.strip("[").split(", ")
            widths.append(float(high.rstrip("[")) - float(low))
        return HierarchyChoice("intervals", {"widths": widths})
    if described.startswith("dates"):
        return HierarchyChoice("dates", {})
    if described.startswith("masking"):
        return HierarchyChoice("masking", {"mask": "*"})
    return HierarchyChoice("one-level", {})


class QtHierarchyEditor(QDialog):
    """See the module docstring."""

    sig_use_hierarchy = Signal(str, object, str, object)
    """Use for the page: column, its Hierarchy, what it is ("edited: intervals 5,10,20"), the HierarchyChoice."""

    def __init__(self, dataset: Dataset, column: str, start: HierarchyChoice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Hierarchy of {column}")
        self._dataset, self.column = dataset, column
        self.hierarchy: Hierarchy | None = None
        self.label = ""
        self._build()
        self._load(start)
        self.rebuild()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kind_combo = QComboBox()
        for text, kind in KIND_CHOICES:
            self.kind_combo.addItem(text, kind)
        self.widths_edit = QLineEdit()
        self.widths_edit.setPlaceholderText("5,10,20 (each a multiple of the one before)")
        self.mask_edit = QLineEdit("*")
        self.mask_edit.setMaxLength(1)
        self.groups_edit = QLineEdit()
        self.groups_edit.setPlaceholderText("2,4 (values per group; each a multiple of the one before)")
        self.date_checks = {level: QCheckBox(level) for level in DATE_LEVELS}
        dates = QHBoxLayout()
        for check in self.date_checks.values():
            check.setChecked(True)
            dates.addWidget(check)
        self._dates_box = QWidget()
        self._dates_box.setLayout(dates)
        form.addRow("Builder", self.kind_combo)
        form.addRow("Interval widths", self.widths_edit)
        form.addRow("Mask character", self.mask_edit)
        form.addRow("Group sizes", self.groups_edit)
        form.addRow("Date levels", self._dates_box)
        self._form = form
        layout.addLayout(form)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        self.summary = QLabel()
        layout.addWidget(self.summary)
        self.preview = QTableWidget(0, 0)
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        layout.addWidget(self.preview, 1)
        layout.addLayout(self._build_buttons())
        self.kind_combo.currentIndexChanged.connect(self._on_changed)
        for edit in (self.widths_edit, self.mask_edit, self.groups_edit):
            edit.textChanged.connect(self._on_changed)
        for check in self.date_checks.values():
            check.toggled.connect(self._on_changed)
        self.resize(640, 520)

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.export_button = QPushButton("Export as ARX CSV…")
        self.export_button.clicked.connect(self.choose_export)
        self.use_button = QPushButton("Use for this page")
        self.use_button.setDefault(True)
        self.use_button.clicked.connect(self.use)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        row.addWidget(self.export_button)
        row.addStretch(1)
        row.addWidget(self.use_button)
        row.addWidget(close)
        return row

    def _load(self, choice: HierarchyChoice) -> None:
        widgets = (self.kind_combo, self.widths_edit, self.mask_edit, self.groups_edit, *self.date_checks.values())
        for widget in widgets:
            widget.blockSignals(True)
        self.kind_combo.setCurrentIndex(max(self.kind_combo.findData(choice.kind), 0))
        p = choice.params
        self.widths_edit.setText(",".join(f"{w:g}" for w in p.get("widths") or [5, 10, 20]))
        self.mask_edit.setText(p.get("mask", "*"))
        self.groups_edit.setText(",".join(str(g) for g in p.get("group_sizes") or [2, 4]))
        for level, check in self.date_checks.items():
            check.setChecked(level in (p.get("date_levels") or DATE_LEVELS))
        for widget in widgets:
            widget.blockSignals(False)

    def choice(self) -> HierarchyChoice:
        """The builder and parameters the form holds (a parameter that cannot be read raises WorkbenchError)."""
        kind = self.kind_combo.currentData()
        if kind == "intervals":
            return HierarchyChoice(kind, {"widths": _parse_list(self.widths_edit.text(), "interval widths", float)})
        if kind == "masking":
            return HierarchyChoice(kind, {"mask": self.mask_edit.text()})
        if kind == "ordered":
            return HierarchyChoice(kind, {"group_sizes": _parse_list(self.groups_edit.text(), "group sizes", int)})
        if kind == "dates":
            return HierarchyChoice(kind, {"date_levels": [lv for lv, c in self.date_checks.items() if c.isChecked()]})
        return HierarchyChoice(kind, {})

    @Slot()
    def _on_changed(self, *_args: object) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        """Build the hierarchy from the form and preview it; a bad parameter is said here and disables the use."""
        from workbench.services.risk import build_hierarchy, hierarchy_build_label

        kind = self.kind_combo.currentData()
        rows = {"intervals": self.widths_edit, "masking": self.mask_edit, "ordered": self.groups_edit}
        for row_kind, widget in {**rows, "dates": self._dates_box}.items():
            self._form.setRowVisible(widget, kind == row_kind)
        try:
            choice = self.choice()
            self.hierarchy = build_hierarchy(self._dataset, self.column, choice.kind, **choice.params)
            self.label = hierarchy_build_label(choice.kind, **choice.params)
        except WorkbenchError as exc:
            self.hierarchy, self.label = None, ""
            show_page_message(self.error, "error", str(exc))
        else:
            self.error.hide()
        self.use_button.setEnabled(self.hierarchy is not None)
        self.export_button.setEnabled(self.hierarchy is not None)
        self._show_preview()

    def _show_preview(self) -> None:
        h = self.hierarchy
        rows = h.rows[:PREVIEW_ROWS] if h is not None else ()
        width = h.height if h is not None else 0
        self.preview.setRowCount(len(rows))
        self.preview.setColumnCount(width)
        self.preview.setHorizontalHeaderLabels([self.column] + [f"level {i}" for i in range(1, width)])
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                self.preview.setItem(i, j, QTableWidgetItem(text))
        if h is None:
            self.summary.setText("No hierarchy: fix the parameters above.")
            return
        shown = f"; the first {PREVIEW_ROWS} shown" if len(h.rows) > PREVIEW_ROWS else ""
        self.summary.setText(f"{len(h.rows)} distinct values, {h.height} levels (the value included){shown}")

    @Slot()
    def use(self) -> None:
        """Hand the hierarchy to the page (its preview and generalization use it) and close."""
        if self.hierarchy is None:
            return
        self.sig_use_hierarchy.emit(self.column, self.hierarchy, self.label, self.choice())
        self.accept()

    @Slot()
    def choose_export(self) -> None:
        name = f"hierarchy_{self.column}.csv"
        path, _filter = QFileDialog.getSaveFileName(self, "Export as ARX CSV", str(Path.home() / name), "CSV (*.csv)")
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> bool:
        """Write the hierarchy as an ARX CSV (``write_arx_csv``); a failure is said in the dialog."""
        from workbench.core.risk.hierarchy import write_arx_csv

        if self.hierarchy is None:
            return False
        try:
            write_arx_csv(self.hierarchy, path)
        except OSError as exc:
            show_page_message(self.error, "error", f"{path} cannot be written: {exc.strerror or exc}")
            return False
        show_page_message(self.error, "info", f"Written: {path}")
        return True
