"""Defaults that fit the data, and a plain warning before training when a plan is unlikely to learn.

The Train page and ``workbench train`` both call :func:`advise` with the dataset size, the task and the privacy
target; it returns the batch and learning rate to use when the analyst left them to the workbench, the expected
number of optimizer steps and, for a private run, the noise multiplier (from the same accountant search the loop
uses), plus sentences that say before the first step when the plan is unlikely to beat the majority baseline.

Where the numbers come from (``docs/training.md`` has the tables):

* Learning rates. Each recipe's rate was measured (:data:`RECIPE_RATES`) and holds across the batches the workbench
  chooses: the text recipe's 1e-2 under DP learned at batch 64 as at 256 (demo, 1,200 rows, epsilon 3: 0.825
  against a 0.55 majority), while the same run with the rate scaled linearly to the batch (2.5e-3) stayed at the
  majority (0.55); the tabular 1e-2 learned at batches 16 to 512. So the rate is not scaled with the batch; an
  analyst's rate more than twice the measured one is warned about (nothing was measured there).
* Batch size. The task's recommended batch (the one its rate was measured with), halved while a run would take
  fewer than :data:`MIN_STEPS` optimizer steps, down to :data:`MIN_BATCH`; under DP it is doubled back (while at
  least half of :data:`MIN_STEPS` remain) when the noise per step is above the task's limit, which depends on the
  target epsilon. Larger expected batches raise DP-SGD's signal-to-noise ratio (Li et al. 2021), fewer steps lower
  how far the model can move: the rule keeps both in range.
* Warnings. Too few optimizer steps, too little movement (learning rate x steps, tabular demo: 1e-3 x 20 steps
  stayed at the minority class on 400 rows, 1e-2 x 20 learned), noise per step above the limit, a learning rate
  far above the one measured for the batch, or a validation split too small to tell a model from the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.core.dp.accountant import default_delta, noise_for_epsilon, steps_per_epoch
from workbench.core.train.tasks import planned_split_rows

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.core.train.tasks import TrainConfig

RECIPE_RATES: dict[tuple[str, str, bool], tuple[float, int]] = {
    # (task, recipe, private) -> (learning rate, the expected batch it was first measured at)
    ("text", "lora", True): (1e-2, 256),
    ("text", "lora", False): (2e-3, 256),
    ("text", "top_layers", True): (5e-4, 256),
    ("text", "top_layers", False): (5e-4, 256),
    ("text", "head", True): (5e-3, 256),
    ("text", "head", False): (5e-3, 256),
    ("text", "full", True): (5e-5, 256),
    ("text", "full", False): (5e-5, 256),
    # The tabular MLP (AdamW), measured on the demo (benchmarks/out/tabular_lr_sweep.jsonl, docs/training.md):
    # 1e-2 beat or matched 1e-3 in every one of 24 private runs (400 to 5,000 rows, epsilon 1 and 3, batch 64 to
    # 512); at about 20 steps 1e-3 never left the minority class.
    ("tabular", "mlp", True): (1e-2, 64),
    ("tabular", "mlp", False): (1e-2, 64),
}

REFERENCE_BATCH: dict[str, int] = {"text": 256, "tabular": 64}
"""The expected batch each task's recipe was measured with."""

MIN_BATCH: dict[str, int] = {"text": 32, "tabular": 16}
MIN_STEPS: dict[str, int] = {"text": 50, "tabular": 50}
"""Fewer optimizer steps than this: the suggested batch is halved (down to :data:`MIN_BATCH`)."""

NOISE_LIMIT: dict[str, float] = {"text": 0.02, "tabular": 0.08}
"""Noise multiplier / expected batch (the noise in the mean clipped gradient, in units of the clipping bound) above
which a private run is unlikely to learn. Tabular (demo, 1,200 rows): 0.056 still reached 0.717 against a 0.55
baseline, 0.088 only 0.617. Text (LoRA, about 150 k trainable weights against the MLP's few thousand) gets less room:
on the demo at epsilon 3, 0.017 learned (0.825 against 0.55) and 0.0295 stayed at the majority; provisional
(docs/training.md)."""

MIN_MOVEMENT = 0.05
"""Learning rate x steps below this: the weights barely move from their random start (tabular demo, 1e-3 x 20)."""

FEW_STEPS = 10
"""Fewer optimizer steps than this: a run is unlikely to learn whatever its settings."""

MIN_VAL_ROWS = 50
"""A validation split smaller than this cannot tell a model from the majority baseline (a 10-point difference on
fewer rows is within chance)."""


def recipe_key(task: str, recipe: str | None) -> str:
    """The recipe name :data:`RECIPE_RATES` knows a task's model by."""
    return "mlp" if task == "tabular" else (recipe or "lora")


def learning_rate_for(task: str, recipe: str | None, private: bool, batch_size: int) -> float:
    """The recipe's measured learning rate for a run with ``batch_size`` (the same for every batch the workbench
    chooses: see the module docstring for the measurement that ruled out scaling it with the batch)."""
    del batch_size  # measured: scaling the rate down with the batch made small-batch private runs fail
    return RECIPE_RATES[(task, recipe_key(task, recipe), private)][0]


def expected_steps(train_rows: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps of a run, counted as the loop and Opacus count them (``int(epochs / sample_rate)``)."""
    return int(epochs * steps_per_epoch(train_rows, batch_size))


def _noise(epsilon: float, train_rows: int, batch_size: int, epochs: int, delta: float, accountant: str) -> float:
    return noise_for_epsilon(epsilon, 1.0 / steps_per_epoch(train_rows, batch_size), delta, epochs=epochs,
                             accountant=accountant)  # fmt: skip


def suggest_batch_size(
    task: str,
    train_rows: int,
    epochs: int,
    *,
    private: bool,
    target_epsilon: float | None = None,
    delta: float | None = None,
    accountant: str = "rdp",
) -> int:
    """The expected batch for ``train_rows`` rows and ``epochs`` epochs (see the module docstring)."""
    batch = REFERENCE_BATCH[task]
    while batch > MIN_BATCH[task] and expected_steps(train_rows, batch, epochs) < MIN_STEPS[task]:
        batch //= 2
    if not private or target_epsilon is None:
        return batch
    delta = delta if delta is not None else default_delta(train_rows)
    while (
        batch < REFERENCE_BATCH[task]
        and _noise(target_epsilon, train_rows, batch, epochs, delta, accountant) / batch > NOISE_LIMIT[task]
        and expected_steps(train_rows, batch * 2, epochs) >= MIN_STEPS[task] // 2
    ):
        batch *= 2
    return batch


@dataclass(frozen=True, slots=True)
class TrainingAdvice:
    """What a run with these settings will do, and whether it is likely to beat the majority baseline.

    ``batch_size`` and ``learning_rate`` are the ones the run will use (the analyst's where given, else the
    suggested ones); ``noise_multiplier``, ``delta`` and ``accountant`` are ``None`` for a non-private run.
    """

    task: str
    private: bool
    train_rows: int
    val_rows: int
    epochs: int
    batch_size: int
    batch_suggested: bool
    learning_rate: float
    learning_rate_suggested: bool
    steps: int
    noise_multiplier: float | None
    target_epsilon: float | None
    delta: float | None
    accountant: str | None
    warnings: tuple[str, ...]

    @property
    def likely_to_learn(self) -> bool:
        """False when a warning says the plan is unlikely to beat the majority baseline."""
        return not self.warnings

    @property
    def noise_per_step(self) -> float | None:
        """Noise multiplier / expected batch: the noise in the mean clipped gradient, in clipping bounds."""
        return None if self.noise_multiplier is None else self.noise_multiplier / self.batch_size

    def summary(self) -> str:
        """One sentence: batch, learning rate, steps and (private) the noise, naming the accountant and delta."""
        chosen = " (chosen for the data)" if self.batch_suggested else ""
        rate = " (the recipe's measured rate)" if self.learning_rate_suggested else ""
        text = (
            f"{self.train_rows:,} training rows, expected batch {self.batch_size}{chosen}, learning rate "
            f"{self.learning_rate:.3g}{rate}, {self.epochs} epoch(s) = {self.steps} optimizer steps"
        )
        if self.noise_multiplier is not None:
            from workbench.core.dp.accountant import format_epsilon

            assert self.delta is not None and self.accountant is not None and self.target_epsilon is not None
            text += (
                f"; noise multiplier {self.noise_multiplier:.3g} for "
                f"{format_epsilon(self.target_epsilon, self.delta, self.accountant)}"
            )
        return text + "."


def advise(
    task: str,
    train_rows: int,
    val_rows: int,
    *,
    epochs: int,
    private: bool,
    target_epsilon: float | None = None,
    delta: float | None = None,
    accountant: str = "rdp",
    batch_size: int | None = None,
    learning_rate: float | None = None,
    recipe: str | None = None,
) -> TrainingAdvice:
    """The settings a run will use (suggested where ``None``) and the warnings it deserves, before training.

    Raises :class:`~workbench.core.dp.accountant.PlanningError` (a ``ValueError``) for privacy parameters that
    cannot be planned, e.g. a delta not below 1/n.
    """
    if train_rows <= 0 or epochs <= 0:
        raise ValueError("training rows and epochs must be positive")
    if private and target_epsilon is None:
        raise ValueError("a private run needs a target epsilon")
    batch = batch_size or suggest_batch_size(
        task, train_rows, epochs, private=private, target_epsilon=target_epsilon, delta=delta, accountant=accountant
    )
    rate = learning_rate or learning_rate_for(task, recipe, private, batch)
    steps = expected_steps(train_rows, batch, epochs)
    sigma = used_delta = None
    if private:
        assert target_epsilon is not None
        used_delta = delta if delta is not None else default_delta(train_rows)
        sigma = _noise(target_epsilon, train_rows, batch, epochs, used_delta, accountant)
    warnings = _warnings(task, recipe, private, val_rows, batch, rate, steps, sigma)
    return TrainingAdvice(
        task=task, private=private, train_rows=train_rows, val_rows=val_rows, epochs=epochs, batch_size=batch,
        batch_suggested=batch_size is None, learning_rate=rate, learning_rate_suggested=learning_rate is None,
        steps=steps, noise_multiplier=sigma, target_epsilon=target_epsilon if private else None, delta=used_delta,
        accountant=accountant if private else None, warnings=warnings,
    )  # fmt: skip


def _warnings(
    task: str, recipe: str | None, private: bool, val_rows: int, batch: int, rate: float, steps: int,
    sigma: float | None,
) -> tuple[str, ...]:  # fmt: skip
    """Why a plan is unlikely to beat the majority baseline (empty: no reason found)."""
    out: list[str] = []
    if steps < FEW_STEPS:
        out.append(f"Only {steps} optimizer steps: too few to learn. Use more epochs or a smaller batch, or more rows.")
    elif rate * steps < MIN_MOVEMENT:
        out.append(
            f"Learning rate {rate:.3g} x {steps} steps = {rate * steps:.2g}: the model will barely move from its "
            "random start. Raise the learning rate or train for more epochs."
        )
    if sigma is not None and sigma / batch > NOISE_LIMIT[task]:
        out.append(
            f"The noise per step (noise multiplier {sigma:.3g} / batch {batch} = {sigma / batch:.3g} of the clipping "
            f"bound) is above what this task has learned through ({NOISE_LIMIT[task]:g}): the noise will likely "
            "drown the signal. Use a larger ε, more rows, a larger batch or fewer epochs."
        )
    if private:
        matched = learning_rate_for(task, recipe, True, batch)
        if rate > 2 * matched:
            out.append(
                f"Learning rate {rate:.3g} is more than twice the rate measured for this recipe under DP "
                f"({matched:.3g}): the noisy updates may diverge. Leave the rate to the recipe."
            )
    if val_rows < MIN_VAL_ROWS:
        out.append(
            f"Only {val_rows} validation rows: an accuracy measured on so few cannot tell a model from the majority "
            "baseline. Use more rows."
        )
    return tuple(out)


def advise_run(config: TrainConfig, table: pa.Table, *, batch_size: int | None) -> TrainingAdvice:
    """:func:`advise` for a run of ``config`` on ``table`` (rows counted as the loop splits them). ``batch_size``
    ``None`` lets the workbench choose the batch; ``config.learning_rate`` ``None`` the rate."""
    train_rows, val_rows = planned_split_rows(table, config.label_column, config.max_rows, config.val_fraction)
    return advise(
        config.task, train_rows, val_rows, epochs=config.epochs, private=config.private,
        target_epsilon=config.target_epsilon if config.private else None, delta=config.delta,
        accountant=config.accountant, batch_size=batch_size, learning_rate=config.learning_rate,
        recipe=config.text.recipe,
    )  # fmt: skip
