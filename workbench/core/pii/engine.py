"""Anonymize a whole table with a policy, as a cancellable job with progress; write the result next to the source.

:func:`anonymize_table_job` is a job generator (see :mod:`workbench.core.jobs`). It never changes its input (Arrow
tables are immutable; a new table is returned) and does the expensive work once per distinct value:

* the free text of every ``free_text`` column is deduplicated across rows and columns, and each distinct text
  is analysed once (spaCy ``nlp.pipe`` in batches, cached raw results; long jobs are spread over worker
  processes, one per core, see :func:`workbench.core.pii.analyzer.iter_raw_analysis`);
* operators run once per distinct value (per distinct value and subject for date shifts; per row for the
  non-deterministic ``encrypt``, so equal values do not give equal tokens).

The output text of a free-text cell is what Presidio's ``AnonymizerEngine.anonymize`` gives on the same spans
with the same operators (``tests/pii/test_pii_engine.py`` checks it against a per-record loop).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle, drive
from workbench.core.pii.analyzer import AnalyzerHandle, default_workers, get_analyzer, iter_raw_analysis
from workbench.core.pii.keys import AnonymizationKeys
from workbench.core.pii.operators import OperatorContext, OperatorError, apply_operator, get_operator
from workbench.core.pii.output import (  # noqa: F401 - re-exported: the writing half used to live here
    OUTPUT_FORMATS,
    OutputError,
    default_output_path,
    output_format,
    register_output,
    write_output,
)
from workbench.core.pii.policy import ColumnTreatment, Policy, PolicyError
from workbench.core.pii.postprocess import DetectedSpan, resolve_spans

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplacementSpan:
    """Where a replacement sits in the anonymized text: ``anonymized[start:end]`` replaced a span of ``entity_type``
    with ``operator``."""

    start: int
    end: int
    entity_type: str
    operator: str
    changed: bool = True
    """Whether the operator changed the value (``keep``, or a generalization that gave the same text: ``False``).
    Only changed spans count as replaced; unchanged ones are reported as kept."""


InsertedSpans = Mapping[str, tuple[ReplacementSpan, ...]]
"""Anonymized text -> where the operators wrote into it (their output is known, so never residue)."""


def anonymize_text(
    text: str,
    spans: Sequence[DetectedSpan],
    policy: Policy,
    keys: AnonymizationKeys | None = None,
    subject: str | None = None,
) -> tuple[str, tuple[ReplacementSpan, ...]]:
    """Apply the policy's entity operators to the (disjoint, sorted) ``spans`` of ``text``.

    Returns the anonymized text and where each replacement ended up in it.
    """
    out: list[str] = []
    replacements: list[ReplacementSpan] = []
    position = 0
    length = 0
    for span in spans:
        out.append(text[position : span.start])
        length += span.start - position
        config = policy.operator_for(span.entity_type)
        old = text[span.start : span.end]
        new = apply_operator(config, old, OperatorContext(span.entity_type, keys, subject))
        out.append(new)
        replacements.append(ReplacementSpan(length, length + len(new), span.entity_type, config.operator, new != old))
        length += len(new)
        position = span.end
    out.append(text[position:])
    return "".join(out), tuple(replacements)


@dataclass(frozen=True, slots=True)
class AnonymizeResult:
    """What :func:`anonymize_table_job` returns.

    Attributes
    ----------
    table:
        The anonymized table (dropped columns left out, treated columns as strings).
    entity_counts:
        Values the operators *changed*, per entity type, over all rows and columns ("replaced").
    column_counts:
        The same per column.
    rows:
        Rows processed.
    unique_texts, texts_analysed:
        Distinct free texts, and how many of them went through the NER (the rest came from the cache).
    workers:
        Processes used for the analysis.
    elapsed_s:
        Wall time of the job.
    kept_counts:
        Detected values left as they were (operator ``keep``, or an operator that gave the same text), per entity
        type: still in the output, so never counted as replaced.
    column_kept_counts:
        The same per column.
    inserted:
        For the free-text columns: each anonymized text -> where the operators wrote into it (for the residual
        check, :mod:`workbench.core.pii.residual`). Not part of :meth:`summary`.
    text_columns:
        The free-text columns of the output.
    """

    table: pa.Table = field(repr=False)
    entity_counts: Mapping[str, int]
    column_counts: Mapping[str, Mapping[str, int]]
    rows: int
    unique_texts: int
    texts_analysed: int
    workers: int
    elapsed_s: float
    kept_counts: Mapping[str, int] = field(default_factory=dict)
    column_kept_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    inserted: InsertedSpans = field(default_factory=dict, repr=False)
    text_columns: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """Counts and timings (no values), for lineage, the audit log and ``--json``."""
        return {
            "rows": self.rows,
            "columns": list(self.table.column_names),
            "entity_counts": dict(sorted(self.entity_counts.items())),
            "kept_counts": dict(sorted(self.kept_counts.items())),
            "column_counts": {k: dict(sorted(v.items())) for k, v in self.column_counts.items()},
            "column_kept_counts": {k: dict(sorted(v.items())) for k, v in self.column_kept_counts.items() if v},
            "unique_texts": self.unique_texts,
            "texts_analysed": self.texts_analysed,
            "workers": self.workers,
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass(slots=True)
class _Tally:
    """What the operators did to one column: changed and unchanged values per entity type."""

    replaced: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)

    def add(self, replacements: Sequence[ReplacementSpan], n: int = 1) -> None:
        for r in replacements:
            (self.replaced if r.changed else self.kept)[r.entity_type] += n


def check_policy_against(policy: Policy, column_names: Sequence[str], keys: AnonymizationKeys | None) -> None:
    """Raise :class:`PolicyError` when the policy names columns the table lacks or needs keys that are missing."""
    missing = sorted(c for c, _ in policy.columns if c not in column_names)
    if missing:
        raise PolicyError(
            f"the policy names column {missing[0]!r}, which the dataset does not have (its columns: "
            f"{', '.join(column_names)}); fix the policy or load the right dataset"
        )
    if policy.subject_column is not None and policy.subject_column not in column_names:
        raise PolicyError(f"subject_column {policy.subject_column!r} is not a column of the dataset")
    if keys is None:
        needing = sorted(
            {c.operator for c in policy.operators_in_use(column_names) if get_operator(c.operator).needs_keys}
        )
        if needing:
            raise OperatorError(
                f"the policy uses {', '.join(needing)}, which need the project's keys; run it inside a project "
                "(or give a key file), or choose operators without keys (replace, mask, redact, generalize)"
            )


def anonymize_table_job(
    table: pa.Table,
    policy: Policy,
    keys: AnonymizationKeys | None = None,
    token: CancelToken | None = None,
    *,
    analyzer: AnalyzerHandle | None = None,
    workers: int | None = None,
    chunk_size: int = 64,
) -> JobGenerator[AnonymizeResult]:
    """Anonymize ``table`` with ``policy``, as a job generator.

    Parameters
    ----------
    table:
        The data; not modified.
    policy:
        What to do (its columns must exist in ``table``).
    keys:
        The project's keys; required when the policy uses ``keyed_hash``, ``pseudonym`` or ``encrypt``.
    token:
        Cancel token, checked between chunks of texts and between columns.
    analyzer:
        The analyzer (default: the policy's, from :func:`get_analyzer`).
    workers:
        Processes for the NER; ``None``: one per core for long jobs, one for short ones.
    chunk_size:
        Texts per batch.

    Yields
    ------
    Progress
        Phase ``analysing free text`` (unit ``texts``) then ``applying the policy`` (unit ``columns``).

    Raises
    ------
    PolicyError, OperatorError
        Before any work, for a policy that does not fit the table or lacks keys.
    JobCancelled
        When ``token`` is cancelled.
    """
    started = time.monotonic()
    token = token or CancelToken()
    names = list(table.column_names)
    check_policy_against(policy, names, keys)
    subjects: list[str | None] | None = None
    if policy.subject_column is not None:
        subjects = [None if v is None else str(v) for v in table.column(policy.subject_column).to_pylist()]
    analysis = yield from _analyse_free_text(table, policy, analyzer, workers, chunk_size, token, started)
    applied = yield from _apply_policy(table, policy, keys, subjects, analysis.spans_of, token)
    result_table, tallies, inserted = applied
    totals: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    for tally in tallies.values():
        totals.update(tally.replaced)
        kept.update(tally.kept)
    elapsed = time.monotonic() - started
    log.info(
        "anonymized %d rows x %d columns: %d distinct texts (%d analysed) with %d worker(s) in %.2f s",
        table.num_rows, len(names), len(analysis.spans_of), analysis.analysed, analysis.workers, elapsed,
    )  # fmt: skip
    return AnonymizeResult(
        table=result_table,
        entity_counts=dict(totals),
        column_counts={c: dict(t.replaced) for c, t in tallies.items()},
        rows=table.num_rows,
        unique_texts=len(analysis.spans_of),
        texts_analysed=analysis.analysed,
        workers=analysis.workers,
        elapsed_s=elapsed,
        kept_counts=dict(kept),
        column_kept_counts={c: dict(t.kept) for c, t in tallies.items()},
        inserted=inserted,
        text_columns=tuple(c for c in names if policy.column(c).treatment is ColumnTreatment.FREE_TEXT),
    )


@dataclass(frozen=True, slots=True)
class _Analysis:
    spans_of: dict[str, tuple[DetectedSpan, ...]]
    """Resolved spans of every distinct free text."""
    analysed: int
    """Texts the NER ran on (the others came from the analyzer's cache)."""
    workers: int


def _analyse_free_text(
    table: pa.Table,
    policy: Policy,
    analyzer: AnalyzerHandle | None,
    workers: int | None,
    chunk_size: int,
    token: CancelToken,
    started: float,
) -> JobGenerator[_Analysis]:
    """Step 1: analyse every distinct free text once (a repeated value is never analysed twice)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text_columns = [c for c in table.column_names if policy.column(c).treatment is ColumnTreatment.FREE_TEXT]
    unique: dict[str, int] = {}
    for column in text_columns:
        for value in pc.unique(table.column(column).cast(pa.string())).to_pylist():
            if value is not None and value.strip():
                unique.setdefault(value, len(unique))
    texts = list(unique)
    raw: list[Any] = [()] * len(texts)
    handle: AnalyzerHandle | None = None
    n_workers = 1
    before = 0
    if texts:
        handle = analyzer or get_analyzer(policy.analyzer_settings())
        before = handle.texts_analyzed
        n_workers = default_workers(len(texts)) if workers is None else max(1, workers)
        throttle = Throttle(0.1)
        yield Progress("analysing free text", 0, len(texts), "texts")
        stream = iter_raw_analysis(handle, texts, token=token, workers=n_workers, chunk_size=chunk_size)
        for done, (index, spans) in enumerate(stream, start=1):
            raw[index] = spans
            if throttle.ready():
                rate = done / max(1e-6, time.monotonic() - started)
                yield Progress("analysing free text", done, len(texts), "texts", f"{rate:.0f} texts/s")
        yield Progress("analysing free text", len(texts), len(texts), "texts")
    settings = policy.detection_settings()
    return _Analysis(
        spans_of={text: resolve_spans(text, raw[i], settings) for text, i in unique.items()},
        analysed=(handle.texts_analyzed - before) if handle is not None else 0,
        workers=n_workers,
    )


def _apply_policy(
    table: pa.Table,
    policy: Policy,
    keys: AnonymizationKeys | None,
    subjects: list[str | None] | None,
    spans_of: dict[str, tuple[DetectedSpan, ...]],
    token: CancelToken,
) -> JobGenerator[tuple[pa.Table, dict[str, _Tally], dict[str, tuple[ReplacementSpan, ...]]]]:
    """Step 2: apply the policy column by column; returns the new table, what changed per column, and where the
    operators wrote into the free texts."""
    import pyarrow as pa

    names = list(table.column_names)
    out_names: list[str] = []
    out_columns: list[Any] = []
    tallies: dict[str, _Tally] = {}
    inserted: dict[str, tuple[ReplacementSpan, ...]] = {}
    for done_columns, column in enumerate(names):
        token.raise_if_cancelled()
        yield Progress("applying the policy", done_columns, len(names), "columns")
        treatment = policy.column(column)
        if treatment.treatment is ColumnTreatment.DROP:
            continue
        if treatment.treatment is ColumnTreatment.KEEP:
            out_names.append(column)
            out_columns.append(table.column(column))
            continue
        values = table.column(column).cast(pa.string())
        if treatment.treatment is ColumnTreatment.ENTITY:
            new, tally = _entity_column(values, column, policy, keys, subjects, token)
        else:
            new, tally = _text_column(values, spans_of, policy, keys, subjects, token, inserted)
        out_names.append(column)
        out_columns.append(new)
        tallies[column] = tally
    yield Progress("applying the policy", len(names), len(names), "columns")
    return pa.table(out_columns, names=out_names), tallies, inserted


def _map_values(values: pa.ChunkedArray, function: Any) -> pa.Array:
    """Apply ``function`` once per distinct non-null value and spread the results over the rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(values).combine_chunks()
    dictionary = encoded.dictionary.to_pylist()
    mapped = pa.array([function(v) for v in dictionary], type=pa.string())
    return pc.take(mapped, encoded.indices)


def _value_counts(values: pa.ChunkedArray) -> list[tuple[str, int]]:
    """``(value, rows)`` of every distinct non-null value."""
    import pyarrow.compute as pc

    return [(e["values"], e["counts"]) for e in pc.value_counts(values).to_pylist() if e["values"] is not None]


def _entity_column(
    values: pa.ChunkedArray,
    column: str,
    policy: Policy,
    keys: AnonymizationKeys | None,
    subjects: list[str | None] | None,
    token: CancelToken,
) -> tuple[pa.Array, _Tally]:
    """Every non-blank cell is one value of the column's entity type; a cell the operator left as it was counts
    as kept, not replaced."""
    import pyarrow as pa

    config = policy.operator_for_column(column)
    entity_type = policy.column(column).entity_type or ""
    assert config is not None
    operator = get_operator(config.operator)
    per_row = not operator.deterministic or (subjects is not None and operator.uses_subject)
    tally = _Tally()

    def one(value: str | None, subject: str | None = None) -> str | None:
        if value is None or not value.strip():
            return value
        return apply_operator(config, value, OperatorContext(entity_type, keys, subject))

    if per_row:
        out: list[str | None] = []
        for i, value in enumerate(values.to_pylist()):
            if i % 2000 == 0:
                token.raise_if_cancelled()
            new = one(value, subjects[i] if subjects is not None else None)
            if value is not None and value.strip():
                (tally.replaced if new != value else tally.kept)[entity_type] += 1
            out.append(new)
        return pa.array(out, type=pa.string()), tally
    results: dict[str, str | None] = {}

    def remembered(value: str | None) -> str | None:
        new = one(value)
        if value is not None:
            results[value] = new
        return new

    array = _map_values(values, remembered)
    for value, n in _value_counts(values):
        if value.strip():
            (tally.replaced if results.get(value, value) != value else tally.kept)[entity_type] += n
    return array, tally


def _remember(inserted: dict[str, tuple[ReplacementSpan, ...]], new: str, spans: tuple[ReplacementSpan, ...]) -> None:
    """Note where the operators wrote into ``new`` (two inputs giving the same output: both sets of spans)."""
    known = inserted.get(new)
    inserted[new] = (
        spans
        if known is None or known == spans
        else tuple(sorted(set(known) | set(spans), key=lambda r: (r.start, r.end, r.entity_type)))
    )


def _text_column(
    values: pa.ChunkedArray,
    spans_of: Mapping[str, tuple[DetectedSpan, ...]],
    policy: Policy,
    keys: AnonymizationKeys | None,
    subjects: list[str | None] | None,
    token: CancelToken,
    inserted: dict[str, tuple[ReplacementSpan, ...]],
) -> tuple[pa.Array, _Tally]:
    """Each cell's detected spans get their entity type's operator; ``inserted`` learns where they wrote."""
    import pyarrow as pa

    operators = [get_operator(c.operator) for c in (policy.default_operator, *policy.entity_operators.values())]
    per_row = any(not op.deterministic for op in operators) or (
        subjects is not None and any(op.uses_subject for op in operators)
    )
    tally = _Tally()
    if per_row:
        out: list[str | None] = []
        for i, value in enumerate(values.to_pylist()):
            if i % 500 == 0:
                token.raise_if_cancelled()
            spans = spans_of.get(value, ()) if value is not None else ()
            if not spans:
                out.append(value)
                continue
            subject = subjects[i] if subjects is not None else None
            new, replacements = anonymize_text(value, spans, policy, keys, subject)
            tally.add(replacements)
            _remember(inserted, new, replacements)
            out.append(new)
        return pa.array(out, type=pa.string()), tally
    done: dict[str, tuple[ReplacementSpan, ...]] = {}

    def one(value: str | None) -> str | None:
        spans = spans_of.get(value, ()) if value is not None else ()
        if value is None or not spans:
            return value
        new, replacements = anonymize_text(value, spans, policy, keys)
        done[value] = replacements
        _remember(inserted, new, replacements)
        return new

    array = _map_values(values, one)
    for value, n in _value_counts(values):
        tally.add(done.get(value, ()), n)
    return array, tally


def anonymize_table(
    table: pa.Table, policy: Policy, keys: AnonymizationKeys | None = None, **kwargs: Any
) -> AnonymizeResult:
    """:func:`anonymize_table_job` run to its end in this thread."""
    return drive(anonymize_table_job(table, policy, keys, **kwargs))
