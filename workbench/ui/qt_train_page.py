"""The Train page: set epsilon with a slider, see the noise and the predicted epsilon curve before training, start
DP (or non-private) training jobs, and watch loss, accuracy and epsilon spent move live, several runs overlaid.

Live series come from each run's :class:`~workbench.core.dp.runs.RunMetrics`, which the worker appends to behind a
lock; a timer here reads immutable snapshots at most 20 times a second and redraws only what changed. Epsilon is
what the accountant said in the worker, and every epsilon shown names its accountant and delta.

The parts live in their own modules: the settings form and its validation (:mod:`~workbench.ui.qt_train_form`), the
live plots (:mod:`~workbench.ui.qt_train_plots`) and the runs table (:mod:`~workbench.ui.qt_train_runs`). This page
wires them and holds the plan requests, the privacy budget box, starting runs and their outcomes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.core.data.dataset import ColumnRole, Dataset
from workbench.core.dp.accountant import format_delta
from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator
from workbench.ui.qt_jobs import QtJobRunner
from workbench.ui.qt_latest_job import QtLatestJob
from workbench.ui.qt_message import show_page_message
from workbench.ui.qt_train_form import EPS_MAX, EPS_MIN, SLIDER_STEPS, QtTrainForm, epsilon_to_slider, slider_to_epsilon
from workbench.ui.qt_train_plots import LOSS_SMOOTHING, REFRESH_MS, RUN_COLORS, QtTrainPlots, configure_plots
from workbench.ui.qt_train_plots import LiveRun as _LiveRun
from workbench.ui.qt_train_runs import QtRunsTable

if TYPE_CHECKING:
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.project.store import Project

log = logging.getLogger("workbench.ui.train")

FEW_STEPS = 30

# Names other modules and the tests import from here.
__all__ = [
    "EPS_MAX", "EPS_MIN", "FEW_STEPS", "LOSS_SMOOTHING", "RUN_COLORS", "SLIDER_STEPS", "QtTrainPage", "_LiveRun",
    "epsilon_to_slider", "slider_to_epsilon",
]  # fmt: skip


class QtTrainPage(QWidget):
    """Training jobs on the dataset shown on the Data page."""

    def __init__(self, runner: QtJobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._project: Project | None = None
        self._vault: ProjectVault | None = None
        self._dataset: Dataset | None = None
        self._roles: dict[str, ColumnRole] = {}
        self._ledger: Any = None
        self._run_store: Any = None
        self._runs: dict[int, _LiveRun] = {}
        self._has_plan = False
        self._plan_due = False
        self._plan_job = QtLatestJob(runner, "Plan privacy", debounce_ms=80, parent=self)
        self._plan_job.sig_result.connect(self._on_plan)
        self._plan_job.sig_failed.connect(self._on_plan_failed)
        self._budget_job = QtLatestJob(runner, "Compose the privacy spend", debounce_ms=0, parent=self)
        self._budget_job.sig_result.connect(self._on_budget)
        self._build()
        self._connect_form()
        runner.sig_job_succeeded.connect(self._on_job_succeeded)
        runner.sig_job_failed.connect(self._on_job_failed)
        runner.sig_job_cancelled.connect(self._on_job_cancelled)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh_plots)
        self._timer.start()
        self._update_form()

    # --- layout ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        configure_plots()
        outer = QHBoxLayout(self)
        left = QVBoxLayout()
        outer.addLayout(left, 0)

        self.dataset_label = QLabel("Load a dataset on the Data page first.")
        self.dataset_label.setWordWrap(True)
        left.addWidget(self.dataset_label)
        self.form = QtTrainForm()
        left.addWidget(self.form)
        self._alias_form()

        budget_box = QGroupBox("Privacy budget of this dataset")
        bl = QVBoxLayout(budget_box)
        self.budget_label = QLabel("—")
        self.budget_label.setWordWrap(True)
        self.budget_label.setTextFormat(Qt.TextFormat.RichText)
        self.set_budget_button = QPushButton("Set total budget…")
        self.set_budget_button.clicked.connect(self._on_set_budget)
        bl.addWidget(self.budget_label)
        bl.addWidget(self.set_budget_button)
        left.addWidget(budget_box)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        left.addWidget(self.message)
        self.start_button = QPushButton("Start training")
        self.start_button.clicked.connect(self.start_training)
        left.addWidget(self.start_button)
        left.addStretch(1)

        right = QSplitter(Qt.Orientation.Vertical)
        outer.addWidget(right, 1)
        self.plots = QtTrainPlots()
        self.loss_plot, self.acc_plot, self.eps_plot = self.plots.loss_plot, self.plots.acc_plot, self.plots.eps_plot
        right.addWidget(self.plots)
        self.runs_table = QtRunsTable()
        self.runs_table.sig_shown.connect(self._on_run_shown)
        right.addWidget(self.runs_table)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)

    def _alias_form(self) -> None:
        """The form's widgets under the names the window, the tests and the benchmarks use on the page."""
        f = self.form
        self.task_box, self.label_box, self.text_box = f.task_box, f.label_box, f.text_box
        self.epochs_spin, self.batch_spin, self.rows_spin = f.epochs_spin, f.batch_spin, f.rows_spin
        self.encoder_box, self.encoder_button, self.recipe_box = f.encoder_box, f.encoder_button, f.recipe_box
        self.length_spin, self.lr_spin, self.clip_spin = f.length_spin, f.lr_spin, f.clip_spin
        self.physical_spin, self.delta_edit, self.device_box = f.physical_spin, f.delta_edit, f.device_box
        self.private_check, self.eps_slider, self.eps_value = f.private_check, f.eps_slider, f.eps_value
        self.accountant_box, self.plan_label, self.plan_plot = f.accountant_box, f.plan_label, f.plan_plot
        self.plan_curve, self.plan_target = f.plan_curve, f.plan_target

    def _connect_form(self) -> None:
        f = self.form
        f.task_box.currentIndexChanged.connect(self._on_task_changed)
        f.label_box.currentIndexChanged.connect(self._request_plan)
        f.epochs_spin.valueChanged.connect(self._request_plan)
        f.batch_spin.valueChanged.connect(self._request_plan)
        f.rows_spin.valueChanged.connect(self._request_plan)
        f.encoder_button.clicked.connect(self._on_choose_encoder)
        f.delta_edit.editingFinished.connect(self._request_plan)
        f.private_check.toggled.connect(self._update_form)
        f.eps_slider.valueChanged.connect(self._request_plan)
        f.accountant_box.currentIndexChanged.connect(self._request_plan)

    # --- context from the window ----------------------------------------------------------------------------

    def set_project(self, project: Project | None) -> None:
        from workbench.core.dp.ledger import PrivacyLedger
        from workbench.core.dp.runs import RunStore

        self._project = project
        self._ledger = self._run_store = None
        if project is not None:
            try:
                # Reservations left by a process that died count as spent in full (the ledger does it on open).
                self._ledger = PrivacyLedger(project)
                self._run_store = RunStore(project)
            except WorkbenchError as exc:
                self.show_message("error", str(exc))
        self._update_form()

    def set_vault(self, vault: ProjectVault | None) -> None:
        self._vault = vault
        self._update_form()

    def set_dataset(self, ds: Dataset | None, roles: dict[str, ColumnRole] | None = None) -> None:
        self._dataset = ds
        self._roles = dict(roles or (ds.suggested_roles() if ds else {}))
        self.form.show_columns(ds, self._roles)
        if ds is not None:
            self.dataset_label.setText(f"<b>{ds.name}</b> · {ds.num_rows:,} rows · SHA-256 {ds.fingerprint[:12]}…")
        else:
            self.dataset_label.setText("Load a dataset on the Data page first.")
        self._update_form()

    # --- form ---------------------------------------------------------------------------------------------

    @property
    def device(self) -> str:
        return self.form.device

    @device.setter
    def device(self, name: str) -> None:
        self.form.device = name

    def epsilon(self) -> float:
        return self.form.epsilon()

    def delta(self) -> float | None:
        """The δ typed by the analyst (None: the default for the training rows). Raises on a malformed value."""
        return self.form.delta()

    def show_message(self, level: str, text: str) -> None:
        show_page_message(self.message, level, text)

    @Slot()
    def _on_task_changed(self) -> None:
        """Offer the new task's measured batch size, unless the analyst chose another one."""
        self.form.follow_task()
        self._update_form()

    @Slot()
    def _update_form(self) -> None:
        self.form.update_enabled()
        self.start_button.setEnabled(self._dataset is not None and self._project is not None)
        self._refresh_budget()
        self._request_plan()

    @Slot()
    def _on_choose_encoder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a local Hugging Face encoder folder")
        if folder:
            self.set_encoder_folder(folder)

    def set_encoder_folder(self, folder: str) -> bool:
        """Offer and select a local encoder folder; refuse (with the reason on the page) one that is not a model."""
        try:
            self.form.add_encoder_folder(folder)
        except WorkbenchError as exc:
            self.show_message("error", str(exc))
            return False
        self.message.hide()
        return True

    def _train_rows(self) -> int | None:
        """Rows the loop will train on: labelled rows (sampled down to the Rows setting) minus the validation
        split, computed exactly as the loop does, so the prediction matches the run."""
        from workbench.core.train.tasks import planned_train_rows

        if self._dataset is None or not self.label_box.currentText():
            return None
        return planned_train_rows(self._dataset.table, self.label_box.currentText(), self.rows_spin.value() or None)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._plan_due:
            self._request_plan()

    @Slot()
    def _request_plan(self) -> None:
        if not self.isVisible():
            # Planning imports Opacus and torch in a worker the first time: not while the analyst is on another
            # page (it held the interpreter while a freshly loaded table was scrolled). Done when shown.
            self._plan_due = True
            return
        self._plan_due = False
        eps = self.epsilon()
        self.eps_value.setText(f"{eps:g}")
        if not self.private_check.isChecked():
            self.plan_label.setText(
                "Non-private run: the model comes with <b>no privacy guarantee</b>. "
                "Use it only to compare against the private runs."
            )
            self._clear_plan()
            return
        rows = self._train_rows()
        if rows is None:
            self.plan_label.setText("Choose a dataset and a label column to see the noise that ε needs.")
            self._clear_plan()
            return
        epochs, batch, accountant = self.epochs_spin.value(), self.batch_spin.value(), self.accountant_box.currentData()
        try:
            delta = self.delta()
        except WorkbenchError as exc:
            self._on_plan_failed(0, str(exc))
            return

        def job(token: CancelToken) -> JobGenerator[Any]:
            from workbench.core.dp.accountant import plan_privacy

            return plan_privacy(eps, rows, batch, epochs, delta, accountant)
            yield  # a job that reports no progress

        if not self._has_plan:
            self.plan_label.setText(f"Computing the noise that ε = {eps:g} needs…")
        self._plan_job.request(job)

    def _clear_plan(self) -> None:
        self._plan_job.invalidate()  # a plan still computing for older settings must not overwrite this state
        self._has_plan = False
        self.form.clear_plan_curve()

    @Slot(int, object)
    def _on_plan(self, _number: int, plan: Any) -> None:
        self._has_plan = True
        self.plan_label.setText(
            f"{plan.train_rows:,} training rows, sample rate {plan.sample_rate:.4g}, {plan.steps} steps → "
            f"noise multiplier σ = <b>{plan.noise_multiplier:.3f}</b>; predicted ε = {plan.final_epsilon:.3g} "
            f"(δ = {format_delta(plan.delta)}, {plan.accountant.upper()} accountant)"
            + (
                f"<br><span style='color:#663c00'>Only {plan.steps} optimizer steps: the model may barely learn. "
                "Use more epochs or a smaller batch (the noise needed per step then changes; see σ).</span>"
                if plan.steps < FEW_STEPS
                else ""
            )
        )
        self.form.show_plan_curve(
            [0, *(p.epoch for p in plan.curve)], [0.0, *(p.epsilon for p in plan.curve)], plan.target_epsilon
        )

    @Slot(int, str)
    def _on_plan_failed(self, _number: int, message: str) -> None:
        self.plan_label.setText(f"<span style='color:#a01919'>{message}</span>")
        self._clear_plan()

    def _refresh_budget(self) -> None:
        """Show the budget at once (one SQLite read), then the tighter RDP composition from a job: composing needs
        Opacus's accountants, whose first import must not freeze the window."""
        if self._ledger is None or self._dataset is None:
            self.budget_label.setText("—")
            self.set_budget_button.setEnabled(False)
            return
        self.set_budget_button.setEnabled(True)
        try:
            s = self._ledger.summary(self._dataset.fingerprint, with_rdp=False)
        except WorkbenchError as exc:
            self.budget_label.setText(str(exc))
            return
        self._show_budget(s)
        if s.committed_epsilon > 0:
            ledger, fingerprint = self._ledger, self._dataset.fingerprint

            def job(token: CancelToken) -> JobGenerator[Any]:
                return fingerprint, ledger.summary(fingerprint)
                yield  # a job that reports no progress

            self._budget_job.request(job, immediate=True)

    @Slot(int, object)
    def _on_budget(self, _number: int, result: Any) -> None:
        fingerprint, summary = result
        if self._dataset is not None and fingerprint == self._dataset.fingerprint:
            self._show_budget(summary)

    def _show_budget(self, s: Any) -> None:
        total = "not set (no job may start until it is)" if s.total_epsilon is None else f"{s.total_epsilon:g}"
        remaining = "—" if s.remaining_epsilon is None else f"{s.remaining_epsilon:.3g}"
        rdp = f"; tighter RDP composition of the committed runs: ε ≈ {s.rdp_epsilon:.3g}" if s.rdp_epsilon else ""
        self.budget_label.setText(
            f"Total ε {total} · committed {s.committed_epsilon:.3g} (δ {format_delta(s.committed_delta)}) · "
            f"reserved {s.reserved_epsilon:.3g} · <b>remaining {remaining}</b> · {s.runs} run(s){rdp}. "
            "Composition shown is the basic sum of epsilons and deltas."
            + _shared_budget_note(s)
        )

    @Slot()
    def _on_set_budget(self) -> None:
        if self._ledger is None or self._dataset is None:
            return
        value, ok = QInputDialog.getDouble(
            self, "Privacy budget", "Total ε for this dataset (all runs together):", 10.0, 0.01, 1000.0, 2
        )
        if ok:
            self.set_total_budget(value)

    def set_total_budget(self, epsilon: float) -> None:
        assert self._ledger is not None and self._dataset is not None
        try:
            self._ledger.set_total(self._dataset.fingerprint, epsilon)
        except WorkbenchError as exc:
            self.show_message("error", str(exc))
        self._refresh_budget()

    # --- runs -----------------------------------------------------------------------------------------------

    def build_config(self) -> Any:
        ds = self._dataset
        assert ds is not None
        return self.form.config(ds, self._roles)

    @Slot()
    def start_training(self) -> int | None:
        """Start a training job with the form's settings; returns its job id (None when refused, with a reason)."""
        from workbench.core.dp.runs import RunMetrics

        if self._dataset is None or self._project is None:
            self.show_message("warning", "Load a dataset on the Data page first.")
            return None
        vault = self._vault
        if vault is not None and not vault.is_unlocked:
            self.show_message(
                "warning",
                "This project is encrypted and locked: unlock it to train (the model "
                "is stored encrypted in the project).",
            )
            return None
        try:
            config = self.build_config()
        except WorkbenchError as exc:
            self.show_message("error", str(exc))
            return None
        self.message.hide()
        from workbench.services.session import ProjectSession
        from workbench.services.training import train_job

        ds, session = self._dataset, ProjectSession(self._project, vault)
        metrics = RunMetrics()

        def job(token: CancelToken) -> JobGenerator[Any]:
            return (yield from train_job(ds, config, session=session, metrics=metrics, token=token))

        kind = f"ε={config.target_epsilon:g}" if config.private else "non-private"
        label = f"{config.task} {kind}"
        job_id = self._runner.submit(f"Train {label} on {self._dataset.name}", job, kind="train")
        color = RUN_COLORS[len(self._runs) % len(RUN_COLORS)]
        self._runs[job_id] = _LiveRun(job_id, label, metrics, color)
        self.runs_table.add_run(job_id, label, color)
        self._refresh_budget()
        return job_id

    @Slot(int, bool)
    def _on_run_shown(self, job_id: int, visible: bool) -> None:
        run = self._runs.get(job_id)
        if run is not None:
            run.set_visible(visible)

    @Slot()
    def _refresh_plots(self) -> None:
        for run, snap in self.plots.draw(self._runs.values()):
            if run.final is None:
                self.runs_table.set_row(run.job_id, "running", snap=snap)

    def live_runs(self) -> dict[int, Any]:
        return dict(self._runs)

    # --- job outcomes ---------------------------------------------------------------------------------------

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        run = self._runs.get(job_id)
        if run is None:
            return
        run.final = result.as_dict()
        self.runs_table.set_row(job_id, "succeeded", run.final)
        self._refresh_plots()
        self._refresh_budget()

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        run = self._runs.get(job_id)
        if run is None:
            return
        run.final = {}
        self.runs_table.set_row(job_id, "failed")
        self.show_message("error", f"Training failed: {message}")
        self._refresh_budget()

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        run = self._runs.get(job_id)
        if run is None:
            return
        run.final = {}
        snap = run.metrics.snapshot()
        spent = (
            f"; ε spent {snap.last_epsilon:.3g} ({snap.accountant.upper()}, δ = {format_delta(snap.delta)})"
            if (snap.accountant and snap.steps)
            else ""
        )
        self.runs_table.set_row(job_id, "cancelled" + spent, snap=snap)
        self._refresh_budget()


def _shared_budget_note(s: Any) -> str:
    """Where the budget shown is shared (issue 12): the original of a derived dataset, other projects."""
    note = ""
    if s.charged_to:
        note += (
            "<br>This dataset was derived from another (an anonymized copy, for example): its runs charge the "
            "budget of the original, shown here."
        )
    if s.elsewhere_epsilon > 0:
        note += (
            f"<br>Of the budget, ε {s.elsewhere_epsilon:.3g} is committed or reserved on the same data in "
            f"{s.elsewhere_projects} other project(s) of this computer."
        )
    return note
