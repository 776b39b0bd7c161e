"""`workbench` commands on datasets: look at a file, make the demo, and the datasets a project holds.

Added to the parser by :func:`register_inspection` (the first three) and :func:`register` (the rest):

    workbench info FILE | --dataset NAME|ID --project DIR [--json] [--examples]
    workbench demo [--project DIR] [--rows N]       workbench demo-data [--out FILE] [--rows N]
    workbench add FILE --project DIR [--role COLUMN=ROLE ...]
    workbench datasets --project DIR [--json]
    workbench roles FILE|NAME|ID --project DIR [--role COLUMN=ROLE ...] [--json]
    workbench export dataset NAME|ID | export model RUN_ID --project DIR --out FILE [--plaintext] [--force]
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
    load_options,
    open_session_cli,
    parse_roles,
    print_json,
    print_table,
    resolve_dataset_input,
    say,
)


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


def _check_out(out: str, force: bool, *protected: str | Path, parents: bool = False) -> None:
    """Only a regular file is ever replaced, never an input; the folder must exist unless ``parents`` (``safe_io``)."""
    from workbench.core.safe_io import check_output_path

    check_output_path(out, force=force, protected=protected, parents=parents)


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
        print_json(info, ensure_ascii=False)
        return 0
    enc = f", {ds.encoding}" if ds.encoding else ""
    say(f"{ds.path}: {ds.format}{enc}, {ds.num_rows:,} rows, {len(ds.columns)} columns, {ds.size_bytes:,} bytes")
    say(f"fingerprint (SHA-256): {ds.fingerprint}")
    for w in ds.warnings:
        say(f"warning: {w}")
    headers = ["column", "type", "missing", "distinct", "suggested role", "why"]
    rows = [
        [c["name"], c["type"], c["missing"], c["distinct"], c["suggested_role"], c["reason"]] for c in info["columns"]
    ]
    if args.examples:
        headers.append("examples")
        for row, c in zip(rows, info["columns"], strict=True):
            row.append(", ".join(c["examples"])[:60])
    say()
    print_table(headers, rows)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from workbench.core.demo_project import create_demo_project

    project, record = create_demo_project(args.project, rows=args.rows)
    try:
        result: dict[str, Any] = {
            "project": str(project.folder),
            "dataset_id": record.id,
            "path": record.path,
            "rows": record.rows,
            "fingerprint": record.fingerprint,
        }
    finally:
        project.close()
    if args.json:
        print_json(result)
    else:
        say(f"demo project ready: {result['project']} ({result['rows']:,} rows in {Path(result['path']).name})")
        say(f"open it with: privacy-workbench {result['project']}")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from workbench.core.demo import write_clinic_intake_csv

    _check_out(args.out, True, parents=True)  # replaced and its folder created as before, but only a regular file
    path = write_clinic_intake_csv(args.out, rows=args.rows)
    say(f"wrote {path}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from workbench.services.datasets import add_dataset_job

    roles = parse_roles(args.role or [])
    options = load_options(args)
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
        print_json(out)
    else:
        where = "encrypted into the project" if added.encrypted else "registered by its path"
        short = record.fingerprint[:16]
        say(f"dataset {record.id}: {record.name}, {record.rows:,} rows, {where}, fingerprint {short}…")
        if added.encrypted:
            say(f"the original file stays where it is ({args.path}); delete it yourself if it must not stay in clear")
        print_table(["column", "role"], sorted(dict(record.roles).items()))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    with open_session_cli(args.project) as session:
        records = session.project.datasets()
    if args.json:
        print_json(
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
        return 0
    if not records:
        say("no datasets in this project yet (add one with: workbench add FILE --project DIR)")
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
            roles = parse_roles(args.role)
            unknown = sorted(set(roles) - {name for name, _ in record.schema})
            if unknown:
                raise UsageError(f"dataset {record.id} has no column named: {', '.join(unknown)}")
            merged = dict(record.roles)
            merged.update(roles)
            project.set_roles(record.id, merged)
            record = project.get_dataset(record.id)
    if args.json:
        print_json({"dataset_id": record.id, "roles": dict(record.roles)})
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
        from workbench.core.data.fingerprint import sha256_file_job
        from workbench.core.jobs import CancelToken, drive

        record = session.project.dataset_by_fingerprint(drive(sha256_file_job(ref, CancelToken())))
        if record is None:
            raise UsageError(f"{ref} is not in this project (add it with: workbench add {ref} --project DIR)")
        return record
    return session.resolve_dataset(ref)


def cmd_export(args: argparse.Namespace) -> int:
    from workbench.services.datasets import export_dataset_job
    from workbench.services.training import export_model_job

    with open_session_cli(args.project) as session:
        if not (session.encrypted and not args.plaintext):  # else the export refuses, saying --plaintext
            _check_out(args.out, args.force, Path(args.project) / "workbench.sqlite")
        if args.what == "dataset":
            record = session.resolve_dataset(args.ref)
            if not str(record.path).startswith("vault:"):
                _check_out(args.out, args.force, record.path)
            job = export_dataset_job(session, record, args.out, in_clear=args.plaintext, overwrite=args.force)
            label = f"dataset {record.id} ({record.name})"
        else:
            if not str(args.ref).isdigit():
                raise UsageError(f"a model is named by its run id (a number), not {args.ref!r}; see: workbench budget")
            job = export_model_job(session, int(args.ref), args.out, in_clear=args.plaintext, overwrite=args.force)
            label = f"the model of run {args.ref}"
        written = drive_with_progress(job)
        encrypted = session.encrypted
    say(f"exported {label} to {written}" + (" in clear (recorded in the project's audit log)" if encrypted else ""))
    return 0


# --- parser -----------------------------------------------------------------------------------------------------


def register_inspection(sub: Any) -> None:
    """Add ``info``, ``demo`` and ``demo-data`` (the first commands of ``workbench --help``)."""
    p = sub.add_parser("info", help="rows, columns, types, missing and distinct counts, suggested roles, fingerprint")
    dataset_source_options(p)
    p.add_argument("--project", help="project folder (with --dataset)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--examples", action="store_true", help="also show example values (off by default: they are data)")
    add_load_options(p)
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


def register(sub: Any) -> None:
    """Add ``add``, ``datasets``, ``roles`` and ``export``: the datasets a project holds."""
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
    add_load_options(p)
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
