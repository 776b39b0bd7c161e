"""What the tamper-evident ledger costs (issue 12): reserve + commit cycles and the check on open.

Each cycle now writes the database, the ledger record (signed, or sealed in an encrypted project) and the
machine-wide index. The open check reads the record and compares it with the database.

    .venv/bin/python benchmarks/bench_ledger.py [--cycles 200] [--entries 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def _cycles(folder: Path, cycles: int, key: bytes | None) -> list[float]:
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.project.store import Project

    fp = "c" * 64
    times = []
    with Project.open(folder, key=key) as p:
        ledger = PrivacyLedger(p)
        ledger.set_total(fp, 1e9)
        for _ in range(cycles):
            t = time.perf_counter()
            r = ledger.reserve(fp, 0.01, 1e-9)
            ledger.commit(r, 0.005, 1e-9)
            times.append(time.perf_counter() - t)
    return times


def _open_check(folder: Path, key: bytes | None, runs: int = 7) -> float:
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.project.store import Project

    times = []
    for _ in range(runs):
        with Project.open(folder, key=key) as p:
            t = time.perf_counter()
            PrivacyLedger(p)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--entries", type=int, default=1000, help="ledger entries before timing the open check")
    args = parser.parse_args()
    from workbench.core.project.store import Project

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_HOME"] = str(Path(tmp) / "home")
        for label, key in (("plain", None), ("encrypted store", os.urandom(32))):
            folder = Path(tmp) / label.replace(" ", "-")
            Project.create(folder, key=key).close()
            times = _cycles(folder, args.cycles, key)
            print(
                f"{label}: reserve+commit median {statistics.median(times) * 1000:.2f} ms, "
                f"p95 {sorted(times)[int(0.95 * len(times))] * 1000:.2f} ms over {args.cycles} cycles"
            )
            _cycles(folder, max(0, args.entries - args.cycles), key)
            check = _open_check(folder, key) * 1000
            print(f"{label}: ledger check on open with {args.entries} entries: {check:.1f} ms")


if __name__ == "__main__":
    main()
