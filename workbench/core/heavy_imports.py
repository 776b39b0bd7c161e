"""One process-wide lock for the first import of the machine-learning stack (transformers, peft, opacus).

Two jobs that start together would otherwise import these packages from two threads at once. transformers
installs a lazy module object part-way through its own import, so the second thread can find a half-initialized
``transformers`` in ``sys.modules`` and fail with ``ImportError: cannot import name 'AutoTokenizer'`` (seen with
two text-training jobs started together on the Train page). Model loading (``from_pretrained``) imports model
submodules lazily too, so it runs under the same lock. After the first import the lock costs a few microseconds.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

HEAVY_IMPORT_LOCK = threading.RLock()
"""Held while importing or loading from the ML stack. Re-entrant; never held while a job yields."""


def _ready(name: str) -> ModuleType | None:
    module = sys.modules.get(name)
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    return module


def import_serialized(*names: str) -> list[ModuleType]:
    """Import the named modules one thread at a time; returns them in order.

    Modules already fully imported are returned without taking the lock, so a quick job (the privacy plan) never
    waits behind a slow first import elsewhere (the PII analyzer's spaCy) for modules it already has.
    """
    ready = [_ready(name) for name in names]
    if all(m is not None for m in ready):
        return ready  # type: ignore[return-value]
    with HEAVY_IMPORT_LOCK:
        return [importlib.import_module(name) for name in names]


def preload_training_stack(task: str) -> None:
    """Import everything a training job of ``task`` needs, under the lock, before any of it is used."""
    names = [
        "torch",
        "opacus",
        "opacus.accountants",
        "opacus.validators",
        "opacus.utils.uniform_sampler",
        "opacus.utils.batch_memory_manager",
    ]
    if task == "text":
        names += ["transformers", "transformers.models.auto", "peft"]
    import_serialized(*names)
    if task == "text":
        with HEAVY_IMPORT_LOCK:
            import transformers

            # Resolve the lazy attributes once, here, instead of racing on them later.
            _ = (transformers.AutoTokenizer, transformers.AutoModel)
