"""The residual check: what personal data is still in an anonymized output (issue 13).

After every preview and every apply, the anonymized free text is scanned again with the full recognizer set (every
entity type, whatever the policy selects) at the low threshold :data:`RESIDUAL_THRESHOLD`, with the policy's allow
and deny lists. Spans the operators wrote (pseudonyms, tokens, masks, ``<PERSON>`` markers: their offsets in the
output are recorded when the operators run, see :class:`~workbench.core.pii.engine.ReplacementSpan`) are known, so
a detection overlapping one of them is never residue; a detection on a value an operator left unchanged (``keep``)
is reported as *kept*, not as residue. Everything else the scan finds is residue.

Columns: the free-text columns are scanned. ``entity`` columns hold operator output only, and ``keep`` columns are
the policy's explicit choice (the default policy never keeps a direct identifier).

Apply over a whole dataset checks every text cell up to :data:`FULL_CHECK_MAX_CELLS`; above that a uniform random
sample of :data:`SAMPLE_CELLS` cells (seeded) is checked, and :meth:`ResidualReport.statement` gives the one-sided
95 % upper bound of the share of cells holding residue (rule of three for zero: fewer than 3/n).

Before Apply, :func:`let_through` compares what the detector finds at the policy's threshold with what it finds at
the low threshold on the *original* text (the preview's cached detections, no extra NER): a threshold, an entity
selection or a ``keep`` operator that lets detected entities through is said beside the slider.

Examples are masked (:func:`mask_example`) and only ever shown in the window; reports written to logs, lineage and
JSON hold counts only.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle
from workbench.core.pii.analyzer import AnalyzerHandle, RawSpan, get_analyzer, iter_raw_analysis
from workbench.core.pii.postprocess import DetectedSpan, DetectionSettings, resolve_spans

if TYPE_CHECKING:
    from workbench.core.pii.engine import AnonymizeResult, ReplacementSpan
    from workbench.core.pii.policy import Policy
    from workbench.core.pii.preview import PreviewResult

RESIDUAL_THRESHOLD = 0.3
"""Score threshold of the residual scan: lower than any sensible policy threshold (default 0.4), so what a policy
lets through just below its own threshold is still found."""
FULL_CHECK_MAX_CELLS = 20_000
"""Up to this many text cells, Apply checks all of them; above, a sample of :data:`SAMPLE_CELLS`."""
SAMPLE_CELLS = 2_000
SAMPLE_SEED = 20261202
MAX_EXAMPLES = 3
"""Masked examples kept per entity type."""


def residual_settings(policy: Policy | None) -> DetectionSettings:
    """The residual scan's settings: :data:`RESIDUAL_THRESHOLD`, every entity type, the policy's allow and deny
    lists (an allow-listed value is not personal data by the analyst's decision)."""
    if policy is None:
        return DetectionSettings.create(threshold=RESIDUAL_THRESHOLD)
    return DetectionSettings.create(
        threshold=RESIDUAL_THRESHOLD,
        allow_list=policy.allow_list,
        deny_list=dict(policy.deny_list),
        relative_dates=policy.relative_dates,
    )


def _overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def classify(
    text: str, raw: Sequence[RawSpan], inserted: Sequence[ReplacementSpan], settings: DetectionSettings
) -> tuple[list[DetectedSpan], list[DetectedSpan]]:
    """``(residue, kept)`` among the detections in the anonymized ``text``: a detection overlapping what an
    operator wrote is neither; one overlapping only values an operator left unchanged is kept."""
    residue: list[DetectedSpan] = []
    kept: list[DetectedSpan] = []
    for span in resolve_spans(text, raw, settings):
        over = [r for r in inserted if _overlap(span.start, span.end, r.start, r.end)]
        if any(r.changed for r in over):
            continue
        (kept if over else residue).append(span)
    return residue, kept


def mask_example(value: str) -> str:
    """``value`` with every letter and digit but the first replaced by a bullet (``5•• •••-••••``)."""
    return "".join(ch if i == 0 or not ch.isalnum() else "\u2022" for i, ch in enumerate(value))


def upper_bound_95(hits: int, n: int) -> float:
    """One-sided 95 % upper confidence bound of a proportion: exact for 0 hits (``1 - 0.05**(1/n)``, about 3/n:
    the rule of three), Wilson score otherwise."""
    if n <= 0:
        return 1.0
    if hits <= 0:
        return 1.0 - 0.05 ** (1.0 / n)
    z = 1.6449
    p = hits / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + margin) / (1 + z * z / n))


@dataclass(frozen=True, slots=True)
class ResidualReport:
    """What the residual scan found.

    Attributes
    ----------
    threshold:
        Score threshold of the scan (:data:`RESIDUAL_THRESHOLD`).
    cells_total, cells_checked:
        Non-blank text cells in the output, and how many were scanned (all, or a sample).
    sampled:
        Whether ``cells_checked`` is a uniform random sample (seed ``seed``).
    cells_with_residue:
        Checked cells holding at least one residue.
    residue, kept:
        ``(entity_type, spans)``: detections no operator touched, and detections on values an operator kept.
    examples:
        ``(entity_type, masked values)`` of the residue, for the window only (never logged or written).
    """

    threshold: float
    cells_total: int
    cells_checked: int
    sampled: bool
    cells_with_residue: int
    residue: tuple[tuple[str, int], ...] = ()
    kept: tuple[tuple[str, int], ...] = ()
    examples: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), repr=False)
    seed: int | None = None

    @property
    def residue_counts(self) -> dict[str, int]:
        return dict(self.residue)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.residue)

    def upper_bound(self) -> float:
        """95 % upper bound of the share of all text cells holding residue (exact when nothing was sampled)."""
        if not self.sampled:
            return self.cells_with_residue / self.cells_total if self.cells_total else 0.0
        return upper_bound_95(self.cells_with_residue, self.cells_checked)

    def statement(self) -> str:
        """One sentence: what was checked, what remained, and for a sample the confidence statement."""
        found = ", ".join(f"{k} {v:,}" for k, v in self.residue)
        what = f"{self.total:,} residue(s) ({found}) in {self.cells_with_residue:,} cell(s)" if found else "0 residues"
        if not self.sampled:
            return (
                f"residual check at threshold {self.threshold:g}: all {self.cells_checked:,} text cells checked, {what}"
            )
        share = f"{100 * self.upper_bound():.2g} %"
        return (
            f"residual check at threshold {self.threshold:g}: {what} in a uniform random sample of "
            f"{self.cells_checked:,} of {self.cells_total:,} text cells; with 95 % confidence fewer than {share} of "
            "cells hold residue"
        )

    def to_json(self) -> dict[str, Any]:
        """Counts only (no examples): for ``--json``, the lineage and the audit log."""
        return {
            "threshold": self.threshold,
            "cells_total": self.cells_total,
            "cells_checked": self.cells_checked,
            "sampled": self.sampled,
            "seed": self.seed,
            "cells_with_residue": self.cells_with_residue,
            "residue_counts": dict(self.residue),
            "kept_counts": dict(self.kept),
            "upper_bound_95": round(self.upper_bound(), 6),
            "statement": self.statement(),
        }


def _ordered(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def check_cells_job(
    cells: Sequence[tuple[str, Sequence[ReplacementSpan]]],
    policy: Policy | None,
    *,
    cells_total: int | None = None,
    sampled: bool = False,
    seed: int | None = None,
    analyzer: AnalyzerHandle | None = None,
    token: CancelToken | None = None,
    workers: int | None = 1,
) -> JobGenerator[ResidualReport]:
    """Scan anonymized text cells ``(text, where the operators wrote)``; each distinct text is analysed once."""
    token = token or CancelToken()
    weight: Counter[str] = Counter()
    inserted: dict[str, Sequence[ReplacementSpan]] = {}
    for text, spans in cells:
        if text and text.strip():
            weight[text] += 1
            inserted.setdefault(text, spans)
    texts = list(weight)
    settings = residual_settings(policy)
    residue: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    dirty = 0
    if texts:
        handle = analyzer or get_analyzer(policy.analyzer_settings() if policy is not None else None)
        throttle = Throttle(0.1)
        yield Progress("checking for residual personal data", 0, len(texts), "texts")
        for done, (index, raw) in enumerate(iter_raw_analysis(handle, texts, token=token, workers=workers), 1):
            text = texts[index]
            found, kept_here = classify(text, raw, inserted[text], settings)
            n = weight[text]
            kept.update(_count(kept_here, n))
            if found:
                dirty += n
                residue.update(_count(found, n))
                for s in found:
                    shown = examples.setdefault(s.entity_type, [])
                    if len(shown) < MAX_EXAMPLES:
                        shown.append(mask_example(text[s.start : s.end]))
            if throttle.ready():
                yield Progress("checking for residual personal data", done, len(texts), "texts")
    checked = sum(weight.values())
    return ResidualReport(
        threshold=settings.threshold,
        cells_total=cells_total if cells_total is not None else checked,
        cells_checked=checked,
        sampled=sampled,
        cells_with_residue=dirty,
        residue=_ordered(residue),
        kept=_ordered(kept),
        examples=tuple(sorted((k, tuple(v)) for k, v in examples.items())),
        seed=seed if sampled else None,
    )


def _count(spans: Iterable[DetectedSpan], n: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for s in spans:
        counts[s.entity_type] += n
    return counts


def residual_check_table_job(
    result: AnonymizeResult,
    policy: Policy,
    *,
    analyzer: AnalyzerHandle | None = None,
    token: CancelToken | None = None,
    workers: int | None = None,
    max_full: int = FULL_CHECK_MAX_CELLS,
    sample_size: int = SAMPLE_CELLS,
    seed: int = SAMPLE_SEED,
) -> JobGenerator[ResidualReport]:
    """Scan the free-text columns of an anonymized table: every non-blank cell, or above ``max_full`` cells a
    uniform random sample of ``sample_size`` (seeded, so a rerun checks the same cells)."""
    import pyarrow as pa

    texts: list[str] = []
    for column in result.text_columns:
        if column in result.table.column_names:
            values = result.table.column(column).cast(pa.string()).to_pylist()
            texts.extend(v for v in values if v is not None and v.strip())
    total = len(texts)
    sampled = total > max_full
    if sampled:
        chosen = sorted(random.Random(seed).sample(range(total), min(sample_size, total)))
        texts = [texts[i] for i in chosen]
    cells = [(t, result.inserted.get(t, ())) for t in texts]
    report = yield from check_cells_job(
        cells, policy, cells_total=total, sampled=sampled, seed=seed, analyzer=analyzer, token=token, workers=workers
    )
    return report


def preview_residual_job(
    preview: PreviewResult,
    policy: Policy,
    *,
    analyzer: AnalyzerHandle | None = None,
    token: CancelToken | None = None,
) -> JobGenerator[ResidualReport]:
    """Scan the anonymized free-text cells of a preview (all of them: a preview is small)."""
    cells = [
        (c.anonymized, c.replacements)
        for row in preview.rows
        for c in row.cells
        if c.treatment == "free_text" and c.anonymized
    ]
    report = yield from check_cells_job(cells, policy, analyzer=analyzer, token=token, workers=1)
    return report


def let_through(
    text: str,
    raw: Sequence[RawSpan],
    spans: Sequence[DetectedSpan],
    replacements: Sequence[ReplacementSpan],
    settings: DetectionSettings,
) -> tuple[list[DetectedSpan], list[DetectedSpan]]:
    """``(passed, kept)`` on an original ``text``: what the low-threshold scan finds that the policy's ``spans``
    (with their ``replacements``, same order) do not change. ``passed``: not covered by any span of the policy
    (below its threshold, or a type it does not select); ``kept``: covered only by values an operator kept."""
    passed: list[DetectedSpan] = []
    kept: list[DetectedSpan] = []
    for low in resolve_spans(text, raw, settings):
        over = [r for s, r in zip(spans, replacements, strict=True) if _overlap(low.start, low.end, s.start, s.end)]
        if any(r.changed for r in over):
            continue
        (kept if over else passed).append(low)
    return passed, kept


def let_through_sentence(threshold: float, passed: Mapping[str, int], kept: Mapping[str, int]) -> str:
    """What the policy lets through in the previewed rows, for beside the slider ('' when nothing)."""
    parts = []
    if passed:
        listed = ", ".join(f"{k} {v}" for k, v in sorted(passed.items(), key=lambda kv: (-kv[1], kv[0])))
        parts.append(
            f"At {threshold:.2f} the policy lets through what the detector finds at {RESIDUAL_THRESHOLD:g}: {listed}"
        )
    if kept:
        listed = ", ".join(f"{k} {v}" for k, v in sorted(kept.items(), key=lambda kv: (-kv[1], kv[0])))
        parts.append(f"kept unchanged by the operators: {listed}")
    return "; ".join(parts) + (" (in the previewed rows)." if parts else "")
