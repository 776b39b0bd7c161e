"""The Data page: load a dataset, browse it in a virtualized table, review column summaries and set roles."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.core.data.cache import DatasetCache
from workbench.core.data.dataset import ColumnRole, Dataset, LoadOptions
from workbench.core.data.misreads import MisreadError, recorded_header
from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.core.project.registration import register_loaded
from workbench.ui import qt_data_questions
from workbench.ui.qt_dataset_labels import add_dataset_items, same_bytes_note
from workbench.ui.qt_jobs import QtJobRunner
from workbench.ui.qt_message import show_page_message
from workbench.ui.qt_summary_model import ColumnSummaryModel, RoleDelegate
from workbench.ui.qt_table_model import ArrowTableModel, compute_sort_permutation

if TYPE_CHECKING:
    import numpy as np

    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.project.store import DatasetRecord, Project

log = logging.getLogger("workbench.ui.data")

ENCODINGS = [
    ("Detect encoding", None),
    ("UTF-8", "utf-8"),
    ("UTF-8 with BOM", "utf-8-sig"),
    ("UTF-16", "utf-16"),
    ("GB18030 / GBK", "gb18030"),
    ("Latin-1", "latin-1"),
    ("Windows-1252", "cp1252"),
]
DELIMITERS = [
    ("Detect delimiter", None),
    ("Comma ,", ","),
    ("Tab", "\t"),
    ("Semicolon ;", ";"),
    ("Pipe |", "|"),
]
LOCKED_MESSAGE = (
    "This project is encrypted and locked. Unlock it (Project ▸ Unlock…) to open or add datasets; "
    "decrypted data is kept in memory only and dropped when the project locks."
)
FILE_FILTER = "Datasets (*.csv *.tsv *.txt *.jsonl *.ndjson *.parquet *.pq);;All files (*)"


@dataclass(slots=True)
class _LoadAttempt:
    """One load of the page: its options, how to start it again with other options, and the misread that
    refused it (set from the job's thread before the job fails; read on the GUI thread after)."""

    options: LoadOptions
    restart: Callable[[LoadOptions], int | None]
    misread: MisreadError | None = None


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


class QtDataPage(QWidget):
    """Everything about one dataset at a time. Loads run as jobs; the page never blocks on file work."""

    sig_dataset_shown = Signal(object)
    """Dataset: the page now shows this (fully loaded) dataset."""
    sig_status = Signal(str)
    """A transient line for the status bar."""

    def __init__(
        self,
        runner: QtJobRunner,
        cache: DatasetCache,
        project: Project | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._cache = cache
        self._project = project
        self._dataset: Dataset | None = None
        self._record_id: int | None = None
        self._load_job: int | None = None
        self._load_path: str | None = None
        self._attempt: _LoadAttempt | None = None
        self._sort_job: int | None = None
        self._table_model: ArrowTableModel | None = None
        self._vault: ProjectVault | None = None
        self._build()
        runner.sig_job_progress.connect(self._on_job_progress)
        runner.sig_job_succeeded.connect(self._on_job_succeeded)
        runner.sig_job_failed.connect(self._on_job_failed)
        runner.sig_job_cancelled.connect(self._on_job_cancelled)
        self.refresh_dataset_list()

    # --- layout ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.load_button = QPushButton("Load file…")
        self.load_button.setToolTip("CSV, TSV, JSONL, Parquet or plain text. You can also drop a file on the window.")
        self.load_button.clicked.connect(self._on_load_clicked)
        self.encoding_box = QComboBox()
        for text, value in ENCODINGS:
            self.encoding_box.addItem(text, value)
        self.delimiter_box = QComboBox()
        for text, value in DELIMITERS:
            self.delimiter_box.addItem(text, value)
        self.reload_button = QPushButton("Reload with these settings")
        self.reload_button.clicked.connect(self._on_reload_clicked)
        self.reload_button.setEnabled(False)
        self.dataset_box = QComboBox()
        self.dataset_box.setMinimumWidth(240)
        self.dataset_box.setToolTip("Datasets registered in this project")
        self.dataset_box.activated.connect(self._on_dataset_chosen)
        bar.addWidget(self.load_button)
        bar.addWidget(self.encoding_box)
        bar.addWidget(self.delimiter_box)
        bar.addWidget(self.reload_button)
        bar.addStretch(1)
        bar.addWidget(QLabel("Project datasets:"))
        bar.addWidget(self.dataset_box)
        layout.addLayout(bar)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        layout.addWidget(self.banner)

        info = QHBoxLayout()
        self.info_label = QLabel("No dataset loaded. Load a file or drop one on the window.")
        self.fingerprint_label = QLabel()
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_fp_button = QPushButton("Copy fingerprint")
        self.copy_fp_button.setEnabled(False)
        self.copy_fp_button.clicked.connect(self._copy_fingerprint)
        info.addWidget(self.info_label, 1)
        info.addWidget(self.fingerprint_label)
        info.addWidget(self.copy_fp_button)
        layout.addLayout(info)

        split = QSplitter(Qt.Orientation.Vertical)
        self.table_view = QTableView()
        self.table_view.setSortingEnabled(True)
        self.table_view.setAlternatingRowColors(True)
        self.table_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table_view.verticalHeader().setDefaultSectionSize(22)
        self.table_view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table_view.horizontalHeader().setDefaultSectionSize(140)
        # Fixed row heights keep a million rows cheap: Qt never measures rows it does not paint.
        self.table_view.setWordWrap(False)
        split.addWidget(self.table_view)

        summary_box = QWidget()
        sl = QVBoxLayout(summary_box)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(QLabel("<b>Columns</b> — double-click a role to change it; roles are saved with the dataset."))
        self.summary_model = ColumnSummaryModel()
        self.summary_model.sig_roles_changed.connect(self._on_roles_changed)
        self.summary_view = QTableView()
        self.summary_view.setModel(self.summary_model)
        self.summary_view.setItemDelegateForColumn(4, RoleDelegate(self.summary_view))
        self.summary_view.setEditTriggers(QAbstractItemView.EditTrigger.AllEditTriggers)
        self.summary_view.verticalHeader().hide()
        self.summary_view.horizontalHeader().setStretchLastSection(True)
        sl.addWidget(self.summary_view)
        split.addWidget(summary_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout.addWidget(split, 1)

    # --- public API -----------------------------------------------------------------------------------------

    @property
    def dataset(self) -> Dataset | None:
        return self._dataset

    @property
    def loading(self) -> bool:
        """Whether a load of this page is running."""
        return self._load_job is not None

    @property
    def record_id(self) -> int | None:
        """The project's id of the dataset shown (``None``: nothing shown, or not registered)."""
        return self._record_id if self._dataset is not None else None

    @property
    def table_model(self) -> ArrowTableModel | None:
        return self._table_model

    def set_project(self, project: Project | None) -> None:
        self._project = project
        self.refresh_dataset_list()

    def load_file(self, path: str | os.PathLike[str], options: LoadOptions | None = None) -> int | None:
        """Start loading ``path`` as a job; returns the job id. A running load of this page is cancelled.

        In an encrypted project the file is imported: a copy is encrypted into the project's vault, and the
        project refers to that copy from then on. A locked project loads nothing (returns None, says why).
        """
        opts = options or self._options_from_controls()
        path_str = str(path)
        vault = self._vault
        if vault is not None:
            if not vault.is_unlocked:
                self.show_banner("warning", LOCKED_MESSAGE)
                return None

            session = self._session()

            def factory(token: CancelToken) -> JobGenerator[Dataset]:
                from workbench.services.datasets import import_into_vault_job

                return (yield from import_into_vault_job(session, path_str, opts, token))

            title = f"Import {Path(path_str).name} (encrypted)"
        else:

            def factory(token: CancelToken) -> JobGenerator[Dataset]:
                from workbench.core.data.load import load_dataset_job  # pyarrow: kept off start-up

                return (yield from load_dataset_job(path_str, opts, token))

            title = f"Load {Path(path_str).name}"
        return self._start_load(path_str, title, factory, _LoadAttempt(opts, lambda o: self.load_file(path_str, o)))

    def _start_load(self, path: str, title: str, factory: Any, attempt: _LoadAttempt) -> int:
        if self._load_job is not None:
            self._runner.cancel(self._load_job)
        self._load_path = path
        self.hide_banner()

        def guarded(token: CancelToken) -> JobGenerator[Dataset]:
            try:
                return (yield from factory(token))
            except MisreadError as exc:  # the page asks the analyst once the job has failed
                attempt.misread = exc
                raise

        self._attempt = attempt
        self._load_job = self._runner.submit(title, guarded, kind="load")
        self.sig_status.emit(title + "…")
        return self._load_job

    def set_vault(self, vault: ProjectVault | None) -> None:
        """The open project's vault (None: the project is not encrypted)."""
        self._vault = vault
        if vault is not None and not vault.is_unlocked:
            self.forget_decrypted()
            self.show_banner("warning", LOCKED_MESSAGE)
        elif self.banner.text() == LOCKED_MESSAGE:
            self.hide_banner()

    def forget_decrypted(self) -> None:
        """Drop every dataset decrypted from the vault from memory and from the view (on lock)."""
        from workbench.core.project.secure_data import is_vault_path

        if self._load_job is not None:
            self._runner.cancel(self._load_job)
        for key in self._cache.keys():  # noqa: SIM118 - DatasetCache is not iterable on purpose
            ds = self._cache.get(key)
            if ds is not None and is_vault_path(ds.path):
                self._cache.remove(key)
        if self._dataset is not None and is_vault_path(self._dataset.path):
            self._dataset = None
            self.summary_model.set_data((), {}, 0)
            self._restore_current()
            self.fingerprint_label.setText("")
            self.copy_fp_button.setEnabled(False)

    def show_banner(self, level: str, text: str) -> None:
        show_page_message(self.banner, level, text)

    def hide_banner(self) -> None:
        self.banner.hide()
        self.banner.setText("")

    def banner_text(self) -> str:
        return self.banner.text() if self.banner.isVisible() or self.banner.text() else ""

    def refresh_dataset_list(self) -> None:
        self.dataset_box.clear()
        if self._project is None:
            self.dataset_box.addItem("(no project open)", None)
            self.dataset_box.setEnabled(False)
            return
        self.dataset_box.setEnabled(True)
        records = self._project.datasets()
        if not records:
            self.dataset_box.addItem("(none yet)", None)
        add_dataset_items(self.dataset_box, records, self._project, rows=True)
        if self._record_id is not None:
            pos = self.dataset_box.findData(self._record_id)
            if pos >= 0:
                self.dataset_box.setCurrentIndex(pos)

    def open_record(self, record: DatasetRecord, options: LoadOptions | None = None) -> int | None:
        """Show a registered dataset: from the cache when it is loaded, else by loading it (decrypting it into
        memory when it is kept in the project's vault). ``options``: the analyst's answer to a misread question;
        by default what the project recorded (a dataset registered without header has columns column_1 ...)."""
        from workbench.core.project.secure_data import is_vault_path

        cached = self._cache.get(record.fingerprint)
        if cached is not None:
            self._show_dataset(cached)
            return None
        opts = options or LoadOptions(
            encoding=record.encoding,
            delimiter=record.delimiter,
            format=record.format,
            header=recorded_header(record.columns),
        )
        if not is_vault_path(record.path):
            return self.load_file(record.path, opts)
        vault = self._vault
        if vault is None or not vault.is_unlocked:
            self.show_banner("warning", LOCKED_MESSAGE)
            return None
        session = self._session()

        def factory(token: CancelToken) -> JobGenerator[Dataset]:
            return (yield from session.load_dataset_job(record, token, opts))

        attempt = _LoadAttempt(opts, lambda o: self.open_record(record, o))
        return self._start_load(record.path, f"Open {record.name} (encrypted)", factory, attempt)

    def _session(self) -> Any:
        """The open project as the use cases take it (it is not closed here: the window owns the project)."""
        from workbench.services.session import ProjectSession

        assert self._project is not None
        return ProjectSession(self._project, self._vault)

    # --- slots ----------------------------------------------------------------------------------------------

    @Slot()
    def _on_load_clicked(self) -> None:
        start = str(self._project.folder) if self._project is not None else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Load a dataset", start, FILE_FILTER)
        if path:
            self.load_file(path)

    @Slot()
    def _on_reload_clicked(self) -> None:
        from workbench.core.project.secure_data import is_vault_path

        target = self._load_path or (self._dataset.path if self._dataset else None)
        if not target:
            return
        if is_vault_path(target):
            record = (
                self._project.dataset_by_fingerprint(self._dataset.fingerprint)
                if (self._project is not None and self._dataset is not None)
                else None
            )
            if record is not None:
                self._cache.remove(record.fingerprint)
                self.open_record(record)
            return
        self.load_file(target, self._options_from_controls())

    @Slot(int)
    def _on_dataset_chosen(self, pos: int) -> None:
        record_id = self.dataset_box.itemData(pos)
        if record_id is None or self._project is None:
            return
        try:
            record = self._project.get_dataset(record_id)
        except WorkbenchError as exc:  # removed by another process since the list was filled
            self.show_banner("error", str(exc))
            self.refresh_dataset_list()
            return
        self.open_record(record)

    @Slot(int, object)
    def _on_job_progress(self, job_id: int, progress: Progress) -> None:
        if job_id != self._load_job:
            return
        if progress.payload is not None and hasattr(progress.payload, "num_rows"):
            # The first rows arrive before the load ends: show them at once.
            self._set_table(progress.payload)
            self.info_label.setText(f"Loading… showing the first {progress.payload.num_rows:,} rows.")
        frac = progress.fraction
        if frac is not None:
            self.sig_status.emit(f"Loading: {progress.phase} {frac * 100:.0f}%")

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        if job_id == self._load_job:
            self._load_job = None
            if isinstance(result, Dataset):
                self._accept_loaded(result)
        elif job_id == self._sort_job:
            self._sort_job = None
            model, column, order, permutation = result
            if model is self._table_model:
                model.apply_order(column, order, permutation)
                self.sig_status.emit("Sorted")

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if job_id == self._load_job:
            self._load_job = None
            self.show_banner("error", f"Could not load the file. {message}")
            self._restore_current()
            self.reload_button.setEnabled(self._load_path is not None)
            self._ask_about_misread()
        elif job_id == self._sort_job:
            self._sort_job = None
            self.show_banner("error", f"Sorting failed. {message}")

    def _ask_about_misread(self) -> None:
        """After a load refused as a misread: ask what the file is, and load it again as answered."""
        attempt, self._attempt = self._attempt, None
        if attempt is None or attempt.misread is None:
            return
        changes = qt_data_questions.ask_about_misread(self, attempt.misread)
        if changes:
            attempt.restart(replace(attempt.options, **changes))

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        if job_id == self._load_job:
            self._load_job = None
            self.show_banner("info", "Loading was cancelled; nothing was changed.")
            self._restore_current()
        elif job_id == self._sort_job:
            self._sort_job = None

    @Slot(int, object)
    def _on_sort_requested(self, column: int, order: Qt.SortOrder) -> None:
        model = self._table_model
        if model is None:
            return
        if self._sort_job is not None:
            self._runner.cancel(self._sort_job)
        table = model.table
        descending = order == Qt.SortOrder.DescendingOrder

        def sort_job(token: Any) -> Any:
            permutation: np.ndarray = compute_sort_permutation(table, column, descending)
            token.raise_if_cancelled()
            return (model, column, order, permutation)
            yield  # makes this a generator (a job): it reports no progress

        self._sort_job = self._runner.submit(f"Sort by {table.column_names[column]}", sort_job, kind="sort")

    @Slot(object)
    def _on_roles_changed(self, roles: dict[str, ColumnRole]) -> None:
        if self._project is None or self._record_id is None:
            self.show_banner("warning", "Roles changed for this session only: open a project to save them.")
            return
        try:
            self._project.set_roles(self._record_id, {k: v.value for k, v in roles.items()})
        except WorkbenchError as exc:
            self.show_banner("error", f"Roles could not be saved. {exc}")
            return
        self.sig_status.emit("Column roles saved")

    @Slot()
    def _copy_fingerprint(self) -> None:
        if self._dataset is not None:
            QGuiApplication.clipboard().setText(self._dataset.fingerprint)
            self.sig_status.emit("Fingerprint copied")

    # --- helpers --------------------------------------------------------------------------------------------

    def _options_from_controls(self) -> LoadOptions:
        return LoadOptions(encoding=self.encoding_box.currentData(), delimiter=self.delimiter_box.currentData())

    def _set_table(self, table: Any) -> None:
        model = ArrowTableModel(table, self.table_view)
        model.sig_sort_requested.connect(self._on_sort_requested)
        self.table_view.setModel(model)
        self.table_view.horizontalHeader().setSortIndicatorShown(True)
        self.table_view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        old = self._table_model
        self._table_model = model
        if old is not None:
            old.deleteLater()

    def _restore_current(self) -> None:
        if self._dataset is not None:
            if self._table_model is None or self._table_model.table is not self._dataset.table:
                self._set_table(self._dataset.table)
            self._show_info(self._dataset)
        elif self._table_model is not None:
            self.table_view.setModel(None)
            self._table_model.deleteLater()
            self._table_model = None
            self.info_label.setText("No dataset loaded. Load a file or drop one on the window.")

    def _accept_loaded(self, ds: Dataset) -> None:
        previous_generation = self._cache.generation(ds.fingerprint)
        self._cache.put(ds.fingerprint, ds)
        notes: list[str] = []
        if self._project is not None:
            try:
                existing = self._project.dataset_by_fingerprint(ds.fingerprint)
                record = register_loaded(self._project, ds)
                self._record_id = record.id
                note = same_bytes_note(existing, self._load_path or ds.path)  # None: this dataset opened again
                notes += [note] if note else []
            except WorkbenchError as exc:
                self._record_id = None
                self.show_banner("error", f"Loaded, but not saved to the project. {exc}")
        if previous_generation and not notes:
            notes.append("Reloaded.")
        self._show_dataset(ds)
        messages = list(ds.warnings) + notes
        if messages and not self.banner.isVisible():
            self.show_banner("warning" if ds.warnings else "info", " ".join(messages))
        self.refresh_dataset_list()
        self.reload_button.setEnabled(True)
        self.sig_status.emit(f"Loaded {ds.name}: {ds.num_rows:,} rows")
        log.info("dataset shown: %d rows, %d columns", ds.num_rows, len(ds.columns))

    def _show_dataset(self, ds: Dataset) -> None:
        self._dataset = ds
        self._load_path = ds.path
        if self._table_model is None or self._table_model.table is not ds.table:
            self._set_table(ds.table)
        roles = ds.suggested_roles()
        if self._project is not None:
            record = self._project.dataset_by_fingerprint(ds.fingerprint)
            if record is not None:
                self._record_id = record.id
                for name, value in dict(record.roles).items():
                    if name in roles:
                        roles[name] = ColumnRole.parse(value)
        self.summary_model.set_data(ds.columns, roles, ds.num_rows)
        self.summary_view.resizeColumnsToContents()
        self._show_info(ds)
        self.sig_dataset_shown.emit(ds)

    def _show_info(self, ds: Dataset) -> None:
        parts = [
            f"<b>{ds.name}</b>",
            f"{ds.num_rows:,} rows × {len(ds.columns)} columns",
            ds.format.upper(),
            human_size(ds.size_bytes),
        ]
        if ds.encoding:
            parts.append(ds.encoding)
        if ds.delimiter:
            parts.append(
                "delimiter "
                + {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(ds.delimiter, repr(ds.delimiter))
            )
        self.info_label.setText(" · ".join(parts))
        self.fingerprint_label.setText(f"SHA-256 {ds.fingerprint[:16]}…")
        self.fingerprint_label.setToolTip(ds.fingerprint)
        self.copy_fp_button.setEnabled(True)
