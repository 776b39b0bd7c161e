"""The Train page's form: what to train (task, columns, epochs, batch, rows), the recipe (encoder, text recipe,
length, learning rate, clipping, rows in memory, delta, device) and differential privacy (on or off, epsilon on a
log-scale slider, the accountant, and the place where the page shows the plan), with their validation and the
:class:`~workbench.core.train.TrainConfig` they make.

The form only holds and checks values: the page connects to its widgets' signals (plans, budget, start).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.core.data.dataset import ColumnRole, Dataset
from workbench.core.errors import WorkbenchError
from workbench.ui.qt_train_plots import make_plan_plot

EPS_MIN, EPS_MAX, SLIDER_STEPS = 0.1, 50.0, 1000


def slider_to_epsilon(position: int) -> float:
    """Log scale: 0 -> 0.1, SLIDER_STEPS -> 50; rounded to two significant digits."""
    lo, hi = math.log10(EPS_MIN), math.log10(EPS_MAX)
    value = 10 ** (lo + (hi - lo) * position / SLIDER_STEPS)
    return float(f"{value:.2g}")


def epsilon_to_slider(epsilon: float) -> int:
    lo, hi = math.log10(EPS_MIN), math.log10(EPS_MAX)
    return round((math.log10(min(max(epsilon, EPS_MIN), EPS_MAX)) - lo) / (hi - lo) * SLIDER_STEPS)


class QtTrainForm(QWidget):
    """The three group boxes of the Train page's settings, one above the other."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_what())
        layout.addWidget(self._build_recipe())
        layout.addWidget(self._build_privacy())

    def _build_what(self) -> QGroupBox:
        form_box = QGroupBox("What to train")
        form = QFormLayout(form_box)
        self.task_box = QComboBox()
        self.task_box.addItem("Tabular classification (MLP over the columns)", "tabular")
        self.task_box.addItem("Text classification (MiniLM encoder, LoRA)", "text")
        self.label_box = QComboBox()
        self.text_box = QComboBox()
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 100)
        self.epochs_spin.setValue(3)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(4, 4096)
        self.batch_spin.setValue(64)
        self._auto_batch = 64  # the value the form itself chose last: only that one follows the task and the data
        self.batch_spin.setToolTip(
            "Expected (Poisson) batch. Left as offered, it follows the data: the task's measured batch, smaller when "
            "the run would take too few optimizer steps, larger when the noise per step would drown the signal"
        )
        self.rows_spin = QSpinBox()
        self.rows_spin.setRange(0, 10_000_000)
        self.rows_spin.setSpecialValueText("all rows")
        self.rows_spin.setSingleStep(500)
        self.rows_spin.setToolTip("Train on a seeded sample of this many rows (0: all)")
        form.addRow("Task:", self.task_box)
        form.addRow("Label column:", self.label_box)
        form.addRow("Text column:", self.text_box)
        form.addRow("Epochs:", self.epochs_spin)
        form.addRow("Batch size (expected):", self.batch_spin)
        form.addRow("Rows:", self.rows_spin)
        return form_box

    def _build_recipe(self) -> QGroupBox:
        recipe_box = QGroupBox("Recipe")
        recipe = QFormLayout(recipe_box)
        enc_row = QHBoxLayout()
        self.encoder_box = QComboBox()
        self.encoder_box.addItem("Bundled MiniLM-L6 (all-MiniLM-L6-v2)", None)
        self.encoder_box.setToolTip("Any local Hugging Face encoder folder; nothing is downloaded")
        self.encoder_button = QPushButton("Folder…")
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
        self.lr_spin.setToolTip("0: the recipe's measured rate (the plan shows it)")
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
        return recipe_box

    def _build_privacy(self) -> QGroupBox:
        dp_box = QGroupBox("Differential privacy")
        dp = QVBoxLayout(dp_box)
        self.private_check = QCheckBox("Train with differential privacy (Opacus DP-SGD, Poisson sampling)")
        self.private_check.setChecked(True)
        dp.addWidget(self.private_check)
        row = QHBoxLayout()
        row.addWidget(QLabel("ε"))
        self.eps_slider = QSlider(Qt.Orientation.Horizontal)
        self.eps_slider.setRange(0, SLIDER_STEPS)
        self.eps_slider.setValue(epsilon_to_slider(3.0))
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
        acc_row.addWidget(self.accountant_box)
        acc_row.addStretch(1)
        dp.addLayout(acc_row)
        self.plan_label = QLabel()
        self.plan_label.setWordWrap(True)
        dp.addWidget(self.plan_label)
        self.plan_plot, self.plan_curve, self.plan_target = make_plan_plot()
        self.plan_dimmed = False
        dp.addWidget(self.plan_plot)
        return dp_box

    # --- values ---------------------------------------------------------------------------------------------

    @property
    def device(self) -> str:
        return str(self.device_box.currentData())

    @device.setter
    def device(self, name: str) -> None:
        index = self.device_box.findData(name)
        self.device_box.setCurrentIndex(max(0, index))

    def epsilon(self) -> float:
        return slider_to_epsilon(self.eps_slider.value())

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

    def follow_task(self) -> None:
        """Offer the new task's measured batch size and rows in memory, unless the analyst chose other ones."""
        from workbench.core.train.tasks import RECOMMENDED_BATCH_SIZE, RECOMMENDED_ROWS_IN_MEMORY

        task = self.task_box.currentData()
        if self.batch_spin.value() == self._auto_batch:
            self._auto_batch = RECOMMENDED_BATCH_SIZE[task]
            self.batch_spin.setValue(self._auto_batch)
        if self.physical_spin.value() == self._auto_physical:
            self._auto_physical = RECOMMENDED_ROWS_IN_MEMORY[task] or 0
            self.physical_spin.setValue(self._auto_physical)

    def batch_is_auto(self) -> bool:
        """Whether the batch is still the one the form chose (the analyst has not typed another)."""
        return self.batch_spin.value() == self._auto_batch

    def follow_advice(self, advice: Any) -> bool:
        """Take the batch a plan chose for the data (:func:`workbench.core.train.advice.advise`) unless the analyst
        chose one; returns whether the batch changed (a new plan for it is then requested by the spin box)."""
        if not advice.batch_suggested or not self.batch_is_auto() or advice.batch_size == self.batch_spin.value():
            return False
        self._auto_batch = advice.batch_size
        self.batch_spin.setValue(advice.batch_size)
        return True

    def update_enabled(self) -> None:
        """Text settings only for the text task, privacy settings only for a private run."""
        text_task = self.task_box.currentData() == "text"
        text_widgets: tuple[QWidget, ...] = (
            self.text_box, self.encoder_box, self.encoder_button, self.recipe_box, self.length_spin,
        )  # fmt: skip
        for widget in text_widgets:
            widget.setEnabled(text_task)
        private = self.private_check.isChecked()
        for widget in (self.eps_slider, self.accountant_box, self.plan_plot, self.clip_spin, self.delta_edit):
            widget.setEnabled(private)

    def show_columns(self, ds: Dataset | None, roles: Mapping[str, ColumnRole]) -> None:
        """Offer ``ds``'s columns: label candidates first (the label role, then small-cardinality columns with no
        privacy role, fewest values first), free-text columns first as text. The label combo sends no signal
        meanwhile."""
        self.label_box.blockSignals(True)
        self.label_box.clear()
        self.text_box.clear()
        if ds is not None:
            names = ds.column_names
            labels = [n for n in names if roles.get(n) is ColumnRole.LABEL]
            # Then columns with no privacy role and few values, fewest first: a label is more often yes/no than a
            # count (the demo's visits_last_year has 13 values, its follow_up 2).
            candidates = [
                c
                for c in ds.columns
                if c.name not in labels and roles.get(c.name) is ColumnRole.OTHER and 2 <= c.distinct <= 20
            ]
            labels += [c.name for c in sorted(candidates, key=lambda c: c.distinct)]
            for name in labels + [n for n in names if n not in labels]:
                self.label_box.addItem(name)
            texts = [n for n in names if roles.get(n) is ColumnRole.FREE_TEXT]
            for name in texts + [n for n in names if n not in texts]:
                self.text_box.addItem(name)
        self.label_box.blockSignals(False)

    def add_encoder_folder(self, folder: str) -> None:
        """Offer and select a local encoder folder; raises :class:`WorkbenchError` for one that is not a model."""
        path = Path(folder).expanduser()
        if not (path / "config.json").is_file():
            raise WorkbenchError(
                f"{path.name} is not a Hugging Face model folder (it has no config.json; it also needs the weights "
                "and the tokenizer files). Models are never downloaded."
            )
        index = self.encoder_box.findData(str(path))
        if index < 0:
            self.encoder_box.addItem(f"{path.name} ({path})", str(path))
            index = self.encoder_box.count() - 1
        self.encoder_box.setCurrentIndex(index)

    def config(self, ds: Dataset, roles: Mapping[str, ColumnRole]) -> Any:
        """The :class:`~workbench.core.train.TrainConfig` for ``ds``; raises :class:`WorkbenchError` on a bad δ."""
        from workbench.core.train import TextModelConfig, TrainConfig
        from workbench.services.training import excluded_columns

        task = self.task_box.currentData()
        label = self.label_box.currentText()
        text = self.text_box.currentText() if task == "text" else None
        return TrainConfig(
            task=task,
            label_column=label,
            text_column=text,
            excluded_columns=excluded_columns(roles, label=label, text=text),
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

    def show_plan_curve(self, epochs: list[float], epsilons: list[float], target: float) -> None:
        self.plan_curve.setData(epochs, epsilons)
        self.plan_target.setValue(target)
        self.plan_target.setVisible(True)
        self.plan_plot.enableAutoRange()  # the empty state pinned 0..1

    def clear_plan_curve(self) -> None:
        self.plan_curve.setData([], [])
        self.plan_target.setVisible(False)
        self.dim_plan_curve(False)

    def dim_plan_curve(self, dim: bool) -> None:
        """Grey the plan's curve while a plan for new settings is computed (its figures are for the old ones)."""
        import pyqtgraph as pg

        self.plan_dimmed = dim
        self.plan_curve.setPen(pg.mkPen("#bbbbbb" if dim else "#1f77b4", width=2))
        self.plan_target.setPen(pg.mkPen("#bbbbbb" if dim else "#d62728", style=Qt.PenStyle.DashLine))
