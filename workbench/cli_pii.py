"""`workbench` subcommands for the PII room (registered by workbench.cli.build_parser).

    workbench scan PATH [--json]                          per column: entity type and confidence; per free-text
                                                          column: entity counts
    workbench policy-template PATH --out POLICY.json      a starting policy from the scan
    workbench anonymize PATH --policy POLICY.json --out OUT [--project DIR] [--key-file FILE] [--json]
    workbench pii-eval GOLD.json [--json] [--spans OUT.jsonl] [--plain]

Presidio and spaCy are imported inside the commands only, so ``workbench --help`` stays light. Every problem
the user can fix is a :class:`~workbench.core.errors.WorkbenchError` or a ``UsageError``: one line on stderr,
exit status 2.

Keys: policies with ``keyed_hash``, ``pseudonym`` or ``encrypt`` need the project's master secret.
:func:`_master_secret` reads it from ``--key-file`` or from the encrypted project's vault (the one place that
reads the project's secret store).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workbench.core.errors import WorkbenchError

MIN_KEY_FILE_BYTES = 32


class PiiUsageError(WorkbenchError):
    """A command-line problem specific to the PII commands (exit 2)."""


def _drive(job: Any, quiet: bool) -> Any:
    from workbench.cli import drive_with_progress

    return drive_with_progress(job, not quiet)


def _load_table(path: str) -> Any:
    from workbench.core.data.load import load_dataset_sync

    return load_dataset_sync(path)


ANONYMIZATION_SECRET = "anonymization-master"


def _master_secret(args: argparse.Namespace) -> bytes:
    """The project's master secret for the keyed operators.

    With ``--key-file`` it is that file's bytes (at least 32 random bytes; a file the analyst keeps and protects).
    Otherwise, with ``--project``, it is the project's secret ``anonymization-master``, kept encrypted in the
    project's vault (unlocked with ``WORKBENCH_PASSPHRASE`` or a prompt); the GUI uses the same secret, so tokens
    and pseudonyms agree between the window and the command. Nothing here writes a key anywhere.
    """
    key_file = getattr(args, "key_file", None)
    if key_file:
        path = Path(key_file)
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            raise PiiUsageError(f"{path}: no such key file") from None
        except OSError as exc:
            raise PiiUsageError(f"{path}: cannot read the key file ({exc.strerror or exc})") from None
        if len(secret) < MIN_KEY_FILE_BYTES:
            raise PiiUsageError(
                f"{path}: the key file holds {len(secret)} bytes; it needs at least {MIN_KEY_FILE_BYTES} random bytes "
                "(e.g. head -c 32 /dev/urandom > project.key, kept as safe as the data)"
            )
        return secret
    if getattr(args, "project", None):
        from workbench.cli import open_vault_unlocked

        vault = open_vault_unlocked(args.project)
        if vault is None:
            raise PiiUsageError(
                f"this policy uses keyed operators, whose secret is kept only in an encrypted project: encrypt "
                f"{args.project} first (workbench project encrypt DIR), or pass --key-file FILE"
            )
        try:
            return vault.secret(ANONYMIZATION_SECRET)
        finally:
            vault.lock()
    raise PiiUsageError(
        "this policy uses keyed operators (keyed_hash, pseudonym or encrypt), which need a secret: pass --key-file "
        "FILE (32+ random bytes), or choose operators without keys (replace, mask, redact, generalize)"
    )


def _keys_if_needed(args: argparse.Namespace, policy: Any, columns: list[str]) -> Any:
    from workbench.core.pii.keys import AnonymizationKeys

    if not policy.needs_keys(columns):
        return None
    return AnonymizationKeys.derive(_master_secret(args))


# ---- scan ------------------------------------------------------------------------------------------------------


def cmd_scan(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from workbench.core.pii.analyzer import get_analyzer
    from workbench.core.pii.column_detect import ColumnKind, detect_columns_job
    from workbench.core.pii.evaluate import detect_job
    from workbench.core.pii.postprocess import DetectionSettings, count_entities

    ds = _load_table(args.path)
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
        print(
            json.dumps(
                {
                    "path": ds.path,
                    "rows": table.num_rows,
                    "threshold": args.threshold,
                    "columns": [d.to_json() for d in detections],
                    "free_text": free_text,
                },
                ensure_ascii=False,
            )
        )
        return 0
    print(f"{ds.path}: {table.num_rows:,} rows, {len(detections)} columns (threshold {args.threshold:g})")
    print()
    rows = [[d.column, d.kind.value, d.entity_type or "-", f"{d.confidence:.2f}", d.reason] for d in detections]
    _print_table(["column", "kind", "entity type", "confidence", "why"], rows)
    for column, info in free_text.items():
        print()
        print(f"free text {column!r}: {info['texts_with_pii']:,} of {info['texts']:,} texts hold personal data")
        _print_table(["entity type", "spans"], [[k, f"{v:,}"] for k, v in info["entity_counts"].items()])
    return 0


def _print_table(headers: list[str], rows: list[list[Any]]) -> None:
    from workbench.cli import print_table

    print_table(headers, rows)


# ---- policy-template ---------------------------------------------------------------------------------------------


def cmd_policy_template(args: argparse.Namespace) -> int:
    from workbench.core.pii.analyzer import get_analyzer
    from workbench.core.pii.column_detect import detect_columns_job
    from workbench.core.pii.policy import policy_template, save_policy_file

    out = Path(args.out)
    if out.exists() and not args.force:
        raise PiiUsageError(f"{out} already exists; choose another path or add --force to replace it")
    ds = _load_table(args.path)
    detections = _drive(detect_columns_job(ds.table, analyzer=get_analyzer(), sample_size=args.sample), args.json)
    policy = policy_template(detections, name=args.name or f"{Path(ds.path).stem} policy")
    save_policy_file(policy, out)
    if args.json:
        print(json.dumps({"policy": str(out), "columns": [d.to_json() for d in detections]}, ensure_ascii=False))
    else:
        print(f"wrote {out}: {len(policy.columns)} columns; edit it, then run: workbench anonymize {args.path} "
              f"--policy {out} --out OUT")  # fmt: skip
    return 0


# ---- anonymize ---------------------------------------------------------------------------------------------------


def cmd_anonymize(args: argparse.Namespace) -> int:
    from workbench.core.pii.engine import (
        OutputError,
        anonymize_table,
        check_policy_against,
        default_output_path,
        output_format,
        write_output,
    )
    from workbench.core.pii.policy import load_policy

    policy = load_policy(args.policy)
    ds = _load_table(args.path)
    columns = list(ds.table.column_names)
    keys = _keys_if_needed(args, policy, columns)
    check_policy_against(policy, columns, keys)
    out = Path(args.out)
    fmt = output_format(out, args.out_format)
    if out.exists() and not args.force:
        raise PiiUsageError(f"{out} already exists; choose another path or add --force to replace it")
    if out.exists() and out.resolve() == Path(ds.path).resolve():
        raise OutputError(
            f"{out}: this is the original dataset; the anonymized copy is written next to it, never over it "
            f"(for example {default_output_path(ds.path, fmt).name})"
        )
    result = _drive(anonymize_table(ds.table, policy, keys, workers=args.workers), args.json)
    written = write_output(result.table, out, fmt, source=ds.path, overwrite=args.force)
    summary: dict[str, Any] = {"input": ds.path, "output": str(written), "format": fmt, **result.summary()}
    if args.project:
        summary.update(_record_in_project(args.project, ds, written, result, policy, keys))
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"wrote {written} ({fmt}): {result.rows:,} rows in {result.elapsed_s:.1f} s")
    if result.entity_counts:
        _print_table(["entity type", "replaced"], [[k, f"{v:,}"] for k, v in sorted(result.entity_counts.items())])
    if args.project:
        print(f"registered as dataset {summary['dataset_id']} in {args.project} (policy {summary['policy_id']})")
    return 0


def _record_in_project(folder: str, ds: Any, written: Path, result: Any, policy: Any, keys: Any) -> dict[str, Any]:
    from workbench.core.pii.engine import register_output
    from workbench.core.pii.policy import save_policy_to_project
    from workbench.core.project.registration import register_loaded
    from workbench.core.project.store import Project

    with Project.open(folder) as project:
        parent = project.dataset_by_fingerprint(ds.fingerprint) or register_loaded(project, ds)
        policy_id = save_policy_to_project(project, policy, parent.id)
        child = register_output(
            project, written, parent=parent, result=result, policy=policy, policy_id=policy_id, keys=keys
        )
    return {
        "project": str(Path(folder).resolve()),
        "dataset_id": child.id,
        "parent_id": parent.id,
        "policy_id": policy_id,
    }


# ---- pii-eval -----------------------------------------------------------------------------------------------------


def cmd_pii_eval(args: argparse.Namespace) -> int:
    import time

    from workbench.core.pii.analyzer import AnalyzerSettings, get_analyzer
    from workbench.core.pii.evaluate import evaluate_job, load_gold, plain_presidio_spans, score, write_spans_jsonl
    from workbench.core.pii.postprocess import DetectionSettings

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
        print(json.dumps({"detector": detector, "gold": str(args.gold), **report.to_json()}, ensure_ascii=False))
        return 0
    print(f"{args.gold}: {report.texts:,} texts, {detector}, threshold {args.threshold:g}, {report.elapsed_s:.1f} s")
    print("matching: a detected span matches a gold span when they overlap; F2 weighs recall 4x")
    overall = [("any type", report.any_type), ("typed (entity mapping)", report.typed)]
    _print_table(
        ["overall", "precision", "recall", "F2", "detected", "gold"],
        [[n, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f2:.3f}", s.detected, s.gold] for n, s in overall],
    )
    print()
    _print_table(
        ["entity (typed)", "precision", "recall", "F2", "detected", "gold"],
        [[k, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f2:.3f}", s.detected, s.gold] for k, s in report.per_entity],
    )
    if args.spans:
        print(f"\nwrote the detected spans to {args.spans}")
    return 0


# ---- registration --------------------------------------------------------------------------------------------------


def register(sub: Any) -> None:
    """Add this room's subcommands to the `workbench` parser's subparsers object."""
    p = sub.add_parser("scan", help="find personal data: per column entity type and confidence, free-text counts")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--sample", type=int, default=30, help="distinct values sampled per column (default 30)")
    p.add_argument("--rows", type=int, default=None, help="look at the first N rows only (default: all)")
    p.add_argument("--threshold", type=float, default=0.4, help="score threshold (default 0.4)")
    p.add_argument("--workers", type=int, default=None, help="processes for the NER (default: one per core)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("policy-template", help="write a starting anonymization policy (JSON) from a scan")
    p.add_argument("path")
    p.add_argument("--out", required=True, help="the policy file to write")
    p.add_argument("--name", help="policy name (default: from the file name)")
    p.add_argument("--sample", type=int, default=30, help="distinct values sampled per column (default 30)")
    p.add_argument("--force", action="store_true", help="replace an existing policy file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_policy_template)

    p = sub.add_parser("anonymize", help="write an anonymized copy of a dataset with a policy")
    p.add_argument("path")
    p.add_argument("--policy", required=True, help="policy JSON (see: workbench policy-template)")
    p.add_argument("--out", required=True, help="output file (.csv, .parquet or .jsonl); never the input")
    p.add_argument("--out-format", choices=["csv", "parquet", "jsonl"], help="output format (default: from --out)")
    p.add_argument("--project", help="project folder: save the policy there and register the output with lineage")
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
