"""`workbench federate simulate|host|join`: federated DP training with SecAgg+ on Flower.

``simulate`` demonstrates it on one machine: the dataset is split into N sites (seeded at random, or by a column);
each part becomes the dataset of a temporary site project with its own privacy ledger; a SuperLink and one
SuperNode per site run as separate processes on 127.0.0.1. ``host`` runs a SuperLink and the ServerApp for sites on
other machines; ``join`` runs one site's SuperNode against a host, with the site's own project and dataset. One line
per round, then one JSON object. flwr and torch are imported inside the commands only.
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
    s.add_argument("--task", choices=["tabular", "text"], required=True, help="the recipe")
    s.add_argument("--label", required=True, help="label column")
    s.add_argument("--text", metavar="COLUMN", help="the text column (text task: a frozen encoder, a DP-trained head)")
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
    s.add_argument("--reply-timeout", type=float, default=180.0, help="seconds to wait for a silent site per stage")
    s.add_argument("--json", action="store_true", help="round lines go to stderr; stdout holds only the JSON")
    s.set_defaults(func=cmd_simulate)
    _register_host(fed)
    _register_join(fed)


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
        reply_timeout=args.reply_timeout,
        text=args.text,
    )
    result = _drive(job, to_stderr=args.json)
    out = result.to_json()
    if not args.json:
        say(_summary(out))
    print_json(out)
    return 0


def _drive(job: Any, *, to_stderr: bool, phases: tuple[str, ...] = ("starting", "federating")) -> Any:
    """Run the job, printing each round's line (and the start) as it comes."""
    while True:
        try:
            progress = next(job)
        except StopIteration as stop:
            return stop.value
        if progress.phase in phases:
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


# ---- across machines --------------------------------------------------------------------------------------------


def _register_host(fed: Any) -> None:
    h = fed.add_parser(
        "host",
        help="host a federation: a SuperLink and the ServerApp for sites on other machines",
        description=(
            "The plan (task, label and classes, feature columns, rounds, epsilon per site, SecAgg+) is read from a "
            "schema dataset (its columns and label values are sent to every site as public schema facts). flwr 1.42 "
            "serves run submission on the same port as the sites: bind it to the sites' network and firewall it to "
            "their addresses; use --tls-dir across machines. The host's project gets a federation.hosted entry."
        ),
    )
    dataset_source_options(h, "schema dataset file (its columns and label values define the plan)")
    h.add_argument("--project", help="the host's project (created when the folder does not exist)")
    h.add_argument("--port", type=int, required=True, help="the port the sites dial")
    h.add_argument("--bind", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    h.add_argument("--task", choices=["tabular", "text"], required=True)
    h.add_argument("--label", required=True)
    h.add_argument("--text", metavar="COLUMN", help="the text column (text task)")
    h.add_argument("--rounds", type=int, default=3)
    h.add_argument("--min-sites", type=int, required=True, help="sites to wait for (at least 3 with SecAgg+)")
    h.add_argument("--epsilon", type=float, default=3.0, help="epsilon per site over all rounds (default 3)")
    h.add_argument("--delta", type=float, default=1e-5, help="delta per site (each site checks it against its size)")
    h.add_argument("--no-dp", action="store_true", help="train without DP (comparison only: no privacy guarantee)")
    h.add_argument("--no-secagg", action="store_true", help="turn secure aggregation off (the host sees each update)")
    h.add_argument(
        "--max-rows",
        type=int,
        default=100_000,
        help="SecAgg+ max_weight: no site may train on more rows; set it near the largest site's rows (each update "
        "is scaled by rows/max-rows before quantization, so a far larger value costs precision)",
    )
    h.add_argument("--tls-dir", help="TLS: certificates in this folder (made here when missing); give sites ca.pem")
    h.add_argument("--tls-name", action="append", default=[], help="address or host name the sites dial (repeat)")
    h.add_argument("--reply-timeout", type=float, default=180.0, help="seconds to wait for a silent site per stage")
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--batch-size", type=int, default=64)
    h.add_argument("--lr", type=float, default=2e-2)
    h.add_argument("--hidden", default="32")
    h.add_argument("--json", action="store_true", help="round lines go to stderr; stdout holds only the JSON")
    h.set_defaults(func=cmd_host)


def _register_join(fed: Any) -> None:
    j = fed.add_parser(
        "join",
        help="join a federation as a site: train on this project's dataset, charge this project's ledger",
        description=(
            "Starts this site's SuperNode against HOST:PORT. The site runs only the workbench's own ClientApp "
            "(an app of any other content is refused before it is installed), sees the host's plan, checks its "
            "dataset against it, reserves its epsilon (the plan's, or --max-epsilon if lower) and is charged what "
            "its accountant reports. Only masked model updates and validation figures leave the site."
        ),
    )
    j.add_argument("address", metavar="HOST:PORT")
    j.add_argument("--dataset", required=True, metavar="NAME|ID", help="the project's dataset to train on")
    j.add_argument("--project", required=True, help="this site's project")
    j.add_argument(
        "--max-epsilon", type=float, help="this site's own cap on epsilon (lower than the plan's: more noise)"
    )
    j.add_argument("--site-name", help="the name the host sees (default: the project folder's name)")
    j.add_argument("--ca", help="the host's ca.pem (TLS); without it the connection is plain HTTP")
    j.add_argument("--accept", action="store_true", help="accept the host's plan without asking (after the checks)")
    j.add_argument("--json", action="store_true", help="round lines go to stderr; stdout holds only the JSON")
    j.set_defaults(func=cmd_join)


def _note(args: argparse.Namespace, text: str) -> None:
    """A line for the analyst: stdout, or stderr when stdout holds only the JSON."""
    if args.json:
        print(text, file=sys.stderr, flush=True)
    else:
        say(text)


def _host_session(folder: str | None, args: argparse.Namespace) -> Any:
    from pathlib import Path

    from workbench.core.project.store import Project
    from workbench.services.session import ProjectSession

    if folder is None:
        import time

        folder = f"federation-host-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    path = Path(folder)
    if path.exists():
        return open_session_cli(path)
    _note(args, f"creating the host's project {path}")
    return ProjectSession(Project.create(path))


def _tls_files(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from workbench.services.federation_remote import host_certificates

    if not args.tls_dir:
        return None
    files, fingerprint = host_certificates(Path(args.tls_dir), args.bind, args.tls_name or None)
    _note(args, f"TLS: give the sites {files.ca} (SHA-256 {fingerprint}) over a channel you trust")
    return files


def cmd_host(args: argparse.Namespace) -> int:
    from workbench.services.federation import make_plan
    from workbench.services.federation_remote import federate_host_job
    from workbench.services.training import excluded_columns

    if args.rounds < 1:
        raise UsageError("--rounds must be at least 1")
    session = _host_session(args.project, args)
    try:
        ds, _record = resolve_dataset_input(args, session if args.dataset else None)
        plan = make_plan(
            ds.table,
            task=args.task,
            label=args.label,
            rounds=args.rounds,
            epsilon=None if args.no_dp else args.epsilon,
            secure_aggregation=not args.no_secagg,
            excluded=excluded_columns(ds.suggested_roles(), label=args.label),
            text=args.text,
            seed=args.seed,
            delta=args.delta,
            max_weight=float(args.max_rows),
            batch_size=args.batch_size,
            learning_rate=args.lr,
            hidden=_hidden(args.hidden),
        )
        _note(args, f"plan: {plan.describe()}")
        job = federate_host_job(
            plan,
            min_sites=args.min_sites,
            bind=args.bind,
            port=args.port,
            session=session,
            tls=_tls_files(args),
            reply_timeout=args.reply_timeout,
        )
        out = _drive(job, to_stderr=args.json, phases=("waiting", "federating")).to_json()
    finally:
        session.close()
    print_json(out)
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench.services.federation_remote import federate_join_job

    session = open_session_cli(args.project)
    try:
        record = session.resolve_dataset(args.dataset)
        ds = session.load_dataset(record)
        job = federate_join_job(
            session,
            ds,
            args.address,
            site_name=args.site_name or Path(args.project).resolve().name,
            max_epsilon=args.max_epsilon,
            accept=(lambda plan: True) if args.accept else _ask_to_accept,
            ca=Path(args.ca) if args.ca else None,
        )
        out = _drive(job, to_stderr=args.json, phases=("waiting", "plan", "federating")).to_json()
    finally:
        session.close()
    print_json(out)
    return 0


def _ask_to_accept(plan: Any) -> bool:
    print(f"The host's plan: {plan.describe()}", file=sys.stderr)
    if not sys.stdin.isatty():
        print("not a terminal: give --accept to accept the plan without asking", file=sys.stderr)
        return False
    return input("Accept this plan and train? [y/N] ").strip().lower() in ("y", "yes")
