"""Per-step overhead of the training loop outside Opacus and the model: logging, metrics, the accountant.

Runs the workbench's own loop (:class:`workbench.core.train.run.TrainingRun`) on the demo data and splits each
epoch's wall time into: the step (forward, backward, Opacus's clipping and noise, the optimizer: ``_step`` minus the
accountant read-out), drawing the batch (Poisson sampling in Opacus's loader), and the rest: the loop's bookkeeping
(cancel checks, the step count and epsilon from the accountant, live metrics, progress snapshots). Goal (issue 19):
bookkeeping under 5 % of a step for the default recipes.

Suites: ``tabular`` (the demo's columns, DP epsilon 3, the batch and rate the workbench chooses: the worst case,
its steps take milliseconds) and ``text`` (MiniLM-L6 + LoRA, DP epsilon 3, rows sampled so it runs in minutes).

Reproduce:  .venv/bin/python benchmarks/bench_dp_overhead.py [--suites tabular,text] [--text-rows 400]
Each result is appended to benchmarks/out/dp_overhead.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def instrument(run: Any) -> dict[str, float]:
    """Wrap ``run``'s step, accountant read-out and batch iterator with timers; returns the totals (filled in)."""
    totals = {"epoch_wall": 0.0, "step": 0.0, "accountant": 0.0, "next_batch": 0.0, "steps": 0.0}
    step, accounted, epoch = run._step, run._accounted_a_step, run._epoch

    def timed_step(batch: Any) -> Any:
        t0 = time.perf_counter()
        out = step(batch)
        totals["step"] += time.perf_counter() - t0
        return out

    def timed_accounted(before: Any) -> bool:
        t0 = time.perf_counter()
        out = accounted(before)
        totals["accountant"] += time.perf_counter() - t0
        return bool(out)

    def timed_batches(batches: Iterable[Any]) -> Iterator[Any]:
        it = iter(batches)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                totals["next_batch"] += time.perf_counter() - t0
                return
            totals["next_batch"] += time.perf_counter() - t0
            yield batch

    def timed_epoch(number: int, batches: Iterable[Any]) -> Generator[Any, None, None]:
        t0 = time.perf_counter()
        yield from epoch(number, timed_batches(batches))
        totals["epoch_wall"] += time.perf_counter() - t0

    run._step, run._accounted_a_step, run._epoch = timed_step, timed_accounted, timed_epoch
    return totals


def measure(name: str, config: Any, table: Any) -> dict[str, Any]:
    from workbench.core.dp.runs import RunMetrics
    from workbench.core.jobs import CancelToken, drive
    from workbench.core.train.run import TrainingRun

    run = drive(TrainingRun.prepare(config, table, CancelToken(), metrics=RunMetrics()))
    totals = instrument(run)
    result = drive(run.execute())
    steps = max(1, result.steps)
    # The accountant read-out runs inside _step: it is bookkeeping, not Opacus or the model.
    compute = totals["step"] - totals["accountant"]
    bookkeeping = totals["epoch_wall"] - totals["step"] - totals["next_batch"] + totals["accountant"]
    return {
        "suite": name,
        "private": result.private,
        "steps": result.steps,
        "batch_size": config.batch_size,
        "learning_rate": result.learning_rate,
        "ms_per_step_compute": round(1000 * compute / steps, 3),
        "ms_per_step_batch_draw": round(1000 * totals["next_batch"] / steps, 3),
        "ms_per_step_bookkeeping": round(1000 * bookkeeping / steps, 3),
        "ms_per_step_accountant": round(1000 * totals["accountant"] / steps, 3),
        "bookkeeping_share_of_step": round(bookkeeping / max(compute, 1e-9), 4),
        "val_accuracy": round(result.val_accuracy or 0.0, 4),
        "epsilon_spent": result.epsilon_spent,
        "delta": result.delta,
        "accountant": result.accountant,
        "torch_threads": __import__("torch").get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suites", default="tabular,text")
    parser.add_argument("--text-rows", type=int, default=400, help="text: sampled rows (the batch follows them)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--fresh-accountant",
        action="store_true",
        help="for comparison: read epsilon from a fresh Opacus accountant every step (the loop before issue 19)",
    )
    args = parser.parse_args()
    if args.fresh_accountant:
        from workbench.core.dp.accountant import epsilon_for
        from workbench.core.train.plan import TrainingPlan

        def fresh(plan: Any, steps: int) -> float:
            return epsilon_for(plan.noise_multiplier, plan.sample_rate, steps, plan.delta, plan.accountant)

        TrainingPlan.epsilon_after = fresh  # type: ignore[method-assign]

    from dataclasses import replace

    from workbench.core.data.load import load_dataset
    from workbench.core.demo import write_clinic_intake_csv
    from workbench.core.train import TextModelConfig, TrainConfig, configure_torch_threads
    from workbench.services.training import plan_training

    configure_torch_threads(args.threads or len(os.sched_getaffinity(0)))
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "wb_bench_overhead"
    tmp.mkdir(exist_ok=True)
    demo = load_dataset(write_clinic_intake_csv(tmp / "clinic.csv", rows=5000))
    excluded = ("record_id", "name", "phone", "email", "national_id", "note")
    configs = {
        "tabular": TrainConfig(
            task="tabular", label_column="follow_up", excluded_columns=excluded, target_epsilon=3.0, save_model=False
        ),
        "text": TrainConfig(
            task="text", label_column="follow_up", text_column="note", target_epsilon=3.0, epochs=1,
            max_rows=args.text_rows, max_physical_batch_size=128, save_model=False, text=TextModelConfig(),
        ),
    }  # fmt: skip
    out_file = Path(__file__).resolve().parent / "out" / "dp_overhead.jsonl"
    out_file.parent.mkdir(exist_ok=True)
    for name in [s.strip() for s in args.suites.split(",") if s.strip()]:
        config = configs[name]
        advice, _ = plan_training(config, demo.table, choose_batch=True)
        config = replace(config, batch_size=advice.batch_size)
        row = measure(name, config, demo.table)
        flags = " ".join(
            f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
            for k, v in vars(args).items()
            if v not in (None, False)
        )
        row["command"] = f"benchmarks/bench_dp_overhead.py {flags}"
        print(json.dumps(row), flush=True)
        with out_file.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
