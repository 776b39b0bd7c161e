"""The Audit log page (issue 18): the project's tamper-evident log in a table, filtered by kind, dataset and time,
with the chain's verdict on top, the head to record elsewhere, and export to CSV or JSON.

Everything it shows comes from :mod:`workbench.services.audit` (the same reading, verification and export as
``workbench audit-log``). The filters:

- **kind**: an action family, the part of the action before its dot (``dataset``, ``training_run``...), built from
  the actions present in the log;
- **dataset**: the entries whose detail names the dataset (its id, fingerprint or name, or a training run started
  on it: :func:`workbench.services.audit.names_dataset`);
- **time**: from/to dates, in UTC like the log's timestamps, both days included.

Export writes exactly the entries the filters select. Entries hold ids, names, counts and parameters, never a
dataset value, so the table and the exported files may be shown and kept in clear.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QDateTime, QModelIndex, QPersistentModelIndex, Qt, Slot
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

from workbench.core.errors import WorkbenchError
from workbench.ui.qt_project_page import QtProjectPage

if TYPE_CHECKING:
    from workbench.services.audit import AuditVerdict
    from workbench.services.session import ProjectSession
    from workbench.ui.qt_main_window import QtMainWindow

PAGE_NAME = "Audit log"
ALL_KINDS = "All kinds"
ALL_DATASETS = "All datasets"
DETAIL_CHARS = 160
_BROKEN_BRUSH = QBrush(QColor("#fdecea"))
AnyIndex = QModelIndex | QPersistentModelIndex


def compact_detail(detail_json: str, limit: int = DETAIL_CHARS) -> str:
    """An entry's detail on one line, ``key=value`` pairs in stored order, cut at ``limit`` characters."""
    try:
        detail = json.loads(detail_json)
    except ValueError:
        return detail_json[:limit]
    if not isinstance(detail, dict):
        text = json.dumps(detail, ensure_ascii=False)
    else:
        parts = []
        for key, value in detail.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            parts.append(f"{key}={shown}")
        text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown_time(ts: str) -> str:
    """``2026-12-02T12:28:12.587+00:00`` as ``2026-12-02 12:28:12.587`` (the column says UTC)."""
    return ts.replace("T", " ").removesuffix("+00:00")


def action_kind(action: str) -> str:
    """The family of an action: ``dataset`` for ``dataset.exported``."""
    return action.partition(".")[0]


class AuditTableModel(QAbstractTableModel):
    """Read-only rows of the audit log: id, time, action and the compact detail (the whole detail as tooltip)."""

    HEADERS = ("#", "Time (UTC)", "Action", "Detail")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []
        self._compact: list[str] = []
        self.broken_at: int | None = None

    def set_rows(self, rows: list[dict[str, Any]], broken_at: int | None = None) -> None:
        self.beginResetModel()
        self._rows = rows
        self._compact = [compact_detail(r["detail_json"]) for r in rows]
        self.broken_at = broken_at
        self.endResetModel()

    def row(self, index: int) -> dict[str, Any]:
        return self._rows[index]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (str(row["id"]), _shown_time(row["ts"]), row["action"], self._compact[index.row()])[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 3:
            return row["detail_json"]
        if role == Qt.ItemDataRole.BackgroundRole and self.broken_at is not None and row["id"] == self.broken_at:
            return _BROKEN_BRUSH
        return None


class QtAuditPage(QtProjectPage):
    """See the module docstring. It reads the window's open project (and vault) when shown, when the project or its
    lock state changes, and on Verify."""

    def __init__(self, window: QtMainWindow) -> None:
        super().__init__()
        self._window = window
        self.verdict: AuditVerdict | None = None
        self.head_text = ""
        self._build()
        window.vault_ctl.sig_state_changed.connect(self._on_vault_state)

    # --- layout ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.chain_label = QLabel()
        self.chain_label.setWordWrap(True)
        self.chain_label.setTextFormat(Qt.TextFormat.RichText)
        self.chain_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.chain_label)
        layout.addLayout(self._build_filters())
        self.model = AuditTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)  # one line an entry; the whole detail is the tooltip
        header = self.table.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setMinimumHeight(220)
        layout.addWidget(self.table, 1)
        self.count_label = QLabel()
        layout.addWidget(self.count_label)
        layout.addLayout(self._build_buttons())
        self.head_label = QLabel()
        self.head_label.setWordWrap(True)
        self.head_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.head_label)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        layout.addWidget(self.message)

    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.kind_combo = QComboBox()
        self.kind_combo.setToolTip("Show one kind of action (the part of its name before the dot).")
        self.dataset_combo = QComboBox()
        self.dataset_combo.setToolTip("Show the entries that name this dataset: its id, fingerprint or name.")
        self.time_check = QCheckBox("Between")
        self.time_check.setToolTip("Show the entries of these days only (UTC, both days included).")
        self.from_edit, self.to_edit = QDateEdit(), QDateEdit()
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setDate(QDateTime.currentDateTimeUtc().date())
            edit.setEnabled(False)
        row.addWidget(QLabel("Kind"))
        row.addWidget(self.kind_combo)
        row.addWidget(QLabel("Dataset"))
        row.addWidget(self.dataset_combo, 1)
        row.addWidget(self.time_check)
        row.addWidget(self.from_edit)
        row.addWidget(QLabel("and"))
        row.addWidget(self.to_edit)
        self.kind_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.dataset_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.time_check.toggled.connect(self._on_time_toggled)
        self.from_edit.dateChanged.connect(self._on_filter_changed)
        self.to_edit.dateChanged.connect(self._on_filter_changed)
        return row

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Check every entry's hash, the chain and the head's signature again.")
        self.copy_head_button = QPushButton("Copy head")
        self.copy_head_button.setToolTip(
            "Copy the head (SEQ:HASH) to record elsewhere; `workbench audit-log verify --since-head` checks it later."
        )
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_json_button = QPushButton("Export JSON…")
        self.verify_button.clicked.connect(self.verify)
        self.copy_head_button.clicked.connect(self.copy_head)
        self.export_csv_button.clicked.connect(self._on_export_csv)
        self.export_json_button.clicked.connect(self._on_export_json)
        for button in (self.verify_button, self.copy_head_button, self.export_csv_button, self.export_json_button):
            row.addWidget(button)
        row.addStretch(1)
        return row

    # --- state ----------------------------------------------------------------------------------------------

    def _session(self) -> ProjectSession | None:
        from workbench.services.session import ProjectSession

        if self._window.project is None:
            return None
        return ProjectSession(self._window.project, self._window.vault_ctl.vault)

    def filters(self) -> dict[str, Any]:
        """The filters chosen, as keywords of :func:`workbench.services.audit.iter_audit_rows`."""
        out: dict[str, Any] = {}
        kind = self.kind_combo.currentData()
        if kind:
            out["action"] = kind
        dataset = self.dataset_combo.currentData()
        if dataset is not None:
            out["dataset"] = int(dataset)
        if self.time_check.isChecked():
            start, end = sorted((self.from_edit.date(), self.to_edit.date()))
            out["since"] = start.toString("yyyy-MM-dd")
            out["until"] = end.addDays(1).toString("yyyy-MM-dd")  # the whole last day: "…T23:59" < next day
        return out

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh()

    @Slot(str)
    def _on_vault_state(self, _state: str) -> None:
        if self.isVisible():
            self.refresh()

    @Slot(bool)
    def _on_time_toggled(self, on: bool) -> None:
        self.from_edit.setEnabled(on)
        self.to_edit.setEnabled(on)
        self._on_filter_changed()

    @Slot()
    def _on_filter_changed(self) -> None:
        self.load_rows()

    # --- reading and verifying ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the project again: the kinds and datasets to filter by, the chain's verdict and the rows."""
        session = self._session()
        self._fill_choices(session)
        if session is None:
            self.model.set_rows([])
            self.chain_label.setText("No project is open.")
            self.count_label.clear()
            self.head_label.clear()
            return
        self.verify()

    def _fill_choices(self, session: ProjectSession | None) -> None:
        from workbench.services.audit import iter_audit_rows
        from workbench.services.dataset_labels import dataset_labels

        kinds: list[str] = []
        datasets: list[tuple[str, int]] = []
        if session is not None:
            try:
                kinds = sorted({action_kind(r["action"]) for r in iter_audit_rows(session)})
                records = session.project.datasets()
                labels = dataset_labels(records, session.project)  # the labels the Data page shows
                datasets = [(labels[r.id], r.id) for r in records]
            except WorkbenchError as exc:
                self.show_message("error", f"The audit log cannot be read: {exc}")
        _refill(self.kind_combo, [(ALL_KINDS, None), *((k, k) for k in kinds)])
        _refill(self.dataset_combo, [(ALL_DATASETS, None), *datasets])

    @Slot()
    def verify(self) -> AuditVerdict | None:
        """Check the chain and its signed head, show the verdict on top and the rows (the broken one in red)."""
        from workbench.services.audit import verify_audit_log

        session = self._session()
        if session is None:
            self.show_message("error", "Open a project first.")
            return None
        try:
            verdict = verify_audit_log(session)
        except WorkbenchError as exc:
            self.show_message("error", f"The audit log could not be verified: {exc}")
            return None
        self.verdict = verdict
        report = verdict.report
        self.head_text = f"{report.head_seq}:{report.head_hash}"
        self.chain_label.setText(_verdict_html(verdict))
        self.load_rows()
        return verdict

    def load_rows(self) -> None:
        """Show the entries the filters select."""
        from workbench.services.audit import iter_audit_rows

        session = self._session()
        if session is None:
            return
        try:
            rows = list(iter_audit_rows(session, **self.filters()))
        except WorkbenchError as exc:
            self.show_message("error", f"The audit log cannot be read: {exc}")
            return
        broken = self.verdict.report.broken_at if self.verdict is not None else None
        self.model.set_rows(rows, broken)
        self.count_label.setText(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'} shown")

    # --- head and export ----------------------------------------------------------------------------------

    @Slot()
    def copy_head(self) -> str:
        """Put the head (``SEQ:HASH``) on the clipboard and show it."""
        if self.verify() is None:
            return ""
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.head_text)
        self.head_label.setText(
            f"Head {self.head_text} copied. Record it elsewhere (a ticket, a letter); "
            "`workbench audit-log verify --since-head` later proves the log still extends it."
        )
        return self.head_text

    @Slot()
    def _on_export_csv(self) -> None:
        self._export_dialog("csv")

    @Slot()
    def _on_export_json(self) -> None:
        self._export_dialog("json")

    def _export_dialog(self, fmt: str) -> None:
        suggested = str(Path.home() / f"audit-log.{fmt}")
        path, _ = QFileDialog.getSaveFileName(self, f"Export the audit log as {fmt.upper()}", suggested, f"*.{fmt}")
        if path:
            self.export(Path(path), fmt)

    def export(self, out: Path, fmt: str) -> int | None:
        """Write the entries the filters select to ``out`` (replacing it: the dialog asked); audited."""
        from workbench.services.audit import export_audit_log

        session = self._session()
        if session is None:
            self.show_message("error", "Open a project first.")
            return None
        try:
            count = export_audit_log(session, out, fmt, overwrite=True, **self.filters())
        except WorkbenchError as exc:
            self.show_message("error", f"Nothing was exported. {exc}")
            return None
        self.show_message("info", f"{count} entr{'y' if count == 1 else 'ies'} exported to {out}")
        self.verify()  # the export is itself an entry
        return count


def _refill(combo: QComboBox, items: list[tuple[str, Any]]) -> None:
    """Replace a combo's items, keeping the choice when it is still there, without firing its signal."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    index = combo.findData(current)
    combo.setCurrentIndex(max(index, 0))
    combo.blockSignals(False)


def _verdict_html(verdict: AuditVerdict) -> str:
    """The verdict's lines, the broken entry and any refusal in red, an intact signed chain in green."""
    from html import escape

    lines = []
    for line in verdict.lines():
        bad = "BROKEN" in line or "NOT" in line
        color = "#b00020" if bad else "#1b5e20" if verdict.ok else "#663c00"  # (never signed: a warning)
        lines.append(f'<span style="color:{color}">{escape(line)}</span>')
    return "<br>".join(lines)


def install(window: QtMainWindow) -> QtAuditPage:
    """Create the page and add it to the window's navigation as "Audit log"."""
    page = QtAuditPage(window)
    window.add_page(PAGE_NAME, page)
    return page
