"""Getting the Anonymize page ready ahead of time (workbench.core.pii.warmup) and the column sample it relies on."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest

from workbench.core.jobs import CancelToken, drive
from workbench.core.pacing import ActivityClock, Pacer
from workbench.core.pii.column_detect import _sample, detect_columns
from workbench.core.pii.warmup import warm_up_job


def _reference_sample(values: list[Any], size: int) -> list[str]:
    """The sample as it was computed from the whole column as a Python list (before it was made lazy)."""
    seen: dict[str, None] = {}
    n = len(values)
    step = max(1, n // (size * 2)) if n else 1
    for i in list(range(0, n, step)) + list(range(n)):
        value = values[i]
        if value is None or isinstance(value, bool):
            continue
        text = str(value).strip()
        if text:
            seen.setdefault(text, None)
        if len(seen) >= size:
            break
    return list(seen)


@pytest.mark.parametrize("seed", range(6))
def test_lazy_sample_equals_the_whole_column_sample(seed: int) -> None:
    rnd = random.Random(seed)
    n = rnd.choice([0, 1, 7, 100, 5_000, 20_011])
    pool = [None, "", "  ", "a", "b", " c ", "dd"] + [f"v{i}" for i in range(rnd.choice([1, 5, 40, 10_000]))]
    values = [rnd.choice(pool) for _ in range(n)]
    chunks = [values[i : i + 777] for i in range(0, n, 777)] or [[]]
    column = pa.chunked_array([pa.array(c, type=pa.string()) for c in chunks])
    for size in (1, 3, 30):
        assert _sample(column, size, block=256) == _reference_sample(values, size)


def test_lazy_sample_of_numbers_and_booleans() -> None:
    ints = pa.chunked_array([pa.array([1, None, 1, 2, 3] * 50)])
    assert _sample(ints, 30) == _reference_sample(ints.to_pylist(), 30)
    flags = pa.chunked_array([pa.array([True, False, None] * 10)])
    assert _sample(flags, 30) == []


def test_warm_up_job_builds_the_analyzer_and_detects_the_columns() -> None:
    from workbench.core.pii.analyzer import get_analyzer

    table = pa.table(
        {
            "email": ["ann@example.org", "bob@example.com", "cy@example.net"],
            "note": ["Call Jane Doe at 555-0100 tomorrow.", "Seen by Dr. Smith in Boston.", "No complaints today."],
            "count": [1, 2, 3],
        }
    )
    result = drive(warm_up_job(None, table, CancelToken()))
    assert result.detections is not None
    assert [d.column for d in result.detections] == ["email", "note", "count"]
    assert result.detections == detect_columns(table)
    assert set(result.seconds) == {
        "importing spaCy and Presidio",
        "loading the language model",
        "analysing a first text",
        "detecting personal data in the columns",
        "analysing the rows the preview shows",
    }
    # the notes the first preview shows are in the analyzer's cache: that preview only applies operators
    cache = get_analyzer().cache
    assert all(cache.get(text) is not None for text in table.column("note").to_pylist())


def test_warm_up_analyses_only_the_rows_the_preview_shows() -> None:
    from workbench.core.pii.analyzer import get_analyzer

    notes = [f"Patient number {i} was seen by Dr. Rivera on ward {i % 7}." for i in range(200)]
    table = pa.table({"text": notes})
    drive(warm_up_job(None, table, CancelToken(), free_text=("text",), preview_rows=5))
    cache = get_analyzer().cache
    # column detection looks at every third note (200 // 60); the preview's rows 0-4 are all analysed, no others
    assert [cache.get(notes[i]) is not None for i in (1, 2, 4)] == [True] * 3
    assert [cache.get(notes[i]) is not None for i in (5, 7, 8, 10, 11)] == [False] * 5


def test_warm_up_without_a_table_detects_nothing() -> None:
    result = drive(warm_up_job(None, None, CancelToken()))
    assert result.detections is None
    assert "detecting personal data in the columns" not in result.seconds


def test_warm_up_gives_way_to_an_active_user_until_hurried() -> None:
    clock = ActivityClock()
    clock.touch()
    pacer = Pacer(clock, quiet_s=60.0, poll_s=0.01)
    job = warm_up_job(None, None, CancelToken(), pacer)
    first = next(job)
    assert first.done == 0
    pacer.hurry()  # without this the next step would wait a minute for the user to be idle
    result = drive(job)
    assert result.detections is None


def test_cancelled_warm_up_stops_between_steps() -> None:
    from workbench.core.errors import JobCancelled

    token = CancelToken()
    job = warm_up_job(None, None, token)
    next(job)
    token.cancel()
    with pytest.raises(JobCancelled):
        next(job)
