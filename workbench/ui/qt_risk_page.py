"""The Risk page (issue 17): a dataset's re-identification risk, and its generalization to a target, before and
after side by side.

The analyst picks a dataset of the project (the one on the Data page first), the quasi-identifiers and sensitive
columns (from the project's roles, changeable here for this page), and measures: k, l, t, prosecutor, journalist
and marketer risk, sample and population uniqueness (:func:`workbench.services.risk.risk_report`), with the
class-size histogram, the risk distribution and each quasi-identifier's distinction and separation. Generalizing
searches ARX's lattice for the target (k, suppression limit, optional l, t, average risk) with the least
information loss and writes the result as a new dataset of the project (:func:`workbench.services.risk.generalize_job`,
the same use case as ``workbench generalize``); the measures and plots then show before and after side by side and
the result card names the new dataset as the Data page lists it. Both run as jobs of the window's runner with a
progress bar and Cancel; a failure is said on the page.

Hierarchies are built from each quasi-identifier's values (intervals, dates, masking, one level) unless a folder of
ARX hierarchy CSVs is chosen, whose files then win for the columns they cover. "Edit hierarchy…" opens the editor
(:mod:`workbench.ui.qt_risk_hierarchy`) for the chosen quasi-identifier; the hierarchy it hands back wins over the
folder and the built one for this page (its preview and its generalizations) until another dataset is chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.ui.qt_progress_row import progress_row, show_progress
from workbench.ui.qt_project_page import QtProjectPage
from workbench.ui.qt_risk_forms import QtGeneralizeForm, QtGeneralizeResult, QtRiskColumns

if TYPE_CHECKING:
    from workbench.core.data.dataset import Dataset
    from workbench.core.project.datasets import DatasetRecord
    from workbench.core.risk.hierarchy import Hierarchy
    from workbench.services.session import ProjectSession
    from workbench.ui.qt_main_window import QtMainWindow
    from workbench.ui.qt_risk_hierarchy import HierarchyChoice, QtHierarchyEditor
    from workbench.ui.qt_risk_views import QtRiskMeasures, QtRiskPlots

PAGE_NAME = "Risk"
STEP = "risk"
HIERARCHY_PREVIEW_ROWS = 50


class QtRiskPage(QtProjectPage):
    """See the module docstring."""

    def __init__(self, window: QtMainWindow) -> None:
        super().__init__()
        self._window = window
        self._runner = window.runner
        self._job: int | None = None
        self._dataset: Dataset | None = None  # the last dataset measured or generalized (loaded once)
        self._folder: Path | None = None
        self._columns_for: int | None = None  # the dataset whose columns the table shows
        self._what = ""  # what the running job does, for its failure message
        self.overrides: dict[str, tuple[Hierarchy, str, HierarchyChoice]] = {}  # column -> edited hierarchy
        self.report: dict[str, Any] | None = None  # the last "before" report shown
        self.outcome: dict[str, Any] | None = None  # the last generalization shown
        self._build()
        self._runner.sig_job_progress.connect(self._on_job_progress)
        self._runner.sig_job_succeeded.connect(self._on_job_succeeded)
        self._runner.sig_job_failed.connect(self._on_job_failed)
        self._runner.sig_job_cancelled.connect(self._on_job_cancelled)
        window.vault_ctl.sig_state_changed.connect(self._on_vault_state)
        window.data_page.sig_dataset_shown.connect(self._on_dataset_shown)

    # --- layout ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Dataset"))
        self.dataset_combo = QComboBox()
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_chosen)
        row.addWidget(self.dataset_combo, 1)
        row.addWidget(QLabel("Population"))
        self.population_spin = QSpinBox()
        self.population_spin.setRange(0, 2_000_000_000)
        self.population_spin.setSpecialValueText("10 × the records")
        self.population_spin.setToolTip("Records in the population the dataset was sampled from (uniqueness models)")
        row.addWidget(self.population_spin)
        self.measure_button = QPushButton("Measure risk")
        self.measure_button.clicked.connect(self.measure)
        row.addWidget(self.measure_button)
        layout.addLayout(row)
        layout.addLayout(self._build_inputs())
        self.progress_box, self.progress, self.cancel_button = progress_row(self._cancel)
        layout.addWidget(self.progress_box)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        layout.addWidget(self.message)
        self._results = QHBoxLayout()
        left = QVBoxLayout()
        self.result = QtGeneralizeResult()
        self._left = left
        left.addWidget(self.result)
        self._results.addLayout(left)
        layout.addLayout(self._results, 1)
        self.measures: QtRiskMeasures | None = None
        self.plots: QtRiskPlots | None = None

    def _build_inputs(self) -> QHBoxLayout:
        row = QHBoxLayout()
        columns_box = QGroupBox("Columns (roles for this page; the project's roles are set on the Data page)")
        inner = QVBoxLayout(columns_box)
        self.columns = QtRiskColumns()
        self.columns.currentCellChanged.connect(self._on_column_selected)
        inner.addWidget(self.columns)
        folder_row = QHBoxLayout()
        self.folder_button = QPushButton("Hierarchies from a folder…")
        self.folder_button.setToolTip("ARX hierarchy CSVs (*hierarchy_<column>.csv); other columns get built ones")
        self.folder_button.clicked.connect(self.choose_folder)
        self.folder_label = QLabel("hierarchies built from the values")
        self.edit_button = QPushButton("Edit hierarchy…")
        self.edit_button.setToolTip("Build the chosen quasi-identifier's hierarchy with a builder of your choice")
        self.edit_button.clicked.connect(self.edit_hierarchy)
        folder_row.addWidget(self.folder_button)
        folder_row.addWidget(self.folder_label, 1)
        folder_row.addWidget(self.edit_button)
        inner.addLayout(folder_row)
        row.addWidget(columns_box, 3)
        right = QVBoxLayout()
        self.form = QtGeneralizeForm()
        right.addWidget(self.form)
        self.generalize_button = QPushButton("Generalize and save as a new dataset")
        self.generalize_button.clicked.connect(self.generalize)
        right.addWidget(self.generalize_button)
        row.addLayout(right, 2)
        return row

    def _ensure_views(self) -> tuple[QtRiskMeasures, QtRiskPlots]:
        """The measures table and the plots, made on first use (pyqtgraph is imported then)."""
        if self.measures is None or self.plots is None:
            from workbench.ui.qt_risk_views import QtRiskMeasures, QtRiskPlots

            self.measures, self.plots = QtRiskMeasures(), QtRiskPlots()
            self._left.insertWidget(0, self.measures, 1)
            self._results.addWidget(self.plots, 1)
        return self.measures, self.plots

    # --- state ----------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._job is not None

    def _record(self) -> DatasetRecord | None:
        project, dataset_id = self._window.project, self.dataset_combo.currentData()
        if project is None or dataset_id is None:
            return None
        return next((r for r in project.datasets() if r.id == dataset_id), None)

    def refresh(self) -> None:
        """List the project's datasets again (labels as the Data page shows them), keeping the choice, else the
        dataset on the Data page."""
        from workbench.ui.qt_dataset_labels import add_dataset_items

        project = self._window.project
        records, current = self._datasets_and_choice(self.dataset_combo.currentData(), when_locked=False)
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.clear()
        add_dataset_items(self.dataset_combo, records, project)
        self.dataset_combo.setCurrentIndex(max(self.dataset_combo.findData(current), 0))
        self.dataset_combo.blockSignals(False)
        if self.columns.rowCount() == 0 or self.dataset_combo.currentData() != self._columns_for:
            self._on_dataset_chosen(self.dataset_combo.currentIndex())
        self._enable()

    def _enable(self) -> None:
        ready = self.dataset_combo.count() > 0 and not self.busy
        self.measure_button.setEnabled(ready)
        self.generalize_button.setEnabled(ready)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh()

    @Slot(str)
    def _on_vault_state(self, _state: str) -> None:
        self._dataset = None
        self.refresh()

    @Slot(object)
    def _on_dataset_shown(self, _dataset: object) -> None:
        if self.isVisible():
            self.refresh()

    @Slot(int)
    def _on_dataset_chosen(self, _index: int) -> None:
        """Fill the columns from the chosen dataset's saved roles."""
        record = self._record()
        self._columns_for = record.id if record is not None else None
        if record is None:
            self.columns.set_columns([], {})
            return
        if self._dataset is not None and self._dataset.fingerprint != record.fingerprint:
            self._dataset = None
        self.overrides.clear()  # edited hierarchies belong to the dataset they were built from
        self.columns.set_columns(list(record.columns), dict(record.roles))
        self.form.set_sensitive(self.columns.with_role("sensitive"))
        for row in range(self.columns.rowCount()):
            combo = self.columns.cellWidget(row, 1)
            if isinstance(combo, QComboBox):
                combo.currentIndexChanged.connect(self._on_role_changed)

    @Slot(int)
    def _on_role_changed(self, _index: int) -> None:
        self.form.set_sensitive(self.columns.with_role("sensitive"))

    @Slot(int, int, int, int)
    def _on_column_selected(self, row: int, _column: int, _old_row: int, _old_column: int) -> None:
        """Preview the hierarchy of the quasi-identifier chosen (once the dataset is loaded: after a measurement)."""
        from workbench.services.risk import suggest_hierarchies

        names = self.columns.columns()
        if self._dataset is None or not 0 <= row < len(names) or self.plots is None:
            return
        name = names[row]
        if name not in self.columns.with_role("quasi_identifier"):
            return
        if name in self.overrides:
            hierarchy, what = self.overrides[name][:2]
        else:
            try:
                hierarchies, described = suggest_hierarchies(self._dataset, [name], self._folder)
            except WorkbenchError as exc:
                self.show_message("error", str(exc))
                return
            hierarchy, what = hierarchies[name], described[name]
        rows = hierarchy.rows
        self.plots.show_hierarchy(name, what, rows[:HIERARCHY_PREVIEW_ROWS], len(rows))

    @Slot()
    def edit_hierarchy(self) -> QtHierarchyEditor | None:
        """Open the hierarchy editor for the quasi-identifier chosen in the columns table (not modal)."""
        from workbench.ui.qt_risk_hierarchy import QtHierarchyEditor, suggested_choice

        record, row, names = self._record(), self.columns.currentRow(), self.columns.columns()
        name = names[row] if 0 <= row < len(names) else ""
        if name not in self.columns.with_role("quasi_identifier"):
            self.show_message("error", "Choose a quasi-identifier in the columns table to edit its hierarchy.")
            return None
        dataset = self._known(record) if record is not None else None
        if dataset is None:
            self.show_message("error", "Measure the risk first: the dataset is loaded then.")
            return None
        try:
            start = self.overrides[name][2] if name in self.overrides else suggested_choice(dataset, name)
        except WorkbenchError as exc:
            self.show_message("error", str(exc))
            return None
        editor = QtHierarchyEditor(dataset, name, start, self)
        editor.sig_use_hierarchy.connect(self._on_use_hierarchy)
        editor.open()
        return editor

    @Slot(str, object, str, object)
    def _on_use_hierarchy(self, column: str, hierarchy: Hierarchy, what: str, choice: HierarchyChoice) -> None:
        self.overrides[column] = (hierarchy, what, choice)
        self.columns.show_hierarchies({column: what})
        if self.plots is not None:
            self.plots.show_hierarchy(column, what, hierarchy.rows[:HIERARCHY_PREVIEW_ROWS], len(hierarchy.rows))
        self.show_message("info", f"The hierarchy of {column} is the edited one on this page ({what}).")

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of ARX hierarchy CSVs", str(Path.home()))
        if folder:
            self.set_hierarchy_folder(Path(folder))

    def set_hierarchy_folder(self, folder: Path | None) -> None:
        """Use the ARX hierarchy CSVs in ``folder`` for the columns they cover (None: build every hierarchy)."""
        self._folder = folder
        self.folder_label.setText(f"from {folder} where a file is there" if folder else "built from the values")

    # --- jobs -----------------------------------------------------------------------------------------------

    def _known(self, record: DatasetRecord) -> Dataset | None:
        """The chosen dataset when it is in memory already (loaded here before, or shown on the Data page)."""
        for loaded in (self._dataset, self._window.data_page.dataset):
            if loaded is not None and loaded.fingerprint == record.fingerprint:
                return loaded
        return None

    def _start(self, title: str, job: Any, message: str) -> int:
        self._what = "The generalization" if message.startswith("Searching") else "Measuring the risk"
        self._job = self._runner.submit(title, job, kind="risk")
        self._enable()
        self.progress.setRange(0, 0)
        self.progress_box.show()
        self.show_message("info", message)
        return self._job

    def _inputs(self) -> tuple[ProjectSession, DatasetRecord, list[str], list[str]] | None:
        record = self._record()
        if record is None:
            self.show_message("error", "Add a dataset on the Data page first: risk is measured on one dataset.")
            return None
        qi, sensitive = self.columns.with_role("quasi_identifier"), self.columns.with_role("sensitive")
        if not qi:
            self.show_message("error", "Choose at least one quasi-identifier (Role here: quasi-identifier).")
            return None
        session = self._session()
        if session is None or self.busy:
            return None
        return session, record, qi, sensitive

    @Slot()
    def measure(self) -> int | None:
        """Measure the chosen dataset's risk over the chosen columns (a job)."""
        from workbench.services.risk import risk_report

        inputs = self._inputs()
        if inputs is None:
            return None
        session, record, qi, sensitive = inputs
        population, known = self.population_spin.value() or None, self._known(record)

        def job(token: CancelToken) -> JobGenerator[Any]:
            dataset = yield from _dataset_job(session, record, known, token)
            yield Progress("measure", 0, None, "", "measuring the risk")
            report = risk_report(session, dataset, qi=qi, sensitive=sensitive, population_size=population)
            return "measure", dataset, report.as_dict()

        return self._start(f"Risk of {record.name}", job, "Measuring…")

    @Slot()
    def generalize(self) -> int | None:
        """Search the generalization for the target and save it as a new dataset of the project (a job)."""
        from workbench.services.risk import generalize_job, suggest_hierarchies

        inputs = self._inputs()
        if inputs is None:
            return None
        session, record, qi, _sensitive = inputs
        target, metric, sensitive = self.form.target(), self.form.loss_metric(), self.form.sensitive()
        folder, overrides = self._folder, {q: self.overrides[q][:2] for q in qi if q in self.overrides}
        known = self._known(record)
        try:
            target.validate(sensitive is not None)
        except ValueError as exc:
            self.show_message("error", f"{exc}.")
            return None

        def job(token: CancelToken) -> JobGenerator[Any]:
            dataset = yield from _dataset_job(session, record, known, token)
            hierarchies, described = suggest_hierarchies(dataset, [q for q in qi if q not in overrides], folder)
            for column, (hierarchy, what) in overrides.items():  # edited ones win over the folder and built ones
                hierarchies[column], described[column] = hierarchy, what
            outcome = yield from generalize_job(
                session, dataset, qi=qi, hierarchies=hierarchies, target=target, sensitive=sensitive,
                metric=metric, token=token,
            )  # fmt: skip
            heights = {q: h.height for q, h in hierarchies.items()}
            return "generalize", dataset, (outcome.as_dict(), described, heights)

        return self._start(f"Generalize {record.name}", job, "Searching the generalization…")

    def _finish(self, job_id: int) -> bool:
        if job_id != self._job:
            return False
        self._job = None
        self.progress_box.hide()
        self._enable()
        return True

    @Slot()
    def _cancel(self) -> None:
        if self._job is not None:
            self._runner.cancel(self._job)

    @Slot(int, object)
    def _on_job_progress(self, job_id: int, progress: Progress) -> None:
        if job_id == self._job:
            show_progress(self.progress, progress)

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        if not self._finish(job_id):
            return
        kind, dataset, payload = result
        self._dataset = dataset
        measures, plots = self._ensure_views()
        if kind == "measure":
            self.report, self.outcome = payload, None
            measures.show_reports(payload, None)
            plots.show_reports(payload, None)
            self.result.hide()
            self.show_message("info", f"Measured over {', '.join(payload['quasi_identifiers'])}: k = {payload['k']}.")
            return
        outcome, described, heights = payload
        self.report, self.outcome = outcome["risk_before"], outcome
        self.columns.show_hierarchies(described)
        measures.show_reports(outcome["risk_before"], outcome["risk_after"])
        plots.show_reports(outcome["risk_before"], outcome["risk_after"])
        self.result.show_outcome(outcome, heights)
        self._window.data_page.refresh_dataset_list()
        self.refresh()
        self.show_message("info", f"Generalized and saved as a new dataset: {outcome['output_name']}.")

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if self._finish(job_id):
            self.show_message("error", f"{self._what} failed: {message}")

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        if self._finish(job_id):
            self.show_message("info", "Cancelled: nothing was written.")


def _dataset_job(
    session: ProjectSession, record: DatasetRecord, known: Dataset | None, token: CancelToken
) -> JobGenerator[Dataset]:
    """``known`` when given (a dataset in memory is immutable), else the record loaded (decrypted) now."""
    if known is not None:
        return known
    dataset = yield from session.load_dataset_job(record, token)
    return dataset


def install(window: QtMainWindow) -> QtRiskPage:
    """Create the page and add it to the window's navigation as "Risk" (a workflow step that needs a dataset)."""
    page = QtRiskPage(window)
    window.add_page(PAGE_NAME, page, step=STEP, needs_dataset=True)
    return page
