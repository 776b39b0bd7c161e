"""`workbench` commands of the PII room (added to the parser by :func:`register`).

    workbench scan PATH [--json]                          per column: entity type and confidence; per free-text
                                                          column: entity counts
    workbench policy-template PATH --out POLICY.json      a starting policy from the scan
    workbench anonymize PATH --policy POLICY.json --out OUT [--project DIR] [--key-file FILE] [--json]
    workbench pii-eval GOLD.json [--json] [--spans OUT.jsonl] [--plain]

Presidio and spaCy are imported inside the commands only, so ``workbench --help`` stays light. Every problem
the user can fix is a :class:`~workbench.core.errors.WorkbenchError` or a ``UsageError``: one line on stderr,
exit status 2.

Keys: policies with ``keyed_hash``, ``pseudonym`` or ``encrypt`` need the project's master secret.
:func:`_keys_if_needed` derives them from ``--key-file`` or from the encrypted project's vault (the session's
``anonymization_keys``, the same secret the window uses).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from workbench.cli._common import (
    dataset_source_options,
    drive_with_progress,
    open_session_cli,
    print_json,
    print_table,
    resolve_dataset_input,
    say,
)
from workbench.core.errors import WorkbenchError

MIN_KEY_FILE_BYTES = 32


class PiiUsageError(WorkbenchError):
    """A command-line problem specific to the PII commands (exit 2)."""


def _drive(job: Any, quiet: bool) -> Any:
    return drive_with_progress(job, not quiet)


#: The largest key file read (the secret needs 32 bytes; a key file is never large).
MAX_KEY_FILE_BYTES = 64 << 10


def _key_file_secret(key_file: str) -> bytes:
    """The secret in ``--key-file``: a regular file or a pipe (``--key-file <(...)`` keeps it off the disk), read
    with a size and time limit; a device, folder or FIFO nobody writes to is refused in one line."""
    from workbench.core.safe_io import escape_for_terminal, read_small_file

    path = Path(key_file)
    if not os.path.lexists(path):
        raise PiiUsageError(f"{escape_for_terminal(path)}: no such key file")
    try:
        secret = read_small_file(path, what="key file", limit=MAX_KEY_FILE_BYTES)
    except WorkbenchError as exc:
        raise PiiUsageError(str(exc)) from None
    if len(secret) < MIN_KEY_FILE_BYTES:
        raise PiiUsageError(
            f"{escape_for_terminal(path)}: the key file holds {len(secret)} bytes; it needs at least "
            f"{MIN_KEY_FILE_BYTES} random bytes (e.g. head -c 32 /dev/urandom > project.key, kept as safe as the data)"
        )
    return secret


def _check_out(out: str, force: bool, dataset: str | None, policy: str | None = None, key: str | None = None) -> None:
    """Only a regular file is replaced (with --force), never an input of the command (dataset, policy, key
    file); the folder must exist (:func:`workbench.core.safe_io.check_output_path`)."""
    from workbench.core.safe_io import check_output_path

    roles = {dataset: "the original dataset", policy: "the policy", key: "the key file"}
    check_output_path(out, force=force, protected={p: role for p, role in roles.items() if p})


def _keys_if_needed(args: argparse.Namespace, policy: Any, columns: list[str], session: Any) -> Any:
    """The keys of the keyed operators, when the policy uses any: from ``--key-file``, or from the encrypted
    project's vault (the same secret the window uses, so tokens and pseudonyms agree). Nothing is written."""
    from workbench.core.pii.keys import AnonymizationKeys

    if not policy.needs_keys(columns):
        return None
    if getattr(args, "key_file", None):
        return AnonymizationKeys.derive(_key_file_secret(args.key_file))
    if session is not None:
        keys = session.anonymization_keys()
        if keys is None:
            raise PiiUsageError(
                f"this policy uses keyed operators, whose secret is kept only in an encrypted project: encrypt "
                f"{session.folder} first (workbench project encrypt DIR), or pass --key-file FILE"
            )
        return keys
    raise PiiUsageError(
        "this policy uses keyed operators (keyed_hash, pseudonym or encrypt), which need a secret: pass --key-file "
        "FILE (32+ random bytes), or choose operators without keys (replace, mask, redact, generalize)"
    )


def _session(args: argparse.Namespace) -> Any:
    return open_session_cli(args.project) if getattr(args, "project", None) else None


def _input(args: argparse.Namespace) -> Any:
    """The dataset of a command (file or ``--dataset``), loaded; the project session is closed again."""
    session = _session(args)
    try:
        return resolve_dataset_input(args, session)[0]
    finally:
        if session is not None:
            session.close()


# ---- scan ------------------------------------------------------------------------------------------------------


def cmd_scan(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from workbench.core.pii.analyzer import get_analyzer
    from workbench.core.pii.column_detect import ColumnKind, detect_columns_job
    from workbench.core.pii.evaluate import detect_job
    from workbench.core.pii.postprocess import DetectionSettings, count_entities

    ds = _input(args)
    table = ds.table
    if args.rows is not None:
        if args.rows < 1:
            raise PiiUsageError("--rows must be at least 1")
        table = table.slice(0, args.rows)
    handle = get_analyzer()
    detections = _drive(
        detect_columns_job(table, analyzer=handle, sample_size=args.sample, threshold=args.threshold), args.json
    )
    settings = DetectionSettings.create(threshold=args.threshold)
    free_text: dict[str, dict[str, Any]] = {}
    for d in detections:
        if d.kind is not ColumnKind.FREE_TEXT:
            continue
        values = [v for v in table.column(d.column).cast(pa.string()).to_pylist() if v is not None and v.strip()]
        spans = _drive(detect_job(values, handle, settings, workers=args.workers), args.json)
        counts: dict[str, int] = {}
        for per_text in spans:
            for entity, n in count_entities(per_text).items():
                counts[entity] = counts.get(entity, 0) + n
        free_text[d.column] = {
            "texts": len(values),
            "texts_with_pii": sum(1 for s in spans if s),
            "entity_counts": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        }
    if args.json:
        print_json(
            {
                "path": ds.path,
                "rows": table.num_rows,
                "threshold": args.threshold,
                "columns": [d.to_json() for d in detections],
                "free_text": free_text,
            },
            ensure_ascii=False,
        )
        return 0
    say(f"{ds.path}: {table.num_rows:,} rows, {len(detections)} columns (threshold {args.threshold:g})")
    say()
    rows = [[d.column, d.kind.value, d.entity_type or "-", f"{d.confidence:.2f}", d.reason] for d in detections]
    print_table(["column", "kind", "entity type", "confidence", "why"], rows)
    for column, info in free_text.items():
        say()
        say(f"free text {column!r}: {info['texts_with_pii']:,} of {info['texts']:,} texts hold personal data")
        print_table(["entity type", "spans"], [[k, f"{v:,}"] for k, v in info["entity_counts"].items()])
    return 0


# ---- policy-template ---------------------------------------------------------------------------------------------


def cmd_policy_template(args: argparse.Namespace) -> int:
    from workbench.core.pii.analyzer import get_analyzer
    from workbench.core.pii.column_detect import detect_columns_job
    from workbench.core.pii.policy import policy_template, save_policy_file

    out = Path(args.out)
    _check_out(args.out, args.force, args.path)
    session = _session(args)
    try:
        ds, record = resolve_dataset_input(args, session)
        encrypted = session is not None and session.encrypted
    finally:
        if session is not None:
            session.close()
    # The roles the project saved (the Data page's), over the loader's suggestions: direct identifiers are never
    # kept (keyed pseudonym when the project holds keys, i.e. is encrypted; else dropped).
    roles = {k: v.value for k, v in ds.suggested_roles().items()}
    if record is not None:
        roles.update({k: str(v) for k, v in dict(record.roles).items()})
    detections = _drive(detect_columns_job(ds.table, analyzer=get_analyzer(), sample_size=args.sample), args.json)
    policy = policy_template(detections, name=args.name or f"{Path(ds.name).stem} policy", roles=roles, keys=encrypted)
    save_policy_file(policy, out)
    if args.json:
        treatments = {c: p.to_json() for c, p in policy.columns}
        print_json(
            {"policy": str(out), "columns": [d.to_json() for d in detections], "treatments": treatments},
            ensure_ascii=False,
        )
    else:
        source = args.path or f"--dataset {args.dataset} --project {args.project}"
        say(f"wrote {out}: {len(policy.columns)} columns; edit it, then run: workbench anonymize {source} "
              f"--policy {out} --out OUT")  # fmt: skip
    return 0


# ---- anonymize ---------------------------------------------------------------------------------------------------


def cmd_anonymize(args: argparse.Namespace) -> int:
    from workbench.core.pii.engine import output_format
    from workbench.core.pii.policy import load_policy
    from workbench.services.anonymize import anonymize_job

    if args.out:
        _check_out(args.out, args.force, args.path, args.policy, args.key_file)
    policy = load_policy(args.policy)
    session = _session(args)
    try:
        if session is None and not args.out:
            raise PiiUsageError("--out is required without --project (with --project the copy is kept in the project)")
        ds, _record = resolve_dataset_input(args, session)
        keys = _keys_if_needed(args, policy, list(ds.table.column_names), session)
        fmt = output_format(args.out, args.out_format) if args.out else output_format("x.csv", args.out_format)
        job = anonymize_job(
            ds,
            policy,
            session=session,
            keys=keys,
            out=args.out,
            fmt=fmt,
            in_clear=args.plaintext,
            overwrite=args.force,
            workers=args.workers,
        )
        outcome = _drive(job, args.json)
        encrypted = session is not None and session.encrypted
    finally:
        if session is not None:
            session.close()
    summary: dict[str, Any] = {"input": ds.path, "output": outcome.location, **outcome.as_dict()}
    if session is not None:
        summary["project"] = str(session.folder)
    if args.json:
        print_json(summary, ensure_ascii=False)
        return 0
    where = "into the project's vault" if encrypted and not args.out else f"to {outcome.location}"
    say(f"wrote the anonymized copy {where} ({fmt}): {outcome.rows:,} rows in {summary['elapsed_s']:.1f} s")
    kept = summary.get("kept_counts", {})
    if outcome.entity_counts or kept:
        # Replaced: values the operators changed. Kept: detected values the policy leaves as they are (in the copy).
        types = sorted(set(outcome.entity_counts) | set(kept))
        print_table(
            ["entity type", "replaced", "kept"],
            [[k, f"{outcome.entity_counts.get(k, 0):,}", f"{kept.get(k, 0):,}"] for k in types],
        )
    if outcome.residual is not None:
        say(outcome.residual.statement())
        if outcome.residual.residue:
            print_table(["entity type", "remaining"], [[k, f"{v:,}"] for k, v in outcome.residual.residue])
    if outcome.dataset_id is not None:
        say(f"registered as dataset {outcome.dataset_id} in {summary['project']} (policy {outcome.policy_id})")
    return 0


# ---- pii-eval -----------------------------------------------------------------------------------------------------


def cmd_pii_eval(args: argparse.Namespace) -> int:
    import time

    from workbench.core.pii.analyzer import AnalyzerSettings, get_analyzer
    from workbench.core.pii.evaluate import evaluate_job, load_gold, plain_presidio_spans, score, write_spans_jsonl
    from workbench.core.pii.postprocess import DetectionSettings

    if args.spans:  # an existing spans file is replaced, as before; never a device, FIFO, folder or the gold file
        _check_out(args.spans, True, args.gold)
    gold = load_gold(args.gold)
    if args.plain:
        handle = get_analyzer(AnalyzerSettings(workbench_recognizers=False))
        started = time.monotonic()
        detected = plain_presidio_spans(handle, [s.text for s in gold], args.threshold)
        report = score(gold, detected, threshold=args.threshold, elapsed_s=time.monotonic() - started)
    else:
        handle = get_analyzer()
        settings = DetectionSettings.create(threshold=args.threshold)
        report, detected = _drive(evaluate_job(gold, handle, settings, workers=args.workers), args.json)
    if args.spans:
        write_spans_jsonl(args.spans, detected)
    detector = "plain Presidio" if args.plain else "workbench detector"
    if args.json:
        print_json({"detector": detector, "gold": str(args.gold), **report.to_json()}, ensure_ascii=False)
        return 0
    say(f"{args.gold}: {report.texts:,} texts, {detector}, threshold {args.threshold:g}, {report.elapsed_s:.1f} s")
    say("matching: a detected span matches a gold span when they overlap; F2 weighs recall 4x")
    overall = [("any type", report.any_type), ("typed (entity mapping)", report.typed)]
    print_table(
        ["overall", "precision", "recall", "F2", "detected", "gold"],
        [[n, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f2:.3f}", s.detected, s.gold] for n, s in overall],
    )
    say()
    print_table(
        ["entity (typed)", "precision", "recall", "F2", "detected", "gold"],
        [[k, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f2:.3f}", s.detected, s.gold] for k, s in report.per_entity],
    )
    if args.spans:
        say()
        say(f"wrote the detected spans to {args.spans}")
    return 0


# ---- registration --------------------------------------------------------------------------------------------------


def register(sub: Any) -> None:
    """Add this room's subcommands to the `workbench` parser's subparsers object."""
    p = sub.add_parser("scan", help="find personal data: per column entity type and confidence, free-text counts")
    dataset_source_options(p)
    p.add_argument("--project", help="project folder (with --dataset)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--sample", type=int, default=30, help="distinct values sampled per column (default 30)")
    p.add_argument("--rows", type=int, default=None, help="look at the first N rows only (default: all)")
    p.add_argument("--threshold", type=float, default=0.4, help="score threshold (default 0.4)")
    p.add_argument("--workers", type=int, default=None, help="processes for the NER (default: one per core)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("policy-template", help="write a starting anonymization policy (JSON) from a scan")
    dataset_source_options(p)
    p.add_argument("--project", help="project folder (with --dataset)")
    p.add_argument("--out", required=True, help="the policy file to write")
    p.add_argument("--name", help="policy name (default: from the file name)")
    p.add_argument("--sample", type=int, default=30, help="distinct values sampled per column (default 30)")
    p.add_argument("--force", action="store_true", help="replace an existing policy file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_policy_template)

    p = sub.add_parser("anonymize", help="write an anonymized copy of a dataset with a policy")
    dataset_source_options(p)
    p.add_argument("--policy", required=True, help="policy JSON (see: workbench policy-template)")
    p.add_argument(
        "--out",
        help="output file (.csv, .parquet or .jsonl); never the input. Without it, with --project: next to the source "
        "(plain project) or into the vault (encrypted project)",
    )
    p.add_argument(
        "--plaintext",
        action="store_true",
        help="with --out in an encrypted project: write the copy in clear outside the vault (audited)",
    )
    p.add_argument("--out-format", choices=["csv", "parquet", "jsonl"], help="output format (default: from --out)")
    p.add_argument("--project", help="project folder: save the policy there and register the copy with its lineage")
    p.add_argument("--key-file", help="file with the master secret (32+ random bytes) for keyed operators")
    p.add_argument("--workers", type=int, default=None, help="processes for the NER (default: one per core)")
    p.add_argument("--force", action="store_true", help="replace an existing output file (never the input)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_anonymize)

    p = sub.add_parser("pii-eval", help="score the PII detector on a labelled file (presidio-research format)")
    p.add_argument("gold", help="JSON list of {full_text, spans: [{entity_type, start_position, end_position}]}")
    p.add_argument("--json", action="store_true")
    p.add_argument("--spans", help="also write the detected spans, one JSON line per text, in input order")
    p.add_argument("--threshold", type=float, default=0.4, help="score threshold (default 0.4)")
    p.add_argument("--plain", action="store_true", help="score plain Presidio (same spaCy model) instead")
    p.add_argument("--workers", type=int, default=None, help="processes for the NER (default: one per core)")
    p.set_defaults(func=cmd_pii_eval)
