"""`workbench audit-log`: the project's tamper-evident audit log (issue 18).

Added to the parser by :func:`register`:

    workbench audit-log verify --project DIR [--since-head SEQ:HASH] [--json]
    workbench audit-log head --project DIR [--json]          print the head to record elsewhere
    workbench audit-log export --project DIR --out FILE [--format csv|json] [--action A] [--since T] [--until T]
    workbench report --project DIR --dataset NAME|ID --out REPORT.pdf [--force]
    workbench verify-report REPORT.pdf [--project DIR | --head SEQ:HASH]

``verify`` exits 0 when every entry verifies, the head signature verifies with this project's key and (with
``--since-head``) the log still extends the recorded head; 1 when the log was tampered with (the first broken
entry is named); 2 for a usage error.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli._common import UsageError, drive_with_progress, open_session_cli, print_json, say


def cmd_verify(args: argparse.Namespace) -> int:
    from workbench.core.project.audit_chain import parse_head
    from workbench.services.audit import verify_audit_log

    since = parse_head(args.since_head) if args.since_head else None
    with open_session_cli(args.project) as session:
        verdict = verify_audit_log(session, since)
    if args.json:
        r = verdict.report
        print_json(
            {
                "ok": verdict.ok,
                "entries": r.entries,
                "head": f"{r.head_seq}:{r.head_hash}",
                "broken_at": r.broken_at,
                "reason": r.reason,
                "signature": r.signature,
                "signed_seq": r.signed_seq,
                "own_key": verdict.own_key,
                "anchor": r.anchor,
            }
        )
    else:
        for line in verdict.lines():
            say(line)
        say("audit log: OK" if verdict.ok else "audit log: NOT OK")
    return 0 if verdict.ok else 1


def cmd_head(args: argparse.Namespace) -> int:
    from workbench.services.audit import audit_head

    with open_session_cli(args.project) as session:
        head = audit_head(session)
    if args.json:
        print_json(head)
        return 0
    say(head["head"])
    say(f"signed: {head['signed']}; key {head['key_fingerprint'] or '-'}; chain intact: {head['chain_intact']}")
    say("record this line elsewhere; later: workbench audit-log verify --project DIR --since-head SEQ:HASH")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from workbench.core.safe_io import check_output_path
    from workbench.services.audit import export_audit_log

    out = Path(args.out)
    check_output_path(out, force=args.force)
    fmt = args.format or ("json" if out.suffix.lower() == ".json" else "csv")
    with open_session_cli(args.project) as session:
        count = export_audit_log(
            session, out, fmt, overwrite=args.force, action=args.action, since=args.since, until=args.until
        )
    say(f"wrote {count} audit entries to {out} ({fmt})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from workbench.core.safe_io import check_output_path
    from workbench.ui.qt_report_pdf import make_report_job

    out = Path(args.out)
    if out.suffix.lower() != ".pdf":
        raise UsageError(
            f"{args.out}: a report is written as a .pdf file (the HTML, manifest and signature go beside it)"
        )
    check_output_path(out, force=args.force)
    with open_session_cli(args.project) as session:
        files = drive_with_progress(make_report_job(session, args.dataset, out, overwrite=args.force))
    say(f"wrote {files.pdf} and {files.html.name}, signed: {files.signature.name}, {files.manifest.name}")
    say(f"audit-log head {files.audit_head}; built in {files.seconds:.2f} s")
    return 0


def cmd_verify_report(args: argparse.Namespace) -> int:
    from workbench.core.project.audit_chain import parse_head
    from workbench.services.report_signing import verify_report

    if args.project and args.head:
        raise UsageError("give either --project or --head, not both")
    head = parse_head(args.head) if args.head else None
    pdf = Path(args.report)
    if args.project:
        with open_session_cli(args.project) as session:
            verdict = verify_report(pdf, session=session)
    else:
        verdict = verify_report(pdf, head=head)
    for line in verdict.lines:
        say(line)
    say("report: OK" if verdict.ok else "report: NOT OK")
    return 0 if verdict.ok else 1


def register(sub: Any) -> None:
    """Add `audit-log` and its actions to the `workbench` parser's subparsers object."""
    p = sub.add_parser("audit-log", help="verify, anchor or export the project's tamper-evident audit log")
    asub = p.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="check every entry, the signed head and (optionally) a recorded head")
    v.add_argument("--project", default=".", help="project folder (default: the current folder)")
    v.add_argument("--since-head", metavar="SEQ:HASH", help="a head recorded earlier: the log must still extend it")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)
    h = asub.add_parser("head", help="print the head (sequence number and hash) to record elsewhere")
    h.add_argument("--project", default=".", help="project folder (default: the current folder)")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=cmd_head)
    e = asub.add_parser("export", help="write the audit log as CSV or JSON (entries hold no dataset values)")
    e.add_argument("--project", default=".", help="project folder (default: the current folder)")
    e.add_argument("--out", required=True, help="output file (.csv or .json)")
    e.add_argument("--format", choices=["csv", "json"], help="default: from --out")
    e.add_argument("--action", help="only this action or family (e.g. privacy_budget)")
    e.add_argument("--since", help="only entries at or after this time (ISO 8601, e.g. 2026-12-01)")
    e.add_argument("--until", help="only entries at or before this time (ISO 8601)")
    e.add_argument("--force", action="store_true", help="replace an existing output file")
    e.set_defaults(func=cmd_export)

    r = sub.add_parser("report", help="write a signed compliance report (PDF + HTML + manifest) for a dataset")
    r.add_argument("--project", default=".", help="project folder (default: the current folder)")
    r.add_argument("--dataset", required=True, metavar="NAME|ID", help="the dataset the report is about")
    r.add_argument("--out", required=True, help="the report's PDF file (REPORT.pdf)")
    r.add_argument("--force", action="store_true", help="replace existing report files")
    r.set_defaults(func=cmd_report)
    vr = sub.add_parser("verify-report", help="check a report's signatures, manifest and audit-log head")
    vr.add_argument("report", help="the report's PDF file (its .manifest.json and .pdf.sig beside it)")
    vr.add_argument("--project", help="check the key and the audit-log head against this project")
    vr.add_argument("--head", metavar="SEQ:HASH", help="check against an audit-log head recorded elsewhere")
    vr.set_defaults(func=cmd_verify_report)
