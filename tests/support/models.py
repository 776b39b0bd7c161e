"""A tiny text encoder for tests: a random 2-layer BERT and its WordPiece tokenizer, written to a folder (nothing is
downloaded; the real MiniLM is too slow for most tests)."""

from __future__ import annotations

import os
from pathlib import Path


def make_tiny_text_model(folder: str | Path, vocab_words: list[str] | None = None, hidden: int = 32) -> Path:
    """Write a tiny random BERT encoder and WordPiece tokenizer to ``folder`` (for tests; nothing downloaded)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from workbench.core.heavy_imports import HEAVY_IMPORT_LOCK

    with HEAVY_IMPORT_LOCK:
        from transformers import BertConfig, BertModel, BertTokenizerFast  # type: ignore[attr-defined]

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = vocab_words or []
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *[f"##{c}" for c in letters], *sorted(set(words))]
    vocab = list(dict.fromkeys(vocab))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(str(folder))
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=128,
    )
    BertModel(cfg).save_pretrained(str(folder))
    return folder
