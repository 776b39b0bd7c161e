"""Saving a trained model: a checkpoint file in the project (or ``output_dir``), or bytes handed to a sink."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.train.tasks import ModelBundle, PreparedData, TrainConfig

if TYPE_CHECKING:
    from torch import nn

    from workbench.core.dp.runs import RunStore

ModelSink = Callable[[str, bytes], str]
"""Stores a checkpoint given its file name and bytes; returns where it went."""


def save_checkpoint(
    config: TrainConfig,
    bundle: ModelBundle,
    model: nn.Module,
    data: PreparedData,
    run_id: int | None,
    run_store: RunStore | None,
    model_sink: ModelSink | None = None,
) -> str | None:
    """Save the trained model; returns where it went, or ``None`` when it is not saved (``save_model`` off, or
    nowhere to put it)."""
    import io

    import torch

    if not config.save_model:
        return None
    if model_sink is not None:
        folder = None
    elif config.output_dir:
        folder = Path(config.output_dir)
    elif run_store is not None:
        folder = run_store.project.data_dir / "models"
    else:
        return None
    stem = f"run-{run_id}" if run_id is not None else f"run-{int(time.time())}"
    checkpoint = {
        "format": "privacy-workbench-model/1",
        "task": config.task,
        "recipe": bundle.recipe,
        "classes": list(data.classes),
        "info": dict(data.info),
        "config": config.as_dict(),
        "state_dict": _trained_state(config, model),
    }
    if model_sink is not None:
        # An encrypted project: the checkpoint goes from memory straight into the vault, never to disk in clear.
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        return model_sink(f"{stem}.pt", buffer.getvalue())
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.pt"
    torch.save(checkpoint, path)
    return str(path)


def _trained_state(config: TrainConfig, model: nn.Module) -> dict[str, object]:
    inner = getattr(model, "_module", model)  # unwrap Opacus's GradSampleModule
    state = {k: v.detach().cpu() for k, v in inner.state_dict().items()}
    if config.task == "text":  # the frozen encoder is in its own folder: keep only what training changed
        trainable = {n for n, p in inner.named_parameters() if p.requires_grad}
        state = {k: v for k, v in state.items() if k in trainable}
    return state
