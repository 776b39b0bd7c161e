"""`workbench risk`: a dataset's re-identification risk (k, l, t, prosecutor/journalist/marketer risk, sample and
population uniqueness), and `workbench generalize`: the generalization that satisfies a target (k within a
suppression limit, optionally l-diversity or t-closeness of a sensitive column and an average risk) with the least
information loss (ARX's non-uniform entropy or loss metric), headless.

pyarrow and numpy are imported inside the command, so `workbench --help` loads neither.
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import (
    UsageError,
    dataset_source_options,
    open_session_cli,
    print_json,
    print_table,
    resolve_dataset_input,
    say,
)


def register(sub: Any) -> None:
    """Add `risk` to the `workbench` parser's subparsers object."""
    p = sub.add_parser(
        "risk",
        help="measure re-identification risk over quasi-identifiers (k, l, t, prosecutor risk, uniqueness)",
        description=(
            "Equivalence classes over the quasi-identifiers, k-anonymity, l-diversity and t-closeness of sensitive "
            "columns, prosecutor/journalist/marketer risk, sample uniqueness and population uniqueness (Pitman, "
            "Zayatz, SNB, Dankar's rule), computed as ARX does. Only sizes and counts are printed, never values "
            "(unless --examples)."
        ),
    )
    dataset_source_options(p, "dataset file (CSV, JSONL, Parquet)")
    p.add_argument("--project", help="project folder: --dataset names its datasets; its column roles are used")
    p.add_argument("--qi", help="quasi-identifiers, comma-separated (default: columns with the quasi_identifier role)")
    p.add_argument("--sensitive", help="sensitive columns, comma-separated (default: columns with the sensitive role)")
    population = p.add_mutually_exclusive_group()
    population.add_argument("--population-size", type=int, metavar="N", help="records in the population")
    population.add_argument(
        "--sampling-fraction", type=float, metavar="F", help="the dataset's share of the population (default 0.1)"
    )
    p.add_argument("--threshold", type=float, default=0.2, help="risk above which a record is at risk (default 0.2)")
    p.add_argument("--l", type=int, default=2, dest="recursive_l", help="l of recursive (c,l)-diversity (default 2)")
    p.add_argument("--examples", action="store_true", help="show the quasi-identifier values of the smallest classes")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_risk)
    _register_generalize(sub)
    _register_hierarchy(sub)


def _register_generalize(sub: Any) -> None:
    p = sub.add_parser(
        "generalize",
        help="generalize quasi-identifiers to k-anonymity with the least information loss (ARX hierarchies)",
        description=(
            "Search the lattice of hierarchy levels for the transformation that is k-anonymous (at most "
            "--max-suppression of the records suppressed), and l-diverse or t-close in --sensitive or under an "
            "average risk when asked, with the least information loss (ARX's non-uniform entropy, or its loss "
            "metric), and write it as a new dataset (never over the original; into the vault of an encrypted "
            "project)."
        ),
    )
    dataset_source_options(p, "dataset file (CSV, JSONL, Parquet)")
    p.add_argument("--project", help="project folder: --dataset names its datasets; the copy is registered there")
    p.add_argument("--qi", required=True, help="quasi-identifiers, comma-separated (the levels are reported in order)")
    p.add_argument(
        "--hierarchies",
        metavar="DIR",
        help="folder of ARX hierarchy CSVs (*hierarchy_<column>.csv), one per --qi column (default: each built from "
        "the column's values, as the Risk page does: intervals, dates, masking or one level; said per column)",
    )
    p.add_argument("--k", type=int, required=True)
    p.add_argument(
        "--max-suppression", type=float, default=0.0, metavar="F", help="share of records that may be suppressed"
    )
    p.add_argument("--sensitive", help="sensitive column for --l and --t")
    p.add_argument("--l", type=int, dest="l_value", metavar="L", help="l-diversity of --sensitive (default: none)")
    p.add_argument(
        "--l-variant", choices=["distinct", "entropy", "recursive"], default="distinct", help="which l-diversity"
    )
    p.add_argument("--c", type=float, default=3.0, help="c of recursive (c,l)-diversity (default 3)")
    p.add_argument("--t", type=float, dest="t_value", metavar="T", help="t-closeness of --sensitive (default: none)")
    p.add_argument(
        "--average-risk", type=float, metavar="R", help="highest average prosecutor risk allowed (default: none)"
    )
    p.add_argument(
        "--metric",
        choices=["entropy", "loss"],
        default="entropy",
        help="information loss: ARX's non-uniform entropy (default) or ARX's loss metric",
    )
    p.add_argument(
        "--out",
        help="output file (default: next to the source as <stem>.generalized.csv; in the vault "
        "of an encrypted project)",
    )
    p.add_argument(
        "--plaintext", action="store_true", help="with --out in an encrypted project: write in clear (audited)"
    )
    p.add_argument("--force", action="store_true", help="replace an existing output file (never the source)")
    p.add_argument("--dry-run", action="store_true", help="search only: write nothing")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_generalize)


def _register_hierarchy(sub: Any) -> None:
    p = sub.add_parser(
        "hierarchy",
        help="build one column's generalization hierarchy and write it as an ARX CSV (for generalize --hierarchies)",
        description=(
            "Build a column's hierarchy from its values with one builder: numeric intervals (--widths, each a "
            "multiple of the one before), ISO dates (month, year, decade), masking from the right (--mask), ordered "
            "categories (--group-sizes) or one level (the value, then *), and write it in ARX's CSV format. Name the "
            "file <anything>hierarchy_<column>.csv in a folder to use it with `workbench generalize --hierarchies`."
        ),
    )
    dataset_source_options(p, "dataset file (CSV, JSONL, Parquet)")
    p.add_argument("--project", help="project folder: --dataset names its datasets")
    p.add_argument("--column", required=True, help="the column whose hierarchy is built")
    p.add_argument("--kind", required=True, choices=["intervals", "dates", "masking", "ordered", "one-level"])
    p.add_argument("--widths", metavar="W1,W2,...", help="intervals: widths of the levels, e.g. 5,10,20")
    p.add_argument("--mask", default="*", help="masking: the character that replaces (default *)")
    p.add_argument("--group-sizes", metavar="G1,G2,...", help="ordered: values per group at each level, e.g. 2,4")
    p.add_argument("--date-levels", metavar="L1,L2", help="dates: some of month,year,decade (default all three)")
    p.add_argument("--out", required=True, metavar="HIERARCHY.csv", help="the ARX CSV written")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_hierarchy)


def _numbers_option(text: str | None, option: str, kind: type) -> list[Any] | None:
    if text is None:
        return None
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{option} takes comma-separated numbers, e.g. {option} 5,10,20") from None


def cmd_hierarchy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench.core.risk.hierarchy import write_arx_csv
    from workbench.services.risk import build_hierarchy, hierarchy_build_label

    params = {
        "widths": _numbers_option(args.widths, "--widths", float),
        "mask": args.mask,
        "group_sizes": _numbers_option(args.group_sizes, "--group-sizes", int),
        "date_levels": _names(args.date_levels),
    }
    out_path = Path(args.out)
    if out_path.exists() and not args.force:
        raise UsageError(f"{out_path} exists: add --force to replace it")
    session = open_session_cli(args.project) if args.project else None
    try:
        ds, _record = resolve_dataset_input(args, session)
        hierarchy = build_hierarchy(ds, args.column, args.kind, **params)
    finally:
        if session is not None:
            session.close()
    try:
        write_arx_csv(hierarchy, out_path)
    except OSError as exc:
        raise UsageError(f"{out_path} cannot be written: {exc.strerror or exc}") from exc
    what = hierarchy_build_label(args.kind, **params).removeprefix("edited: ")
    out = {"column": args.column, "kind": args.kind, "what": what, "values": len(hierarchy.rows),
           "levels": hierarchy.height, "out": str(out_path)}  # fmt: skip
    if args.json:
        print_json(out)
        return 0
    say(f"hierarchy of {args.column}: {what}; {out['values']} values, {out['levels']} levels (value included)")
    say(f"written: {out_path}")
    return 0


def cmd_generalize(args: argparse.Namespace) -> int:
    from workbench.core.risk.hierarchy import read_arx_folder
    from workbench.services.risk import generalize, suggest_hierarchies

    qi = _names(args.qi) or []
    if args.k < 1:
        raise UsageError("--k must be at least 1")
    if not 0.0 <= args.max_suppression <= 1.0:
        raise UsageError("--max-suppression is a share of the records, in [0, 1]")
    if (args.l_value is not None or args.t_value is not None) and not args.sensitive:
        raise UsageError("--l and --t need --sensitive COLUMN")
    hierarchies = None
    if args.hierarchies is not None:
        try:
            hierarchies = read_arx_folder(args.hierarchies, qi)
        except (OSError, ValueError) as exc:
            raise UsageError(str(exc)) from exc
    session = open_session_cli(args.project) if args.project else None
    try:
        ds, _record = resolve_dataset_input(args, session)
        if hierarchies is None:
            hierarchies, built = suggest_hierarchies(ds, qi)
        else:
            built = {column: f"ARX hierarchy from {args.hierarchies}" for column in qi}
        outcome = generalize(
            session, ds, qi=qi, hierarchies=hierarchies, k=args.k, max_suppression=args.max_suppression,
            sensitive=args.sensitive, l=args.l_value, l_variant=args.l_variant, c=args.c, t=args.t_value,
            average_risk=args.average_risk, metric=args.metric,
            out=args.out, in_clear=args.plaintext, overwrite=args.force, apply=not args.dry_run,
        )  # fmt: skip
    finally:
        if session is not None:
            session.close()
    out = {**outcome.as_dict(), "hierarchies": built}
    if args.json:
        print_json(out)
        return 0
    for column, what in built.items():
        say(f"hierarchy of {column}: {what}")
    levels = ", ".join(f"{q}={lv}" for q, lv in out["levels"].items())
    say(f"optimum: {levels}")
    metric = "non-uniform entropy" if out["metric"] == "entropy" else "ARX loss"
    say(f"information loss ({metric}): {out['information_loss']!r}")
    say(f"suppressed records: {out['suppressed_records']} (limit {out['suppression_limit']})")
    say(f"lattice: {out['lattice_size']} nodes, {out['nodes_checked']} checked, {out['seconds'] * 1000:.0f} ms")
    if out["risk_after"] is not None:
        after = out["risk_after"]["sample"]
        say(f"risk after: k = {out['risk_after']['k']}, average prosecutor risk "
            f"{after['average_prosecutor_risk']:.6f}, highest {after['highest_risk']:.6f}")  # fmt: skip
    else:
        say("risk after: every record is suppressed")
    say(f"written: {out['location']}" if out["location"] else "dry run: nothing written")
    return 0


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("name at least one column (comma-separated)")
    return names


def cmd_risk(args: argparse.Namespace) -> int:
    from workbench.services.risk import risk_report

    if args.population_size is not None and args.population_size < 1:
        raise UsageError("--population-size must be a positive number of records")
    if args.sampling_fraction is not None and not 0.0 < args.sampling_fraction <= 1.0:
        raise UsageError("--sampling-fraction must be in (0, 1]")
    session = open_session_cli(args.project) if args.project else None
    try:
        ds, _record = resolve_dataset_input(args, session)
        sensitive = _names(args.sensitive)
        qi = _names(args.qi)
        if qi is not None and sensitive is None and session is None:
            sensitive = []  # a file outside a project: only what the analyst names, no guessed sensitive columns
        report = risk_report(
            session,
            ds,
            qi=qi,
            sensitive=sensitive,
            population_size=args.population_size,
            sampling_fraction=args.sampling_fraction,
            threshold=args.threshold,
            recursive_l=args.recursive_l,
            examples=args.examples,
        )
    finally:
        if session is not None:
            session.close()
    if args.json:
        print_json(report.as_dict())
    else:
        _print_report(report.as_dict())
    return 0


def _print_report(out: dict[str, Any]) -> None:
    s, pop = out["sample"], out["population"]
    say(
        f"{out['dataset']}: {out['records']} records, quasi-identifiers ({out['roles_from']}): "
        f"{', '.join(out['quasi_identifiers'])}"
    )
    say(f"k = {out['k']}   equivalence classes: {out['equivalence_classes']}")
    say(
        f"prosecutor risk: average {s['average_prosecutor_risk']:.6f}, highest {s['highest_risk']:.6f}, "
        f"records at risk (> {s['prosecutor']['threshold']}) {s['prosecutor']['records_at_risk']:.4%}"
    )
    say(f"journalist risk: average {s['journalist']['average']:.6f}   marketer risk: {s['marketer']:.6f}")
    say(f"sample uniqueness: {s['sample_uniqueness']:.6f} ({s['sample_uniques']} records)")
    say(
        f"population uniqueness (population {pop['population_size']}, f = {pop['sampling_fraction']:.4g}): "
        f"Dankar {pop['dankar']:.6f} ({pop['dankar_model']})"
    )
    say("smallest classes:")
    print_table(["size", "classes", "records"], [[w["size"], w["classes"], w["records"]] for w in out["worst_classes"]])
    if out["sensitive_measures"]:
        say("sensitive columns:")
        rows = [
            [
                m["column"],
                m["distinct_l"],
                f"{m['entropy_l']:.4f}",
                "-" if m["recursive_c"] is None else f"{m['recursive_c']:.4f}",
                f"{m['t_closeness']:.6f} ({m['t_distance']})",
            ]
            for m in out["sensitive_measures"]
        ]
        l_value = out["sensitive_measures"][0]["recursive_l"]
        print_table(["column", "distinct l", "entropy l", f"recursive c (l={l_value})", "t"], rows)
    for e in out["examples"]:
        say(f"class of size {e['size']}: {e['values']}")
