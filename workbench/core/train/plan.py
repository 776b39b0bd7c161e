"""Planning a run before its first step: sample rate, number of steps, delta and the noise multiplier, chosen with
the same search Opacus's ``make_private_with_epsilon`` uses (the loop checks that Opacus agrees)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from workbench.core.dp.accountant import check_delta, default_delta, epsilon_for, noise_for_epsilon, steps_per_epoch
from workbench.core.jobs import Progress
from workbench.core.train.tasks import TrainConfig, TrainConfigError


@dataclass(frozen=True, slots=True)
class TrainingPlan:
    """What a run will do. Not private: ``accountant``, ``delta``, ``noise_multiplier`` and ``target_epsilon`` are
    ``None``. ``total_steps`` logical steps is exactly what the ledger reservation covers."""

    private: bool
    sample_rate: float
    total_steps: int
    accountant: str | None = None
    delta: float | None = None
    noise_multiplier: float | None = None
    target_epsilon: float | None = None

    def epsilon_after(self, steps: int) -> float:
        """The accountant's epsilon after ``steps`` logical steps (private plans only)."""
        assert self.noise_multiplier is not None and self.delta is not None and self.accountant is not None
        return epsilon_for(self.noise_multiplier, self.sample_rate, steps, self.delta, self.accountant)

    def spent(self, steps: int) -> tuple[float | None, float | None]:
        """(epsilon, delta) spent by ``steps`` logical steps: ``(None, None)`` when not private, zero for no step."""
        if not self.private:
            return None, None
        if not steps:
            return 0.0, 0.0
        return self.epsilon_after(steps), self.delta


def plan_run(config: TrainConfig, train_rows: int, accountant: str | None) -> Generator[Progress, None, TrainingPlan]:
    """Plan the run (``accountant`` is ``None`` for a non-private one); yields while it searches for the noise.

    Raises :class:`TrainConfigError` for a delta not below 1/n.
    """
    sample_rate = 1.0 / steps_per_epoch(train_rows, config.batch_size)
    total_steps = int(config.epochs / sample_rate)
    if accountant is None:
        return TrainingPlan(private=False, sample_rate=sample_rate, total_steps=total_steps)
    delta = config.delta if config.delta is not None else default_delta(train_rows)
    try:
        check_delta(delta, train_rows)
    except ValueError as exc:
        raise TrainConfigError(str(exc)) from None
    yield Progress("planning", message="choosing the noise multiplier")
    sigma = noise_for_epsilon(config.target_epsilon, sample_rate, delta, epochs=config.epochs, accountant=accountant)
    return TrainingPlan(
        private=True,
        sample_rate=sample_rate,
        total_steps=total_steps,
        accountant=accountant,
        delta=delta,
        noise_multiplier=sigma,
        target_epsilon=float(config.target_epsilon),
    )
