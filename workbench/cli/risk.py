"""`workbench risk`: a dataset's re-identification risk (k, l, t, prosecutor/journalist/marketer risk, sample and
population uniqueness), headless.

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
