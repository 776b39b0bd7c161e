"""PII detection quality: the workbench detector against plain Presidio with the same spaCy model.

Runs both on Presidio's own evaluation set, ``../shared/eval/presidio_synth/synth_dataset_v2.json`` (1,500
texts, 2,863 gold spans; not part of this repository: the script stops with a message when it is absent), and
reports, with the metrics of :mod:`workbench.core.pii.evaluate` (span match by overlap, F2 with beta = 2):

* overall precision/recall/F2 with "any type" matching (a detected span overlapping any gold span counts) -
  the issue's yardstick: plain Presidio 0.89 / 0.74 / 0.77, goal F2 >= 0.85;
* typed per-entity scores after the documented entity mapping (PERSON recall: plain Presidio 0.64);
* any-type recall per gold entity type.

Plain Presidio is ``AnalyzerEngine.analyze(text, score_threshold=0.4)`` with the same offline spaCy model
(en_core_web_sm 3.8.0) and Presidio's default recognizers, no post-processing. The workbench detector adds its
recognizers (name, place, address, title, age, ZIP, organisation, Chinese id/mobile, bank card) and
post-processing. Nothing was tuned on this file's strings: the word lists come from Faker's locale providers and
the patterns are generic. As a second, independent check the same comparison runs on the annotated demo clinic
notes (``workbench.core.demo.note_gold_spans``: the generator's own PERSON, LOCATION, PHONE_NUMBER, DATE_TIME
spans), with precision, recall and F2 per entity type *before and after* the issue-13 false-positive filters
(places that are also first names as PERSON, clinical abbreviations as ORGANIZATION, relative dates as DATE_TIME):
"before" is the same detector with those three filters switched off.

Published numbers for context (token-level, en_core_web_lg; ../shared/eval/reference/reference_numbers.json)
are printed at the end.

Reproduce::

    .venv/bin/python benchmarks/bench_pii_eval.py
    .venv/bin/python benchmarks/bench_pii_eval.py --json --spans /tmp/workbench_spans.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOLD = ROOT.parent / "shared" / "eval" / "presidio_synth" / "synth_dataset_v2.json"
REFERENCE = ROOT.parent / "shared" / "eval" / "reference" / "reference_numbers.json"


def _line(name: str, s: Any) -> str:
    return f"  {name:<28} P {s.precision:.3f}  R {s.recall:.3f}  F2 {s.f2:.3f}  (detected {s.detected}, gold {s.gold})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", default=str(GOLD), help="gold file (default: the shared Presidio set)")
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--demo-rows", type=int, default=1000, help="annotated demo notes for the second check")
    parser.add_argument("--spans", help="write the workbench detector's spans as JSONL here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    gold_path = Path(args.gold)
    if not gold_path.is_file():
        print(
            f"bench_pii_eval: the evaluation file {gold_path} is not there. It is third-party data kept outside the "
            "repository (../shared/eval/presidio_synth/synth_dataset_v2.json from microsoft/presidio-research); "
            "put it there or pass --gold FILE.",
            file=sys.stderr,
        )
        return 2

    from dataclasses import replace

    from workbench.core.demo import note_gold_spans
    from workbench.core.jobs import drive
    from workbench.core.pii.analyzer import AnalyzerSettings, get_analyzer
    from workbench.core.pii.evaluate import (
        GoldSample,
        GoldSpan,
        evaluate_job,
        load_gold,
        plain_presidio_spans,
        score,
        write_spans_jsonl,
    )
    from workbench.core.pii.postprocess import DetectionSettings

    ours = get_analyzer()
    plain = get_analyzer(AnalyzerSettings(workbench_recognizers=False))
    settings = DetectionSettings.create(threshold=args.threshold)
    # The detector before issue 13's false-positive filters, for the before/after comparison.
    before = replace(settings, places_over_names=False, drop_clinical_terms=False, relative_dates=True)

    def run_both(gold: list[GoldSample]) -> tuple[Any, Any, list[Any]]:
        t0 = time.monotonic()
        plain_detected = plain_presidio_spans(plain, [s.text for s in gold], args.threshold)
        plain_report = score(gold, plain_detected, threshold=args.threshold, elapsed_s=time.monotonic() - t0)
        ours.cache.clear()
        ours_report, detected = drive(evaluate_job(gold, ours, settings))
        return plain_report, ours_report, detected

    gold = load_gold(gold_path)
    plain_report, ours_report, detected = run_both(gold)
    if args.spans:
        write_spans_jsonl(args.spans, detected)
    synth_before, _ = drive(evaluate_job(gold, ours, before))  # cached analysis: only the filters differ
    demo = [
        GoldSample(note, tuple(GoldSpan(e.start, e.end, e.entity_type) for e in entities))
        for note, entities in note_gold_spans(args.demo_rows, seed=777)
    ]
    demo_plain, demo_ours, demo_detected = run_both(demo)
    demo_before, _ = drive(evaluate_job(demo, ours, before))
    # The demo's gold spans do not label honorifics ("Dr.", "Ms."), which the workbench reports as TITLE.
    demo_no_title = score(demo, [tuple(s for s in spans if s.entity_type != "TITLE") for spans in demo_detected])
    reference = json.loads(REFERENCE.read_text(encoding="utf-8")) if REFERENCE.is_file() else {}
    published = reference.get("presidio_synth_dataset_v2", {})
    command = "python benchmarks/bench_pii_eval.py " + " ".join(argv or sys.argv[1:])
    result = {
        "gold": str(gold_path),
        "threshold": args.threshold,
        "plain_presidio": plain_report.to_json(),
        "workbench": ours_report.to_json(),
        "workbench_before_issue13_filters": synth_before.to_json(),
        "demo_notes": {
            "plain_presidio": demo_plain.to_json(),
            "workbench": demo_ours.to_json(),
            "workbench_before_issue13_filters": demo_before.to_json(),
            "workbench_without_title": demo_no_title.to_json(),
        },
        "command": command,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{gold_path.name}: {ours_report.texts:,} texts, threshold {args.threshold:g}")
    print("any-type overlap matching (the issue's yardstick):")
    print(_line("plain Presidio", plain_report.any_type))
    print(_line("workbench detector", ours_report.any_type))
    print("typed matching after the entity mapping:")
    print(_line("plain Presidio", plain_report.typed))
    print(_line("workbench detector", ours_report.typed))
    print("per entity (typed):  plain P/R  ->  workbench P/R")
    plain_per, ours_per = dict(plain_report.per_entity), dict(ours_report.per_entity)
    for entity in sorted(set(plain_per) | set(ours_per)):
        p, o = plain_per.get(entity), ours_per.get(entity)
        left = f"{p.precision:.2f}/{p.recall:.2f}" if p else "   -     "
        right = f"{o.precision:.2f}/{o.recall:.2f}" if o else "   -     "
        gold_n = (o or p).gold if (o or p) else 0
        print(f"  {entity:<20} {left}  ->  {right}   (gold {gold_n})")
    print("any-type recall per gold type:  plain -> workbench")
    plain_rec = {k: r for k, r, _ in plain_report.gold_recall_any_type}
    for entity, recall, n in ours_report.gold_recall_any_type:
        print(f"  {entity:<20} {plain_rec.get(entity, 0):.2f} -> {recall:.2f}   (gold {n})")
    print(f"second check, {len(demo):,} annotated demo notes (any type / typed PERSON recall):")
    for name, report in (("plain Presidio", demo_plain), ("workbench detector", demo_ours)):
        person = dict(report.per_entity).get("PERSON")
        print(_line(name, report.any_type) + (f"   PERSON recall {person.recall:.3f}" if person else ""))
    print(_line("workbench, TITLE left out", demo_no_title.any_type) + "   (the demo gold does not label Dr./Ms.)")
    print(_line("workbench before issue 13", demo_before.any_type))
    print("demo notes per entity (typed), before -> after the issue-13 filters:")
    print(f"  {'entity':<14} {'P':>5} {'R':>5} {'F2':>5}  ->  {'P':>5} {'R':>5} {'F2':>5}   detected   gold")
    old_per, new_per = dict(demo_before.per_entity), dict(demo_ours.per_entity)
    for entity in sorted(set(old_per) | set(new_per)):
        o, n = old_per.get(entity), new_per.get(entity)
        left = f"{o.precision:5.3f} {o.recall:5.3f} {o.f2:5.3f}" if o else "    -     -     -"
        right = f"{n.precision:5.3f} {n.recall:5.3f} {n.f2:5.3f}" if n else "    -     -     -"
        counts = f"{o.detected if o else 0:>5} -> {n.detected if n else 0:<5} {(n or o).gold if (n or o) else 0:>5}"
        print(f"  {entity:<14} {left}  ->  {right}   {counts}")
    print(
        f"{gold_path.name} with and without the issue-13 filters (any type): F2 {synth_before.any_type.f2:.3f} -> "
        f"{ours_report.any_type.f2:.3f} (goal >= 0.85)"
    )
    if published:
        print("published (token-level, en_core_web_lg, presidio-research notebooks; not comparable one to one):")
        for key in ("notebook4_default", "notebook5_custom"):
            entry = published.get(key, {})
            if entry:
                print(f"  {key}: P {entry['pii_precision']:.3f}  R {entry['pii_recall']:.3f}  F2 {entry['pii_f2']:.3f}")
    print(f"time: plain {plain_report.elapsed_s:.1f} s, workbench {ours_report.elapsed_s:.1f} s")
    print(f"command: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
