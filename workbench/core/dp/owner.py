"""Who owns a reservation or a run: a process id plus a start token, so that a reused pid is not taken for the
owner (:mod:`workbench.core.dp.ledger`, :mod:`workbench.core.dp.runs`)."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """A value that differs between two processes that had the same pid; ``None`` when ``pid`` is not running."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            text = stat.read_text()
        except OSError:
            return None
        # Field 22 (starttime) counts from after the parenthesised command name, which may hold spaces.
        fields = text[text.rindex(")") + 2 :].split()
        return fields[19]
    try:  # not Linux: psutil when present (a test dependency), otherwise pid liveness only
        import psutil

        return f"{psutil.Process(pid).create_time():.3f}"
    except ImportError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "unknown"
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess and friends
        return None


def process_token(pid: int | None = None) -> str:
    """``host|boot id|start time`` of a process (this one by default): who owns a reservation or a run."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}|{_boot_id()}|{_start_time(pid) or ''}"


def owner_alive(pid: int, token: str) -> bool:
    """Whether the process that wrote ``(pid, token)`` may still be running.

    Another host's process cannot be checked: it counts as alive (projects live on a local disk, but be safe).
    """
    host, boot, start = (token.split("|") + ["", "", ""])[:3]
    if host != socket.gethostname():
        return True
    if boot and _boot_id() and boot != _boot_id():
        return False  # the machine rebooted since
    now = _start_time(pid)
    if now is None:
        return False
    return not start or start == "unknown" or now == "unknown" or now == start
