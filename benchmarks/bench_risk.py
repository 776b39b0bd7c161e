"""Risk metrics on ARX's adult.csv (30,162 x 9), against pycanon, on the same machine (issue 17).

Part 1 (ARX's numbers): all 9 columns as quasi-identifiers: the whole risk report (classes, k, sample risks,
population uniqueness with Pitman/Zayatz/SNB and Dankar's rule) timed, and checked against ARX's published values
(reference_numbers.json).

Part 2 (pycanon): 8 quasi-identifiers and ``salary-class`` as the sensitive column (plus ``age`` as a numeric
sensitive column over the other 7 for the ordered-distance t): k, distinct l, entropy l, recursive (c,l) and t, each
timed in pycanon and here, and whether the values agree. pycanon hard-pins old numpy and pandas, so it is installed
with ``pip install --no-deps pycanon`` into this interpreter when missing; it is not a project dependency.

Part 3 (generalization): searches on adult.csv with ARX's hierarchies: k = 5 with 4 % suppression minimising ARX's
non-uniform entropy and ARX's loss metric, entropy 5-diversity of occupation without suppression, k = 5 with
t = 0.2 of occupation: time, nodes checked, and the optimum against ARX's test cases where ARX has one.

Part 4: the risk use case (services.risk.risk_report) as the Risk page runs it.

    .venv/bin/python benchmarks/bench_risk.py [--repeat 5] [--no-pycanon]
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
ADULT = EVAL / "adult_arx" / "adult.csv"
REFERENCE = EVAL / "reference" / "reference_numbers.json"


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """The result and the median wall time of ``repeat`` runs (one warm-up run first)."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def _timed_both(fn: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """The result, the median wall time and the median CPU time of this process over ``repeat`` runs (one warm-up
    first). On a shared machine the wall time follows the load; the CPU time much less."""
    result = fn()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return result, statistics.median(walls), statistics.median(cpus)


def _load() -> tuple[Any, Any]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = ADULT.read_text(encoding="utf-8").splitlines()[0].split(";")
    table = pacsv.read_csv(
        ADULT,
        parse_options=pacsv.ParseOptions(delimiter=";"),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
    )
    frame = pd.read_csv(ADULT, sep=";", dtype=str)
    frame["age"] = frame["age"].astype(int)
    return table, frame


def part_arx(table: Any, repeat: int) -> None:
    from workbench.core.risk import measure_risk

    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))["arx_adult_risk"]["before_anonymization"]
    m, seconds = _timed(lambda: measure_risk(table, table.column_names, sampling_fraction=0.1), repeat)
    uniq_key = next(k for k in reference if k.startswith("sample_uniqueness_fraction"))
    avg, uniq = m.sample.average_prosecutor_risk, m.sample.sample_uniqueness
    dankar = m.population.dankar / m.population.population_size
    print("Part 1: all 9 columns as quasi-identifiers, population = 10 x sample")
    print(f"  whole risk report: {seconds * 1000:.1f} ms (median of {repeat}; goal < 100 ms)")
    print(f"  classes {m.classes.num_classes}, k {m.k}")
    print(
        f"  average prosecutor risk {avg!r} (ARX {reference['average_prosecutor_reidentification_risk']!r}, "
        f"|diff| {abs(avg - reference['average_prosecutor_reidentification_risk']):.1e})"
    )
    print(f"  sample uniqueness {uniq!r} (ARX {reference[uniq_key]!r}, |diff| {abs(uniq - reference[uniq_key]):.1e})")
    arx_pitman = reference["population_uniqueness_Dankar"]["f=0.1 (PITMAN branch)"]
    print(
        f"  population uniqueness, Dankar -> {m.population.dankar_model}: {dankar!r} (ARX {arx_pitman!r}, "
        f"|diff| {abs(dankar - arx_pitman):.1e})"
    )


def _ensure_pycanon() -> Any:
    try:
        return importlib.import_module("pycanon.anonymity")
    except ImportError:
        print("  installing pycanon with pip install --no-deps (not a project dependency) ...")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "pycanon"], check=True)
        importlib.invalidate_caches()
        return importlib.import_module("pycanon.anonymity")


def _row(name: str, ours: Any, t_ours: float, theirs: Any, t_theirs: float, agree: str) -> None:
    print(
        f"  {name:<28} {str(ours)[:22]:>22} {t_ours * 1000:>9.1f} ms   {str(theirs)[:22]:>22} "
        f"{t_theirs:>8.2f} s   {agree}"
    )


def part_pycanon(table: Any, frame: Any, repeat: int) -> None:  # size: one table of seven comparisons
    from workbench.core.risk import equivalence_classes, measure_risk

    anonymity = _ensure_pycanon()
    qi8 = [c for c in table.column_names if c != "salary-class"]
    qi7 = [c for c in qi8 if c != "age"]
    print("\nPart 2: against pycanon (8 QIs, sensitive salary-class; age over the other 7 QIs for ordered t)")
    print(f"  {'measure':<28} {'workbench':>22} {'time':>12}   {'pycanon':>22} {'time':>10}   agree")

    ec, t_ec = _timed(lambda: equivalence_classes(table, qi8), repeat)
    k, t_k = _timed(lambda: anonymity.k_anonymity(frame, qi8), 1)
    _row("k-anonymity", ec.k, t_ec, k, t_k, "yes" if ec.k == k else "NO")

    m, t_m = _timed(lambda: measure_risk(table, qi8, ["salary-class"]), repeat)
    s = m.sensitive[0]
    print(f"  (workbench: one call computes k, all l, t and the risks: {t_m * 1000:.1f} ms)")
    ld, t_ld = _timed(lambda: anonymity.l_diversity(frame, qi8, ["salary-class"]), 1)
    _row("distinct l", s.distinct_l, t_m, ld, t_ld, "yes" if s.distinct_l == ld else "NO")
    el, t_el = _timed(lambda: anonymity.entropy_l_diversity(frame, qi8, ["salary-class"]), 1)
    # pycanon reports int(exp(min entropy)); workbench exp(min entropy)
    _row("entropy l", round(s.entropy_l, 6), t_m, el, t_el, "yes" if int(s.entropy_l) == el else "NO")
    (c, l_value), t_c = _timed(lambda: anonymity.recursive_c_l_diversity(frame, qi8, ["salary-class"]), 1)
    note = "n/a: l = 1 in both" if s.distinct_l == 1 and l_value == 1 else "different definition (ARX's here)"
    _row("recursive (c,l)", f"c>{s.recursive_c}, l={s.recursive_l}", t_m, f"c={c}, l={l_value}", t_c, note)
    tc, t_tc = _timed(lambda: anonymity.t_closeness(frame, qi8, ["salary-class"]), 1)
    _row("t (equal distance)", round(s.t_closeness, 12), t_m, round(tc, 12), t_tc, _agree(s.t_closeness, tc))

    m7, t_m7 = _timed(lambda: measure_risk(table, qi7, ["age"], orders={"age": _numeric_order(table)}), repeat)
    tn, t_tn = _timed(lambda: anonymity.t_closeness(frame, qi7, ["age"]), 1)
    a = m7.sensitive[0]
    _row("t (ordered, numeric age)", round(a.t_closeness, 12), t_m7, round(tn, 12), t_tn, _agree(a.t_closeness, tn))


def _numeric_order(table: Any) -> list[str]:
    """Age is read as text (as ARX reads it); its order for the ordered distance is numeric."""
    return sorted(set(table.column("age").to_pylist()), key=int)


def _agree(ours: float, theirs: float) -> str:
    return f"yes (|diff| {abs(ours - theirs):.1e})" if math.isclose(ours, theirs, abs_tol=1e-12) else "NO"


def part_search(table: Any, repeat: int) -> None:
    from workbench.core.risk.criteria import Target
    from workbench.core.risk.hierarchy import read_arx_folder
    from workbench.core.risk.lattice import Lattice
    from workbench.core.risk.search import search

    hierarchies = read_arx_folder(ADULT.parent, table.column_names, prefix="adult_")
    lattice, t_build = _timed(lambda: Lattice.build(table, hierarchies, table.column_names), repeat)
    print("\nPart 3: the lattice search on adult.csv with ARX's hierarchies (a fresh lattice each run)")
    print(f"  load average before: {_load_average()}")
    print(f"  hierarchies applied: {t_build * 1000:.0f} ms; lattice {lattice.size} nodes")
    qi8 = [c for c in table.column_names if c != "occupation"]
    cases = [  # (what, quasi-identifiers, sensitive, target, metric, ARX's levels, ARX's loss) from ARX's tests
        ("k=5, 4 %, entropy", table.column_names, None, Target(k=5, max_suppression=0.04), "entropy",
         (1, 0, 1, 1, 3, 2, 2, 0, 1), 255559.85455731067),  # TestAnonymizationKAnonymity
        ("k=5, 4 %, loss", table.column_names, None, Target(k=5, max_suppression=0.04), "loss",
         (0, 3, 0, 1, 1, 1, 1, 2, 0), 0.26611081915757495),  # TestAnonymizationHeuristic / Genetic
        ("entropy l=5 (occupation), 0 %", qi8, "occupation", Target(k=1, l=5, l_variant="entropy"), "entropy",
         (1, 1, 1, 1, 3, 2, 2, 1), 324620.5269918692),  # TestAnonymizationLDiversity
        ("k=5, t=0.2 (occupation), 4 %", qi8, "occupation", Target(k=5, max_suppression=0.04, t=0.2), "entropy",
         None, None),
    ]  # fmt: skip
    for what, qis, sensitive, target, metric, arx_levels, arx_loss in cases:
        fresh = [Lattice.build(table, hierarchies, qis, sensitive=sensitive) for _ in range(repeat + 1)]
        result, t_search, cpu = _timed_both(lambda f=fresh, tg=target, m=metric: search(f.pop(), tg, m), repeat)
        if arx_levels is None:
            verdict = "(no ARX case)"
        elif result.levels == arx_levels and result.information_loss == arx_loss:
            verdict = "the same as ARX"
        else:
            verdict = f"DIFFERENT from ARX {(arx_levels, arx_loss)}"
        print(
            f"  {what:<30} {t_search * 1000:>6.0f} ms wall, {cpu * 1000:>5.0f} ms CPU (median of {repeat}; goal "
            f"< 1 s), {result.nodes_checked:>5} of {result.lattice_size} checked; optimum {result.levels}, "
            f"loss {result.information_loss!r}, {result.suppressed_records} suppressed: {verdict}"
        )


def _load_average() -> str:
    try:
        import os

        return ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def part_service(repeat: int) -> None:
    """The use case as the Risk page and `workbench risk` run it (roles given): the report with its views."""
    from workbench.core.data.load import LoadOptions, load_dataset
    from workbench.services.risk import risk_report

    ds = load_dataset(ADULT, LoadOptions(delimiter=";"))
    report, seconds = _timed(lambda: risk_report(None, ds, qi=ds.column_names, sensitive=[]), repeat)
    print("\nPart 4: services.risk.risk_report on adult.csv (9 quasi-identifiers, with the risk distribution and")
    print(f"  distinction/separation): {seconds * 1000:.1f} ms (median of {repeat}; goal < 100 ms), k {report.k}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of the workbench measures (median)")
    parser.add_argument("--no-pycanon", action="store_true", help="skip the pycanon comparison")
    args = parser.parse_args()
    if not ADULT.is_file() or not REFERENCE.is_file():
        print(f"ARX's Adult extract or the reference numbers are absent ({EVAL}); nothing to measure")
        return 2
    table, frame = _load()
    print(f"adult.csv: {table.num_rows} rows x {table.num_columns} columns; Python {sys.version.split()[0]}")
    part_arx(table, args.repeat)
    part_search(table, args.repeat)
    part_service(args.repeat)
    if not args.no_pycanon:
        part_pycanon(table, frame, args.repeat)
    print("\nreproduce: .venv/bin/python benchmarks/bench_risk.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
