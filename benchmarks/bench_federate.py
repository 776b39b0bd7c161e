"""Federated training on Flower, on one machine: seconds per round and final validation accuracy for 3 sites x 3
rounds, with and without SecAgg+ and DP (epsilon 3 per site), next to the same recipe trained centrally on the
pooled rows (3 epochs, in-process, with and without DP).

Every federated configuration is the whole protocol: a SuperLink and 3 SuperNodes as separate process groups on
127.0.0.1, a fresh ClientApp process per message (SecAgg+ adds 4 round trips per round), DP-SGD with Opacus at
each site, temporary site projects whose ledgers are charged. The federated accuracy is the row-weighted mean of
the sites' local validation accuracies (each site holds out 20 % of its rows); the central figure is measured on
a 20 % split of the pooled rows, so the two are close but not identical samples.

Reproduce:  .venv/bin/python benchmarks/bench_federate.py                  (demo dataset, about 6 minutes on 2 cores)
            .venv/bin/python benchmarks/bench_federate.py --data adult     (../shared/eval/adult_arx/adult.csv)
            .venv/bin/python benchmarks/bench_federate.py --data text      (1,500 sentences of rt_polarity)
            .venv/bin/python benchmarks/bench_federate.py --only secagg-dp (one configuration)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

ADULT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "adult_arx" / "adult.csv"
RT_POLARITY = Path(__file__).resolve().parents[2] / "shared" / "eval" / "rt_polarity"
TEXT_ROWS = 1500
TASK: dict[str, str | None] = {"task": "tabular", "text": None}  # --data text: the text task on "sentence"
CONFIGS = {
    "secagg-dp": (True, True),
    "secagg-nodp": (True, False),
    "plain-dp": (False, True),
    "plain-nodp": (False, False),
}


def load_text(folder: Path) -> Any:
    """``TEXT_ROWS`` sentences of the sentence-polarity set, half positive (seeded), as a CSV dataset."""
    import csv
    import random

    from workbench.core.data.load import load_dataset

    if not RT_POLARITY.exists():
        raise SystemExit(f"{RT_POLARITY} is not here (../shared/eval is optional)")
    rows = []
    for name, label in (("pos", "positive"), ("neg", "negative")):
        lines = [line.strip() for line in (RT_POLARITY / f"rt-polarity.{name}").read_text("latin-1").splitlines()]
        lines = [line for line in lines if line]
        random.Random(0).shuffle(lines)
        rows += [(line, label) for line in lines[: TEXT_ROWS // 2]]
    random.Random(1).shuffle(rows)
    path = folder / "rt_polarity_sample.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["sentence", "polarity"])
        writer.writerows(rows)
    return load_dataset(path)


def load(data: str, folder: Path) -> tuple[Any, str]:
    from workbench.core.data.dataset import LoadOptions
    from workbench.core.data.load import load_dataset

    if data == "text":
        return load_text(folder), "polarity"
    if data == "adult":
        if not ADULT.exists():
            raise SystemExit(f"{ADULT} is not here (../shared/eval is optional)")
        return load_dataset(ADULT, LoadOptions(delimiter=";")), "salary-class"
    from workbench.core.demo import write_clinic_intake_csv

    return load_dataset(write_clinic_intake_csv(folder / "clinic_intake.csv")), "follow_up"


def central(ds: Any, label: str, private: bool, rounds: int, epsilon: float, seed: int) -> dict[str, Any]:
    """The same recipe on the pooled rows: one 'site' holding everything, ``rounds`` epochs."""
    from dataclasses import replace

    from workbench.core.dp.accountant import default_delta
    from workbench.core.federate.local import build_model, evaluate, get_weights, site_noise, train_round
    from workbench.core.federate.site_data import encode_site
    from workbench.services.federation import make_plan
    from workbench.services.training import excluded_columns

    excluded = excluded_columns(ds.suggested_roles(), label=label)
    plan = make_plan(
        ds.table,
        task=TASK["task"],
        label=label,
        rounds=rounds,
        epsilon=epsilon if private else None,
        excluded=excluded,
        seed=seed,
        text=TASK["text"],
    )
    data = encode_site(plan, ds.table, "pooled")
    plan = replace(plan, delta=default_delta(data.train_rows))
    sigma = site_noise(plan, data.train_rows, epsilon)[0] if private else None
    t0 = time.monotonic()
    weights, history, eps = get_weights(build_model(plan)), (), None
    for rnd in range(1, rounds + 1):
        out = train_round(plan, data, weights, history=history, noise_multiplier=sigma, seed=seed * 1000 + rnd)
        weights, history, eps = out.weights, out.history, out.epsilon
    return {
        "config": f"central-{'dp' if private else 'nodp'}",
        "seconds": round(time.monotonic() - t0, 2),
        "val_accuracy": evaluate(plan, data, weights)[1],
        "epsilon": eps,
        "delta": plan.delta if private else None,
        "train_rows": data.train_rows,
    }


def federated(ds: Any, label: str, name: str, rounds: int, epsilon: float, seed: int) -> dict[str, Any]:
    from workbench.core.jobs import drive
    from workbench.services.federation import federate_simulate_job

    secagg, private = CONFIGS[name]
    # Each configuration in a user data folder of its own: the same split (same seed) makes the same site parts,
    # and the machine-wide ledger index would charge every configuration to the same parts' budgets.
    home = tempfile.mkdtemp(prefix=f"bench-federate-home-{name}-")
    os.environ["WORKBENCH_HOME"] = home
    t0 = time.monotonic()
    try:
        result = drive(
            federate_simulate_job(
                ds,
                3,
                str(TASK["task"]),
                label,
                rounds=rounds,
                epsilon=epsilon if private else None,
                secagg=secagg,
                seed=seed,
                text=TASK["text"],
            )
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    out = result.to_json()
    out["config"] = name
    out["wall_seconds"] = round(time.monotonic() - t0, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["demo", "adult", "text"], default="demo")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epsilon", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=list(CONFIGS), action="append")
    args = parser.parse_args()
    if args.data == "text":
        TASK.update(task="text", text="sentence")
    with tempfile.TemporaryDirectory(prefix="bench-federate-") as tmp:
        os.environ["WORKBENCH_HOME"] = str(Path(tmp) / "home")  # never the user's own ledger index
        ds, label = load(args.data, Path(tmp))
        print(
            f"dataset {args.data}: {ds.num_rows} rows, label {label}; 3 sites x {args.rounds} rounds, "
            f"epsilon {args.epsilon:g} per site",
            flush=True,
        )
        rows = [central(ds, label, p, args.rounds, args.epsilon, args.seed) for p in (True, False)]
        for row in rows:
            print(json.dumps(row), flush=True)
        for name in args.only or list(CONFIGS):
            row = federated(ds, label, name, args.rounds, args.epsilon, args.seed)
            print(json.dumps(row), flush=True)
            rows.append(row)
    print()
    print(f"{'configuration':<14} {'s/round':>8} {'total s':>8} {'val acc':>8}  site epsilons")
    for row in rows:
        per_round = row.get("seconds_per_round")
        mean = sum(per_round) / len(per_round) if per_round else None
        eps = row.get("site_epsilons") or ({"pooled": row["epsilon"]} if row.get("epsilon") else {})
        eps_text = ", ".join(f"{v:.3g}" for v in eps.values() if v is not None) or "not private"
        print(
            f"{row['config']:<14} {mean if mean is None else round(mean, 1)!s:>8} "
            f"{row.get('wall_seconds', row['seconds'])!s:>8} {row['val_accuracy']:>8.3f}  {eps_text}"
        )
    print(f"\nreproduce: .venv/bin/python benchmarks/bench_federate.py --data {args.data} --rounds {args.rounds}")


if __name__ == "__main__":
    main()
