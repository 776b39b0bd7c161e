"""Cold start of the window to first paint: start ``privacy-workbench`` N times and time each until its first paint.

    python packaging/measure_startup.py [--runs 3] [--drop-caches] EXECUTABLE

EXECUTABLE is the frozen ``dist/privacy-workbench/privacy-workbench`` or a venv's ``privacy-workbench``. Each run
gets a fresh ``WORKBENCH_HOME`` (no recent projects, no settings), ``QT_QPA_PLATFORM=offscreen`` unless a display
is set, and is stopped once the window has logged its first paint (``workbench.app._log_first_paint`` writes the
wall-clock time into the log). The figure is that time minus the time just before the process was started.
Beside it, the CPU time (user + system) the process had used by then, read from ``/proc``: on a busy shared
machine the wall time mostly measures waiting for a core, while the CPU time is what an idle machine needs
(plus its disk reads). ``--drop-caches`` (root) empties the page cache before each run, for a cold disk.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST_PAINT = re.compile(r"first paint ([0-9.]+) s after start \(unix time ([0-9.]+)\)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process and its reaped children, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def one_run(executable: str, drop_caches: bool, timeout: float = 60.0) -> tuple[float, float, float]:
    """(seconds from exec to first paint, seconds the app reported from its entry module, CPU seconds used)."""
    if drop_caches:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    with tempfile.TemporaryDirectory(prefix="workbench-startup-") as home:
        env = {**os.environ, "WORKBENCH_HOME": home}
        if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
            env["QT_QPA_PLATFORM"] = "offscreen"
        log = Path(home) / "logs" / "workbench.log"
        started = time.time()
        proc = subprocess.Popen([executable], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                match = FIRST_PAINT.search(log.read_text(encoding="utf-8")) if log.exists() else None
                if match:
                    return float(match.group(2)) - started, float(match.group(1)), cpu_seconds(proc.pid)
                if proc.poll() is not None:
                    raise SystemExit(f"{executable} exited with {proc.returncode} before painting")
                time.sleep(0.05)
            raise SystemExit(f"no first paint within {timeout:.0f} s")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("executable")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drop-caches", action="store_true")
    args = parser.parse_args(argv)
    totals, cpus = [], []
    for i in range(args.runs):
        total, inside, cpu = one_run(args.executable, args.drop_caches)
        totals.append(total)
        cpus.append(cpu)
        print(
            f"run {i + 1}: first paint {total:.2f} s after exec ({inside:.2f} s after the entry module loaded), "
            f"{cpu:.2f} s of CPU"
        )
    print(
        f"median {statistics.median(totals):.2f} s, max {max(totals):.2f} s over {len(totals)} runs; "
        f"CPU to first paint median {statistics.median(cpus):.2f} s; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"reproduce: python packaging/measure_startup.py --runs {args.runs} {args.executable}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
