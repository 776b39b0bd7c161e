"""`workbench train` and `workbench budget`: differentially private training and the privacy budget, headless.

torch, opacus and transformers are imported inside the commands, so `workbench --help` loads none of them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli._common import (
    UsageError,
    add_load_options,
    dataset_source_options,
    drive_with_progress,
    open_session_cli,
    print_json,
    resolve_dataset_input,
    say,
)


def register(sub: Any) -> None:
    """Add this room's subcommands to the `workbench` parser's subparsers object."""
    from workbench.core.train.tasks import task_names  # a registry listing: imports no task module, no torch

    p = sub.add_parser(
        "train",
        help="train a classifier with differential privacy (DP-SGD, Opacus) and print what it spent",
        description=(
            "Train a text or tabular classifier with DP-SGD. With --project the run is recorded and its epsilon is "
            "reserved from, then committed to, the dataset's privacy budget (set one with `workbench budget`)."
        ),
    )
    dataset_source_options(p, "dataset file (CSV, JSONL, Parquet)")
    p.add_argument("--task", choices=list(task_names()), required=True)
    p.add_argument("--label", required=True, help="label column")
    p.add_argument("--text", help="text column (text task)")
    p.add_argument(
        "--include",
        action="append",
        metavar="COLUMN",
        default=[],
        help="let the model use a direct-identifier or free-text column anyway (excluded by default; repeat)",
    )
    p.add_argument("--epsilon", type=float, help="target epsilon (required unless --no-dp)")
    p.add_argument("--delta", type=float, help="target delta (default: 1/(10 n) rounded down to a power of ten)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument(
        "--batch-size",
        type=int,
        help="logical (expected) batch size (default: chosen for the data: the task's measured batch, text 256, "
        "tabular 64, smaller when the run would take too few steps, larger when the noise per step is too high)",
    )
    p.add_argument(
        "--physical-batch-size",
        type=int,
        help="rows per pass in memory; the batch's gradient is the same (default: text 128, tabular the whole batch; "
        "0: the whole batch)",
    )
    p.add_argument("--max-grad-norm", type=float, default=1.0, help="per-sample clipping bound")
    p.add_argument("--lr", type=float, help="learning rate (default: the recipe's measured rate)")
    p.add_argument(
        "--plan-only",
        action="store_true",
        help="print the plan (batch, learning rate, steps, noise, warnings) and stop before training",
    )
    p.add_argument("--no-dp", action="store_true", help="train the same recipe without DP (no privacy guarantee)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--accountant", choices=["rdp", "prv"], default="rdp")
    p.add_argument("--max-rows", type=int, help="use a seeded sample of at most N labelled rows")
    p.add_argument("--project", help="project folder: record the run and use the dataset's privacy budget")
    p.add_argument("--model", help="local Hugging Face encoder folder (text task; default: bundled MiniLM-L6)")
    # The names of workbench.core.train.text_model.RECIPES (tests/cli/test_cli_structure.py checks they agree):
    # importing it would load the whole workbench.core.train package and double the start-up time of --help.
    p.add_argument("--recipe", choices=["lora", "top_layers", "head", "full"], default="lora", help="text recipe")
    p.add_argument("--max-length", type=int, default=64, help="text: tokens per row")
    p.add_argument(
        "--device",
        help="auto (CUDA when present), cpu or cuda (default: the device setting: $WORKBENCH_DEVICE, the project's, "
        "the application's, else auto)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_load_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("budget", help="show or set a dataset's privacy budget in a project")
    dataset_source_options(p, "dataset file (identified by its fingerprint)")
    p.add_argument("--project", default=".", help="project folder (default: the current folder)")
    p.add_argument("--set", type=float, metavar="TOTAL", dest="total", help="set the total epsilon")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_budget)


def _fingerprint(args: argparse.Namespace, session: Any) -> str:
    """The fingerprint of the dataset named by ``--dataset`` (from the project) or by a file (hashed here)."""
    from workbench.core.data.fingerprint import sha256_file_job
    from workbench.core.jobs import CancelToken, drive

    if args.dataset:
        if args.path:
            raise UsageError("give either a file path or --dataset, not both")
        return str(session.resolve_dataset(args.dataset).fingerprint)
    if not args.path:
        raise UsageError("name the dataset: a file path, or --dataset NAME|ID")
    if not Path(args.path).is_file():
        raise UsageError(f"{args.path}: no such file (a dataset stored in the project is named with --dataset NAME|ID)")
    return str(drive(sha256_file_job(args.path, CancelToken())))


def _budget_json(summary: Any, runs: list[Any]) -> dict[str, Any]:
    out = summary.as_dict()
    out["runs"] = [
        {
            "run_id": r.id,
            "status": r.status,
            "task": r.task,
            "private": r.private,
            "epsilon": r.epsilon,
            "delta": r.delta,
            "accountant": r.accountant,
            "steps": r.steps,
            "started_at": r.started_at,
        }
        for r in runs
    ]
    out["ledger_entries"] = summary.runs
    out["non_private_runs"] = sum(1 for r in runs if not r.private)
    return out


def cmd_budget(args: argparse.Namespace) -> int:
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.dp.runs import RunStore

    with open_session_cli(args.project) as session:
        project = session.project
        fingerprint = _fingerprint(args, session)
        ledger = PrivacyLedger(project)
        store = RunStore(project)
        if args.total is not None:
            ledger.set_total(fingerprint, args.total)
        out = _budget_json(ledger.summary(fingerprint), store.runs(fingerprint))
    if args.json:
        print_json(out)
        return 0
    if out["charged_to"]:
        say(
            f"derived data: it charges the budget of the dataset it was derived from (fingerprint "
            f"{out['charged_to'][:12]}…); every figure below is that dataset's"
        )
    if out["total"] is None:
        say("no privacy budget set for this dataset (set one with: workbench budget PATH --project DIR --set TOTAL)")
    else:
        say(
            f"total ε {out['total']:g}; committed ε {out['committed']:.4g} (δ {out['committed_delta']:.2g}); "
            f"reserved ε {out['reserved']:.4g}; remaining ε {out['remaining']:.4g}  [basic composition]"
        )
        if out["overspent"]:
            say("warning: this budget is OVERSPENT (a run's accountant reported more than it reserved); see the runs")
        if out["other_projects_epsilon"]:
            say(
                f"of which ε {out['other_projects_epsilon']:.4g} committed or reserved on the same data in "
                f"{out['other_projects']} other project(s) of this machine (one budget per dataset, machine-wide)"
            )
        if out["rdp_composed_epsilon"] is not None:
            say(f"tighter RDP composition of committed runs: ε {out['rdp_composed_epsilon']:.4g} at the same δ")
    for r in out["runs"]:
        eps = "not private" if not r["private"] else f"ε {r['epsilon'] or 0:.4g} ({(r['accountant'] or '').upper()})"
        say(f"run {r['run_id']}: {r['task']}, {r['status']}, {r['steps']} steps, {eps}")
    if out["non_private_runs"]:
        say(
            f"warning: {out['non_private_runs']} non-private run(s) on this dataset: their models carry no privacy "
            "guarantee and must not leave the secure environment"
        )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from workbench.core.settings import resolve
    from workbench.core.train.tasks import (
        RECOMMENDED_BATCH_SIZE,
        RECOMMENDED_ROWS_IN_MEMORY,
        TextModelConfig,
        TrainConfig,
    )
    from workbench.services.training import dataset_roles, excluded_columns, train_job

    if not args.no_dp and args.epsilon is None:
        raise UsageError("--epsilon is required for a private run (or pass --no-dp for a non-private comparison)")
    session = open_session_cli(args.project) if args.project else None
    try:
        ds, _record = resolve_dataset_input(args, session)
        unknown = sorted(set(args.include) - set(ds.column_names))
        if unknown:
            raise UsageError(f"--include names columns that {ds.name} does not have: {', '.join(unknown)}")
        roles = dataset_roles(session, ds)
        config = TrainConfig(
            task=args.task,
            label_column=args.label,
            text_column=args.text,
            excluded_columns=excluded_columns(roles, label=args.label, text=args.text, include=args.include),
            dataset_name=ds.name,
            private=not args.no_dp,
            target_epsilon=args.epsilon if args.epsilon is not None else 0.0,
            delta=args.delta,
            accountant=args.accountant,
            epochs=args.epochs,
            batch_size=args.batch_size if args.batch_size is not None else RECOMMENDED_BATCH_SIZE[args.task],
            max_physical_batch_size=(
                RECOMMENDED_ROWS_IN_MEMORY[args.task]
                if args.physical_batch_size is None
                else (args.physical_batch_size or None)
            ),
            max_grad_norm=args.max_grad_norm,
            learning_rate=args.lr,
            seed=args.seed,
            max_rows=args.max_rows,
            device=args.device or resolve("device", session.project if session is not None else None).value,
            text=TextModelConfig(
                model_path=str(Path(args.model).resolve()) if args.model else None,
                recipe=args.recipe,
                max_length=args.max_length,
            ),
        )
        advice, config = _plan(args, config, ds.table)
        if args.plan_only:
            if args.json:
                print_json({"plan": _advice_json(advice)})
            return 0
        result = drive_with_progress(train_job(ds, config, session=session), not args.json)
        out = result.as_dict()
        out["plan"] = _advice_json(advice)
        out["comparison"] = _comparison(out, config, session, ds.fingerprint)
        if session is not None and config.private:
            from workbench.core.dp.ledger import PrivacyLedger

            out["budget"] = PrivacyLedger(session.project).summary(ds.fingerprint).as_dict()
    finally:
        if session is not None:
            session.close()
    if args.json:
        print_json(out)
        return 0
    _say_result(out)
    return 0


def _say_result(out: dict[str, Any]) -> None:
    """The run's outcome as lines for a person: status, privacy, comparison, columns, speed, model, budget."""
    say(f"{out['status']}: {out['task']} ({out['recipe']}), {out['steps']} steps, {out['epochs_completed']} epochs")
    say(
        f"privacy: {out['epsilon_label']}"
        + (f", noise multiplier {out['noise_multiplier']:.4g}" if out["private"] else "")
    )
    say(out["comparison"])
    say(f"columns used: {', '.join(out['columns_used']) or '-'}")
    say(f"{out['samples_per_second']:.1f} samples/s on {out['device']}; run id {out['run_id']}")
    if out.get("model_path"):
        where = (
            f"in the encrypted project's vault as the model of run {out['run_id']} (export it with: "
            f"workbench export model {out['run_id']} --project DIR --out FILE --plaintext)"
            if str(out["model_path"]).startswith("vault:")
            else out["model_path"]
        )
        say(f"model kept {where}")
    if out.get("budget"):
        say(f"budget remaining: ε {out['budget']['remaining']:.4g} of {out['budget']['total']:g}")


def _plan(args: argparse.Namespace, config: Any, table: Any) -> tuple[Any, Any]:
    """Choose the batch (unless given) and say, before training, what the run will do and whether it is likely to
    beat the majority baseline (the Train page shows the same; workbench.services.training.plan_training)."""
    from dataclasses import replace

    from workbench.services.training import plan_training

    advice, _plan = plan_training(config, table, choose_batch=args.batch_size is None)
    config = replace(config, batch_size=advice.batch_size)
    if not args.json:
        say(f"plan: {advice.summary()}")
        if advice.warnings:
            say("warning: this plan is unlikely to beat the majority baseline:")
            for line in advice.warnings:
                say(f"  - {line}")
    return advice, config


def _advice_json(advice: Any) -> dict[str, Any]:
    return {
        "batch_size": advice.batch_size,
        "batch_chosen_for_data": advice.batch_suggested,
        "learning_rate": advice.learning_rate,
        "steps": advice.steps,
        "train_rows": advice.train_rows,
        "val_rows": advice.val_rows,
        "noise_multiplier": advice.noise_multiplier,
        "target_epsilon": advice.target_epsilon,
        "delta": advice.delta,
        "accountant": advice.accountant,
        "likely_to_beat_majority": advice.likely_to_learn,
        "warnings": list(advice.warnings),
        "summary": advice.summary(),
    }


def _comparison(out: dict[str, Any], config: Any, session: Any, fingerprint: str) -> str:
    """The run's validation accuracy against its majority baseline and, in a project, the newest non-private run of
    the same recipe on the same dataset (the sentence the Train page shows too)."""
    from workbench.core.train.results import compare_result, non_private_reference

    reference = None
    if session is not None and config.private:
        from workbench.core.dp.runs import RunStore

        reference = non_private_reference(RunStore(session.project, recover=False).runs(fingerprint), config.as_dict())
    return compare_result(
        out["val_accuracy"], out["majority_baseline"], private=bool(out["private"]), reference=reference
    )
