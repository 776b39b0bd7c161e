"""Torch set-up for training: the CPU thread cap and the device a run asked for."""

from __future__ import annotations

import contextlib
import os
import threading

from workbench.core.train.tasks import TrainConfigError

_threads_lock = threading.Lock()
_threads_set = False


def configure_torch_threads(threads: int | None = None) -> int:
    """Cap torch's CPU threads once per process (cores - 1, at least 1), so the GUI keeps a core.

    Later calls do nothing and return the value in force (torch's pools cannot be resized safely mid-run).
    """
    global _threads_set
    import torch

    with _threads_lock:
        if not _threads_set:
            try:
                cores = len(os.sched_getaffinity(0))
            except AttributeError:
                cores = os.cpu_count() or 1
            wanted = threads if threads is not None else max(1, cores - 1)
            torch.set_num_threads(max(1, wanted))
            # Fails once torch has started parallel work: its interop pool then stays as it is.
            with contextlib.suppress(RuntimeError):
                torch.set_num_interop_threads(1)
            _threads_set = True
        return int(torch.get_num_threads())


def resolve_device(name: str) -> str:
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainConfigError("device 'cuda' was asked for, but no CUDA GPU is available; use 'auto' or 'cpu'")
    if name != "cpu" and not name.startswith("cuda"):
        raise TrainConfigError(f"unknown device {name!r}; use auto, cpu or cuda")
    return name
