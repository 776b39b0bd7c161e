"""The Anonymize page: edit an anonymization policy against a live preview, then apply it to the whole dataset.

The preview shows the first rows of the dataset (at most :data:`PREVIEW_ROWS`), the free-text columns and every
column the policy changes, original and anonymized side by side, with the detected spans and their replacements
highlighted per entity type and a legend with the counts. Every change (an operator, the threshold, a column's
treatment) asks :class:`~workbench.ui.qt_latest_job.QtLatestJob` for a new preview: debounced, the previous one
cancelled, and only the newest result shown. All analysis runs in jobs, so the page never freezes.

Keys: keyed operators (``keyed_hash``, ``pseudonym``, ``encrypt``) need the project's secret. With an unlocked vault
the keys are derived from its ``anonymization-master`` secret; otherwise the preview uses temporary keys (kept in
memory for the page's lifetime, never written anywhere) and applying a policy that needs keys is refused.

This page wires its parts (``qt_pii_entity_table``, ``qt_pii_column_table``, ``qt_pii_detection``, ``qt_pii_preview``,
``qt_pii_keys``), holds the policy being edited and runs the preview, policy-file and apply use cases.

Applying writes the anonymized copy next to the original (never over it) as CSV, Parquet or JSON Lines, or, in an
encrypted project, into the vault (never in clear), registers it in the project and records its lineage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.core.data.dataset import ColumnRole, Dataset
from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator
from workbench.ui.qt_jobs import QtJobRunner
from workbench.ui.qt_latest_job import QtLatestJob
from workbench.ui.qt_message import show_page_message
from workbench.ui.qt_pii_column_table import BY_ENTITY, QtColumnTable
from workbench.ui.qt_pii_detection import QtColumnDetection
from workbench.ui.qt_pii_entity_table import COMMON_ENTITIES, QtEntityOperatorTable, entity_types, operator_presets
from workbench.ui.qt_pii_keys import PageKeys, keyless_refusal, policy_from_roles, saved_policy, uses_temporary_keys
from workbench.ui.qt_pii_preview import TEMP_KEY_NOTE, QtPiiPreview, anonymized_texts, preview_columns
from workbench.ui.qt_pii_residual import QtResidualPanel, apply_summary, residual_tooltip

if TYPE_CHECKING:
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.pii.column_detect import ColumnDetection
    from workbench.core.pii.keys import AnonymizationKeys
    from workbench.core.pii.policy import ColumnPolicy, Policy
    from workbench.core.pii.preview import PreviewResult
    from workbench.core.project.store import Project

PREVIEW_ROWS = 50
FORMATS = (("CSV", "csv"), ("Parquet", "parquet"), ("JSON Lines", "jsonl"))

# Names other modules and the tests import from here.
__all__ = ["BY_ENTITY", "COMMON_ENTITIES", "FORMATS", "PREVIEW_ROWS", "TEMP_KEY_NOTE", "QtPiiPage", "operator_presets"]


class QtPiiPage(QWidget):
    """Anonymization policy editor with a live preview, and the job that applies it to the whole dataset."""

    def __init__(self, runner: QtJobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._background_due = False
        self._runner = runner
        self._project: Project | None = None
        self._vault: ProjectVault | None = None
        self._dataset: Dataset | None = None
        self._roles: dict[str, ColumnRole] = {}
        self._policy: Policy | None = None
        self._detections: tuple[ColumnDetection, ...] | None = None
        self._user_columns: set[str] = set()
        self._keys = PageKeys()
        self._apply_jobs: dict[int, str] = {}
        self._last_preview: PreviewResult | None = None
        self._filling = False
        self.last_output: dict[str, Any] | None = None
        self._preview_job = QtLatestJob(runner, "Anonymization preview", debounce_ms=120, parent=self)
        self._preview_job.sig_result.connect(self._on_preview)
        self._preview_job.sig_failed.connect(self._on_preview_failed)
        self.residual = QtResidualPanel(runner, parent=self)
        self._detection = QtColumnDetection(runner, PREVIEW_ROWS, parent=self)
        self._detection.sig_detected.connect(self._on_detected)
        self._build()
        runner.sig_job_succeeded.connect(self._on_job_succeeded)
        runner.sig_job_failed.connect(self._on_job_failed)
        runner.sig_job_cancelled.connect(self._on_job_cancelled)
        self._update_form()

    # --- layout ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        left_widget = QWidget()
        left = QVBoxLayout(left_widget)
        left.setContentsMargins(0, 0, 0, 0)

        self.dataset_label = QLabel("Load a dataset on the Data page first.")
        self.dataset_label.setWordWrap(True)
        left.addWidget(self.dataset_label)

        thr = QHBoxLayout()
        thr.addWidget(QLabel("Score threshold:"))
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, 100)
        self.threshold_slider.setValue(40)
        self.threshold_slider.setToolTip("Detections scoring below this are ignored")
        self.threshold_slider.valueChanged.connect(self._on_threshold)
        self.threshold_value = QLabel("0.40")
        self.threshold_value.setMinimumWidth(36)
        thr.addWidget(self.threshold_slider, 1)
        thr.addWidget(self.threshold_value)
        left.addLayout(thr)
        left.addWidget(self.residual.slider_note)  # what this threshold and these operators let through

        ent_box = QGroupBox("Operator per entity type (in free text)")
        el = QVBoxLayout(ent_box)
        self.entity_table = QtEntityOperatorTable()
        self.entity_table.sig_edited.connect(self._on_entity_edited)
        el.addWidget(self.entity_table)
        left.addWidget(ent_box, 1)

        col_box = QGroupBox("Columns")
        cl = QVBoxLayout(col_box)
        self.detect_label = self._detection.label
        cl.addWidget(self.detect_label)
        self.column_table = QtColumnTable()
        self.column_table.sig_edited.connect(self._on_column_edited)
        cl.addWidget(self.column_table)
        left.addWidget(col_box, 1)

        pol = QHBoxLayout()
        self.export_button = QPushButton("Export policy…")
        self.export_button.clicked.connect(self._on_export_clicked)
        self.import_button = QPushButton("Import policy…")
        self.import_button.clicked.connect(self._on_import_clicked)
        pol.addWidget(self.export_button)
        pol.addWidget(self.import_button)
        pol.addStretch(1)
        left.addLayout(pol)

        apply_row = QHBoxLayout()
        apply_row.addWidget(QLabel("Format:"))
        self.format_box = QComboBox()
        for label, fmt in FORMATS:
            self.format_box.addItem(label, fmt)
        apply_row.addWidget(self.format_box)
        self.apply_button = QPushButton("Apply to whole dataset…")
        self.apply_button.clicked.connect(self._on_apply_clicked)
        apply_row.addWidget(self.apply_button, 1)
        left.addLayout(apply_row)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        left.addWidget(self.message)

        self.preview = QtPiiPreview()
        self.legend = self.preview.legend
        self.preview_status = self.preview.status
        self.key_note = self.preview.key_note
        self.preview_table = self.preview.table
        self.preview.layout().insertWidget(3, self.residual.label)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left_widget)
        split.addWidget(self.preview)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        _ = [p.setMinimumWidth(max(p.minimumSizeHint().width(), 240)) for p in (left_widget, split.widget(1))]  # once
        QHBoxLayout(self).addWidget(split)

    # --- context from the window ----------------------------------------------------------------------------

    def set_project(self, project: Project | None) -> None:
        self._project = project
        self._update_form()
        if project is not None and self._dataset is None and not self.isVisible():
            self._detection.schedule(None, None, self.isVisible)  # the analyzer alone, ready before a dataset

    def set_vault(self, vault: ProjectVault | None) -> None:
        self._vault = vault
        self._keys.forget_derived()
        self._update_form()
        self.request_preview()

    def set_dataset(self, ds: Dataset | None, roles: Mapping[str, ColumnRole] | None = None) -> None:
        """Show ``ds``: start the analyzer warm-up and column detection, and a first preview."""
        self._dataset = ds
        self._background_due = False
        self._roles = dict(roles or (ds.suggested_roles() if ds is not None else {}))
        self._detections = None
        self._user_columns = set()
        self._last_preview = None
        self._preview_job.cancel()
        self._detection.cancel()
        if ds is None:
            self._policy = None
            self.dataset_label.setText("Load a dataset on the Data page first.")
            self.column_table.setRowCount(0)
            self.preview.clear()
            self.residual.clear()
            self._update_form()
            return
        self.dataset_label.setText(f"<b>{ds.name}</b> · {ds.num_rows:,} rows · SHA-256 {ds.fingerprint[:12]}…")
        try:
            saved = saved_policy(self._project, ds)
        except WorkbenchError as exc:
            saved = None
            self.show_message("warning", f"The saved policy could not be read: {exc}")
        self._policy = saved or policy_from_roles(ds, self._roles, keyed=self._vault is not None)
        if saved is not None:
            self._user_columns = {c for c, _ in saved.columns}
        self._sync_controls()
        self._update_form()
        # The analyzer warm-up and column detection run in the background a moment after the dataset is shown
        # (paced: each step waits for the analyst to be idle), or at once when the page is opened; the preview
        # when the page is opened. Run at full speed at every load they held the interpreter while the analyst
        # scrolled the new table (repaint p99 4 ms -> 213 ms, commit d60084b).
        self._background_due = True
        if self.isVisible():
            self._start_deferred()
        else:
            self._detection.schedule(ds, self._policy, self.isVisible)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._background_due:
            self._start_deferred()

    def _start_deferred(self) -> None:
        self._background_due = False
        ds = self._dataset
        if ds is None:
            return
        if self._runner.accepting and self._detections is None:
            self._detection.ensure(ds, self._policy)
        self.request_preview(immediate=True)

    # --- keys -----------------------------------------------------------------------------------------------

    def _project_keys(self) -> AnonymizationKeys | None:
        """Keys derived from the unlocked vault's secret, or ``None`` (no vault, or locked)."""
        return self._keys.project_keys(self._project, self._vault)

    def _preview_keys(self) -> AnonymizationKeys:
        return self._keys.preview_keys(self._project, self._vault)

    def uses_temporary_keys(self) -> bool:
        return uses_temporary_keys(self._vault)

    # --- the policy -----------------------------------------------------------------------------------------

    def policy(self) -> Policy | None:
        """The policy being edited."""
        return self._policy

    def set_policy(self, policy: Policy) -> None:
        """Replace the policy being edited (controls follow) and ask for a preview."""
        self._policy = policy
        self._sync_controls()
        self.request_preview()

    def set_entity_operator(self, entity_type: str, operator: str, **params: Any) -> None:
        """Use ``operator`` for ``entity_type`` (what the entity table's combos do)."""
        from workbench.core.pii.operators import OperatorConfig

        if self._policy is None:
            return
        try:
            config = OperatorConfig.create(operator, **params)
            self.set_policy(self._policy.with_entity_operator(entity_type, config))
        except WorkbenchError as exc:
            self.show_message("error", str(exc))

    def set_column_policy(self, column: str, column_policy: ColumnPolicy) -> None:
        """Treat ``column`` as ``column_policy`` says (what the column table's combos do)."""
        if self._policy is None:
            return
        self._user_columns.add(column)
        self.set_policy(self._policy.with_column(column, column_policy))

    @Slot(int)
    def _on_threshold(self, value: int) -> None:
        self.threshold_value.setText(f"{value / 100:.2f}")
        if self._filling or self._policy is None:
            return
        self._policy = self._policy.with_threshold(value / 100)
        self.request_preview()

    def _entity_types(self) -> list[str]:
        return entity_types(self._policy, self._last_preview, self._detections)

    def _sync_controls(self) -> None:
        """Make the combos, the slider and the tables show the policy (no previews are requested meanwhile)."""
        policy = self._policy
        self._filling = True
        try:
            if policy is not None:
                self.threshold_slider.setValue(round(policy.threshold * 100))
                self.threshold_value.setText(f"{policy.threshold:.2f}")
            self.entity_table.show_policy(self._entity_types(), policy)
            if self._dataset is None or policy is None:
                self.column_table.clear_rows()
            else:
                columns = self._dataset.column_names
                self.column_table.show_policy(columns, policy, self._detections, self._entity_types())
        finally:
            self._filling = False

    def entity_combo(self, entity_type: str) -> QComboBox | None:
        return self.entity_table.operator_combo(entity_type)

    def entity_param_combo(self, entity_type: str) -> QComboBox | None:
        return self.entity_table.param_combo(entity_type)

    @Slot(str, bool)
    def _on_entity_edited(self, entity: str, operator_changed: bool) -> None:
        if self._filling or self._policy is None:
            return
        chosen = self.entity_table.chosen(entity, operator_changed)
        if chosen is not None:
            name, params = chosen
            self.set_entity_operator(entity, name, **params)

    def column_combos(self, column: str) -> tuple[QComboBox, QComboBox] | None:
        """The (treatment, operator) combos of ``column``'s row."""
        return self.column_table.combos(column)

    @Slot(str)
    def _on_column_edited(self, column: str) -> None:
        if self._filling or self._policy is None:
            return
        column_policy = self.column_table.chosen(column)
        if column_policy is None:
            return
        self._user_columns.add(column)
        self._policy = self._policy.with_column(column, column_policy)
        self.request_preview()

    # --- preview --------------------------------------------------------------------------------------------

    @property
    def preview_requests(self) -> QtLatestJob:
        return self._preview_job

    def last_preview(self) -> PreviewResult | None:
        return self._last_preview

    def detections(self) -> tuple[ColumnDetection, ...] | None:
        return self._detections

    @Slot()
    def request_preview(self, immediate: bool = False) -> int | None:
        """Ask for a preview of the current policy (debounced; the newest request wins)."""
        ds, policy = self._dataset, self._policy
        self.key_note.setVisible(self.uses_temporary_keys())
        if ds is None or policy is None or not self._runner.accepting:
            return None
        table = ds.table.slice(0, min(PREVIEW_ROWS, ds.num_rows))
        keys = self._preview_keys()

        def job(token: CancelToken) -> JobGenerator[Any]:
            from workbench.core.pii.preview import preview_rows

            return preview_rows(table, policy, keys, token)
            yield  # a job that reports no progress

        number = self._preview_job.request(job, immediate=immediate)
        self.preview.requested(number)
        return number

    @Slot(int, object)
    def _on_preview(self, number: int, result: PreviewResult) -> None:
        self._last_preview = result
        if any(not self.entity_table.has_entity(e) for e in result.legend_counts):
            self._sync_controls()
        self.preview.show_result(result, number)
        if self._policy is not None:
            self.residual.preview_shown(result, self._policy)

    @Slot(int, str)
    def _on_preview_failed(self, _number: int, message: str) -> None:
        self.preview_status.setText("The preview failed.")
        self.show_message("error", f"Preview: {message}")

    def preview_columns(self, result: PreviewResult | None = None) -> list[str]:
        """Columns shown: the free-text ones and those the policy changes."""
        return preview_columns(result or self._last_preview)

    def anonymized_texts(self, column: str) -> list[str | None]:
        """The anonymized cells of ``column`` in the last preview (for tests and reports)."""
        return anonymized_texts(self._last_preview, column)

    # --- policy files ---------------------------------------------------------------------------------------

    @Slot()
    def _on_export_clicked(self) -> None:
        if self._policy is None:
            self.show_message("warning", "Load a dataset first: there is no policy to export yet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export policy", "policy.json", "Policy (*.json)")
        if path:
            self.export_policy(path)

    @Slot()
    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import policy", "", "Policy (*.json);;All files (*)")
        if path:
            self.import_policy(path)

    def export_policy(self, path: str | Path) -> Path | None:
        from workbench.core.pii.policy import save_policy_file

        if self._policy is None:
            self.show_message("warning", "Load a dataset first: there is no policy to export yet.")
            return None
        try:
            written = save_policy_file(self._policy, path)
        except OSError as exc:
            self.show_message("error", f"{path}: could not write the policy ({exc.strerror or type(exc).__name__})")
            return None
        self.show_message("info", f"Policy exported to {written}. It holds no keys and no data values.")
        return written

    def import_policy(self, path: str | Path) -> bool:
        """Load a policy file; a bad file leaves everything as it was and says why on the page."""
        from workbench.core.pii.engine import check_policy_against
        from workbench.core.pii.policy import load_policy

        try:
            policy = load_policy(path)
            if self._dataset is not None:
                check_policy_against(policy, self._dataset.column_names, self._preview_keys())
        except WorkbenchError as exc:
            self.show_message("error", f"Policy not imported: {exc}")
            return False
        self._user_columns = {c for c, _ in policy.columns}
        self.set_policy(policy)
        self._save_policy()
        self.show_message("info", f"Policy {policy.name!r} imported from {Path(path).name}.")
        return True

    def _parent_record(self) -> Any:
        """The project's record of the dataset shown, registering it when the project does not know it yet."""
        from workbench.services.datasets import register_shown_dataset

        assert self._dataset is not None
        return register_shown_dataset(self._session(), self._dataset)

    def _session(self) -> Any:
        """The open project as the use cases take it (not closed here: the window owns the project)."""
        from workbench.services.session import ProjectSession

        assert self._project is not None
        return ProjectSession(self._project, self._vault)

    def _save_policy(self) -> int | None:
        from workbench.services.anonymize import save_policy_version

        if self._project is None or self._policy is None or self._dataset is None:
            return None
        try:
            return save_policy_version(self._session(), self._policy, self._parent_record().id)
        except WorkbenchError as exc:
            self.show_message("error", f"The policy could not be saved in the project: {exc}")
            return None

    # --- apply ----------------------------------------------------------------------------------------------

    @Slot()
    def _on_apply_clicked(self) -> None:
        self.apply()

    def apply(self, fmt: str | None = None) -> int | None:
        """Anonymize the whole dataset with the current policy as a job; returns its id (``None``: refused, with
        the reason on the page)."""
        ds, project, policy, vault = self._dataset, self._project, self._policy, self._vault
        if ds is None or project is None or policy is None:
            self.show_message("warning", "Load a dataset on the Data page first.")
            return None
        fmt = fmt or self.format_box.currentData()
        if vault is not None and not vault.is_unlocked:
            self.show_message(
                "warning",
                "This project is encrypted and locked: unlock it to anonymize (the copy is stored encrypted).",
            )
            return None
        try:
            keys = self._project_keys()
        except WorkbenchError as exc:
            self.show_message("error", f"The project's anonymization key is not available: {exc}")
            return None
        columns = ds.column_names
        if keys is None and policy.needs_keys(columns):
            self.show_message("error", keyless_refusal(policy, columns))
            return None
        try:
            from workbench.core.pii.engine import check_policy_against

            check_policy_against(policy, columns, keys)
        except WorkbenchError as exc:
            self.show_message("error", str(exc))
            return None
        session = self._session()

        def job(token: CancelToken) -> JobGenerator[dict[str, Any]]:
            from workbench.services.anonymize import anonymize_job

            outcome = yield from anonymize_job(ds, policy, session=session, keys=keys, fmt=fmt, token=token)
            examples = outcome.residual.examples if outcome.residual is not None else ()
            return {**outcome.as_dict(), "residual_examples": examples}  # masked; shown on hover only

        self.message.hide()
        job_id = self._runner.submit(f"Anonymize {ds.name} ({fmt})", job, kind="anonymize")
        self._apply_jobs[job_id] = ds.name
        self.apply_button.setEnabled(False)
        return job_id

    # --- messages and job outcomes --------------------------------------------------------------------------

    def show_message(self, level: str, text: str) -> None:
        show_page_message(self.message, level, text)

    def _update_form(self) -> None:
        ready = self._dataset is not None and self._project is not None
        self.apply_button.setEnabled(ready and not self._apply_jobs)
        self.export_button.setEnabled(self._policy is not None)
        self.import_button.setEnabled(self._dataset is not None)
        self.key_note.setVisible(self.uses_temporary_keys())

    @Slot(object)
    def _on_detected(self, detections: Sequence[ColumnDetection]) -> None:
        """Column detection finished: columns the analyst has not set follow the detection."""
        from workbench.core.pii.policy import policy_template

        self._detections = tuple(detections)
        if self._policy is not None:
            template = policy_template(
                self._detections, self._policy.name, roles=self._roles, keys=self._vault is not None
            )
            policy = self._policy
            for column, column_policy in template.columns:
                if column not in self._user_columns:
                    policy = policy.with_column(column, column_policy)
            self._policy = policy
        self._detection.show_found(self._detections)
        self._sync_controls()
        if self.isVisible():
            self.request_preview()
        else:  # detected in the background: the preview is made when the page is opened
            self._background_due = True

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        if job_id not in self._apply_jobs:
            return
        self._apply_jobs.pop(job_id)
        self._update_form()
        self.last_output = result
        self.show_message("info", apply_summary(result))
        self.message.setToolTip(residual_tooltip(result.get("residual_examples", ())))

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if job_id in self._apply_jobs:
            self._apply_jobs.pop(job_id)
            self._update_form()
            self.show_message("error", f"Anonymization failed: {message}")

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        if job_id in self._apply_jobs:
            self._apply_jobs.pop(job_id)
            self._update_form()
            self.show_message("warning", "Anonymization cancelled; nothing was written or registered.")
