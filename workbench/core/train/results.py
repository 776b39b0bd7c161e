"""What a training run reports: :class:`TrainProgress` while it runs, :class:`TrainResult` when it has finished."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.core.dp.accountant import format_epsilon


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
