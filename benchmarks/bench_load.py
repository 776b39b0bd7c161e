"""How fast a big CSV loads, how soon its first rows can be shown, and how much memory the load takes.

Generates the deterministic synthetic CSV of ``make_big_csv.py`` (1,000,000 rows, ~110 MB by default) in a
temporary folder, then loads it with :func:`workbench.core.data.load.load_dataset_job` in a fresh Python process
per run, so every run pays the real cold costs (first use of Arrow's kernels, memory pool growth) and peak
RSS is the load's own. Each run reports:

* total: from calling the loader to the finished Dataset (fingerprint, parse, types, summaries, re-stat);
* first rows: when the progress snapshot with the preview table arrived (what the GUI would show first);
* the time at which each phase started (fingerprint, parse, summary);
* rows/s and MB/s over the total;
* peak RSS minus the RSS after imports (``ru_maxrss``), and the Arrow memory held by the final table.

The file sits in the OS page cache (it was just written), so disk speed is not measured.

Reproduce::

    .venv/bin/python benchmarks/bench_load.py                # 1M rows, 3 runs
    .venv/bin/python benchmarks/bench_load.py --rows 200000 --runs 1 --json
    .venv/bin/python benchmarks/bench_load.py --file my.csv   # any file the workbench loads
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def child(path: str, preview_rows: int) -> dict[str, Any]:
    """Run one load in this process and measure it (the parent starts a fresh process per run)."""
    import resource

    import psutil
    import pyarrow as pa

    sys.path.insert(0, str(ROOT))
    from workbench.core.data.dataset import LoadOptions
    from workbench.core.data.load import load_dataset_job
    from workbench.core.jobs import CancelToken, Progress

    process = psutil.Process()
    baseline_rss = process.memory_info().rss
    phase_start: dict[str, float] = {}
    first_rows: list[float] = []
    progress_count = 0
    start = time.perf_counter()

    gen = load_dataset_job(path, LoadOptions(preview_rows=preview_rows), CancelToken())
    while True:
        try:
            progress: Progress = next(gen)
        except StopIteration as stop:
            dataset = stop.value
            break
        now = time.perf_counter() - start
        progress_count += 1
        phase_start.setdefault(progress.phase, now)
        if progress.payload is not None and not first_rows:
            first_rows.append(now)
    total = time.perf_counter() - start

    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    return {
        "file": path,
        "size_bytes": dataset.size_bytes,
        "rows": dataset.num_rows,
        "columns": len(dataset.column_names),
        "format": dataset.format,
        "encoding": dataset.encoding,
        "total_s": total,
        "first_rows_s": first_rows[0] if first_rows else None,
        "phase_start_s": phase_start,
        "progress_snapshots": progress_count,
        "rows_per_s": dataset.num_rows / total,
        "mb_per_s": dataset.size_bytes / 1e6 / total,
        "baseline_rss_mb": baseline_rss / 1e6,
        "peak_rss_mb": peak_rss / 1e6,
        "peak_rss_delta_mb": (peak_rss - baseline_rss) / 1e6,
        "table_mb": dataset.table.nbytes / 1e6,
        "arrow_allocated_mb": pa.total_allocated_bytes() / 1e6,
        "dtypes": {c.name: c.dtype for c in dataset.columns},
    }


def run_child(path: Path, preview_rows: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(path),
        "--preview-rows",
        str(preview_rows),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def print_table(results: list[dict[str, Any]], command: str) -> None:
    first = results[0]
    print(
        f"file: {first['file']} ({first['rows']:,} rows x {first['columns']} columns, "
        f"{first['size_bytes'] / 1e6:.1f} MB, {first['format']}, {first['encoding']})"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"pyarrow {__import__('pyarrow').__version__}"
    )
    header = (
        f"{'run':>3} {'total s':>8} {'1st rows s':>10} {'parse@ s':>8} {'summary@ s':>10} "
        f"{'rows/s':>10} {'MB/s':>6} {'peak RSS-base MB':>16} {'table MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for i, r in enumerate(results, 1):
        phases = r["phase_start_s"]
        print(
            f"{i:>3} {r['total_s']:>8.2f} {r['first_rows_s']:>10.3f} {phases.get('parse', 0):>8.2f} "
            f"{phases.get('summary', 0):>10.2f} {r['rows_per_s']:>10,.0f} {r['mb_per_s']:>6.0f} "
            f"{r['peak_rss_delta_mb']:>16.0f} {r['table_mb']:>8.0f}"
        )
    if len(results) > 1:
        med = {k: statistics.median(r[k] for r in results) for k in ("total_s", "first_rows_s", "peak_rss_delta_mb")}
        print(
            f"median: total {med['total_s']:.2f} s, first rows {med['first_rows_s']:.3f} s, "
            f"peak RSS over baseline {med['peak_rss_delta_mb']:.0f} MB"
        )
    print(f"column types: {', '.join(f'{k}={v}' for k, v in first['dtypes'].items())}")
    print(f"\nreproduce: {command}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark loading a big CSV.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated CSV (default 1M)")
    parser.add_argument("--runs", type=int, default=3, help="fresh-process runs (default 3)")
    parser.add_argument("--file", type=Path, help="load this file instead of generating one")
    parser.add_argument("--preview-rows", type=int, default=200, help="rows in the preview (default 200)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(child(args.child, args.preview_rows)))
        return 0

    command = " ".join([".venv/bin/python", "benchmarks/bench_load.py", *(argv if argv is not None else sys.argv[1:])])
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        if args.file is not None:
            path = args.file.resolve()
            generate_s = None
        else:
            sys.path.insert(0, str(HERE))
            from make_big_csv import write_big_csv

            path = Path(tmp) / f"big_{args.rows}.csv"
            started = time.perf_counter()
            write_big_csv(path, args.rows)
            generate_s = time.perf_counter() - started
        results = [run_child(path, args.preview_rows) for _ in range(args.runs)]

    if args.json:
        print(json.dumps({"command": command, "generate_s": generate_s, "runs": results}, indent=2))
    else:
        if generate_s is not None:
            print(f"generated {args.rows:,} rows in {generate_s:.1f} s")
        print_table(results, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
