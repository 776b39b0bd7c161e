"""Planning a run before its first step: sample rate, number of steps, delta and the noise multiplier, chosen with
the same search Opacus's ``make_private_with_epsilon`` uses (the loop checks that Opacus agrees)."""

from __future__ import annotations

import functools
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from workbench.core.dp.accountant import check_delta, default_delta, epsilon_for, noise_for_epsilon, steps_per_epoch
from workbench.core.heavy_imports import import_serialized
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
        """The accountant's epsilon after ``steps`` logical steps (private plans only).

        RDP is linear in the number of steps, so for the RDP accountant the per-step RDP of this plan's noise and
        sample rate is computed once and the epsilons of a block of :data:`_BLOCK` consecutive step counts are
        converted at once, with the same orders and the same floating-point operations as Opacus's
        ``get_privacy_spent``: the value equals :func:`epsilon_for`'s exactly. The loop asks after every step; a
        fresh accountant each time cost about 90 to 160 ms, several times a tabular step (issue 19).
        """
        assert self.noise_multiplier is not None and self.delta is not None and self.accountant is not None
        if self.accountant != "rdp" or steps <= 0:
            return epsilon_for(self.noise_multiplier, self.sample_rate, steps, self.delta, self.accountant)
        block, offset = divmod(steps - 1, _BLOCK)
        return _rdp_epsilon_block(self.noise_multiplier, self.sample_rate, self.delta, block)[offset]

    def spent(self, steps: int) -> tuple[float | None, float | None]:
        """(epsilon, delta) spent by ``steps`` logical steps: ``(None, None)`` when not private, zero for no step."""
        if not self.private:
            return None, None
        if not steps:
            return 0.0, 0.0
        return self.epsilon_after(steps), self.delta


_BLOCK = 256


@functools.lru_cache(maxsize=32)
def _rdp_per_step(noise_multiplier: float, sample_rate: float) -> tuple[Any, Any]:
    """Opacus's RDP orders and the RDP of one subsampled Gaussian step at each (numpy arrays; never mutated)."""
    import numpy as np

    import_serialized("opacus.accountants.analysis.rdp", "opacus.accountants.rdp")
    from opacus.accountants.analysis.rdp import compute_rdp
    from opacus.accountants.rdp import RDPAccountant

    orders = np.atleast_1d(RDPAccountant.DEFAULT_ALPHAS)
    return orders, compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=1, orders=orders)


@functools.lru_cache(maxsize=16)
def _rdp_epsilon_block(noise_multiplier: float, sample_rate: float, delta: float, block: int) -> tuple[float, ...]:
    """Epsilons after steps ``block * _BLOCK + 1`` ... ``(block + 1) * _BLOCK``: Opacus's ``get_privacy_spent``
    (Balle et al. 2020's conversion), one row per step count, in the same operations and order."""
    import numpy as np

    orders, per_step = _rdp_per_step(noise_multiplier, sample_rate)
    steps = np.arange(block * _BLOCK + 1, (block + 1) * _BLOCK + 1)
    eps = (
        per_step[None, :] * steps[:, None]
        - (np.log(delta) + np.log(orders)) / (orders - 1)
        + np.log((orders - 1) / orders)
    )
    out = []
    for row in eps:
        out.append(np.inf if np.isnan(row).all() else float(row[np.nanargmin(row)]))
    return tuple(out)


def warm_epsilon(plan: TrainingPlan) -> None:
    """Compute the per-step RDP of a private plan now (during planning), not on the loop's first step."""
    if plan.private and plan.accountant == "rdp" and plan.noise_multiplier is not None:
        _rdp_per_step(plan.noise_multiplier, plan.sample_rate)


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
    plan = TrainingPlan(
        private=True,
        sample_rate=sample_rate,
        total_steps=total_steps,
        accountant=accountant,
        delta=delta,
        noise_multiplier=sigma,
        target_epsilon=float(config.target_epsilon),
    )
    warm_epsilon(plan)
    return plan
