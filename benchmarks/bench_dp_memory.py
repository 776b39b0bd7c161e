"""Peak memory and speed of a DP text step by rows in memory (Opacus BatchMemoryManager): the whole expected
batch of 256 at once versus pieces of 64 and 128 (128 is the text recipe's default). Each setting runs in its own
fresh process, so the peak resident set size (``ru_maxrss``) is that setting's alone.

Reproduce::

    .venv/bin/python benchmarks/bench_dp_memory.py [--rows 1024] [--batch 256] [--pieces 0,64,128] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def child(rows: int, batch: int, physical: int) -> dict[str, object]:
    import resource

    from workbench.core.data.load import load_dataset_bytes_job
    from workbench.core.demo import clinic_intake_csv_text
    from workbench.core.jobs import CancelToken, drive
    from workbench.core.train import TextModelConfig, TrainConfig, configure_torch_threads, train_model_job

    configure_torch_threads(len(os.sched_getaffinity(0)))
    ds = drive(load_dataset_bytes_job(clinic_intake_csv_text(rows=rows).encode("utf-8"), "clinic.csv"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cfg = TrainConfig(
        task="text",
        label_column="follow_up",
        text_column="note",
        target_epsilon=3.0,
        epochs=1,
        batch_size=batch,
        max_physical_batch_size=physical or None,
        save_model=False,
        val_fraction=0.1,
        text=TextModelConfig(max_length=64),
    )
    t0 = time.monotonic()
    result = drive(train_model_job(cfg, ds.table, CancelToken()))
    return {
        "rows_in_memory": physical or "whole batch",
        "batch": batch,
        "steps": result.steps,
        "epsilon_spent": round(result.epsilon_spent or 0.0, 4),
        "samples_per_second": round(result.samples_per_second, 1),
        "seconds": round(time.monotonic() - t0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_before_training_mb": round(before),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--pieces", default="0,64,128", help="rows in memory to compare (0: the whole batch)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.rows, args.batch, args.child)))
        return 0
    results = []
    for physical in [int(p) for p in args.pieces.split(",")]:
        out = subprocess.run(
            [sys.executable, __file__, "--rows", str(args.rows), "--batch", str(args.batch), "--child", str(physical)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(f"rows in memory {physical}: the run failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return 1
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            print(r)
        print(f"\nreproduce: {sys.executable} benchmarks/bench_dp_memory.py --rows {args.rows} --batch {args.batch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
