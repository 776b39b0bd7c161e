"""Named crash points for the kill tests: a process can be told to SIGKILL itself at its N-th crash point.

Code that must survive a kill anywhere (encrypting a project, moving files into the vault) calls
:func:`crash_point` between its steps. Nothing happens unless ``WORKBENCH_FAULT_KILL_AT`` is set (the tests set it in
a child process): then the process kills itself, with SIGKILL so that no handler or ``finally`` runs, when it
reaches the crash point with that number (counted from 1 in this process) or, when the value is not a number, the
first crash point with that name (``store.exported``). ``WORKBENCH_FAULT_TRACE`` names a file
that receives one line per crash point reached, so a test can first count the points of a run, then kill at each.
"""

from __future__ import annotations

import os
import signal
import threading

KILL_AT_ENV = "WORKBENCH_FAULT_KILL_AT"
TRACE_ENV = "WORKBENCH_FAULT_TRACE"

_lock = threading.Lock()
_count = 0


def crash_point(name: str) -> None:
    """A place where a kill must leave the project sound (``name`` says which, for the trace)."""
    kill_at = os.environ.get(KILL_AT_ENV)
    trace = os.environ.get(TRACE_ENV)
    if not kill_at and not trace:
        return
    global _count
    with _lock:
        _count += 1
        number = _count
    if trace:
        with open(trace, "a", encoding="utf-8") as f:
            f.write(f"{number} {name}\n")
    if kill_at and (number == int(kill_at) if kill_at.isdigit() else name == kill_at):
        os.kill(os.getpid(), signal.SIGKILL)
