"""What a training run reports: :class:`TrainProgress` while it runs, :class:`TrainResult` when it has finished, and how
a finished run compares with its majority baseline and a non-private run of the same recipe (:func:`compare_result`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.core.dp.accountant import format_epsilon

if TYPE_CHECKING:
    from workbench.core.dp.runs import RunRecord


@dataclass(frozen=True, slots=True)
class TrainProgress:
    """The payload of every :class:`Progress` the loop yields (``Progress.payload``). Immutable.

    ``epsilon`` is the spend after ``step`` optimizer steps by ``accountant`` at ``delta`` (``None`` when not
    private). ``val_accuracy`` is the last finished epoch's (``None`` before the first).
    """

    run_id: int | None
    phase: str
    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float | None
    epsilon: float | None
    target_epsilon: float | None
    delta: float | None
    accountant: str | None
    samples_per_second: float
    val_accuracy: float | None


@dataclass(frozen=True, slots=True)
class TrainResult:
    """How a finished run went. ``epsilon_spent`` is the accountant's value for ``steps`` (None: not private)."""

    run_id: int | None
    status: str
    private: bool
    task: str
    recipe: str
    epsilon_spent: float | None
    target_epsilon: float | None
    delta: float | None
    accountant: str | None
    noise_multiplier: float | None
    sample_rate: float
    steps: int
    epochs_completed: int
    max_grad_norm: float | None
    learning_rate: float
    val_accuracy: float | None
    majority_baseline: float
    samples_per_second: float
    train_rows: int
    val_rows: int
    trainable_parameters: int
    total_parameters: int
    seconds: float
    device: str
    model_path: str | None
    classes: tuple[str, ...]
    dropped_columns: tuple[str, ...] = ()
    columns_used: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        out["classes"] = list(self.classes)
        out["dropped_columns"] = list(self.dropped_columns)
        out["columns_used"] = list(self.columns_used)
        out["epsilon_label"] = (
            format_epsilon(self.epsilon_spent, self.delta, self.accountant)
            if self.epsilon_spent is not None and self.delta is not None and self.accountant
            else "not private (no differential privacy guarantee)"
        )
        return out


# ---- how a finished run compares ------------------------------------------------------------------------------

MARGIN = 0.005
"""Accuracy within this of the majority baseline counts as no better than it (a run of a few hundred validation rows
cannot tell a smaller difference from chance)."""


def recipe_key(config: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two runs "the same recipe" (a :meth:`TrainConfig.as_dict`, as stored in a run record): the task,
    the label and text columns, and the model (the text recipe and encoder, or the MLP's layers). Epochs, batch,
    learning rate and privacy settings may differ."""
    text = config.get("text") or {}
    tabular = config.get("tabular") or {}
    model: tuple[Any, ...]
    if config.get("task") == "text":
        model = (text.get("recipe"), text.get("model_path"))
    else:
        model = tuple(tabular.get("hidden") or ())
    return (config.get("task"), config.get("label_column"), config.get("text_column"), model)


def non_private_reference(runs: Iterable[RunRecord], config: Mapping[str, Any]) -> RunRecord | None:
    """The newest succeeded non-private run of ``runs`` (one dataset's, oldest first) with the same recipe as
    ``config`` and a validation accuracy; ``None`` when there is none."""
    key = recipe_key(config)
    found = None
    for run in runs:
        if run.private or run.status != "succeeded" or run.metrics.get("val_accuracy_final") is None:
            continue
        if recipe_key(run.config) == key:
            found = run
    return found


def compare_result(
    val_accuracy: float | None,
    majority_baseline: float,
    *,
    private: bool,
    reference: RunRecord | None = None,
) -> str:
    """One or two sentences that put a finished run's validation accuracy beside what it should beat: always
    predicting the most common class (the majority baseline) and, where one exists, a non-private run of the same
    recipe on the same data (``reference``, see :func:`non_private_reference`). The window and ``workbench train``
    both print this."""
    if val_accuracy is None:
        return "No validation accuracy: the run did not finish an epoch or had no validation rows."
    baseline = f"the majority baseline of {majority_baseline:.3f}"
    if val_accuracy <= majority_baseline + MARGIN:
        larger = ", more epochs or a larger ε" if private else " or more epochs"
        text = (
            f"Validation accuracy {val_accuracy:.3f} is no better than always predicting the most common class "
            f"({baseline}): more data{larger} would be needed."
        )
    else:
        text = f"Validation accuracy {val_accuracy:.3f}, {val_accuracy - majority_baseline:.3f} above {baseline}."
    if private and reference is not None:
        ref = float(reference.metrics["val_accuracy_final"])
        gap = ref - val_accuracy
        how = (
            f"differential privacy cost {gap:.3f} of accuracy"
            if gap > MARGIN
            else "no measurable accuracy lost to privacy"
        )
        text += f" The non-private run {reference.id} of the same recipe reached {ref:.3f}: {how}."
    return text
