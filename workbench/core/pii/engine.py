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

import io
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from workbench.core.atomic import atomic_write
from workbench.core.errors import WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle, drive
from workbench.core.pii.analyzer import AnalyzerHandle, default_workers, get_analyzer, iter_raw_analysis
from workbench.core.pii.keys import AnonymizationKeys
from workbench.core.pii.operators import OperatorContext, OperatorError, apply_operator, get_operator
from workbench.core.pii.policy import ColumnTreatment, Policy, PolicyError
from workbench.core.pii.postprocess import DetectedSpan, resolve_spans

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.core.project.store import DatasetRecord, Project

log = logging.getLogger(__name__)

OUTPUT_FORMATS = ("csv", "parquet", "jsonl")
_SUFFIX_FORMAT = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class OutputError(WorkbenchError):
    """The anonymized copy cannot be written where asked (the source itself, an unknown format...)."""


@dataclass(frozen=True, slots=True)
class ReplacementSpan:
    """Where a replacement sits in the anonymized text: ``anonymized[start:end]`` replaced a span of ``entity_type``
    with ``operator``."""

    start: int
    end: int
    entity_type: str
    operator: str


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
        new = apply_operator(config, text[span.start : span.end], OperatorContext(span.entity_type, keys, subject))
        out.append(new)
        replacements.append(ReplacementSpan(length, length + len(new), span.entity_type, config.operator))
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
        Replaced values per entity type, over all rows and columns.
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
    """

    table: pa.Table = field(repr=False)
    entity_counts: Mapping[str, int]
    column_counts: Mapping[str, Mapping[str, int]]
    rows: int
    unique_texts: int
    texts_analysed: int
    workers: int
    elapsed_s: float

    def summary(self) -> dict[str, Any]:
        """Counts and timings (no values), for lineage, the audit log and ``--json``."""
        return {
            "rows": self.rows,
            "columns": list(self.table.column_names),
            "entity_counts": dict(sorted(self.entity_counts.items())),
            "column_counts": {k: dict(sorted(v.items())) for k, v in self.column_counts.items()},
            "unique_texts": self.unique_texts,
            "texts_analysed": self.texts_analysed,
            "workers": self.workers,
            "elapsed_s": round(self.elapsed_s, 3),
        }


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
    result_table, column_counts = yield from _apply_policy(table, policy, keys, subjects, analysis.spans_of, token)
    totals: Counter[str] = Counter()
    for counts in column_counts.values():
        totals.update(counts)
    elapsed = time.monotonic() - started
    log.info(
        "anonymized %d rows x %d columns: %d distinct texts (%d analysed) with %d worker(s) in %.2f s",
        table.num_rows, len(names), len(analysis.spans_of), analysis.analysed, analysis.workers, elapsed,
    )  # fmt: skip
    return AnonymizeResult(
        table=result_table,
        entity_counts=dict(totals),
        column_counts=column_counts,
        rows=table.num_rows,
        unique_texts=len(analysis.spans_of),
        texts_analysed=analysis.analysed,
        workers=analysis.workers,
        elapsed_s=elapsed,
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
) -> JobGenerator[tuple[pa.Table, dict[str, dict[str, int]]]]:
    """Step 2: apply the policy column by column; returns the new table and the replacements per column."""
    import pyarrow as pa

    names = list(table.column_names)
    out_names: list[str] = []
    out_columns: list[Any] = []
    column_counts: dict[str, dict[str, int]] = {}
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
            new, counts = _entity_column(values, column, policy, keys, subjects, token)
        else:
            new, counts = _text_column(values, spans_of, policy, keys, subjects, token)
        out_names.append(column)
        out_columns.append(new)
        column_counts[column] = counts
    yield Progress("applying the policy", len(names), len(names), "columns")
    return pa.table(out_columns, names=out_names), column_counts


def _map_values(values: pa.ChunkedArray, function: Any) -> pa.Array:
    """Apply ``function`` once per distinct non-null value and spread the results over the rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(values).combine_chunks()
    dictionary = encoded.dictionary.to_pylist()
    mapped = pa.array([function(v) for v in dictionary], type=pa.string())
    return pc.take(mapped, encoded.indices)


def _entity_column(
    values: pa.ChunkedArray,
    column: str,
    policy: Policy,
    keys: AnonymizationKeys | None,
    subjects: list[str | None] | None,
    token: CancelToken,
) -> tuple[pa.Array, dict[str, int]]:
    """Every non-blank cell is one value of the column's entity type."""
    import pyarrow as pa

    config = policy.operator_for_column(column)
    entity_type = policy.column(column).entity_type or ""
    assert config is not None
    operator = get_operator(config.operator)
    per_row = not operator.deterministic or (subjects is not None and operator.uses_subject)

    def one(value: str | None, subject: str | None = None) -> str | None:
        if value is None or not value.strip():
            return value
        return apply_operator(config, value, OperatorContext(entity_type, keys, subject))

    if per_row:
        out: list[str | None] = []
        for i, value in enumerate(values.to_pylist()):
            if i % 2000 == 0:
                token.raise_if_cancelled()
            out.append(one(value, subjects[i] if subjects is not None else None))
        array = pa.array(out, type=pa.string())
    else:
        array = _map_values(values, one)
    filled = sum(1 for v in values.to_pylist() if v is not None and v.strip())
    return array, ({entity_type: filled} if filled else {})


def _text_column(
    values: pa.ChunkedArray,
    spans_of: Mapping[str, tuple[DetectedSpan, ...]],
    policy: Policy,
    keys: AnonymizationKeys | None,
    subjects: list[str | None] | None,
    token: CancelToken,
) -> tuple[pa.Array, dict[str, int]]:
    """Each cell's detected spans get their entity type's operator."""
    import pyarrow as pa
    import pyarrow.compute as pc

    operators = [get_operator(c.operator) for c in (policy.default_operator, *policy.entity_operators.values())]
    per_row = any(not op.deterministic for op in operators) or (
        subjects is not None and any(op.uses_subject for op in operators)
    )
    counts: Counter[str] = Counter()
    if per_row:
        out: list[str | None] = []
        for i, value in enumerate(values.to_pylist()):
            if i % 500 == 0:
                token.raise_if_cancelled()
            if value is None:
                out.append(None)
                continue
            spans = spans_of.get(value, ())
            counts.update(s.entity_type for s in spans)
            subject = subjects[i] if subjects is not None else None
            out.append(anonymize_text(value, spans, policy, keys, subject)[0] if spans else value)
        return pa.array(out, type=pa.string()), dict(counts)

    def one(value: str | None) -> str | None:
        if value is None:
            return None
        spans = spans_of.get(value, ())
        return anonymize_text(value, spans, policy, keys)[0] if spans else value

    for entry in pc.value_counts(values).to_pylist():
        text, n = entry["values"], entry["counts"]
        if text is not None:
            for span in spans_of.get(text, ()):
                counts[span.entity_type] += n
    return _map_values(values, one), dict(counts)


def anonymize_table(
    table: pa.Table, policy: Policy, keys: AnonymizationKeys | None = None, **kwargs: Any
) -> AnonymizeResult:
    """:func:`anonymize_table_job` run to its end in this thread."""
    return drive(anonymize_table_job(table, policy, keys, **kwargs))


# ---- writing the result ---------------------------------------------------------------------------------------


def output_format(path: str | Path, format: str | None = None) -> str:
    """The output format: ``format`` if given, else from the file suffix (csv, parquet, jsonl)."""
    if format is not None:
        fmt = format.lower().lstrip(".")
        fmt = {"pq": "parquet", "ndjson": "jsonl", "json": "jsonl"}.get(fmt, fmt)
        if fmt not in OUTPUT_FORMATS:
            raise OutputError(f"unknown output format {format!r}; choose one of: {', '.join(OUTPUT_FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMAT:
        raise OutputError(
            f"{Path(path).name}: cannot tell the output format from the suffix {suffix or '(none)'!r}; use .csv, "
            ".parquet or .jsonl, or name the format"
        )
    return _SUFFIX_FORMAT[suffix]


def default_output_path(source: str | Path, format: str = "csv") -> Path:
    """A new file next to ``source``: ``<stem>.anonymized.<ext>``, then ``...anonymized-2.<ext>`` and so on."""
    src = Path(source)
    ext = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}[output_format(src, format)]
    candidate = src.with_name(f"{src.stem}.anonymized{ext}")
    n = 2
    while candidate.exists():
        candidate = src.with_name(f"{src.stem}.anonymized-{n}{ext}")
        n += 1
    return candidate


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def write_output(
    table: pa.Table,
    path: str | Path,
    format: str | None = None,
    *,
    source: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Write an anonymized table as CSV, Parquet or JSON Lines, atomically.

    Parameters
    ----------
    table:
        The anonymized table.
    path:
        The output file.
    format:
        ``csv``, ``parquet`` or ``jsonl``; default: from the suffix of ``path``.
    source:
        The original file; writing over it is refused whatever ``overwrite`` says.
    overwrite:
        Replace an existing output file (never the source).

    Raises
    ------
    OutputError
        For the source file itself, an existing file without ``overwrite``, an unknown format, or an I/O error.
    """
    target = Path(path).expanduser()
    fmt = output_format(target, format)
    if source is not None and (_same_file(target, Path(source)) or target.resolve() == Path(source).resolve()):
        raise OutputError(
            f"{target}: this is the original dataset; the anonymized copy is written next to it, never over it "
            f"(for example {default_output_path(source, fmt).name})"
        )
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: the file exists; choose another name or allow overwriting it")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # sensitive: the copy may still hold personal data; on Linux a kill leaves no partial file (issue 11)
        with atomic_write(target, overwrite=overwrite, sensitive=True) as handle:
            _write(table, handle, fmt)
    except FileExistsError:  # it appeared while the copy was written: still never replaced
        raise OutputError(f"{target}: the file exists; choose another name or allow overwriting it") from None
    except OSError as exc:
        raise OutputError(f"{target}: could not write the anonymized copy ({exc.strerror or exc})") from None
    return target


def _write(table: pa.Table, handle: BinaryIO, fmt: str) -> None:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, handle)
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, handle)
    else:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="\n")
        try:
            for batch in table.to_batches(max_chunksize=10_000):
                for row in batch.to_pylist():
                    text.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            text.flush()
        finally:
            text.detach()  # the binary handle stays open for atomic_write to sync and publish


def register_output(
    project: Project,
    output: str | Path,
    *,
    parent: DatasetRecord | None,
    result: AnonymizeResult,
    policy: Policy,
    policy_id: int | None = None,
    keys: AnonymizationKeys | None = None,
) -> DatasetRecord:
    """Register the written anonymized file as a new dataset of ``project`` with its lineage.

    The lineage detail holds the policy id and name, the key id (not the keys), row and entity counts and the
    column treatments: enough to say how the copy was made, with no dataset values.
    """
    from workbench.core.data.load import load_dataset
    from workbench.core.project.registration import register_loaded

    ds = load_dataset(output)
    record = register_loaded(project, ds, path=output)
    detail = {
        "policy_id": policy_id,
        "policy_name": policy.name,
        "key_id": keys.key_id if keys is not None else None,
        "parent_fingerprint": parent.fingerprint if parent is not None else None,
        "treatments": {c: p.treatment.value for c, p in policy.columns},
        **result.summary(),
    }
    project.add_lineage(record.id, parent.id if parent is not None else None, "anonymize", detail)
    return record
