"""The Federation page's form: the dataset to split into sites, the number of sites and how to split, the task and
label, the rounds, epsilon per site (or no DP, for comparison), SecAgg+ on or off; and its checks.

:meth:`QtFederationForm.request` reads the form into a :class:`FederationRequest` or returns the reason it cannot
run (said on the page before any job starts: fewer than three sites with SecAgg+, no label, the split column being
the label...). Checks that need the rows (the label's classes, usable columns, each site's size against delta) are
the use case's, and come back as the job's error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QWidget,
)

RANDOM_SPLIT = "at random (seeded)"
MIN_SECAGG_SITES = 3  # SecAgg+ with 3 shares (threshold 2) needs at least 3 sites


@dataclass(frozen=True, slots=True)
class FederationRequest:
    """What the analyst asked for; ``epsilon`` is None for a run without DP (comparison only)."""

    dataset_id: int
    dataset_label: str
    sites: int
    by: str | None
    task: str
    label: str
    rounds: int
    epsilon: float | None
    secure_aggregation: bool
    seed: int
    text: str | None = None


class QtFederationForm(QGroupBox):
    """See the module docstring."""

    sig_dataset_changed = Signal(int)
    """The chosen dataset changed (its id); the page refills the column choices."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Demonstration on this machine", parent)
        form = QFormLayout(self)
        self.dataset_combo = QComboBox()
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_index)
        form.addRow("Dataset", self.dataset_combo)
        self.sites_spin = QSpinBox()
        self.sites_spin.setRange(2, 10)
        self.sites_spin.setValue(3)
        self.sites_spin.setToolTip("Each part becomes the dataset of a temporary site project with its own ledger.")
        form.addRow("Sites", self.sites_spin)
        self.split_combo = QComboBox()
        self.split_combo.setToolTip("Split the rows at random (seeded), or give each value of a column to one site.")
        form.addRow("Split", self.split_combo)
        self.task_combo = QComboBox()
        self.task_combo.addItem("Tabular (MLP)", "tabular")
        self.task_combo.addItem("Text (frozen MiniLM + DP head)", "text")
        self.task_combo.setToolTip(
            "Text: each site embeds its text column with the bundled MiniLM-L6 encoder (frozen, never sent); the "
            "federation trains the classifier head."
        )
        self.task_combo.currentIndexChanged.connect(self._on_task_changed)
        form.addRow("Task", self.task_combo)
        self.label_combo = QComboBox()
        form.addRow("Label", self.label_combo)
        self.text_combo = QComboBox()
        form.addRow("Text column", self.text_combo)
        self._form = form
        self.rounds_spin = QSpinBox()
        self.rounds_spin.setRange(1, 50)
        self.rounds_spin.setValue(3)
        form.addRow("Rounds", self.rounds_spin)
        self.dp_check = QCheckBox("Differential privacy")
        self.dp_check.setToolTip("DP-SGD (Opacus) at each site; off only to compare (no guarantee).")
        self.dp_check.setChecked(True)
        self.dp_check.toggled.connect(self._on_dp_toggled)
        form.addRow(self.dp_check)
        self.epsilon_spin = QDoubleSpinBox()
        self.epsilon_spin.setRange(0.1, 50.0)
        self.epsilon_spin.setSingleStep(0.5)
        self.epsilon_spin.setValue(3.0)
        self.epsilon_spin.setToolTip("Each site's epsilon over all rounds (RDP accountant; delta from its size).")
        form.addRow("ε per site", self.epsilon_spin)
        self.secagg_check = QCheckBox("Secure aggregation (SecAgg+)")
        self.secagg_check.setToolTip("SecAgg+: the host sees only the sum of the sites' updates.")
        self.secagg_check.setChecked(True)
        form.addRow(self.secagg_check)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 1_000_000)
        form.addRow("Seed", self.seed_spin)
        self._on_task_changed(0)
        for combo in (self.dataset_combo, self.split_combo, self.task_combo, self.label_combo, self.text_combo):
            # a long dataset or column name must not widen the form past its column
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)

    @Slot(int)
    def _on_task_changed(self, _index: int) -> None:
        self._form.setRowVisible(self.text_combo, self.task_combo.currentData() == "text")

    @Slot(bool)
    def _on_dp_toggled(self, on: bool) -> None:
        self.epsilon_spin.setEnabled(on)

    @Slot(int)
    def _on_dataset_index(self, _index: int) -> None:
        data = self.dataset_combo.currentData()
        if data is not None:
            self.sig_dataset_changed.emit(int(data))

    def set_datasets(self, items: Sequence[tuple[int, str]], current: int | None) -> None:
        """The project's datasets as (id, text); keeps ``current`` chosen when it is among them."""
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.clear()
        for dataset_id, text in items:
            self.dataset_combo.addItem(text, dataset_id)
        self.dataset_combo.setCurrentIndex(max(self.dataset_combo.findData(current), 0))
        self.dataset_combo.blockSignals(False)
        self._on_dataset_index(self.dataset_combo.currentIndex())

    def set_columns(
        self, columns: Sequence[str], suggested_label: str | None = None, suggested_text: str | None = None
    ) -> None:
        """The chosen dataset's columns for the label, the text and the split (keeping earlier choices that still
        exist; else the columns whose role is label and free text)."""
        label, split, text = (
            self.label_combo.currentText(),
            self.split_combo.currentText(),
            self.text_combo.currentText(),
        )
        self.label_combo.clear()
        self.label_combo.addItems(list(columns))
        self.text_combo.clear()
        self.text_combo.addItems(list(columns))
        text = text if text in columns else (suggested_text or "")
        if text in columns:
            self.text_combo.setCurrentText(text)
        keep = label if label in columns else suggested_label
        if keep in columns:
            self.label_combo.setCurrentText(str(keep))
        self.split_combo.clear()
        self.split_combo.addItem(RANDOM_SPLIT, None)
        for column in columns:
            self.split_combo.addItem(f"by column {column}", column)
        index = self.split_combo.findData(split.removeprefix("by column ")) if split != RANDOM_SPLIT else 0
        self.split_combo.setCurrentIndex(max(index, 0))

    def request(self) -> FederationRequest | str:
        """The form as a request, or the reason it cannot run (one sentence that says what to change)."""
        dataset_id = self.dataset_combo.currentData()
        if dataset_id is None:
            return "Add a dataset on the Data page first: the demonstration splits one dataset into sites."
        label = self.label_combo.currentText()
        if not label:
            return "Choose the label column (what the sites' model predicts)."
        by = self.split_combo.currentData()
        if by is not None and by == label:
            return f"The sites cannot be split by the label {label!r}: each site would hold one class only."
        secagg = self.secagg_check.isChecked()
        sites = self.sites_spin.value()
        if secagg and sites < MIN_SECAGG_SITES:
            return (
                f"SecAgg+ needs at least {MIN_SECAGG_SITES} sites (3 shares, any 2 reconstruct a dropped site's "
                "mask): add a site or turn secure aggregation off."
            )
        task = str(self.task_combo.currentData())
        text = self.text_combo.currentText() if task == "text" else None
        if task == "text" and (not text or text == label):
            return "Choose the text column (not the label): each site embeds it with the frozen encoder."
        return FederationRequest(
            dataset_id=int(dataset_id),
            dataset_label=self.dataset_combo.currentText(),
            sites=sites,
            by=by,
            task=task,
            label=label,
            rounds=self.rounds_spin.value(),
            epsilon=self.epsilon_spin.value() if self.dp_check.isChecked() else None,
            secure_aggregation=secagg,
            seed=self.seed_spin.value(),
            text=text,
        )
