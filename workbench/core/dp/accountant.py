"""Accountant facade: epsilon from (noise multiplier, sample rate, steps, delta), and the inverse for planning.

A thin, keyword-only layer over Opacus's accountants (``opacus.accountants``): ``"rdp"`` (Rényi DP, the
default) and ``"prv"`` (privacy random variables, tighter, slower). Every function builds a *fresh* accountant,
so they are safe to call from any thread: Opacus's accountants have no locks and mutate their history in place
(``RDPAccountant.step`` pops then appends), so a training loop's own accountant must only be read by the worker
thread that steps it.

Conventions match :meth:`opacus.PrivacyEngine.make_private_with_epsilon`: with ``n`` training rows and a logical
batch size ``B`` the loader has ``ceil(n / B)`` batches per epoch, the Poisson sample rate is ``1 / ceil(n / B)``
and ``epochs`` epochs are ``int(epochs / sample_rate)`` steps.

Every epsilon shown to a user names its accountant and delta (:meth:`EpsilonPoint.label`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from workbench.core.errors import WorkbenchError
from workbench.core.heavy_imports import import_serialized

ACCOUNTANTS: dict[str, str] = {
    "rdp": "Rényi DP (Mironov 2017; Opacus RDPAccountant)",
    "prv": "privacy random variables (Gopi et al. 2021; Opacus PRVAccountant)",
}
"""Accountants the workbench offers, name → description."""

DEFAULT_ACCOUNTANT = "rdp"
MIN_EPSILON = 0.01
MAX_EPSILON = 100.0


_OPACUS_ACCOUNTING = (
    "opacus.accountants",
    "opacus.accountants.utils",
    "opacus.accountants.analysis.rdp",
    "opacus.accountants.rdp",
)


class PlanningError(WorkbenchError, ValueError):
    """Privacy parameters that cannot be planned (the message says which and why; fit to show as it is)."""


@dataclass(frozen=True, slots=True)
class EpsilonPoint:
    """An epsilon with everything needed to read it: after ``steps`` steps (``epoch`` epochs)."""

    epoch: float
    steps: int
    epsilon: float
    delta: float
    accountant: str

    def label(self) -> str:
        return format_epsilon(self.epsilon, self.delta, self.accountant)


@dataclass(frozen=True, slots=True)
class PrivacyPlan:
    """What a DP training run with these settings will use and spend (the slider's read-out).

    ``curve`` holds the predicted epsilon after each epoch; its last point is at most ``target_epsilon``.
    """

    target_epsilon: float
    delta: float
    accountant: str
    noise_multiplier: float
    sample_rate: float
    steps_per_epoch: int
    steps: int
    epochs: int
    train_rows: int
    batch_size: int
    curve: tuple[EpsilonPoint, ...]

    @property
    def final_epsilon(self) -> float:
        return self.curve[-1].epsilon if self.curve else 0.0

    def label(self) -> str:
        return (
            f"noise multiplier {self.noise_multiplier:.3f}, {self.steps} steps at sample rate {self.sample_rate:.4g}: "
            + format_epsilon(self.final_epsilon, self.delta, self.accountant)
        )


def format_delta(delta: float) -> str:
    """δ in scientific notation with every significant digit the analyst typed: 1e-05, 2.5e-06 (never rounded to
    one digit, which would understate a δ of 2.5e-06 as 2e-06)."""
    mantissa, exponent = f"{delta:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


def format_epsilon(epsilon: float, delta: float, accountant: str) -> str:
    """``"ε = 2.94 (δ = 1e-05, RDP accountant)"``: how every epsilon is shown."""
    eps = "∞" if math.isinf(epsilon) else f"{epsilon:.3g}"
    return f"ε = {eps} (δ = {format_delta(delta)}, {accountant.upper()} accountant)"


def check_accountant(accountant: str) -> str:
    name = accountant.lower().strip()
    if name not in ACCOUNTANTS:
        raise PlanningError(f"unknown accountant {accountant!r}; choose one of: {', '.join(ACCOUNTANTS)}")
    return name


def default_delta(n: int) -> float:
    """A delta well below ``1/n``: ``1/(10 n)`` rounded down to a power of ten (n=900 → 1e-4, n=9000 → 1e-5).

    A delta of the order of ``1/n`` allows a mechanism that publishes one whole row; one tenth of it, rounded
    down, is the customary safe side.
    """
    if n <= 0:
        raise PlanningError("the training set is empty; delta cannot be chosen")
    return float(10.0 ** math.floor(math.log10(1.0 / (10.0 * n))))


def check_delta(delta: float, n: int) -> None:
    """Refuse a delta that would allow publishing a row (``delta >= 1/n``)."""
    if not 0.0 < delta < 1.0:
        raise PlanningError(f"delta must be between 0 and 1 (exclusive), got {delta:g}")
    if delta >= 1.0 / n:
        raise PlanningError(
            f"delta = {delta:g} is not below 1/n = {1.0 / n:.3g} for {n} training rows: with such a delta a "
            f"mechanism may publish a whole row. Use a smaller delta, e.g. {default_delta(n):g} (the default)."
        )


def steps_per_epoch(train_rows: int, batch_size: int) -> int:
    """Batches per epoch of a loader with this logical batch size (Opacus: ``len(data_loader)``)."""
    if train_rows <= 0:
        raise PlanningError("the training set is empty")
    if batch_size <= 0:
        raise PlanningError("the batch size must be positive")
    return math.ceil(train_rows / batch_size)


def sample_rate_for(train_rows: int, batch_size: int) -> float:
    """Poisson sample rate as Opacus sets it: ``1 / len(data_loader)``."""
    return 1.0 / steps_per_epoch(train_rows, batch_size)


def _check_mechanism(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> None:
    if noise_multiplier <= 0:
        raise PlanningError("the noise multiplier must be positive (zero noise has infinite epsilon)")
    if not 0.0 < sample_rate <= 1.0:
        raise PlanningError(f"the sample rate must be in (0, 1], got {sample_rate:g}")
    if steps < 0:
        raise PlanningError("the number of steps cannot be negative")
    if not 0.0 < delta < 1.0:
        raise PlanningError(f"delta must be between 0 and 1 (exclusive), got {delta:g}")


@functools.lru_cache(maxsize=4096)
def epsilon_for(
    noise_multiplier: float, sample_rate: float, steps: int, delta: float, accountant: str = DEFAULT_ACCOUNTANT
) -> float:
    """Epsilon spent by ``steps`` Poisson-subsampled Gaussian steps, according to ``accountant``.

    Computed with a fresh Opacus accountant whose history is ``[(noise_multiplier, sample_rate, steps)]``, i.e.
    exactly what :class:`opacus.PrivacyEngine`'s accountant holds after ``steps`` steps of one run.
    """
    import_serialized(*_OPACUS_ACCOUNTING)
    from opacus.accountants import create_accountant

    accountant = check_accountant(accountant)
    _check_mechanism(noise_multiplier, sample_rate, steps, delta)
    if steps == 0:
        return 0.0
    acc = create_accountant(mechanism=accountant)
    acc.history = [(float(noise_multiplier), float(sample_rate), int(steps))]
    return float(acc.get_epsilon(delta=float(delta)))


@functools.lru_cache(maxsize=1024)
def noise_for_epsilon(
    target_epsilon: float,
    sample_rate: float,
    delta: float,
    *,
    epochs: int | None = None,
    steps: int | None = None,
    accountant: str = DEFAULT_ACCOUNTANT,
) -> float:
    """The noise multiplier that spends at most ``target_epsilon`` after ``epochs`` epochs (or ``steps`` steps).

    The same search as :meth:`opacus.PrivacyEngine.make_private_with_epsilon`
    (``opacus.accountants.utils.get_noise_multiplier``), so the plan shown before training is the noise used.
    """
    import_serialized(*_OPACUS_ACCOUNTING)
    from opacus.accountants.utils import get_noise_multiplier

    accountant = check_accountant(accountant)
    if (epochs is None) == (steps is None):
        raise PlanningError("give either epochs or steps")
    if not MIN_EPSILON <= target_epsilon <= MAX_EPSILON:
        raise PlanningError(
            f"target epsilon {target_epsilon:g} is outside the supported range {MIN_EPSILON:g} to {MAX_EPSILON:g}"
        )
    if not 0.0 < delta < 1.0:
        raise PlanningError(f"delta must be between 0 and 1 (exclusive), got {delta:g}")
    try:
        return float(
            get_noise_multiplier(
                target_epsilon=float(target_epsilon),
                target_delta=float(delta),
                sample_rate=float(sample_rate),
                epochs=epochs,
                steps=steps,
                accountant=accountant,
            )
        )
    except ValueError as exc:
        raise PlanningError(
            f"no noise multiplier reaches ε = {target_epsilon:g} at δ = {delta:g} ({exc}); raise epsilon, "
            "lower the number of epochs or the batch size"
        ) from None


def rdp_curve(
    noise_multiplier: float, sample_rate: float, steps_list: tuple[int, ...], delta: float
) -> tuple[float, ...]:
    """RDP epsilons after each of ``steps_list`` (one RDP evaluation: RDP is linear in the number of steps)."""
    import_serialized(*_OPACUS_ACCOUNTING)
    from opacus.accountants.analysis import rdp as privacy_analysis
    from opacus.accountants.rdp import RDPAccountant

    _check_mechanism(noise_multiplier, sample_rate, max(steps_list, default=0), delta)
    orders = RDPAccountant.DEFAULT_ALPHAS
    per_step = privacy_analysis.compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=1, orders=orders)
    out = []
    for steps in steps_list:
        if steps == 0:
            out.append(0.0)
            continue
        eps, _ = privacy_analysis.get_privacy_spent(orders=orders, rdp=per_step * steps, delta=delta)
        out.append(float(eps))
    return tuple(out)


def epsilon_curve(
    noise_multiplier: float,
    sample_rate: float,
    epochs: int,
    delta: float,
    accountant: str = DEFAULT_ACCOUNTANT,
) -> tuple[EpsilonPoint, ...]:
    """Predicted epsilon after each epoch 1..``epochs`` (for the slider's epsilon-versus-epoch plot)."""
    accountant = check_accountant(accountant)
    steps_list = tuple(int(e / sample_rate) for e in range(1, epochs + 1))
    if accountant == "rdp":
        values = rdp_curve(noise_multiplier, sample_rate, steps_list, delta)
    else:
        values = tuple(epsilon_for(noise_multiplier, sample_rate, s, delta, accountant) for s in steps_list)
    return tuple(
        EpsilonPoint(epoch=float(e), steps=s, epsilon=v, delta=delta, accountant=accountant)
        for e, s, v in zip(range(1, epochs + 1), steps_list, values, strict=True)
    )


def plan_privacy(
    target_epsilon: float,
    train_rows: int,
    batch_size: int,
    epochs: int,
    delta: float | None = None,
    accountant: str = DEFAULT_ACCOUNTANT,
) -> PrivacyPlan:
    """Everything the epsilon slider shows before training: noise multiplier, steps, the epsilon-per-epoch curve.

    Pure and cached underneath; cheap for RDP (milliseconds), about a second for PRV (call it off the GUI thread
    or debounce it).
    """
    accountant = check_accountant(accountant)
    if epochs <= 0:
        raise PlanningError("the number of epochs must be positive")
    spe = steps_per_epoch(train_rows, batch_size)
    q = 1.0 / spe
    if delta is None:
        delta = default_delta(train_rows)
    check_delta(delta, train_rows)
    sigma = noise_for_epsilon(target_epsilon, q, delta, epochs=epochs, accountant=accountant)
    curve = epsilon_curve(sigma, q, epochs, delta, accountant)
    return PrivacyPlan(
        target_epsilon=float(target_epsilon),
        delta=float(delta),
        accountant=accountant,
        noise_multiplier=sigma,
        sample_rate=q,
        steps_per_epoch=spe,
        steps=int(epochs / q),
        epochs=int(epochs),
        train_rows=int(train_rows),
        batch_size=int(batch_size),
        curve=curve,
    )


def compose_rdp(mechanisms: tuple[tuple[float, float, int], ...], delta: float) -> tuple[float, float]:
    """Tighter composition of several DP-SGD runs on one dataset: sum their RDP curves, convert once at ``delta``.

    ``mechanisms`` holds ``(noise_multiplier, sample_rate, steps)`` per run. Returns ``(epsilon, best order)``.
    Valid when every run is a Poisson-subsampled Gaussian mechanism on the same rows (the ledger's case).
    """
    import_serialized(*_OPACUS_ACCOUNTING)
    from opacus.accountants.analysis import rdp as privacy_analysis
    from opacus.accountants.rdp import RDPAccountant

    if not mechanisms:
        return 0.0, float("nan")
    orders = RDPAccountant.DEFAULT_ALPHAS
    total = sum(
        privacy_analysis.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders)
        for sigma, q, steps in mechanisms
        if steps > 0
    )
    if isinstance(total, int):  # every run took zero steps
        return 0.0, float("nan")
    eps, order = privacy_analysis.get_privacy_spent(orders=orders, rdp=total, delta=delta)
    return float(eps), float(order)
