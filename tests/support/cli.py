"""Running the ``workbench`` command as a user would: a fresh process, no terminal on stdin."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping


def run_workbench(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m workbench.cli ARGS`` with its output captured (``env``: the whole environment, when given)."""
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
    )
