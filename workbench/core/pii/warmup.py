"""Getting the Anonymize page ready ahead of time, as one paced job: load the analyzer, run it once, and detect the
columns of the dataset on show.

Loading spaCy and Presidio and building the analyzer takes 2-4 s and the first analysis pays for compiling the
recognizers' patterns; column detection runs the analyzer over a sample of each column. Done when the page opens,
the analyst waited for all of it before the first preview. Done in the background while another page is shown,
each step waits for the user to be idle (:class:`~workbench.core.pacing.Pacer`), so the table being scrolled keeps
repainting on time; when the page opens the job is hurried and runs its remaining steps at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.core.pacing import Pacer

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.core.pii.analyzer import AnalyzerSettings
    from workbench.core.pii.column_detect import ColumnDetection

PHASE = "getting the personal-data analyzer ready"
WARM_UP_TEXT = "Warm-up text for Jane Doe in Springfield on 2024-01-02, phone 555-0100."


@dataclass(frozen=True, slots=True)
class WarmUpResult:
    """What the job did: the columns' detections (``None`` without a table) and where the time went."""

    detections: tuple[ColumnDetection, ...] | None
    seconds: dict[str, float]
    waited_s: float
    """Time spent giving way to the user (included in no step)."""


def warm_up_job(
    settings: AnalyzerSettings | None,
    table: pa.Table | None,
    token: CancelToken,
    pacer: Pacer | None = None,
    *,
    free_text: tuple[str, ...] = (),
    preview_rows: int = 50,
) -> JobGenerator[WarmUpResult]:
    """Import the NLP stack, build the analyzer for ``settings`` (default: the default analyzer), analyse one text,
    then (with ``table``) detect its columns and analyse the free text of its first ``preview_rows`` rows (the
    columns in ``free_text`` and those detected as free text) into the analyzer's cache, so that the first preview
    only applies operators; ``pacer`` is consulted before every step and every small batch of texts."""
    from workbench.core.pii.analyzer import get_analyzer, import_nlp_stack

    pacer = pacer or Pacer(None)
    seconds: dict[str, float] = {}
    handle: list[Any] = []
    steps: list[tuple[str, Callable[[], None]]] = [
        ("importing spaCy and Presidio", import_nlp_stack),
        ("loading the language model", lambda: handle.append(get_analyzer(settings))),
        ("analysing a first text", lambda: handle[0].analyze_raw([WARM_UP_TEXT], use_cache=False)),
    ]
    total = len(steps) + (2 if table is not None else 0)
    for done, (message, step) in enumerate(steps):
        yield Progress(PHASE, done, total, "steps", message)
        pacer.pace(token)
        started = time.perf_counter()
        step()
        seconds[message] = time.perf_counter() - started
    detections = None
    if table is not None:
        yield Progress(PHASE, len(steps), total, "steps", "detecting personal data in the columns")
        started, waited = time.perf_counter(), pacer.waited_s
        detections = yield from _paced_detection(table, token, pacer)
        seconds["detecting personal data in the columns"] = time.perf_counter() - started - (pacer.waited_s - waited)
        yield Progress(PHASE, len(steps) + 1, total, "steps", "analysing the rows the preview shows")
        started, waited = time.perf_counter(), pacer.waited_s
        wanted = set(free_text) | {d.column for d in detections if d.kind.value == "free_text"}
        columns = [c for c in table.column_names if c in wanted]
        _analyse_first_rows(handle[0], table, columns, preview_rows, pacer, token)
        seconds["analysing the rows the preview shows"] = time.perf_counter() - started - (pacer.waited_s - waited)
    yield Progress(PHASE, total, total, "steps", "ready")
    return WarmUpResult(detections, seconds, pacer.waited_s)


def _analyse_first_rows(
    handle: Any, table: pa.Table, columns: list[str], rows: int, pacer: Pacer, token: CancelToken, batch: int = 8
) -> None:
    """The distinct texts of ``columns`` in the first ``rows`` rows through the analyzer's cache, a few at a time."""
    head = table.slice(0, rows)
    values = (v for name in columns for v in head.column(name).to_pylist())
    texts = list(dict.fromkeys(v for v in values if isinstance(v, str) and v.strip()))
    for i in range(0, len(texts), batch):
        pacer.pace(token)
        handle.analyze_raw(texts[i : i + batch], batch_size=batch)


def _paced_detection(table: pa.Table, token: CancelToken, pacer: Pacer) -> JobGenerator[tuple[ColumnDetection, ...]]:
    """Column detection (:func:`~workbench.core.pii.column_detect.detect_columns_job`), pacing between columns."""
    from workbench.core.pii.column_detect import detect_columns_job

    inner = detect_columns_job(table, token)
    try:
        progress = next(inner)
        while True:
            yield progress
            pacer.pace(token)
            progress = inner.send(None)
    except StopIteration as stop:
        result: tuple[ColumnDetection, ...] = stop.value
        return result
