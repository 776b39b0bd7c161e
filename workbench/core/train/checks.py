"""Refusals: what would silently break the guarantee (or the run) is refused before anything is recorded, with
the reason and the fix in the message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.core.train.tasks import TrainConfig, TrainConfigError

if TYPE_CHECKING:
    from torch import nn


def check_config(config: TrainConfig, *, has_ledger: bool, has_run_store: bool) -> None:
    """Refuse a configuration the loop cannot run honestly (checked before the data is prepared)."""
    private = bool(config.private)
    if private and not config.poisson_sampling:
        raise TrainConfigError(
            "DP training needs Poisson sampling: with shuffled fixed-size batches the accountant's epsilon does "
            "not hold. Keep poisson_sampling=True, or train without DP for a non-private comparison."
        )
    if config.epochs <= 0 or config.batch_size <= 0:
        raise TrainConfigError("epochs and batch size must be positive")
    if config.max_physical_batch_size is not None and config.max_physical_batch_size <= 0:
        raise TrainConfigError(
            "rows in memory (max_physical_batch_size) must be positive, or unset for the whole batch at once"
        )
    if config.max_grad_norm <= 0:
        raise TrainConfigError("max_grad_norm (the clipping bound) must be positive")
    if (has_ledger or has_run_store) and not config.dataset_fingerprint:
        raise TrainConfigError("a recorded run needs the dataset fingerprint (config.dataset_fingerprint)")
    if private and not has_ledger and has_run_store:
        raise TrainConfigError("a recorded private run needs the project's privacy ledger to reserve its budget")


def check_model_for_dp(model: nn.Module) -> None:
    """Refuse a model Opacus cannot train privately, naming each offending layer and the fix."""
    from opacus.validators import ModuleValidator

    errors = ModuleValidator.validate(model, strict=False)
    if errors:
        lines = "; ".join(str(e) for e in errors[:5])
        raise TrainConfigError(
            f"this model cannot be trained with differential privacy: {lines}. "
            "BatchNorm mixes the rows of a batch, so a row's gradient is not its own: replace it with GroupNorm or "
            "LayerNorm (opacus.validators.ModuleValidator.fix does this), or remove it. Other layers: freeze them "
            "or replace them with ones Opacus supports."
        )


def check_poisson(loader: Any) -> None:
    """Refuse a DP loader that does not sample each row independently (the accountant assumes it)."""
    from opacus.utils.uniform_sampler import UniformWithReplacementSampler

    if not isinstance(getattr(loader, "batch_sampler", None), UniformWithReplacementSampler):
        raise TrainConfigError(
            "the training data is not drawn by Poisson sampling (each row independently with the sample rate): "
            "the accountant's epsilon would not hold for shuffled fixed-size batches. Use poisson_sampling=True "
            "(the default), or train without DP for a non-private comparison."
        )


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())
