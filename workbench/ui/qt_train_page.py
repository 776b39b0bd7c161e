"""The Train page: set epsilon with a slider, see the noise and the predicted epsilon curve before training, start
DP (or non-private) training jobs, and watch loss, accuracy and epsilon spent move live, several runs overlaid.

Live series come from each run's :class:`~workbench.core.dp.runs.RunMetrics`, which the worker appends to behind a
lock; a timer here reads immutable snapshots at most 20 times a second and redraws only what changed. Epsilon is
what the accountant said in the worker, and every epsilon shown names its accountant and delta.

The parts live in their own modules: the settings form and its validation (:mod:`~workbench.ui.qt_train_form`), the
live plots and their legend (:mod:`~workbench.ui.qt_train_plots`), the runs table (:mod:`~workbench.ui.qt_train_runs`),
the privacy budget box (:mod:`~workbench.ui.qt_train_budget`) and the result card
(:mod:`~workbench.ui.qt_train_result`). This page wires them and holds the plan requests, starting runs and their
outcomes.

While a plan is computed for new settings the plan text says so (never figures for older settings). The budget box
is read again when a run reserves its ε (its live metrics name the run), when it ends, and every second while runs
are going. Runs are named after their run record (``… · run 14``), so no two share a name.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QScrollArea,
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
from workbench.ui.qt_train_budget import QtBudgetBox
from workbench.ui.qt_train_budget import shared_budget_note as _shared_budget_note
from workbench.ui.qt_train_form import EPS_MAX, EPS_MIN, SLIDER_STEPS, QtTrainForm, epsilon_to_slider, slider_to_epsilon
from workbench.ui.qt_train_plots import LOSS_SMOOTHING, REFRESH_MS, RUN_COLORS, QtTrainPlots, configure_plots
from workbench.ui.qt_train_plots import LiveRun as _LiveRun
from workbench.ui.qt_train_result import QtRunResult
from workbench.ui.qt_train_runs import QtRunsTable

if TYPE_CHECKING:
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.project.store import Project

log = logging.getLogger("workbench.ui.train")

FEW_STEPS = 30
BUDGET_REFRESH_MS = 1000  # the budget box is read again this often while runs are going (one SQLite read)
UPDATING = "Updating the plan…"
NON_PRIVATE = (
    "Non-private run: the model comes with <b>no privacy guarantee</b>. "
    "Use it only to compare against the private runs."
)

# Names other modules and the tests import from here.
__all__ = [
    "EPS_MAX", "EPS_MIN", "FEW_STEPS", "LOSS_SMOOTHING", "RUN_COLORS", "SLIDER_STEPS", "UPDATING", "QtTrainPage",
    "_LiveRun", "_shared_budget_note", "epsilon_to_slider", "slider_to_epsilon",
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
        self._configs: dict[int, dict[str, Any]] = {}  # job id -> the run's TrainConfig.as_dict()
        self._named: set[int] = set()  # job ids whose run record is made (named after it, ε reserved)
        self._started = 0
        self._result_folder: Any = None  # the project of the run the result card shows
        self._has_plan = False
        self._plan_due = False
        self._plan_job = QtLatestJob(runner, "Plan privacy", debounce_ms=80, parent=self)
        self._plan_job.sig_result.connect(self._on_plan)
        self._plan_job.sig_failed.connect(self._on_plan_failed)
        self._build()
        self._connect_form()
        runner.sig_job_succeeded.connect(self._on_job_succeeded)
        runner.sig_job_failed.connect(self._on_job_failed)
        runner.sig_job_cancelled.connect(self._on_job_cancelled)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh_plots)
        self._timer.start()
        self._budget_timer = QTimer(self)
        self._budget_timer.setInterval(BUDGET_REFRESH_MS)
        self._budget_timer.timeout.connect(self._on_budget_tick)
        self._update_form()

    # --- layout ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        configure_plots()
        outer = QHBoxLayout(self)
        outer.addWidget(self._build_left(), 0)

        column = QVBoxLayout()
        outer.addLayout(column, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.setChildrenCollapsible(False)
        column.addWidget(right, 1)
        self.plots = QtTrainPlots()
        self.loss_plot, self.acc_plot, self.eps_plot = self.plots.loss_plot, self.plots.acc_plot, self.plots.eps_plot
        self.legend = self.plots.legend
        right.addWidget(self.plots)
        self.runs_table = QtRunsTable()
        self.runs_table.sig_shown.connect(self._on_run_shown)
        right.addWidget(self.runs_table)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        self.result_card = QtRunResult(self._runner)  # outside the splitter: it grows with its text
        column.addWidget(self.result_card)

    def _build_left(self) -> QScrollArea:
        """The settings column, in its own scroll area: the plots and the runs stay in view on a small screen."""
        column = QWidget()
        left = QVBoxLayout(column)
        left.setContentsMargins(0, 0, 0, 0)
        self.dataset_label = QLabel("Load a dataset on the Data page first.")
        self.dataset_label.setWordWrap(True)
        left.addWidget(self.dataset_label)
        self.form = QtTrainForm()
        left.addWidget(self.form)
        self._alias_form()

        self.budget = QtBudgetBox(self._runner)
        self.budget_label, self.set_budget_button = self.budget.budget_label, self.budget.set_budget_button
        self.set_budget_button.clicked.connect(self._on_set_budget)
        left.addWidget(self.budget)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        left.addWidget(self.message)
        self.start_button = QPushButton("Start training")
        self.start_button.clicked.connect(self.start_training)
        left.addWidget(self.start_button)
        left.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(column)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(column.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self.settings_scroll = scroll
        return scroll

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        """The least height that shows everything at ``width``: a scroll area around the page (small screens) asks
        this, and the preferred height (tall plots, the wrapped result text) would make it scroll needlessly."""
        layout = self.layout()
        return layout.minimumHeightForWidth(width) if layout is not None else -1

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
        f.lr_spin.valueChanged.connect(self._request_plan)  # the plan names the rate and warns about a bad one
        f.recipe_box.currentIndexChanged.connect(self._request_plan)
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
        if project is not None and self._result_folder not in (None, project.folder):
            self.result_card.clear()  # its run id (Export) names a run of another project
            self._result_folder = None
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

    def _session(self) -> Any:
        from workbench.services.session import ProjectSession

        assert self._project is not None
        return ProjectSession(self._project, self._vault)

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
        session = self._session if self._project is not None else None
        self.result_card.set_session(session, encrypted=self._vault is not None)
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
        private = self.private_check.isChecked()
        if not private:
            self.plan_label.setText(NON_PRIVATE)
            self._clear_plan()
        if self._dataset is None or not self.label_box.currentText():
            if private:
                self.plan_label.setText("Choose a dataset and a label column to see the noise that ε needs.")
                self._clear_plan()
            return
        try:
            config = self.build_config()
        except WorkbenchError as exc:
            self._on_plan_failed(0, str(exc))
            return
        table, auto_batch = self._dataset.table, self.form.batch_is_auto()

        def job(token: CancelToken) -> JobGenerator[Any]:
            from workbench.services.training import plan_training

            return plan_training(config, table, choose_batch=auto_batch)
            yield  # a job that reports no progress

        if private:
            # Until the plan for these settings arrives, say so: figures computed for the previous settings would
            # be wrong for these (the curve stays, greyed, so the plot does not jump).
            self.plan_label.setText(
                f"{UPDATING} (ε = {eps:g}, {config.epochs} epoch(s), batch {config.batch_size})"
                if self._has_plan
                else f"Computing the noise that ε = {eps:g} needs…"
            )
            self.form.dim_plan_curve(True)
        self._plan_job.request(job)

    def _clear_plan(self) -> None:
        self._plan_job.invalidate()  # a plan still computing for older settings must not overwrite this state
        self._has_plan = False
        self.form.clear_plan_curve()

    @Slot(int, object)
    def _on_plan(self, _number: int, result: Any) -> None:
        advice, plan = result
        if self.form.follow_advice(advice):
            return  # the batch changed: a plan for it is on its way
        notes = _advice_html(advice)
        if plan is None:
            self.plan_label.setText(NON_PRIVATE + notes)
            return
        self._has_plan = True
        self.form.dim_plan_curve(False)
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
            + notes
        )
        self.form.show_plan_curve(
            [0, *(p.epoch for p in plan.curve)], [0.0, *(p.epsilon for p in plan.curve)], plan.target_epsilon
        )

    @Slot(int, str)
    def _on_plan_failed(self, _number: int, message: str) -> None:
        self.plan_label.setText(f"<span style='color:#a01919'>{message}</span>")
        self._clear_plan()

    def _refresh_budget(self) -> None:
        """Read the budget box again (one SQLite read; the RDP composition in a job when the spend changed)."""
        fingerprint = self._dataset.fingerprint if self._dataset is not None else None
        self.budget.set_context(self._ledger, fingerprint)

    @Slot()
    def _on_budget_tick(self) -> None:
        """Every second while runs are going: their reservations and spend move (also from other pages)."""
        if any(run.final is None for run in self._runs.values()):
            self._refresh_budget()
        else:
            self._budget_timer.stop()

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
            self.budget.set_total(epsilon)
        except WorkbenchError as exc:
            self.show_message("error", str(exc))

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

        self._started += 1
        label = f"{_run_kind(config)} · #{self._started}"  # named after its run record once it has one
        job_id = self._runner.submit(f"Train {_run_kind(config)} on {self._dataset.name}", job, kind="train")
        color = RUN_COLORS[len(self._runs) % len(RUN_COLORS)]
        self._runs[job_id] = _LiveRun(job_id, label, metrics, color)
        self._configs[job_id] = config.as_dict()
        self.runs_table.add_run(job_id, label, color)
        self._refresh_budget()
        self._budget_timer.start()
        return job_id

    @Slot(int, bool)
    def _on_run_shown(self, job_id: int, visible: bool) -> None:
        run = self._runs.get(job_id)
        if run is not None:
            run.set_visible(visible)
            self.plots.update_legend(self._runs.values())

    @Slot()
    def _refresh_plots(self) -> None:
        reserved = False
        for run, snap in self.plots.draw(self._runs.values()):
            if snap.run_id is not None and run.job_id not in self._named:
                # The loop names the metrics after the run record once it has reserved the run's ε.
                self._named.add(run.job_id)
                run.label = f"{_run_kind(self._configs[run.job_id])} · run {snap.run_id}"
                self.runs_table.rename_run(run.job_id, run.label)
                reserved = True
            if run.final is None:
                self.runs_table.set_row(run.job_id, "running", snap=snap)
        if reserved:
            self.plots.update_legend(self._runs.values())
            self._refresh_budget()

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
        comparison = self._comparison(job_id, run.final)
        self.runs_table.set_note(job_id, comparison)
        self.result_card.show_result(run.label, run.final, comparison)
        self._result_folder = self._project.folder if self._project is not None else None
        self._refresh_budget()

    def _comparison(self, job_id: int, final: dict[str, Any]) -> str:
        """The run against its majority baseline and the newest non-private run of the same recipe on the same
        dataset in this project (the sentence ``workbench train`` prints)."""
        from workbench.core.train.results import compare_result, non_private_reference

        config, reference = self._configs.get(job_id, {}), None
        if final.get("private") and self._run_store is not None and config:
            try:
                runs = self._run_store.runs(config.get("dataset_fingerprint"))
            except WorkbenchError as exc:
                log.warning("cannot read the runs to compare with: %s", exc)
                runs = []
            reference = non_private_reference(runs, config)
        return compare_result(
            final.get("val_accuracy"), final.get("majority_baseline", 0.0), private=bool(final.get("private")),
            reference=reference,
        )  # fmt: skip

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


def _advice_html(advice: Any) -> str:
    """The batch and learning rate a run will use and, in plain words, why it is unlikely to beat the majority
    baseline (:class:`~workbench.core.train.advice.TrainingAdvice`)."""
    batch = f"batch {advice.batch_size}" + (
        f" (chosen for {advice.train_rows:,} rows)" if advice.batch_suggested else ""
    )
    rate = f"learning rate {advice.learning_rate:.3g}" + (
        " (the recipe's measured rate)" if advice.learning_rate_suggested else ""
    )
    text = f"<br>{batch}, {rate}, {advice.steps} steps in all."
    if advice.warnings:
        items = "".join(f"<br>• {w}" for w in advice.warnings)
        text += f"<br><span style='color:#a01919'><b>Unlikely to beat the majority baseline:</b>{items}</span>"
    return text


def _run_kind(config: Any) -> str:
    """What a run is, for its name: ``tabular DP ε=2`` or ``text non-private`` (from a TrainConfig or its dict)."""
    get = config.get if isinstance(config, dict) else lambda name: getattr(config, name)
    kind = f"DP ε={get('target_epsilon'):g}" if get("private") else "non-private"
    return f"{get('task')} {kind}"
