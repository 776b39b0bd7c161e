"""The Train page: set epsilon with a slider, see the noise and the predicted epsilon curve before training, start
DP (or non-private) training jobs, and watch loss, accuracy and epsilon spent move live, several runs overlaid.

Live series come from each run's :class:`~workbench.core.dp.runs.RunMetrics`, which the worker appends to behind a
lock; a timer here reads immutable snapshots at most 20 times a second and redraws only what changed. Epsilon is
what the accountant said in the worker, and every epsilon shown names its accountant and delta.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.data.dataset import ColumnRole, Dataset
from workbench.core.dp.accountant import format_delta
from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator
from workbench.ui.qt_jobs import QtJobRunner
from workbench.ui.qt_latest_job import QtLatestJob

if TYPE_CHECKING:
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.dp.runs import MetricsSnapshot, RunMetrics
    from workbench.core.project.store import Project

log = logging.getLogger("workbench.ui.train")

EPS_MIN, EPS_MAX, SLIDER_STEPS = 0.1, 50.0, 1000
FEW_STEPS = 30
LOSS_SMOOTHING = 0.9
RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def slider_to_epsilon(position: int) -> float:
    """Log scale: 0 -> 0.1, SLIDER_STEPS -> 50; rounded to two significant digits."""
    lo, hi = math.log10(EPS_MIN), math.log10(EPS_MAX)
    value = 10 ** (lo + (hi - lo) * position / SLIDER_STEPS)
    return float(f"{value:.2g}")


def epsilon_to_slider(epsilon: float) -> int:
    lo, hi = math.log10(EPS_MIN), math.log10(EPS_MAX)
    return round((math.log10(min(max(epsilon, EPS_MIN), EPS_MAX)) - lo) / (hi - lo) * SLIDER_STEPS)


@dataclass
class _LiveRun:
    """A run this page started: its job, live metrics and plot items."""

    job_id: int
    label: str
    metrics: RunMetrics
    color: str
    version: int = -1
    items: tuple[Any, ...] = ()
    visible: bool = True
    final: dict[str, Any] | None = None
    smoothed: list[float] = field(default_factory=list)

    def smooth(self, losses: Sequence[float]) -> list[float]:
        """Exponential moving average of the per-step loss (Poisson batches make it noisy), extended in place:
        only steps not seen before are computed, so long runs cost the same per redraw."""
        out = self.smoothed
        for value in losses[len(out) :]:
            out.append(value if not out else LOSS_SMOOTHING * out[-1] + (1 - LOSS_SMOOTHING) * value)
        return out


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
        self._plan_job = QtLatestJob(runner, "Plan privacy", debounce_ms=80, parent=self)
        self._plan_job.sig_result.connect(self._on_plan)
        self._plan_job.sig_failed.connect(self._on_plan_failed)
        self._budget_job = QtLatestJob(runner, "Compose the privacy spend", debounce_ms=0, parent=self)
        self._budget_job.sig_result.connect(self._on_budget)
        self._build()
        runner.sig_job_succeeded.connect(self._on_job_succeeded)
        runner.sig_job_failed.connect(self._on_job_failed)
        runner.sig_job_cancelled.connect(self._on_job_cancelled)
        self._timer = QTimer(self)
        self._timer.setInterval(50)  # at most 20 redraws a second
        self._timer.timeout.connect(self._refresh_plots)
        self._timer.start()
        self._update_form()

    # --- layout ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        import pyqtgraph as pg

        pg.setConfigOptions(antialias=False, background="w", foreground="#333")
        outer = QHBoxLayout(self)
        left = QVBoxLayout()
        outer.addLayout(left, 0)

        self.dataset_label = QLabel("Load a dataset on the Data page first.")
        self.dataset_label.setWordWrap(True)
        left.addWidget(self.dataset_label)

        form_box = QGroupBox("What to train")
        form = QFormLayout(form_box)
        self.task_box = QComboBox()
        self.task_box.addItem("Tabular classification (MLP over the columns)", "tabular")
        self.task_box.addItem("Text classification (MiniLM encoder, LoRA)", "text")
        self.task_box.currentIndexChanged.connect(self._on_task_changed)
        self.label_box = QComboBox()
        self.label_box.currentIndexChanged.connect(self._request_plan)
        self.text_box = QComboBox()
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 100)
        self.epochs_spin.setValue(3)
        self.epochs_spin.valueChanged.connect(self._request_plan)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(4, 4096)
        self.batch_spin.setValue(64)
        self._auto_batch = 64  # the value the page itself chose last: only that one follows the task
        self.batch_spin.valueChanged.connect(self._request_plan)
        self.rows_spin = QSpinBox()
        self.rows_spin.setRange(0, 10_000_000)
        self.rows_spin.setSpecialValueText("all rows")
        self.rows_spin.setSingleStep(500)
        self.rows_spin.setToolTip("Train on a seeded sample of this many rows (0: all)")
        self.rows_spin.valueChanged.connect(self._request_plan)
        form.addRow("Task:", self.task_box)
        form.addRow("Label column:", self.label_box)
        form.addRow("Text column:", self.text_box)
        form.addRow("Epochs:", self.epochs_spin)
        form.addRow("Batch size (expected):", self.batch_spin)
        form.addRow("Rows:", self.rows_spin)
        left.addWidget(form_box)

        recipe_box = QGroupBox("Recipe")
        recipe = QFormLayout(recipe_box)
        enc_row = QHBoxLayout()
        self.encoder_box = QComboBox()
        self.encoder_box.addItem("Bundled MiniLM-L6 (all-MiniLM-L6-v2)", None)
        self.encoder_box.setToolTip("Any local Hugging Face encoder folder; nothing is downloaded")
        self.encoder_button = QPushButton("Folder…")
        self.encoder_button.clicked.connect(self._on_choose_encoder)
        enc_row.addWidget(self.encoder_box, 1)
        enc_row.addWidget(self.encoder_button)
        self.recipe_box = QComboBox()
        self.recipe_box.addItem("LoRA r=16 on query/value + head (fast under DP)", "lora")
        self.recipe_box.addItem("Top 2 layers + head", "top_layers")
        self.recipe_box.addItem("Head only", "head")
        self.recipe_box.addItem("Full fine-tuning (slow under DP)", "full")
        self.length_spin = QSpinBox()
        self.length_spin.setRange(8, 512)
        self.length_spin.setValue(64)
        self.length_spin.setSuffix(" tokens")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(7)
        self.lr_spin.setRange(0.0, 1.0)
        self.lr_spin.setSingleStep(0.0005)
        self.lr_spin.setSpecialValueText("recipe default")
        self.lr_spin.setValue(0.0)
        self.clip_spin = QDoubleSpinBox()
        self.clip_spin.setDecimals(2)
        self.clip_spin.setRange(0.01, 100.0)
        self.clip_spin.setValue(1.0)
        self.clip_spin.setToolTip("Per-sample gradient clipping bound C (DP-SGD)")
        self.physical_spin = QSpinBox()
        self.physical_spin.setRange(0, 4096)
        self.physical_spin.setSpecialValueText("whole batch")
        self._auto_physical = 0
        self.physical_spin.setToolTip(
            "Compute each batch in pieces of at most this many rows (Opacus BatchMemoryManager for DP runs, "
            "gradient accumulation otherwise): less memory, the same gradient and privacy analysis"
        )
        self.delta_edit = QLineEdit()
        self.delta_edit.setPlaceholderText("default: a power of ten below 1/(10 n)")
        self.delta_edit.editingFinished.connect(self._request_plan)
        recipe.addRow("Encoder:", enc_row)
        recipe.addRow("Text recipe:", self.recipe_box)
        recipe.addRow("Max. length:", self.length_spin)
        recipe.addRow("Learning rate:", self.lr_spin)
        recipe.addRow("Clipping bound:", self.clip_spin)
        recipe.addRow("Rows in memory:", self.physical_spin)
        recipe.addRow("δ:", self.delta_edit)
        self.device_box = QComboBox()
        self.device_box.addItem("Auto (the CUDA GPU when there is one)", "auto")
        self.device_box.addItem("CPU", "cpu")
        self.device_box.addItem("CUDA GPU", "cuda")
        recipe.addRow("Device:", self.device_box)
        left.addWidget(recipe_box)

        dp_box = QGroupBox("Differential privacy")
        dp = QVBoxLayout(dp_box)
        self.private_check = QCheckBox("Train with differential privacy (Opacus DP-SGD, Poisson sampling)")
        self.private_check.setChecked(True)
        self.private_check.toggled.connect(self._update_form)
        dp.addWidget(self.private_check)
        row = QHBoxLayout()
        row.addWidget(QLabel("ε"))
        self.eps_slider = QSlider(Qt.Orientation.Horizontal)
        self.eps_slider.setRange(0, SLIDER_STEPS)
        self.eps_slider.setValue(epsilon_to_slider(3.0))
        self.eps_slider.valueChanged.connect(self._request_plan)
        self.eps_value = QLabel()
        self.eps_value.setMinimumWidth(48)
        row.addWidget(self.eps_slider, 1)
        row.addWidget(self.eps_value)
        dp.addLayout(row)
        acc_row = QHBoxLayout()
        acc_row.addWidget(QLabel("Accountant:"))
        self.accountant_box = QComboBox()
        self.accountant_box.addItem("RDP", "rdp")
        self.accountant_box.addItem("PRV", "prv")
        self.accountant_box.currentIndexChanged.connect(self._request_plan)
        acc_row.addWidget(self.accountant_box)
        acc_row.addStretch(1)
        dp.addLayout(acc_row)
        self.plan_label = QLabel()
        self.plan_label.setWordWrap(True)
        dp.addWidget(self.plan_label)
        self.plan_plot = pg.PlotWidget()
        self.plan_plot.setMinimumHeight(140)
        self.plan_plot.setLabel("bottom", "epoch")
        self.plan_plot.setLabel("left", "predicted ε")
        self.plan_plot.showGrid(x=True, y=True, alpha=0.2)
        self.plan_curve = self.plan_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
        self.plan_target = pg.InfiniteLine(angle=0, pen=pg.mkPen("#d62728", style=Qt.PenStyle.DashLine))
        self.plan_target.setVisible(False)
        self.plan_plot.addItem(self.plan_target)
        self.plan_plot.setYRange(0, 1)
        self._has_plan = False
        self._plan_due = False
        dp.addWidget(self.plan_plot)
        left.addWidget(dp_box)

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
        plots = QWidget()
        pl = QHBoxLayout(plots)
        pl.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = self._make_plot("training loss", "step")
        self.loss_plot.setToolTip("Faint: each step's batch loss; bold: its moving average (batch sizes vary)")
        self.acc_plot = self._make_plot("validation accuracy", "epoch")
        self.eps_plot = self._make_plot("ε spent", "step")
        for plot in (self.loss_plot, self.acc_plot, self.eps_plot):
            pl.addWidget(plot)
        right.addWidget(plots)
        self.runs_table = QTableWidget(0, 8)
        self.runs_table.setHorizontalHeaderLabels(
            ["Show", "Run", "Status", "ε spent (accountant, δ)", "Val. accuracy", "Majority", "Samples/s", "Steps"]
        )
        self.runs_table.verticalHeader().hide()
        self.runs_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.runs_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.runs_table.horizontalHeader().setStretchLastSection(True)
        self.runs_table.itemChanged.connect(self._on_run_item_changed)
        right.addWidget(self.runs_table)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)

    @staticmethod
    def _make_plot(title: str, xlabel: str) -> Any:
        import pyqtgraph as pg

        plot = pg.PlotWidget(title=title)
        plot.setLabel("bottom", xlabel)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        plot.addLegend(offset=(-5, 5))
        return plot

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
        self.label_box.blockSignals(True)
        self.label_box.clear()
        self.text_box.clear()
        if ds is not None:
            names = ds.column_names
            # Label candidates: the column marked as label, then small-cardinality columns with no privacy role.
            labels = [n for n in names if self._roles.get(n) is ColumnRole.LABEL]
            labels += [
                c.name
                for c in ds.columns
                if c.name not in labels and self._roles.get(c.name) is ColumnRole.OTHER and 2 <= c.distinct <= 20
            ]
            for name in labels + [n for n in names if n not in labels]:
                self.label_box.addItem(name)
            texts = [n for n in names if self._roles.get(n) is ColumnRole.FREE_TEXT]
            for name in texts + [n for n in names if n not in texts]:
                self.text_box.addItem(name)
            self.dataset_label.setText(f"<b>{ds.name}</b> · {ds.num_rows:,} rows · SHA-256 {ds.fingerprint[:12]}…")
        else:
            self.dataset_label.setText("Load a dataset on the Data page first.")
        self.label_box.blockSignals(False)
        self._update_form()

    # --- form -----------------------------------------------------------------------------------------------

    @property
    def device(self) -> str:
        return str(self.device_box.currentData())

    @device.setter
    def device(self, name: str) -> None:
        index = self.device_box.findData(name)
        self.device_box.setCurrentIndex(max(0, index))

    def epsilon(self) -> float:
        return slider_to_epsilon(self.eps_slider.value())

    def show_message(self, level: str, text: str) -> None:
        colors = {
            "error": "#611a15; background:#fdecea",
            "warning": "#663c00; background:#fff4e5",
            "info": "#0d3c61; background:#e8f4fd",
        }
        self.message.setStyleSheet(f"color:{colors[level]}; padding:6px; border-radius:3px;")
        self.message.setText(text)
        self.message.show()

    @Slot()
    def _on_task_changed(self) -> None:
        """Offer the new task's measured batch size, unless the analyst chose another one."""
        from workbench.core.train.tasks import RECOMMENDED_BATCH_SIZE, RECOMMENDED_ROWS_IN_MEMORY

        task = self.task_box.currentData()
        if self.batch_spin.value() == self._auto_batch:
            self._auto_batch = RECOMMENDED_BATCH_SIZE[task]
            self.batch_spin.setValue(self._auto_batch)
        if self.physical_spin.value() == self._auto_physical:
            self._auto_physical = RECOMMENDED_ROWS_IN_MEMORY[task] or 0
            self.physical_spin.setValue(self._auto_physical)
        self._update_form()

    @Slot()
    def _update_form(self) -> None:
        text_task = self.task_box.currentData() == "text"
        for widget in (self.text_box, self.encoder_box, self.encoder_button, self.recipe_box, self.length_spin):
            widget.setEnabled(text_task)
        private = self.private_check.isChecked()
        for widget in (self.eps_slider, self.accountant_box, self.plan_plot, self.clip_spin, self.delta_edit):
            widget.setEnabled(private)
        self.start_button.setEnabled(self._dataset is not None and self._project is not None)
        self._refresh_budget()
        self._request_plan()

    def delta(self) -> float | None:
        """The δ typed by the analyst (None: the default for the training rows). Raises on a malformed value."""
        text = self.delta_edit.text().strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise WorkbenchError(f"δ must be a number such as 1e-6, not {text!r}") from None
        if not 0.0 < value < 1.0:
            raise WorkbenchError(f"δ must be between 0 and 1 (exclusive), got {value:g}")
        return value

    @Slot()
    def _on_choose_encoder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a local Hugging Face encoder folder")
        if folder:
            self.set_encoder_folder(folder)

    def set_encoder_folder(self, folder: str) -> bool:
        """Offer and select a local encoder folder; refuse (with the reason on the page) one that is not a model."""
        from pathlib import Path

        path = Path(folder).expanduser()
        if not (path / "config.json").is_file():
            self.show_message(
                "error",
                f"{path.name} is not a Hugging Face model folder (it has no config.json; it also needs the weights "
                "and the tokenizer files). Models are never downloaded.",
            )
            return False
        index = self.encoder_box.findData(str(path))
        if index < 0:
            self.encoder_box.addItem(f"{path.name} ({path})", str(path))
            index = self.encoder_box.count() - 1
        self.encoder_box.setCurrentIndex(index)
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
        self.plan_curve.setData([], [])
        self.plan_target.setVisible(False)

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
        self.plan_curve.setData([0, *(p.epoch for p in plan.curve)], [0.0, *(p.epsilon for p in plan.curve)])
        self.plan_target.setValue(plan.target_epsilon)
        self.plan_target.setVisible(True)
        self.plan_plot.enableAutoRange()  # the empty state pinned 0..1

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
                return ledger.summary(fingerprint)
                yield  # a job that reports no progress

            self._budget_job.request(job, immediate=True)

    @Slot(int, object)
    def _on_budget(self, _number: int, summary: Any) -> None:
        if self._dataset is not None and summary.fingerprint == self._dataset.fingerprint:
            self._show_budget(summary)

    def _show_budget(self, s: Any) -> None:
        total = "not set (no job may start until it is)" if s.total_epsilon is None else f"{s.total_epsilon:g}"
        remaining = "—" if s.remaining_epsilon is None else f"{s.remaining_epsilon:.3g}"
        rdp = f"; tighter RDP composition of the committed runs: ε ≈ {s.rdp_epsilon:.3g}" if s.rdp_epsilon else ""
        self.budget_label.setText(
            f"Total ε {total} · committed {s.committed_epsilon:.3g} (δ {format_delta(s.committed_delta)}) · "
            f"reserved {s.reserved_epsilon:.3g} · <b>remaining {remaining}</b> · {s.runs} run(s){rdp}. "
            "Composition shown is the basic sum of epsilons and deltas."
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
        from workbench.core.train import TextModelConfig, TrainConfig
        from workbench.services.training import excluded_columns

        ds = self._dataset
        assert ds is not None
        task = self.task_box.currentData()
        label = self.label_box.currentText()
        text = self.text_box.currentText() if task == "text" else None
        return TrainConfig(
            task=task,
            label_column=label,
            text_column=text,
            excluded_columns=excluded_columns(self._roles, label=label, text=text),
            dataset_fingerprint=ds.fingerprint,
            dataset_name=ds.name,
            private=self.private_check.isChecked(),
            target_epsilon=self.epsilon(),
            delta=self.delta() if self.private_check.isChecked() else None,
            accountant=self.accountant_box.currentData(),
            max_grad_norm=self.clip_spin.value(),
            max_physical_batch_size=self.physical_spin.value() or None,
            learning_rate=self.lr_spin.value() or None,
            epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(),
            max_rows=self.rows_spin.value() or None,
            device=self.device,
            text=TextModelConfig(
                model_path=self.encoder_box.currentData(),
                recipe=self.recipe_box.currentData(),
                max_length=self.length_spin.value(),
            ),
        )

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
        self._add_run_row(job_id)
        self._refresh_budget()
        return job_id

    def _add_run_row(self, job_id: int) -> None:
        run = self._runs[job_id]
        row = self.runs_table.rowCount()
        self.runs_table.blockSignals(True)
        self.runs_table.insertRow(row)
        show = QTableWidgetItem()
        show.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        show.setCheckState(Qt.CheckState.Checked)
        show.setData(Qt.ItemDataRole.UserRole, job_id)
        show.setBackground(Qt.GlobalColor.white)
        self.runs_table.setItem(row, 0, show)
        name = QTableWidgetItem(run.label)
        name.setForeground(_qcolor(run.color))
        self.runs_table.setItem(row, 1, name)
        for col in range(2, 8):
            self.runs_table.setItem(row, col, QTableWidgetItem("…" if col == 2 else ""))
        self.runs_table.blockSignals(False)

    def _row_of(self, job_id: int) -> int | None:
        for row in range(self.runs_table.rowCount()):
            item = self.runs_table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == job_id:
                return row
        return None

    def _set_row(
        self, job_id: int, status: str, result: dict[str, Any] | None = None, snap: MetricsSnapshot | None = None
    ) -> None:
        row = self._row_of(job_id)
        if row is None:
            return
        self.runs_table.blockSignals(True)
        self.runs_table.item(row, 2).setText(status)
        if result is not None:
            eps = result.get("epsilon_label") or "no guarantee (non-private)"
            self.runs_table.item(row, 3).setText(eps)
            acc = result.get("val_accuracy")
            self.runs_table.item(row, 4).setText("" if acc is None else f"{acc:.3f}")
            self.runs_table.item(row, 5).setText(f"{result.get('majority_baseline', 0):.3f}")
            self.runs_table.item(row, 6).setText(f"{result.get('samples_per_second', 0):.1f}")
            self.runs_table.item(row, 7).setText(str(result.get("steps", "")))
        elif snap is not None and snap.steps:
            if snap.accountant:
                self.runs_table.item(row, 3).setText(
                    f"{snap.last_epsilon:.3g} so far ({snap.accountant.upper()}, δ = {format_delta(snap.delta)})"
                )
            if snap.val_accuracy:
                self.runs_table.item(row, 4).setText(f"{snap.val_accuracy[-1]:.3f}")
            self.runs_table.item(row, 7).setText(f"{snap.steps[-1]}/{snap.total_steps or '?'}")
        self.runs_table.blockSignals(False)

    @Slot(QTableWidgetItem)
    def _on_run_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        run = self._runs.get(item.data(Qt.ItemDataRole.UserRole))
        if run is not None:
            run.visible = item.checkState() == Qt.CheckState.Checked
            for curve in run.items:
                curve.setVisible(run.visible)

    @Slot()
    def _refresh_plots(self) -> None:
        import pyqtgraph as pg

        for run in self._runs.values():
            snap = run.metrics.snapshot()
            if snap.version == run.version:
                continue
            run.version = snap.version
            pen = pg.mkPen(run.color, width=2)
            if not run.items:
                loss = self.loss_plot.plot([], [], pen=pen, name=run.label)
                faint = pg.mkColor(run.color)
                faint.setAlpha(60)
                raw = self.loss_plot.plot([], [], pen=pg.mkPen(faint, width=1))
                acc = self.acc_plot.plot(
                    [], [], pen=pen, symbol="o", symbolSize=6, symbolBrush=run.color, name=run.label
                )
                eps = self.eps_plot.plot([], [], pen=pen, name=run.label)
                target = pg.InfiniteLine(angle=0, pen=pg.mkPen(run.color, style=Qt.PenStyle.DashLine))
                target.setVisible(False)
                self.eps_plot.addItem(target)
                run.items = (loss, acc, eps, target, raw)
            loss, acc, eps, target, raw = run.items
            raw.setData(snap.steps, snap.losses)
            loss.setData(snap.steps, run.smooth(snap.losses))
            acc.setData(snap.epochs, snap.val_accuracy)
            if snap.accountant:
                eps.setData(snap.steps, snap.epsilons)
            if snap.target_epsilon is not None:
                target.setValue(snap.target_epsilon)
                target.setVisible(run.visible)
            if run.final is None:
                self._set_row(run.job_id, "running", snap=snap)
        if self._runs:
            label = next((r.metrics.snapshot() for r in self._runs.values() if r.metrics.snapshot().accountant), None)
            if label is not None:
                self.eps_plot.setLabel("left", f"ε ({label.accountant.upper()}, δ = {format_delta(label.delta)})")

    def live_runs(self) -> dict[int, Any]:
        return dict(self._runs)

    # --- job outcomes ---------------------------------------------------------------------------------------

    @Slot(int, object)
    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        run = self._runs.get(job_id)
        if run is None:
            return
        run.final = result.as_dict()
        self._set_row(job_id, "succeeded", run.final)
        self._refresh_plots()
        self._refresh_budget()

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        run = self._runs.get(job_id)
        if run is None:
            return
        run.final = {}
        self._set_row(job_id, "failed")
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
        self._set_row(job_id, "cancelled" + spent, snap=snap)
        self._refresh_budget()


def _qcolor(name: str) -> Any:
    from PySide6.QtGui import QColor

    return QColor(name)
