"""Anonymization throughput: the workbench engine against plain per-record Presidio loops, same data, same run.

Workload: the free-text ``note`` column of N demo clinic rows (default 2,000), every detected span replaced by
``<ENTITY_TYPE>``. Every side detects exactly the same things (same recognizers, same NER labels, same span
post-processing with :func:`workbench.core.pii.postprocess.resolve_spans`), and the script checks that every
anonymized note is identical:

* plain Presidio: an ``AnalyzerEngine`` set up the way Presidio documents it (``SpacyNlpEngine.load()``, the
  whole spaCy pipeline) with the workbench's recognizers added, and for each record
  ``AnalyzerEngine.analyze(text, score_threshold=0.4)`` + ``resolve_spans`` + ``AnonymizerEngine.anonymize``;
* same engine, per record: the same loop on the workbench's own ``AnalyzerEngine`` (spaCy's dependency parser,
  whose output Presidio does not read, switched off), to separate that saving from the others;
* ours: ``anonymize_table_job`` on the whole table (distinct texts only, spaCy ``nlp.pipe`` batches, one worker
  process per core), once with the default workers and once in a single process.

The speed-up that counts is ours against plain Presidio (goal: at least 3x). Analyzers are built and warmed
before any timing, and the raw-result cache is cleared before each of our runs. Other processes share the CPU:
the load average is printed; run on a quiet machine, and use ``--repeat`` (best run counts).

Reproduce::

    .venv/bin/python benchmarks/bench_pii_throughput.py                 # 2,000 rows
    .venv/bin/python benchmarks/bench_pii_throughput.py --rows 5000 --repeat 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=1, help="time each side this many times; the best run counts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import pyarrow as pa

    from workbench.core.demo import generate_clinic_intake
    from workbench.core.pii.analyzer import default_workers, get_analyzer
    from workbench.core.pii.engine import anonymize_table
    from workbench.core.pii.policy import ColumnPolicy, ColumnTreatment, Policy
    from workbench.core.pii.postprocess import resolve_spans

    rows = generate_clinic_intake(args.rows)
    table = pa.Table.from_pylist(rows)
    notes = [r["note"] for r in rows]
    policy = Policy(name="replace notes").with_column("note", ColumnPolicy(ColumnTreatment.FREE_TEXT))
    settings = policy.detection_settings()

    started = time.perf_counter()
    handle = get_analyzer(policy.analyzer_settings())
    handle.analyze_raw(["Warm-up: Jane Doe called 555-0100 from Denver."], use_cache=False)
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import RecognizerResult

    from workbench.core.pii.recognizers import workbench_recognizers

    # Plain Presidio: the documented set-up (load() reads the whole installed pipeline), same recognizers.
    ours_nlp = handle.engine.nlp_engine
    plain_nlp = SpacyNlpEngine(models=ours_nlp.models, ner_model_configuration=ours_nlp.ner_model_configuration)
    plain_nlp.load()
    plain = AnalyzerEngine(nlp_engine=plain_nlp, supported_languages=["en"])
    for recognizer in workbench_recognizers("en"):
        plain.registry.add_recognizer(recognizer)
    plain.analyze("Warm-up: Jane Doe called 555-0100 from Denver.", language="en")
    anonymizer = AnonymizerEngine()
    load_s = time.perf_counter() - started

    def per_record(engine: Any) -> tuple[float, list[str]]:
        out = []
        t0 = time.perf_counter()
        for text in notes:
            found = engine.analyze(text, language="en", score_threshold=policy.threshold)
            spans = resolve_spans(text, [(r.start, r.end, r.entity_type, r.score) for r in found], settings)
            results = [RecognizerResult(s.entity_type, s.start, s.end, s.score) for s in spans]
            out.append(anonymizer.anonymize(text, results).text)
        return time.perf_counter() - t0, out

    def ours(workers: int | None) -> tuple[float, list[str], int]:
        handle.cache.clear()
        t0 = time.perf_counter()
        result = anonymize_table(table, policy, analyzer=handle, workers=workers)
        return time.perf_counter() - t0, result.table.column("note").to_pylist(), result.workers

    times: dict[str, list[float]] = {"plain": [], "same_engine": [], "ours": [], "single": []}
    outputs: dict[str, list[str]] = {}
    workers_used = 1
    for _ in range(max(1, args.repeat)):
        t, outputs["plain"] = per_record(plain)
        times["plain"].append(t)
        t, outputs["same_engine"] = per_record(handle.engine)
        times["same_engine"].append(t)
        t, outputs["ours"], workers_used = ours(None)
        times["ours"].append(t)
        t, outputs["single"], _ = ours(1)
        times["single"].append(t)
    reference = outputs["plain"]
    mismatches = {k: sum(a != b for a, b in zip(v, reference, strict=True)) for k, v in outputs.items()}
    identical = not any(mismatches.values())
    n = len(notes)
    rate = {k: n / min(v) for k, v in times.items()}
    report: dict[str, Any] = {
        "rows": n,
        "distinct_notes": len(set(notes)),
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "analyzers_load_s": round(load_s, 2),
        "plain_presidio_records_per_s": round(rate["plain"], 1),
        "same_engine_per_record_records_per_s": round(rate["same_engine"], 1),
        "ours_records_per_s": round(rate["ours"], 1),
        "ours_workers": workers_used,
        "ours_single_process_records_per_s": round(rate["single"], 1),
        "speedup_vs_plain_presidio": round(rate["ours"] / rate["plain"], 2),
        "speedup_vs_same_engine_per_record": round(rate["ours"] / rate["same_engine"], 2),
        "speedup_single_process_vs_plain_presidio": round(rate["single"] / rate["plain"], 2),
        "identical_output": identical,
        "mismatched_records": mismatches,
        "default_workers_for_this_size": default_workers(n),
        "python": platform.python_version(),
        "command": "python benchmarks/bench_pii_throughput.py " + " ".join(argv or sys.argv[1:]),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{n:,} demo notes ({report['distinct_notes']:,} distinct), {os.cpu_count()} cores, "
              f"load average {report['load_average_1m']}")  # fmt: skip
        print(f"analyzers built and warmed in {load_s:.1f} s (not timed below)")
        lines = [
            ("plain Presidio, per record", rate["plain"]),
            ("same engine (parser off), per record", rate["same_engine"]),
            (f"ours, {workers_used} worker process(es)", rate["ours"]),
            ("ours, single process", rate["single"]),
        ]
        for label, value in lines:
            print(f"{label:<40}: {value:7.1f} records/s  ({value / rate['plain']:.2f}x plain Presidio)")
        print(f"identical output: {identical} (mismatched records: {mismatches})")
        print(f"command: {report['command']}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
