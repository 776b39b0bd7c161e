"""The live preview: original and anonymized text of the visible rows, with the detected spans.

:func:`preview_rows` is fast because it never repeats the NER for a text it has seen with the same analyzer:
the raw detections are cached per text (:class:`~workbench.core.pii.analyzer.AnalyzerHandle`), and
everything that follows them (threshold, allow and deny lists, overlap resolution, operators) is cheap and
recomputed on every call. So changing an operator or a column's treatment costs no NER at all, and moving the
threshold only re-filters the cached results. The first preview of 50 notes runs the NER once (about a quarter
of a second on this machine; ``benchmarks/bench_preview_latency.py``).

The GUI runs it as a debounced, cancellable job in which the newest request wins
(``workbench.ui.qt_latest_job.QtLatestJob``: each request cancels the one before it, and a finished result is shown
only if its request is still the newest).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.core.jobs import CancelToken
from workbench.core.pii.analyzer import AnalyzerHandle, get_analyzer
from workbench.core.pii.engine import ReplacementSpan, anonymize_text, check_policy_against
from workbench.core.pii.keys import AnonymizationKeys
from workbench.core.pii.operators import OperatorContext, apply_operator
from workbench.core.pii.policy import ColumnTreatment, Policy
from workbench.core.pii.postprocess import DetectedSpan, resolve_spans
from workbench.core.pii.residual import let_through, residual_settings

if TYPE_CHECKING:
    import pyarrow as pa

PREVIEW_CHUNK = 16
"""Texts per NER batch in a preview; the cancel token is checked between batches."""


@dataclass(frozen=True, slots=True)
class PreviewCell:
    """One cell, before and after.

    Attributes
    ----------
    column:
        Column name.
    treatment:
        The column's treatment (``keep``, ``drop``, ``entity``, ``free_text``).
    original:
        The cell as text (``None`` for a missing value).
    anonymized:
        What the anonymized copy will hold (``None`` for a missing value or a dropped column).
    spans:
        Detected spans on ``original`` (an ``entity`` column: one span over the whole value).
    replacements:
        Where each replacement sits in ``anonymized``, in the same order as ``spans``.
    """

    column: str
    treatment: str
    original: str | None
    anonymized: str | None
    spans: tuple[DetectedSpan, ...] = ()
    replacements: tuple[ReplacementSpan, ...] = ()


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One row of the preview; ``row`` is its index in the dataset."""

    row: int
    cells: tuple[PreviewCell, ...]


@dataclass(frozen=True, slots=True)
class PreviewResult:
    """The preview of a slice of rows.

    Attributes
    ----------
    columns:
        Column names, in table order.
    rows:
        One :class:`PreviewRow` per row of the slice.
    legend:
        ``(entity_type, count)`` of the spans in the slice, most frequent first.
    texts_analyzed:
        Texts that had to go through the NER in this call (0 when everything came from the cache).
    elapsed_ms:
        Time the call took.
    """

    columns: tuple[str, ...]
    rows: tuple[PreviewRow, ...]
    legend: tuple[tuple[str, int], ...]
    texts_analyzed: int
    elapsed_ms: float
    let_through: tuple[tuple[str, int], ...] = ()
    """What the low-threshold scan (:data:`~workbench.core.pii.residual.RESIDUAL_THRESHOLD`) finds in the original
    free text that the policy does not change: below its threshold or a type it does not select."""
    kept: tuple[tuple[str, int], ...] = ()
    """Detections in the original free text that an operator leaves unchanged (``keep``)."""
    threshold: float = 0.0

    @property
    def legend_counts(self) -> dict[str, int]:
        return dict(self.legend)

    def let_through_sentence(self) -> str:
        """What the policy lets through in these rows, for beside the slider ('' when nothing)."""
        from workbench.core.pii.residual import let_through_sentence

        return let_through_sentence(self.threshold, dict(self.let_through), dict(self.kept))


def warm_up(policy: Policy | None = None) -> AnalyzerHandle:
    """Build the policy's analyzer and run it once, so the first preview does not pay for loading (~2-4 s).

    Call it from a background job when the PII page opens.
    """
    handle = get_analyzer((policy or Policy()).analyzer_settings())
    handle.analyze_raw(["Warm-up text for Jane Doe in Springfield on 2024-01-02."], use_cache=False)
    return handle


def preview_rows(
    table_slice: pa.Table,
    policy: Policy,
    keys: AnonymizationKeys | None,
    token: CancelToken | None = None,
    *,
    row_offset: int = 0,
    analyzer: AnalyzerHandle | None = None,
) -> PreviewResult:
    """Original and anonymized cells of ``table_slice`` under ``policy`` (see the module docstring).

    Parameters
    ----------
    table_slice:
        The visible rows (``table.slice(first, count)``); not modified.
    policy:
        The policy being edited.
    keys:
        The project's keys (``None``: keyed operators raise :class:`~workbench.core.pii.operators.OperatorError`).
    token:
        Checked between NER batches and between rows; raises :class:`~workbench.core.errors.JobCancelled`.
    row_offset:
        Dataset index of the slice's first row (for :attr:`PreviewRow.row`).
    analyzer:
        The analyzer (default: the policy's).
    """
    started = time.perf_counter()
    token = token or CancelToken()
    names = list(table_slice.column_names)
    check_policy_against(policy, names, keys)
    handle = analyzer or get_analyzer(policy.analyzer_settings())
    settings = policy.detection_settings()
    columns: dict[str, list[Any]] = {name: table_slice.column(name).to_pylist() for name in names}
    treatments = {name: policy.column(name) for name in names}

    free = [name for name in names if treatments[name].treatment is ColumnTreatment.FREE_TEXT]
    before = handle.texts_analyzed
    raw = _raw_spans([columns[name] for name in free], handle, token)
    analyzed = handle.texts_analyzed - before

    subjects = columns.get(policy.subject_column) if policy.subject_column else None
    legend: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    low = residual_settings(policy)
    rows: list[PreviewRow] = []
    for r in range(table_slice.num_rows):
        token.raise_if_cancelled()
        subject = None if subjects is None or subjects[r] is None else str(subjects[r])
        cells = []
        for name in names:
            value = columns[name][r]
            cell_text = None if value is None else str(value)
            cell = _cell(name, cell_text, treatments[name].treatment, policy, keys, subject, raw, settings)
            legend.update(s.entity_type for s in cell.spans)
            if cell.treatment == "free_text" and cell.original:
                p, k = let_through(cell.original, raw.get(cell.original, ()), cell.spans, cell.replacements, low)
                passed.update(s.entity_type for s in p)
                kept.update(s.entity_type for s in k)
            cells.append(cell)
        rows.append(PreviewRow(row_offset + r, tuple(cells)))
    elapsed = (time.perf_counter() - started) * 1000.0
    return PreviewResult(
        tuple(names),
        tuple(rows),
        _ordered(legend),
        analyzed,
        elapsed,
        _ordered(passed),
        _ordered(kept),
        policy.threshold,
    )


def _ordered(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _raw_spans(columns: list[list[Any]], handle: AnalyzerHandle, token: CancelToken) -> dict[str, Any]:
    """Raw detections of the distinct free texts; the NER runs in small batches so a newer request can cancel
    this one."""
    texts = list(dict.fromkeys(v for values in columns for v in values if isinstance(v, str) and v.strip()))
    raw: dict[str, Any] = {}
    for i in range(0, len(texts), PREVIEW_CHUNK):
        token.raise_if_cancelled()
        chunk = texts[i : i + PREVIEW_CHUNK]
        for text, spans in zip(chunk, handle.analyze_raw(chunk, batch_size=PREVIEW_CHUNK), strict=True):
            raw[text] = spans
    return raw


def _cell(
    column: str,
    text: str | None,
    treatment: ColumnTreatment,
    policy: Policy,
    keys: AnonymizationKeys | None,
    subject: str | None,
    raw: Mapping[str, Any],
    settings: Any,
) -> PreviewCell:
    if text is None:
        return PreviewCell(column, treatment.value, None, None)
    if treatment is ColumnTreatment.KEEP:
        return PreviewCell(column, treatment.value, text, text)
    if treatment is ColumnTreatment.DROP:
        return PreviewCell(column, treatment.value, text, None)
    if treatment is ColumnTreatment.ENTITY:
        if not text.strip():
            return PreviewCell(column, treatment.value, text, text)
        config = policy.operator_for_column(column)
        entity_type = policy.column(column).entity_type or ""
        assert config is not None
        new = apply_operator(config, text, OperatorContext(entity_type, keys, subject))
        span = DetectedSpan(0, len(text), entity_type, 1.0)
        return PreviewCell(
            column,
            treatment.value,
            text,
            new,
            (span,),
            (ReplacementSpan(0, len(new), entity_type, config.operator),),
        )
    spans = resolve_spans(text, raw.get(text, ()), settings) if text.strip() else ()
    new, replacements = anonymize_text(text, spans, policy, keys, subject)
    return PreviewCell(column, treatment.value, text, new, spans, replacements)
