"""`workbench federate simulate`: federated DP training with SecAgg+ on Flower, demonstrated on one machine.

The dataset is split into N sites (seeded at random, or by a column); each part becomes the dataset of a temporary
site project with its own privacy ledger; a SuperLink and one SuperNode per site run as separate processes on
127.0.0.1. One line per round, then one JSON object. flwr and torch are imported inside the command only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli._common import (
    UsageError,
    dataset_source_options,
    open_session_cli,
    print_json,
    resolve_dataset_input,
    say,
)


def register(sub: Any) -> None:
    """Add `federate` and its subcommands to the `workbench` parser's subparsers object."""
    p = sub.add_parser("federate", help="federated DP training with secure aggregation (Flower)")
    fed = p.add_subparsers(dest="federate_command", metavar="SUBCOMMAND")
    fed.required = True
    s = fed.add_parser(
        "simulate",
        help="split a dataset into N sites and run the whole federation as processes on 127.0.0.1",
        description=(
            "Demonstration: each site trains on its own part with DP-SGD (Opacus), its ledger reserves its epsilon "
            "before the first round and is charged what its accountant reports; the host only sees the SecAgg+ sum "
            "of the sites' updates and their aggregated validation figures."
        ),
    )
    dataset_source_options(s, "dataset file (CSV, JSONL, Parquet)")
    s.add_argument("--project", help="project folder, with --dataset NAME|ID")
    s.add_argument("--sites", type=int, required=True, help="number of sites (at least 3 with SecAgg+)")
    s.add_argument("--task", choices=["tabular"], required=True, help="the recipe (the text task comes later)")
    s.add_argument("--label", required=True, help="label column")
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--epsilon", type=float, default=3.0, help="epsilon per site over all rounds (default 3)")
    s.add_argument("--delta", type=float, help="delta (default: 1/(10 n) of the smallest site, to a power of ten)")
    s.add_argument("--no-dp", action="store_true", help="train without DP (comparison only: no privacy guarantee)")
    s.add_argument("--no-secagg", action="store_true", help="turn secure aggregation off (the host sees each update)")
    s.add_argument("--by", metavar="COLUMN", help="split the sites by this column's values instead of at random")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--lr", type=float, default=2e-2, help="learning rate of each site's local Adam")
    s.add_argument("--hidden", default="32", help="hidden layer widths, e.g. 64x32 (default 32)")
    s.add_argument("--json", action="store_true", help="round lines go to stderr; stdout holds only the JSON")
    s.set_defaults(func=cmd_simulate)


def _hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.lower().split("x") if w)
    except ValueError:
        raise UsageError(f"--hidden {text!r}: give widths like 32 or 64x32") from None
    if not widths or min(widths) <= 0:
        raise UsageError("--hidden needs positive widths")
    return widths


def cmd_simulate(args: argparse.Namespace) -> int:
    from workbench.services.federation import federate_simulate_job

    if args.sites < 2:
        raise UsageError("--sites must be at least 2")
    if args.rounds < 1:
        raise UsageError("--rounds must be at least 1")
    session = open_session_cli(args.project) if args.project else None
    try:
        ds, _record = resolve_dataset_input(args, session)
    finally:
        if session is not None:
            session.close()
    job = federate_simulate_job(
        ds,
        args.sites,
        args.task,
        args.label,
        rounds=args.rounds,
        epsilon=None if args.no_dp else args.epsilon,
        secagg=not args.no_secagg,
        by=args.by,
        seed=args.seed,
        delta=args.delta,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        hidden=_hidden(args.hidden),
    )
    result = _drive(job, to_stderr=args.json)
    out = result.to_json()
    if not args.json:
        say(_summary(out))
    print_json(out)
    return 0


def _drive(job: Any, *, to_stderr: bool) -> Any:
    """Run the job, printing each round's line (and the start) as it comes."""
    while True:
        try:
            progress = next(job)
        except StopIteration as stop:
            return stop.value
        if progress.phase in ("starting", "federating"):
            if to_stderr:
                print(progress.message, file=sys.stderr, flush=True)
            else:
                say(progress.message)


def _summary(out: dict[str, Any]) -> str:
    secagg = "SecAgg+" if out["secure_aggregation"] else "no secure aggregation"
    acc = "n/a" if out["val_accuracy"] is None else f"{out['val_accuracy']:.3f}"
    if out["private"]:
        eps = ", ".join(f"{k} {v:.3g}" for k, v in out["site_epsilons"].items())
        privacy = f"site epsilon {eps} (delta {out['delta']:g}, {out['accountant'].upper()} accountant)"
    else:
        privacy = "not private (no differential privacy guarantee)"
    return (
        f"{out['sites']} sites, {out['rounds']} rounds, {secagg}: validation accuracy {acc}; {privacy}; "
        f"{out['seconds']:.1f} s"
    )
