"""The ``workbench`` command: everything the GUI does, headless.

Heavy modules (pyarrow, and in later work torch, presidio, opacus) are imported inside the commands, so
``workbench --help`` starts fast and loads neither Qt nor torch (``tests/core/test_architecture.py``).

Exit codes: 0 success; 2 bad input or a problem the user can fix (one line on stderr naming the file and the
problem); 1 an internal error (one line on stderr; the details go to the log file, never with dataset values);
130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROG = "workbench"


class UsageError(Exception):
    """A problem with the command line itself (exit 2)."""


def _err(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _progress_printer(enabled: bool) -> Any:
    """A progress callback that redraws one line on a terminal's stderr; silent otherwise."""
    if not enabled or not sys.stderr.isatty():
        return None

    def show(progress: Any) -> None:
        frac = progress.fraction
        text = f"{progress.phase} {frac * 100:5.1f}%" if frac is not None else progress.phase
        print(f"\r{text:<40}", end="", file=sys.stderr, flush=True)

    return show


def drive_with_progress(gen: Any, show: bool = True) -> Any:
    """Run a core job generator to its end, redrawing one progress line on a terminal's stderr (shared by every
    room's commands); silent when ``show`` is false or stderr is not a terminal."""
    from workbench.core.jobs import drive

    printer = _progress_printer(show)
    try:
        return drive(gen, printer)
    finally:
        if printer is not None:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)


def _load(path: str, args: argparse.Namespace) -> Any:
    from workbench.core.data.dataset import LoadOptions
    from workbench.core.data.load import load_dataset
    from workbench.core.jobs import CancelToken

    options = LoadOptions(
        format=getattr(args, "format", None),
        encoding=getattr(args, "encoding", None),
        delimiter=_delimiter(getattr(args, "delimiter", None)),
    )
    return drive_with_progress(load_dataset(path, options, CancelToken()), not getattr(args, "json", False))


def _delimiter(text: str | None) -> str | None:
    if text is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(text.lower(), text)
    if len(value) != 1:
        raise UsageError(f"--delimiter must be one character or one of: {', '.join(named)}")
    return value


def open_session_cli(folder: str | Path) -> Any:
    """The project in ``folder``, unlocked with the passphrase from the environment or a prompt when it is
    encrypted (every command that reads or changes a project opens it here)."""
    from workbench.cli_crypto import read_passphrase
    from workbench.services.session import open_session

    session = open_session(
        folder, lambda: read_passphrase(f"passphrase of the project {Path(folder).name}", confirm=False)
    )
    for note in session.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    return session


def dataset_source_options(p: argparse.ArgumentParser, what: str = "dataset file") -> None:
    """A dataset given as a file path, or as one of a project's datasets with ``--dataset NAME|ID``."""
    p.add_argument("path", nargs="?", help=f"{what} (or name a project's dataset with --dataset and --project)")
    p.add_argument(
        "--dataset",
        metavar="NAME|ID",
        help="a dataset of the project given with --project: its id or name (see: workbench datasets)",
    )


def resolve_dataset_input(args: argparse.Namespace, session: Any) -> tuple[Any, Any]:
    """The dataset a command works on, and the project's record of it (``None`` when the project does not know
    it or there is no project): from ``--dataset`` (decrypted into memory in an encrypted project) or a file."""
    show = not getattr(args, "json", False)
    if getattr(args, "dataset", None):
        if session is None:
            raise UsageError("--dataset names one of a project's datasets: add --project DIR")
        if args.path:
            raise UsageError("give either a file path or --dataset, not both")
        record = session.resolve_dataset(args.dataset)
        return drive_with_progress(session.load_dataset_job(record), show), record
    if not args.path:
        raise UsageError("name the dataset: a file path, or --dataset NAME|ID with --project DIR")
    if session is not None and not Path(args.path).exists():
        raise UsageError(
            f"{args.path}: no such file; a dataset stored in the project is named with --dataset NAME|ID "
            "(see: workbench datasets --project DIR)"
        )
    ds = _load(args.path, args)
    record = session.project.dataset_by_fingerprint(ds.fingerprint) if session is not None else None
    return ds, record


def _dataset_json(ds: Any, examples: bool) -> dict[str, Any]:
    columns = []
    for c in ds.columns:
        entry: dict[str, Any] = {
            "name": c.name,
            "type": c.dtype,
            "missing": c.missing,
            "distinct": c.distinct,
            "suggested_role": c.suggested_role.value,
            "reason": c.role_reason,
        }
        if examples:
            entry["examples"] = list(c.examples)
        columns.append(entry)
    return {
        "path": ds.path,
        "name": ds.name,
        "format": ds.format,
        "encoding": ds.encoding,
        "delimiter": ds.delimiter,
        "size_bytes": ds.size_bytes,
        "fingerprint": ds.fingerprint,
        "rows": ds.num_rows,
        "columns": columns,
        "warnings": list(ds.warnings),
    }


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows as aligned plain-text columns under a dashed header (shared by every room's commands)."""
    cells = [[str(h) for h in headers]] + [[str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


# --- commands ---------------------------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    session = open_session_cli(args.project) if args.project else None
    try:
        ds, _record = resolve_dataset_input(args, session)
    finally:
        if session is not None:
            session.close()
    info = _dataset_json(ds, args.examples)
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    enc = f", {ds.encoding}" if ds.encoding else ""
    print(f"{ds.path}: {ds.format}{enc}, {ds.num_rows:,} rows, {len(ds.columns)} columns, {ds.size_bytes:,} bytes")
    print(f"fingerprint (SHA-256): {ds.fingerprint}")
    for w in ds.warnings:
        print(f"warning: {w}")
    headers = ["column", "type", "missing", "distinct", "suggested role", "why"]
    rows = [
        [c["name"], c["type"], c["missing"], c["distinct"], c["suggested_role"], c["reason"]] for c in info["columns"]
    ]
    if args.examples:
        headers.append("examples")
        for row, c in zip(rows, info["columns"], strict=True):
            row.append(", ".join(c["examples"])[:60])
    print()
    print_table(headers, rows)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from workbench.core.demo_project import create_demo_project

    project, record = create_demo_project(args.project, rows=args.rows)
    try:
        result = {
            "project": str(project.folder),
            "dataset_id": record.id,
            "path": record.path,
            "rows": record.rows,
            "fingerprint": record.fingerprint,
        }
    finally:
        project.close()
    if args.json:
        print(json.dumps(result))
    else:
        print(f"demo project ready: {result['project']} ({result['rows']:,} rows in {Path(result['path']).name})")
        print(f"open it with: privacy-workbench {result['project']}")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from workbench.core.demo import write_clinic_intake_csv

    path = write_clinic_intake_csv(args.out, rows=args.rows)
    print(f"wrote {path}")
    return 0


def cmd_project_init(args: argparse.Namespace) -> int:
    from workbench.core.project.store import Project

    with Project.create(args.dir) as project:
        print(f"created project {project.folder}")
    return 0


def cmd_project_encrypt(args: argparse.Namespace) -> int:
    from workbench.cli_crypto import _kdf, read_passphrase
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.project.store import Project
    from workbench.services.encryption import ERASURE_NOTE, encrypt_project_job, plan_encryption

    if ProjectVault.exists(args.dir):
        # Encrypted already, or an encryption was interrupted: opening the project finishes it.
        with open_session_cli(args.dir) as session:
            if not session.notes:
                raise UsageError(
                    f"{session.folder} is already encrypted (change its passphrase with: workbench project "
                    "passphrase DIR)"
                )
        return 0
    params = _kdf(args.kdf)
    project = Project.open(args.dir)
    try:
        plan = plan_encryption(project)
        print(f"encrypting {project.folder}:")
        for line in plan.lines():
            print(f"  {line}")
        passphrase = read_passphrase("new project passphrase", confirm=True)
    except BaseException:
        project.close()
        raise
    session, report = drive_with_progress(encrypt_project_job(project, passphrase, kdf=params))
    with session:
        print(f"{session.folder} is now encrypted ({report.kdf}): the project store and every file the project owns")
        print(f"are in the vault; datasets added from now on are stored encrypted. {report.summary()}.")
        for path in report.in_clear:
            print(f"still in clear at {path} (registered by a path outside the project; not touched)")
        print(f"note: {ERASURE_NOTE}")
    return 0


def cmd_project_passphrase(args: argparse.Namespace) -> int:
    import os

    from workbench.cli_crypto import PASSPHRASE_ENV, read_passphrase
    from workbench.core.crypto.vault import ProjectVault
    from workbench.services.encryption import change_passphrase
    from workbench.services.session import open_session

    if not ProjectVault.exists(args.dir):
        raise UsageError(f"{args.dir} is not an encrypted project (encrypt it with: workbench project encrypt DIR)")
    new_env = os.environ.get("WORKBENCH_NEW_PASSPHRASE")
    if os.environ.get(PASSPHRASE_ENV) is not None and not new_env:
        raise UsageError(f"with {PASSPHRASE_ENV} set, give the new passphrase in WORKBENCH_NEW_PASSPHRASE")
    old = read_passphrase("current passphrase", confirm=False)
    if new_env:
        new = new_env
    else:
        import getpass

        new = getpass.getpass("new passphrase: ")
        if getpass.getpass("new passphrase (again): ") != new:
            raise UsageError("the two passphrases differ; nothing was changed")
    with open_session(args.dir, old) as session:
        change_passphrase(session, old, new)
    print("passphrase changed; the data was not re-encrypted")
    return 0


def _parse_roles(pairs: Sequence[str]) -> dict[str, str]:
    from workbench.core.data.dataset import ColumnRole

    roles: dict[str, str] = {}
    for pair in pairs:
        column, sep, role = pair.rpartition("=")
        if not sep or not column:
            raise UsageError(f"--role expects COLUMN=ROLE, got {pair!r}")
        try:
            roles[column] = ColumnRole.parse(role).value
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return roles


def cmd_add(args: argparse.Namespace) -> int:
    from workbench.core.data.dataset import LoadOptions
    from workbench.services.datasets import add_dataset_job

    roles = _parse_roles(args.role or [])
    options = LoadOptions(format=args.format, encoding=args.encoding, delimiter=_delimiter(args.delimiter))
    with open_session_cli(args.project) as session:
        added = drive_with_progress(add_dataset_job(session, args.path, options, roles), not args.json)
    record = added.record
    out = {
        "dataset_id": record.id,
        "name": record.name,
        "fingerprint": record.fingerprint,
        "rows": record.rows,
        "roles": dict(record.roles),
        "encrypted": added.encrypted,
    }
    if args.json:
        print(json.dumps(out))
    else:
        where = "encrypted into the project" if added.encrypted else "registered by its path"
        print(f"dataset {record.id}: {record.name}, {record.rows:,} rows, {where}, fingerprint {record.fingerprint[:16]}…")  # noqa: E501
        if added.encrypted:
            print(f"the original file stays where it is ({args.path}); delete it yourself if it must not stay in clear")
        print_table(["column", "role"], sorted(dict(record.roles).items()))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    with open_session_cli(args.project) as session:
        records = session.project.datasets()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "name": r.name,
                        "path": r.path,
                        "fingerprint": r.fingerprint,
                        "format": r.format,
                        "rows": r.rows,
                        "roles": dict(r.roles),
                    }
                    for r in records
                ]
            )
        )
        return 0
    if not records:
        print("no datasets in this project yet (add one with: workbench add FILE --project DIR)")
        return 0
    print_table(
        ["id", "name", "rows", "format", "fingerprint"],
        [[r.id, r.name, f"{r.rows:,}", r.format, r.fingerprint[:16] + "…"] for r in records],
    )
    return 0


def cmd_roles(args: argparse.Namespace) -> int:
    with open_session_cli(args.project) as session:
        project = session.project
        record = _record_named(args, session)
        if args.role:
            roles = _parse_roles(args.role)
            unknown = sorted(set(roles) - {name for name, _ in record.schema})
            if unknown:
                raise UsageError(f"dataset {record.id} has no column named: {', '.join(unknown)}")
            merged = dict(record.roles)
            merged.update(roles)
            project.set_roles(record.id, merged)
            record = project.get_dataset(record.id)
    if args.json:
        print(json.dumps({"dataset_id": record.id, "roles": dict(record.roles)}))
    else:
        print_table(["column", "role"], [[name, dict(record.roles).get(name, "other")] for name, _ in record.schema])
    return 0


def _record_named(args: argparse.Namespace, session: Any) -> Any:
    """The project's record of the dataset a command names: ``--dataset``, or a positional id, name or file."""
    if args.dataset and args.path:
        raise UsageError("give either a file path or --dataset, not both")
    ref = args.dataset or args.path
    if not ref:
        raise UsageError("name the dataset: its id or name (--dataset NAME|ID), or its file")
    if not args.dataset and Path(ref).is_file():
        from workbench.core.data.fingerprint import sha256_file
        from workbench.core.jobs import CancelToken, drive

        record = session.project.dataset_by_fingerprint(drive(sha256_file(ref, CancelToken())))
        if record is None:
            raise UsageError(f"{ref} is not in this project (add it with: workbench add {ref} --project DIR)")
        return record
    return session.resolve_dataset(ref)


def cmd_export(args: argparse.Namespace) -> int:
    from workbench.services.datasets import export_dataset_job
    from workbench.services.training import export_model_job

    with open_session_cli(args.project) as session:
        if args.what == "dataset":
            record = session.resolve_dataset(args.ref)
            job = export_dataset_job(session, record, args.out, in_clear=args.plaintext, overwrite=args.force)
            label = f"dataset {record.id} ({record.name})"
        else:
            if not str(args.ref).isdigit():
                raise UsageError(f"a model is named by its run id (a number), not {args.ref!r}; see: workbench budget")
            job = export_model_job(session, int(args.ref), args.out, in_clear=args.plaintext, overwrite=args.force)
            label = f"the model of run {args.ref}"
        written = drive_with_progress(job)
        encrypted = session.encrypted
    print(f"exported {label} to {written}" + (" in clear (recorded in the project's audit log)" if encrypted else ""))
    return 0


# --- parser -----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Privacy Workbench, headless.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def load_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", choices=["csv", "jsonl", "parquet", "text"], help="skip format detection")
        p.add_argument("--encoding", help="skip encoding detection (e.g. utf-8, utf-16, gb18030, latin-1)")
        p.add_argument("--delimiter", help="skip delimiter detection: one character, or tab/comma/semicolon/pipe")

    p = sub.add_parser("info", help="rows, columns, types, missing and distinct counts, suggested roles, fingerprint")
    dataset_source_options(p)
    p.add_argument("--project", help="project folder (with --dataset)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--examples", action="store_true", help="also show example values (off by default: they are data)")
    load_options(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="create the demo project (deterministic synthetic clinic intake records)")
    p.add_argument("--project", default="demo-project", help="project folder (default: ./demo-project)")
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("demo-data", help="write only the demo CSV")
    p.add_argument("--out", default="resources/demo/clinic_intake.csv")
    p.add_argument("--rows", type=int, default=5000)
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("project", help="project folders")
    psub = p.add_subparsers(dest="project_command", metavar="ACTION")
    psub.required = True
    pi = psub.add_parser("init", help="create an empty project folder")
    pi.add_argument("dir")
    pi.set_defaults(func=cmd_project_init)
    pe = psub.add_parser(
        "encrypt",
        help="encrypt a project: its store, the datasets, models and outputs it holds, and everything added later "
        "(passphrase from WORKBENCH_PASSPHRASE or a prompt); run again to finish an interrupted encryption",
    )
    pe.add_argument("dir")
    pe.add_argument(
        "--kdf",
        metavar="SPEC",
        help="key-derivation parameters, e.g. argon2id:m=65536,t=3,p=4 (default: tuned to about 0.5 s here)",
    )
    pe.set_defaults(func=cmd_project_encrypt)
    pp = psub.add_parser("passphrase", help="change an encrypted project's passphrase (no data is re-encrypted)")
    pp.add_argument("dir")
    pp.set_defaults(func=cmd_project_passphrase)

    p = sub.add_parser("add", help="load a dataset and register it in a project (same bytes: same dataset)")
    p.add_argument("path")
    p.add_argument("--project", required=True)
    p.add_argument(
        "--role",
        action="append",
        metavar="COLUMN=ROLE",
        help="set a column role (direct_identifier, quasi_identifier, sensitive, free_text, label, other)",
    )
    p.add_argument("--json", action="store_true")
    load_options(p)
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("datasets", help="list a project's datasets")
    p.add_argument("--project", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("roles", help="show or set the column roles of a project dataset")
    dataset_source_options(p, "the dataset's file (found by its fingerprint), id or name")
    p.add_argument("--project", required=True)
    p.add_argument("--role", action="append", metavar="COLUMN=ROLE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_roles)

    p = sub.add_parser("export", help="write a project's dataset or model to a file (audited)")
    p.add_argument("what", choices=["dataset", "model"])
    p.add_argument("ref", metavar="NAME|ID", help="the dataset's id or name, or the model's run id")
    p.add_argument("--project", required=True)
    p.add_argument("--out", required=True, help="the file to write (all or nothing)")
    p.add_argument(
        "--plaintext",
        action="store_true",
        help="needed for an encrypted project: the export is written in clear outside the vault",
    )
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_export)

    # Commands of other rooms live in their own modules; each keeps its heavy imports inside its commands.
    from workbench import cli_crypto, cli_pii, cli_train

    cli_pii.register(sub)
    cli_crypto.register(sub)
    cli_train.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    import logging
    import os

    from workbench.core.errors import WorkbenchError
    from workbench.core.logging_setup import configure_logging

    with contextlib.suppress(OSError):  # an unwritable log folder must not stop a batch job
        configure_logging(os.environ.get("WORKBENCH_LOG_LEVEL", "INFO"))
    logging.getLogger("workbench.cli").info("command: %s", args.command)
    try:
        return int(args.func(args))
    except (WorkbenchError, UsageError) as exc:
        _err(str(exc))
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the user, the frames for the log
        import traceback

        logging.getLogger("workbench.cli").error(
            "internal error %s (message withheld)\n%s",
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        _err(f"internal error ({type(exc).__name__}); details are in the log file")
        return 1


if __name__ == "__main__":
    sys.exit(main())
