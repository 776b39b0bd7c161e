"""Accuracy versus epsilon: demo dataset and rt_polarity (fixed 90/10 split, seed 0) at epsilon 1, 3 and 8,
next to the non-private run of the same recipe and the majority baseline.

Tasks: demo clinic notes (text, default LoRA recipe on MiniLM-L6) and demo columns (tabular MLP);
rt_polarity sentences (text). rt_polarity is read from ../shared/eval/rt_polarity and skipped when absent.

Text recipe of the full run (the workbench's defaults): LoRA r=16 (query/value) + head, expected batch 256 (chosen
for the data: smaller on small samples), 3 epochs, sequence 64; learning rate 1e-2 for DP runs at batch 256 (scaled
linearly below it) and 2e-3 for the non-private run. The DP batch and rate were
chosen by a small sweep on a 3,000-row rt_polarity sample at epsilon 3 (2 epochs): batch 64 / lr 2e-3 gave 0.660,
256 / 5e-3 0.683, 256 / 1e-2 0.723, 512 / 1e-2 (3 epochs) 0.707. Larger expected batches raise DP-SGD's
signal-to-noise ratio (the noise added to the summed gradient grows more slowly than the sum), at the price of
fewer steps. Without DP, 1e-2 overshoots (rt_polarity full: 0.684), hence the usual LoRA rate there.

Since issue 19 every run takes the batch and learning rate the workbench chooses for its data
(workbench.services.training.plan_training: the Train page's and ``workbench train``'s defaults) unless a suite
fixes them.

Tuning (``--tune``): recipes are compared on rt_polarity only, on a validation split carved from the TRAINING part of
the seeded 90/10 split (the reported 10 % is never looked at): the training part is sampled down to ``--tune-rows``
and the loop's own seeded split holds out 10 % of that. ``--grid`` lists recipes as
``batch:lr:clip:epochs`` (``-`` for the workbench's choice), e.g. ``--grid=-:-:1.0:2,-:-:0.1:2,-:0.02:0.1:2``
(with ``=``: the value starts with a dash).

Reproduce:  .venv/bin/python benchmarks/bench_dp_accuracy.py --quick     (minutes on 2 CPU cores)
            .venv/bin/python benchmarks/bench_dp_accuracy.py             (full: about 1.5 hours on 2 CPU cores)
            .venv/bin/python benchmarks/bench_dp_accuracy.py --tune --tune-rows 1200 --grid ...
Each result is also appended to benchmarks/out/dp_accuracy.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "rt_polarity"


def rt_polarity_table(max_rows: int | None) -> object:
    import pyarrow as pa

    texts, labels = [], []
    for name, label in (("rt-polarity.pos", "pos"), ("rt-polarity.neg", "neg")):
        for line in (RT / name).read_bytes().decode("latin-1").splitlines():
            if line.strip():
                texts.append(line.strip())
                labels.append(label)
    return pa.table({"text": texts, "label": labels})


def tune_table(max_rows: int, seed: int = 0) -> object:
    """rt_polarity's training part of the seeded 90/10 split (the split the full run reports on), sampled down to
    ``max_rows`` rows: recipes are compared on a validation split carved from this, never on the reported 10 %."""
    import numpy as np

    from workbench.core.train.tasks import TrainConfig, split_row_numbers

    table = rt_polarity_table(None)
    train_rows, _reported = split_row_numbers(
        TrainConfig(task="text", label_column="label", text_column="text", seed=seed, val_fraction=0.1), table
    )
    pick = np.random.default_rng(seed + 1).permutation(len(train_rows))[:max_rows]
    return table.take(np.sort(np.asarray(train_rows)[pick]))  # type: ignore[attr-defined]


def parse_grid(text: str) -> list[dict[str, object]]:
    """``batch:lr:clip:epochs`` items, ``-`` for the workbench's choice (batch, lr)."""
    out = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        batch, lr, clip, epochs = item.split(":")
        out.append(
            {
                "batch_size": None if batch == "-" else int(batch),
                "learning_rate": None if lr == "-" else float(lr),
                "max_grad_norm": float(clip),
                "epochs": int(epochs),
            }
        )
    return out


def run_one(name: str, table: object, kw: dict[str, object], eps: float | None, quick: bool) -> dict[str, object]:
    """One training run with the workbench's chosen batch (unless ``kw`` fixes one); returns the result row."""
    from dataclasses import replace

    from workbench.core.jobs import CancelToken, drive
    from workbench.core.train import TrainConfig, train_model_job
    from workbench.services.training import plan_training

    kw = dict(kw)
    batch = kw.pop("batch_size", None)
    cfg = TrainConfig(
        private=eps is not None, target_epsilon=eps or 1.0, seed=0, val_fraction=0.1, save_model=False, **kw
    )  # type: ignore[arg-type]
    advice, _ = plan_training(cfg, table, choose_batch=batch is None)
    cfg = replace(cfg, batch_size=advice.batch_size if batch is None else int(batch))  # type: ignore[arg-type]
    t0 = time.monotonic()
    r = drive(train_model_job(cfg, table, CancelToken()))  # type: ignore[arg-type]
    return {
        "suite": name,
        "epsilon_target": eps,
        "epsilon_spent": r.epsilon_spent,
        "delta": r.delta,
        "accountant": r.accountant,
        "val_accuracy": round(r.val_accuracy or 0, 4),
        "majority_baseline": round(r.majority_baseline, 4),
        "train_rows": r.train_rows,
        "val_rows": r.val_rows,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "batch_chosen": batch is None,
        "learning_rate": r.learning_rate,
        "max_grad_norm": cfg.max_grad_norm,
        "noise_multiplier": r.noise_multiplier,
        "steps": r.steps,
        "warnings_before_training": list(advice.warnings),
        "samples_per_second": round(r.samples_per_second, 1),
        "seconds": round(time.monotonic() - t0, 1),
        "quick": quick,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small samples, 1-2 epochs, seq 48")
    parser.add_argument("--epsilons", default="1,3,8", help="comma-separated; empty: the non-private run only")
    parser.add_argument("--suites", default="demo-tabular,demo-text,rt_polarity-text", help="comma-separated")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: every core)")
    parser.add_argument("--tune", action="store_true", help="compare --grid recipes on a split carved from training")
    parser.add_argument("--tune-rows", type=int, default=1200, help="--tune: rows sampled from the training part")
    parser.add_argument("--grid", default="-:-:1.0:2", help="--tune: batch:lr:clip:epochs items, '-' = chosen")
    parser.add_argument("--max-length", type=int, default=None, help="text tokens per row (default 48 quick, 64)")
    args = parser.parse_args()
    if args.tune:
        tune(args)
        return
    wanted = {s.strip() for s in args.suites.split(",") if s.strip()}
    out_file = Path(__file__).resolve().parent / "out" / "dp_accuracy.jsonl"
    out_file.parent.mkdir(exist_ok=True)

    from workbench.core.data.load import load_dataset
    from workbench.core.demo import write_clinic_intake_csv
    from workbench.core.train import TextModelConfig, configure_torch_threads

    configure_torch_threads(args.threads or len(os.sched_getaffinity(0)))
    quick = args.quick
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "wb_bench_acc"
    tmp.mkdir(exist_ok=True)
    demo = load_dataset(write_clinic_intake_csv(tmp / "clinic.csv", rows=1500 if quick else 5000))
    excluded = ("record_id", "name", "phone", "email", "national_id", "note")
    length = args.max_length or (48 if quick else 64)
    # The Train page's defaults (3 epochs, batch and rate chosen for the data, text 128 rows in memory).
    text = dict(task="text", max_physical_batch_size=128, text=TextModelConfig(max_length=length))
    suites = [
        ("demo-tabular", demo.table, dict(task="tabular", label_column="follow_up", excluded_columns=excluded,
                                          epochs=3)),
        ("demo-text", demo.table, dict(label_column="follow_up", text_column="note", epochs=2 if quick else 3,
                                       max_rows=600 if quick else None, **text)),
    ]  # fmt: skip
    if (RT / "rt-polarity.pos").is_file():
        suites.append(
            ("rt_polarity-text", rt_polarity_table(None), dict(label_column="label", text_column="text",
                                                             epochs=1 if quick else 3,
                                                             max_rows=1500 if quick else None, **text))
        )  # fmt: skip
    else:
        print(f"rt_polarity skipped: {RT} is absent")
    epsilons = [float(e) for e in args.epsilons.split(",") if e.strip()]
    for name, table, kw in suites:
        if name not in wanted:
            continue
        for eps in [None, *epsilons]:
            row = run_one(name, table, kw, eps, quick)
            print(json.dumps(row), flush=True)
            with out_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
    print("command: benchmarks/bench_dp_accuracy.py" + (" --quick" if quick else ""))


def tune(args: argparse.Namespace) -> None:
    """``--tune``: each --grid recipe at each --epsilons value on the carved validation split (see the docstring)."""
    from workbench.core.train import TextModelConfig, configure_torch_threads

    if not (RT / "rt-polarity.pos").is_file():
        raise SystemExit(f"--tune needs rt_polarity: {RT} is absent")
    configure_torch_threads(args.threads or len(os.sched_getaffinity(0)))
    table = tune_table(args.tune_rows)
    out_file = Path(__file__).resolve().parent / "out" / "dp_accuracy.jsonl"
    out_file.parent.mkdir(exist_ok=True)
    epsilons = [float(e) for e in args.epsilons.split(",") if e.strip()] or [None]
    for recipe in parse_grid(args.grid):
        for eps in epsilons:
            kw = dict(task="text", label_column="label", text_column="text", max_physical_batch_size=128,
                      text=TextModelConfig(max_length=args.max_length or 48), **recipe)  # fmt: skip
            row = run_one("rt_polarity-tune", table, kw, eps, quick=True)
            row["tune_rows"] = args.tune_rows
            row["validation"] = "carved from the training part of the seeded 90/10 split"
            print(json.dumps(row), flush=True)
            with out_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
    print(f"command: benchmarks/bench_dp_accuracy.py --tune --tune-rows {args.tune_rows} --grid='{args.grid}' "
          f"--epsilons {args.epsilons}")  # fmt: skip


if __name__ == "__main__":
    main()
