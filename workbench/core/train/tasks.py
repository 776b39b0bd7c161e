"""Training configuration (frozen dataclasses) and the task registry (text and tabular classification).

A :class:`Task` turns a dataset table into tensors (:meth:`Task.prepare`) and builds the model for them
(:meth:`Task.build_model`). Tasks register under a name (``"text"``, ``"tabular"``) in :data:`TASKS`, a
:class:`workbench.core.registry.Registry`, by module path: the loop, the CLI and the GUI only ever look a task up
by name, and :func:`task_names` imports no task module.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.core.errors import WorkbenchError
from workbench.core.registry import Registry

if TYPE_CHECKING:
    import pyarrow as pa
    import torch
    from torch import nn


class TrainConfigError(WorkbenchError):
    """A training setting that cannot work or would silently break the privacy guarantee (message says why)."""


RECOMMENDED_BATCH_SIZE: dict[str, int] = {"tabular": 64, "text": 256}
"""The expected batch each task's recipe was measured with (benchmarks/bench_dp_accuracy.py): DP-SGD's
signal-to-noise ratio grows with the batch, and the text recipe's learning rate is tuned for 256."""

RECOMMENDED_ROWS_IN_MEMORY: dict[str, int | None] = {"tabular": None, "text": 128}
"""Rows per forward/backward pass (``max_physical_batch_size``); the gradient and the privacy analysis are the same.
Measured for a DP text step at batch 256 (benchmarks/bench_dp_memory.py, CPU): the whole batch at once peaks at
7.0 GB, pieces of 128 at 3.8 GB (90 % of the speed), pieces of 64 at 2.2 GB (about half the speed)."""


@dataclass(frozen=True, slots=True)
class TextModelConfig:
    """The text recipe.

    ``recipe``: ``"lora"`` (default: LoRA adapters of rank ``lora_r`` on the attention query/value projections
    plus the classification head; the measured fast DP recipe), ``"top_layers"`` (the top ``top_layers`` encoder
    layers plus head), ``"head"`` (head only) or ``"full"`` (every weight; slow under DP).
    ``model_path``: a local Hugging Face encoder folder; ``None`` is the bundled MiniLM-L6.
    """

    model_path: str | None = None
    recipe: str = "lora"
    lora_r: int = 16
    lora_alpha: int = 32
    top_layers: int = 2
    max_length: int = 64


@dataclass(frozen=True, slots=True)
class TabularModelConfig:
    """The MLP: hidden layer widths, the one-hot limit for categorical columns (others are dropped)."""

    hidden: tuple[int, ...] = (64, 32)
    max_categories: int = 32
    dropout: float = 0.0


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything a training run needs. Immutable: the GUI builds one, the worker reads it.

    Privacy: ``private=False`` trains the same recipe without DP (for comparison; its model has no guarantee).
    ``delta=None`` picks :func:`workbench.core.dp.accountant.default_delta` of the training rows.
    ``batch_size`` is the logical (expected Poisson) batch; ``max_physical_batch_size`` splits it in memory
    (Opacus's BatchMemoryManager for DP runs, gradient accumulation otherwise) without changing the privacy
    analysis or the gradient.
    """

    task: str
    label_column: str
    text_column: str | None = None
    feature_columns: tuple[str, ...] | None = None
    excluded_columns: tuple[str, ...] = ()
    dataset_fingerprint: str = ""
    dataset_name: str = ""
    private: bool = True
    target_epsilon: float = 3.0
    delta: float | None = None
    accountant: str = "rdp"
    epochs: int = 3
    batch_size: int = 64
    max_physical_batch_size: int | None = None
    max_grad_norm: float = 1.0
    learning_rate: float | None = None
    seed: int = 0
    val_fraction: float = 0.1
    max_rows: int | None = None
    device: str = "auto"
    poisson_sampling: bool = True
    save_model: bool = True
    output_dir: str | None = None
    text: TextModelConfig = field(default_factory=TextModelConfig)
    tabular: TabularModelConfig = field(default_factory=TabularModelConfig)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PreparedData:
    """Tensors of one task, split into train and validation by the seed. ``info`` is JSON-able metadata
    (column choices, dropped columns, encoding) saved with the model; it holds no row values."""

    train: tuple[torch.Tensor, ...]
    val: tuple[torch.Tensor, ...]
    classes: tuple[str, ...]
    info: Mapping[str, Any]

    @property
    def train_rows(self) -> int:
        return int(self.train[-1].shape[0])

    @property
    def val_rows(self) -> int:
        return int(self.val[-1].shape[0])


@dataclass(slots=True)
class ModelBundle:
    """A built model and how to call it: ``forward(model, batch_without_labels) -> logits``."""

    model: nn.Module
    forward: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor]
    recipe: str
    default_learning_rate: float
    save_extra: dict[str, Any] = field(default_factory=dict)
    default_dp_learning_rate: float | None = None
    """The learning rate for private runs when it differs (None: ``default_learning_rate``). DP noise favours a
    different rate than plain training; each mode gets the one measured best for it, so the non-private
    comparison is not handicapped."""

    def learning_rate(self, private: bool) -> float:
        if private and self.default_dp_learning_rate is not None:
            return self.default_dp_learning_rate
        return self.default_learning_rate


class Task(abc.ABC):
    """A kind of training job."""

    name: str = ""
    description: str = ""

    @abc.abstractmethod
    def prepare(self, config: TrainConfig, table: pa.Table) -> PreparedData:
        """Turn the table into train/validation tensors (labels last). Raises TrainConfigError."""

    @abc.abstractmethod
    def build_model(self, config: TrainConfig, data: PreparedData) -> ModelBundle:
        """A fresh model for ``data`` (a new one for every run: Opacus must not wrap a model twice)."""


TASKS: Registry[type[Task] | Task] = Registry("task")
"""The task registry: name -> ``"module:TaskClass"`` (or a Task instance given to :func:`register_task`). The
built-in tasks are registered by module path, so this module imports neither
:mod:`~workbench.core.train.text_model` nor :mod:`~workbench.core.train.tabular_model` (they import it)."""

TASKS.register("text", "workbench.core.train.text_model:TextClassificationTask")
TASKS.register("tabular", "workbench.core.train.tabular_model:TabularClassificationTask")

_TASKS: dict[str, Task] = {}
"""Every registered task, built: filled for all names on the first :func:`get_task` (cheap: the task modules
import torch and friends only inside their methods)."""
_TASKS_LOCK = threading.RLock()  # two training jobs may ask for a task at once, each in its own thread


def _as_task(obj: type[Task] | Task) -> Task:
    """A registered task: a :class:`Task` subclass is instantiated; an instance is kept as it is."""
    task = obj() if isinstance(obj, type) else obj
    if not isinstance(task, Task):
        raise TypeError(f"a registered task must be a Task subclass or instance, not {type(task).__name__}")
    return task


def register_task(task: Task) -> None:
    """Add a task instance under ``task.name``; raises ValueError when the name is taken (nothing is replaced)."""
    TASKS.add(task.name, task)


def get_task(name: str) -> Task:
    """The task called ``name``; raises :class:`TrainConfigError` naming the known tasks."""
    entry = TASKS.find(name)
    if entry is None:
        raise TrainConfigError(f"unknown task {name!r}; choose one of: {', '.join(task_names())}")
    with _TASKS_LOCK:
        if entry.name not in _TASKS:
            for known in TASKS.names():
                if known not in _TASKS:
                    _TASKS[known] = _as_task(TASKS.get(known))
        return _TASKS[entry.name]


def task_names() -> tuple[str, ...]:
    """The registered task names, sorted; imports no task module."""
    return tuple(sorted(TASKS.names()))


# ---- shared helpers ------------------------------------------------------------------------------------------


def _labelled_rows(config: TrainConfig, table: pa.Table) -> Any:
    """Row numbers (in ``table``) of the rows a run uses: those with a label, sampled down to ``max_rows``."""
    import numpy as np
    import pyarrow.compute as pc

    if config.label_column not in table.column_names:
        raise TrainConfigError(
            f"the dataset has no column {config.label_column!r} to use as the label; columns are: "
            + ", ".join(table.column_names)
        )
    rows = np.flatnonzero(np.asarray(pc.is_valid(table[config.label_column]).to_numpy(zero_copy_only=False)))
    if config.max_rows is not None:
        if config.max_rows < 10:
            raise TrainConfigError("max_rows must be at least 10")
        if len(rows) > config.max_rows:
            # A seeded sample, not the first rows: files are often sorted.
            pick = np.sort(np.random.default_rng(config.seed).permutation(len(rows))[: config.max_rows])
            rows = rows[pick]
    return rows


def _split(config: TrainConfig, n: int) -> tuple[Any, Any]:
    """The seeded train/validation split of ``n`` used rows: (train positions, validation positions), sorted."""
    import numpy as np

    if not 0.0 < config.val_fraction < 0.9:
        raise TrainConfigError("val_fraction must be between 0 and 0.9")
    n_val = max(1, round(n * config.val_fraction))
    if n - n_val < 10:
        raise TrainConfigError(f"only {n} labelled rows: at least 10 training rows are needed")
    perm = np.random.default_rng(config.seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def labels_and_split(config: TrainConfig, table: pa.Table) -> tuple[pa.Table, list[int], tuple[str, ...], Any, Any]:
    """Rows with a label (at most ``max_rows``), their class indices, the classes, and the seeded split.

    Returns ``(table, label_ids, classes, train_idx, val_idx)`` (numpy index arrays into the returned table).
    """
    rows = _labelled_rows(config, table)
    table = table.take(rows)
    raw = [str(v) for v in table[config.label_column].to_pylist()]
    classes = tuple(sorted(set(raw)))
    if len(classes) < 2:
        raise TrainConfigError(f"the label column {config.label_column!r} has fewer than two classes")
    if len(classes) > 100:
        raise TrainConfigError(
            f"the label column {config.label_column!r} has {len(classes)} distinct values: is it really a label? "
            "Classification supports at most 100 classes."
        )
    index = {c: i for i, c in enumerate(classes)}
    labels = [index[v] for v in raw]
    train_idx, val_idx = _split(config, table.num_rows)
    return table, labels, classes, train_idx, val_idx


def split_row_numbers(config: TrainConfig, table: pa.Table) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The dataset rows (0-based, in ``table``) a run with ``config`` trains on and holds out, as the loop splits
    them: the members and non-members a later membership audit needs."""
    rows = _labelled_rows(config, table)
    train_idx, val_idx = _split(config, len(rows))
    return tuple(int(r) for r in rows[train_idx]), tuple(int(r) for r in rows[val_idx])


def planned_train_rows(table: pa.Table, label_column: str, max_rows: int | None, val_fraction: float = 0.1) -> int:
    """How many rows a run will train on, computed as the loop splits them (labelled rows, sampled down to
    ``max_rows``, minus the validation share), so the epsilon planned before training matches the run."""
    return planned_split_rows(table, label_column, max_rows, val_fraction)[0]


def planned_split_rows(
    table: pa.Table, label_column: str, max_rows: int | None, val_fraction: float = 0.1
) -> tuple[int, int]:
    """(training rows, validation rows) of a run, computed as the loop splits them (see :func:`planned_train_rows`)."""
    import pyarrow.compute as pc

    if label_column not in table.column_names:
        raise TrainConfigError(f"the dataset has no column {label_column!r} to use as the label")
    n = int(pc.count(table[label_column], mode="only_valid").as_py())
    if max_rows is not None:
        n = min(n, max_rows)
    val = max(1, round(n * val_fraction))
    return n - val, val
