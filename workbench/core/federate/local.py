"""A site's local work in one round: DP-SGD (Opacus) on its own rows, starting from the global model, with the
privacy accounting carried over from the site's earlier rounds; and local evaluation.

Each round runs in a fresh ClientApp process with a new :class:`opacus.PrivacyEngine`, so the engine's accountant
would only see this round. The site therefore keeps the accountant's history (``(noise multiplier, sample rate,
steps)`` entries) between rounds and hands it to the new engine before training: the epsilon it reports is that of
one accountant over every step the site has taken, which is what its ledger is charged.

The recipe is the workbench's tabular one (:func:`workbench.core.train.tabular_model.build_mlp`, no BatchNorm,
Poisson sampling, per-row clipping to ``max_grad_norm``), with one local epoch per round by default. torch and
Opacus are imported inside the functions: a ClientApp process that only runs a SecAgg+ key exchange never loads
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.core.federate.plan import FederationPlan
from workbench.core.federate.site_data import SiteArrays

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """What one round of local training left: the new weights and the site's cumulative privacy spend."""

    weights: list[Any]
    loss: float
    steps: int
    history: tuple[tuple[float, float, int], ...]
    epsilon: float | None
    noise_multiplier: float | None
    sample_rate: float


def build_model(plan: FederationPlan) -> nn.Module:
    """The plan's MLP, initialised from the plan's seed (every party builds the same starting model)."""
    import torch

    from workbench.core.train.tabular_model import build_mlp

    torch.manual_seed(plan.seed)
    return build_mlp(plan.inputs, tuple(plan.hidden), len(plan.classes), 0.0)


def get_weights(model: nn.Module) -> list[Any]:
    return [t.detach().cpu().numpy().copy() for t in model.state_dict().values()]


def set_weights(model: nn.Module, weights: list[Any]) -> None:
    import torch

    keys = list(model.state_dict().keys())
    if len(keys) != len(weights):
        raise ValueError(f"the global model has {len(weights)} tensors, the site's model {len(keys)}")
    model.load_state_dict({k: torch.as_tensor(w) for k, w in zip(keys, weights, strict=True)}, strict=True)


def site_noise(plan: FederationPlan, train_rows: int, epsilon: float) -> tuple[float, float]:
    """(noise multiplier, sample rate) that spend at most ``epsilon`` over all the plan's rounds at this site."""
    from workbench.core.dp.accountant import check_delta, noise_for_epsilon, sample_rate_for

    check_delta(plan.delta, train_rows)
    q = sample_rate_for(train_rows, plan.batch_size)
    sigma = noise_for_epsilon(
        epsilon, q, plan.delta, epochs=plan.rounds * plan.local_epochs, accountant=plan.accountant
    )
    return sigma, q


def train_round(
    plan: FederationPlan,
    data: SiteArrays,
    weights: list[Any],
    *,
    history: tuple[tuple[float, float, int], ...],
    noise_multiplier: float | None,
    seed: int,
) -> RoundOutcome:
    """One round of local training from ``weights``; ``noise_multiplier`` ``None`` trains without DP."""
    import warnings

    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from workbench.core.dp.accountant import sample_rate_for

    # Understood and documented (docs/differential-privacy.md): no torchcsprng here; the alpha hint is harmless.
    for message in ("Secure RNG turned off", "Optimal order is the largest alpha", "Full backward hook is firing"):
        warnings.filterwarnings("ignore", message=message)
    torch.set_num_threads(1)  # several sites share the machine's cores in a demonstration
    model = build_model(plan)
    set_weights(model, weights)
    model.train()
    generator = torch.Generator().manual_seed(seed)
    dataset = TensorDataset(torch.from_numpy(data.x_train), torch.from_numpy(data.y_train))
    loader: Any = DataLoader(dataset, batch_size=plan.batch_size, shuffle=True, generator=generator)
    optimizer: Any = torch.optim.Adam(model.parameters(), lr=plan.learning_rate)
    q = sample_rate_for(data.train_rows, plan.batch_size)
    engine = None
    trained: Any = model
    if noise_multiplier is not None:
        trained, optimizer, loader, engine = _make_private(
            plan, model, optimizer, loader, noise_multiplier, history, seed
        )
    criterion = torch.nn.CrossEntropyLoss()
    losses: list[float] = []
    steps = 0
    for _ in range(plan.local_epochs):
        for xb, yb in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(trained(xb), yb)
            loss.backward()
            optimizer.step()
            steps += 1
            losses.append(float(loss.detach().item()))
    epsilon = None
    new_history = history
    if engine is not None:
        new_history = tuple((float(s), float(r), int(n)) for s, r, n in engine.accountant.history)
        epsilon = float(engine.accountant.get_epsilon(delta=plan.delta))
    return RoundOutcome(
        weights=get_weights(model),
        loss=sum(losses) / max(1, len(losses)),
        steps=steps,
        history=new_history,
        epsilon=epsilon,
        noise_multiplier=noise_multiplier,
        sample_rate=q,
    )


def _make_private(
    plan: FederationPlan,
    model: nn.Module,
    optimizer: Any,
    loader: Any,
    noise_multiplier: float,
    history: tuple[tuple[float, float, int], ...],
    seed: int,
) -> tuple[Any, Any, Any, Any]:
    import torch
    from opacus import PrivacyEngine

    from workbench.core.train.checks import check_model_for_dp, check_poisson

    check_model_for_dp(model)
    engine = PrivacyEngine(accountant=plan.accountant)
    private_model, optimizer, loader = engine.make_private(
        module=model,
        optimizer=optimizer,
        data_loader=loader,
        noise_multiplier=noise_multiplier,
        max_grad_norm=plan.max_grad_norm,
        poisson_sampling=True,
        noise_generator=torch.Generator().manual_seed(seed + 1),
    )
    check_poisson(loader)
    engine.accountant.history = [tuple(h) for h in history]  # this site's earlier rounds: one accountant in all
    return private_model, optimizer, loader, engine


def evaluate(plan: FederationPlan, data: SiteArrays, weights: list[Any]) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``weights`` on the site's validation rows; nothing else leaves.

    The MLP's forward pass in numpy (Linear, ReLU, ..., Linear: the weights come in ``state_dict`` order), so that
    an evaluation message does not pay for importing torch in its fresh ClientApp process.
    """
    import numpy as np

    expected = 2 * (len(plan.hidden) + 1)
    if len(weights) != expected:
        raise ValueError(f"the global model has {len(weights)} tensors, the plan's MLP {expected}")
    h = np.asarray(data.x_val, dtype=np.float64)
    for i in range(0, expected, 2):
        h = h @ np.asarray(weights[i], dtype=np.float64).T + np.asarray(weights[i + 1], dtype=np.float64)
        if i + 2 < expected:
            h = np.maximum(h, 0.0)
    shifted = h - h.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    y = np.asarray(data.y_val)
    loss = float(-log_probs[np.arange(len(y)), y].mean())
    accuracy = float((h.argmax(axis=1) == y).mean())
    return loss, accuracy
