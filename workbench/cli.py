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
    ds = _load(args.path, args)
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
    from workbench.cli_crypto import read_passphrase
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.project.store import Project

    with Project.open(args.dir) as project:
        if ProjectVault.exists(project.folder):
            raise UsageError(
                f"{project.folder} is already encrypted (change its passphrase with: workbench project passphrase DIR)"
            )
        vault = ProjectVault.create(project.folder, read_passphrase("new project passphrase", confirm=True))
        vault.lock()
        project.audit("project.encrypted", kdf=vault.kdf_description)
        folder = project.folder
    print(
        f"{folder} is now encrypted ({vault.kdf_description}); datasets added from now on are stored "
        "encrypted. Files added before stay where they are."
    )
    return 0


def cmd_project_passphrase(args: argparse.Namespace) -> int:
    import os

    from workbench.cli_crypto import PASSPHRASE_ENV, read_passphrase
    from workbench.core.crypto.vault import ProjectVault

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
    ProjectVault.open(args.dir).change_passphrase(old, new)
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


def open_vault_unlocked(folder: str | Path) -> Any:
    """The project's vault unlocked with the passphrase from the environment or a prompt, or None when the
    project is not encrypted."""
    from workbench.cli_crypto import read_passphrase
    from workbench.core.crypto.vault import ProjectVault

    if not ProjectVault.exists(folder):
        return None
    vault = ProjectVault.open(folder)
    vault.unlock(read_passphrase(f"passphrase of the project {Path(folder).name}", confirm=False))
    return vault


def cmd_add(args: argparse.Namespace) -> int:
    from workbench.core.project.registration import register_loaded
    from workbench.core.project.store import Project

    roles = _parse_roles(args.role or [])
    with Project.open(args.project) as project:
        vault = open_vault_unlocked(project.folder)
        try:
            if vault is not None:
                from workbench.core.data.dataset import LoadOptions
                from workbench.core.project.secure_data import import_into_vault

                options = LoadOptions(format=args.format, encoding=args.encoding, delimiter=_delimiter(args.delimiter))
                ds = drive_with_progress(import_into_vault(vault, args.path, options), not args.json)
            else:
                ds = _load(args.path, args)
        finally:
            if vault is not None:
                vault.lock()
        unknown = sorted(set(roles) - set(ds.column_names))
        if unknown:
            raise UsageError(f"--role names columns that {ds.name} does not have: {', '.join(unknown)}")
        record = register_loaded(project, ds, roles=roles)
    out = {
        "dataset_id": record.id,
        "name": record.name,
        "fingerprint": record.fingerprint,
        "rows": record.rows,
        "roles": dict(record.roles),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"dataset {record.id}: {record.name}, {record.rows:,} rows, fingerprint {record.fingerprint[:16]}…")
        print_table(["column", "role"], sorted(dict(record.roles).items()))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from workbench.core.project.store import Project

    with Project.open(args.project) as project:
        records = project.datasets()
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
    from workbench.core.project.store import Project

    with Project.open(args.project) as project:
        record = _find_record(project, args.dataset)
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


def _find_record(project: Any, key: str) -> Any:
    records = project.datasets()
    for r in records:
        if str(r.id) == key or r.name == key or r.fingerprint.startswith(key.lower()):
            return r
    raise UsageError(f"no dataset {key!r} in project {project.folder} (see: workbench datasets --project DIR)")


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
    p.add_argument("path")
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
        help="encrypt a project: datasets added from now on are stored encrypted "
        "(passphrase from WORKBENCH_PASSPHRASE or a prompt)",
    )
    pe.add_argument("dir")
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
    p.add_argument("dataset", help="dataset id, name or fingerprint prefix")
    p.add_argument("--project", required=True)
    p.add_argument("--role", action="append", metavar="COLUMN=ROLE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_roles)

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
