"""What SQLCipher costs the project store: the same work on a plaintext and on an encrypted store.

For each kind of store, in a fresh project folder (interleaved plain / SQLCipher, ``--runs`` times, default 3;
the median is reported):

* register 200 datasets (12 columns each; one transaction each, as the Data page does);
* 1,000 audit inserts (``Project.audit``, one transaction each);
* list the datasets 100 times (``Project.datasets()`` with the 200 records);
* 200 privacy-ledger reserve + commit pairs (``PrivacyLedger`` with ``set_total`` first);
* open the project holding that data (``Project.open``: key, WAL, identity, ``quick_check``, migrations already up
  to date), mean of 10 opens;
* once per run, ``Project.encrypt_store`` of a copy of the plaintext store holding that data (the one-off
  conversion of an existing project).

The store runs in WAL mode with ``synchronous=NORMAL``, so commits do not wait for the disk: the figures are the
CPU cost of the page encryption (AES-256-CBC + HMAC-SHA512 per 4 KiB page) plus SQLite's own work.

A plain project uses Python's ``sqlite3`` (the system's SQLite), SQLCipher bundles its own, newer SQLite. A third
column runs the plaintext store through sqlcipher3 *without* a key (the same SQLite as SQLCipher, no encryption),
so the last ratio is the cost of the encryption alone.

Reproduce::

    .venv/bin/python benchmarks/bench_store_cipher.py
    .venv/bin/python benchmarks/bench_store_cipher.py --runs 5 --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FP = "b" * 64
COLUMNS = [(f"column_{i:02d}", "string" if i % 2 else "integer") for i in range(12)]
OPERATIONS = (
    ("register", "register 200 datasets"),
    ("audit", "1,000 audit inserts"),
    ("list", "list datasets x100 (200 records)"),
    ("ledger", "200 ledger reserve+commit pairs"),
    ("open", "open (quick_check, migrations up to date)"),
)


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextlib.contextmanager
def plain_store_through_sqlcipher() -> Iterator[None]:
    """Make plain projects connect with sqlcipher3 (no key): the same SQLite as SQLCipher, without encryption."""
    import sqlcipher3.dbapi2 as cipher

    from workbench.core.project import connection

    saved = connection.sqlite3
    connection.sqlite3 = types.SimpleNamespace(  # type: ignore[assignment]
        connect=cipher.connect, Error=cipher.Error, complete_statement=sqlite3.complete_statement
    )
    try:
        yield
    finally:
        connection.sqlite3 = saved


def one_run(base: Path, key: bytes | None, *, convert: bool = True) -> dict[str, float]:
    """The five operations on a fresh project; seconds each (open: mean of 10)."""
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.project.store import Project

    folder = base / ("cipher" if key else "plain")
    result: dict[str, float] = {}
    with Project.create(folder, key=key) as p:

        def register() -> None:
            for i in range(200):
                p.register_dataset(
                    name=f"intake-{i}.csv",
                    path=f"/data/site/intake-{i}.csv",
                    fingerprint=f"{i:064x}",
                    format="csv",
                    encoding="utf-8",
                    delimiter=",",
                    rows=1000 + i,
                    size_bytes=50_000 + i,
                    schema=COLUMNS,
                    roles={"column_00": "direct_identifier", "column_01": "quasi_identifier"},
                )

        def audit() -> None:
            for i in range(1000):
                p.audit("dataset.exported", dataset_id=i % 200 + 1, target=f"/exports/intake-{i}.csv", rows=i)

        def list_datasets() -> None:
            for _ in range(100):
                assert len(p.datasets()) == 200

        ledger = PrivacyLedger(p)
        ledger.set_total(FP, 1e6, 0.5)

        def reserve_commit() -> None:
            for _ in range(200):
                r = ledger.reserve(FP, 0.5, 1e-7)
                ledger.commit(r, 0.4, 1e-7, accountant="rdp", noise_multiplier=1.1, sample_rate=0.01, steps=100)

        result["register"] = _timed(register)
        result["audit"] = _timed(audit)
        result["list"] = _timed(list_datasets)
        result["ledger"] = _timed(reserve_commit)
    opens = []
    for _ in range(10):
        start = time.perf_counter()
        project = Project.open(folder, key=key)
        opens.append(time.perf_counter() - start)
        project.close()
    result["open"] = statistics.mean(opens)
    result["size_bytes"] = (folder / "workbench.sqlite").stat().st_size
    if key is None and convert:
        copy = base / "convert"
        shutil.copytree(folder, copy)
        result["encrypt_store"] = _timed(lambda: Project.encrypt_store(copy, os.urandom(32)))
        result["encrypted_size_bytes"] = (copy / "workbench.sqlite").stat().st_size
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per kind of store (median reported)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)

    import sqlcipher3.dbapi2 as cipher

    runs: dict[str, list[dict[str, float]]] = {"plain": [], "nokey": [], "cipher": []}
    with tempfile.TemporaryDirectory(prefix="bench-store-cipher-") as tmp:
        for i in range(args.runs):
            for kind in ("plain", "nokey", "cipher"):  # interleaved: background load hits all alike
                base = Path(tmp) / f"{kind}-{i}"
                base.mkdir()
                if kind == "nokey":
                    with plain_store_through_sqlcipher():
                        runs[kind].append(one_run(base, None, convert=False))
                else:
                    runs[kind].append(one_run(base, os.urandom(32) if kind == "cipher" else None))
                shutil.rmtree(base)

    def median(kind: str, op: str) -> float:
        return statistics.median(r[op] for r in runs[kind])

    conn = cipher.connect(":memory:")
    cipher_version = conn.execute("PRAGMA cipher_version").fetchone()[0]
    conn.close()
    report: dict[str, Any] = {
        "runs": args.runs,
        "python": platform.python_version(),
        "sqlite_plain": sqlite3.sqlite_version,
        "sqlite_sqlcipher": cipher.sqlite_version,
        "cipher_version": cipher_version,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "operations_ms": {
            op: {
                "plain": round(median("plain", op) * 1000, 1),
                "same_sqlite_no_key": round(median("nokey", op) * 1000, 1),
                "sqlcipher": round(median("cipher", op) * 1000, 1),
                "ratio": round(median("cipher", op) / median("plain", op), 2),
                "ratio_encryption_only": round(median("cipher", op) / median("nokey", op), 2),
            }
            for op, _ in OPERATIONS
        },
        "encrypt_store_ms": round(median("plain", "encrypt_store") * 1000, 1),
        "store_size_bytes": {
            "plain": int(median("plain", "size_bytes")),
            "sqlcipher": int(median("cipher", "size_bytes")),
            "converted": int(median("plain", "encrypted_size_bytes")),
        },
        "command": "python benchmarks/bench_store_cipher.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"project store, plaintext vs SQLCipher {cipher_version} (SQLite {cipher.sqlite_version}; plain SQLite "
        f"{sqlite3.sqlite_version}), median of {args.runs} runs, {report['cpus']} CPUs, "
        f"load average {report['load_average_1m']}"
    )
    print(f"  {'operation':<44}{'plain':>10}{'no key*':>10}{'SQLCipher':>12}{'ratio':>8}{'ratio*':>8}")
    for op, label in OPERATIONS:
        r = report["operations_ms"][op]
        print(
            f"  {label:<44}{r['plain']:>7.1f} ms{r['same_sqlite_no_key']:>7.1f} ms{r['sqlcipher']:>9.1f} ms"
            f"{r['ratio']:>7.2f}x{r['ratio_encryption_only']:>7.2f}x"
        )
    sizes = report["store_size_bytes"]
    print(
        f"  {'encrypt_store of the plaintext store (once)':<44}{'':>20}{report['encrypt_store_ms']:>9.1f} ms"
        f"   ({sizes['plain'] / 1024:.0f} KiB plain -> {sizes['converted'] / 1024:.0f} KiB encrypted)"
    )
    print(
        "  ratio: SQLCipher / plain; *no key: the plaintext store through sqlcipher3's SQLite without a key, "
        "ratio*: SQLCipher / no key (the encryption alone)"
    )
    print(f"command: {report['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
