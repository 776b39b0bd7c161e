"""Generalization hierarchies: ARX's CSV format, and builders for intervals, dates and masking.

A hierarchy maps each value of a column to one label per level: level 0 is the value itself, the last level is the
most general (usually ``*``). ARX stores it as a CSV without a header, one row per value: column 0 the value, column
i its label at level i (``adult_hierarchy_age.csv``: ``39;35-39;30-39;20-39;*``). Reading and writing keep every
cell as text, so a file read and written back is the same (:func:`read_arx_csv`, :func:`write_arx_csv`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Hierarchy",
    "date_hierarchy",
    "interval_hierarchy",
    "masking_hierarchy",
    "ordered_hierarchy",
    "read_arx_csv",
    "read_arx_folder",
    "write_arx_csv",
]


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """One column's hierarchy: ``rows[i] = (value, label at level 1, ..., label at the top level)``."""

    column: str
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError(f"the hierarchy of {self.column!r} is empty")
        width = len(self.rows[0])
        if any(len(r) != width for r in self.rows):
            raise ValueError(f"the hierarchy of {self.column!r} has rows of different lengths")
        values = [r[0] for r in self.rows]
        if len(set(values)) != len(values):
            raise ValueError(f"the hierarchy of {self.column!r} lists a value twice")

    @property
    def height(self) -> int:
        """The number of levels, level 0 (the values) included."""
        return len(self.rows[0])

    def mapping(self, level: int) -> dict[str, str]:
        """value -> its label at ``level``."""
        return {r[0]: r[level] for r in self.rows}

    def is_monotonic(self) -> bool:
        """Whether values that share a label at one level share it at every higher level (a proper tree)."""
        for level in range(1, self.height - 1):
            parent: dict[str, str] = {}
            for r in self.rows:
                if parent.setdefault(r[level], r[level + 1]) != r[level + 1]:
                    return False
        return True


def read_arx_csv(path: str | Path, column: str | None = None, delimiter: str = ";") -> Hierarchy:
    """Read an ARX hierarchy CSV (no header; column 0 the value, column i level i)."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as f:
        rows = tuple(tuple(r) for r in csv.reader(f, delimiter=delimiter) if r)
    if column is None:
        column = path.stem.rsplit("hierarchy_", 1)[-1]
    return Hierarchy(column, rows)


def write_arx_csv(hierarchy: Hierarchy, path: str | Path | None = None, delimiter: str = ";") -> str:
    """Write ``hierarchy`` in ARX's CSV format (to ``path`` when given); returns the text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(hierarchy.rows)
    text = buffer.getvalue()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8", newline="")
    return text


def read_arx_folder(folder: str | Path, columns: Iterable[str], prefix: str = "") -> dict[str, Hierarchy]:
    """The hierarchies of ``columns`` from ``folder``: ``<prefix>hierarchy_<column>.csv`` or ``<column>.csv``."""
    folder = Path(folder)
    out = {}
    for column in columns:
        candidates = [folder / f"{prefix}hierarchy_{column}.csv", folder / f"{column}.csv"]
        candidates += sorted(folder.glob(f"*hierarchy_{column}.csv"))
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise FileNotFoundError(f"no hierarchy for {column!r} in {folder} (expected *hierarchy_{column}.csv)")
        out[column] = read_arx_csv(found, column)
    return out


def _fmt(x: float) -> str:
    x = round(float(x), 10)  # 0.1 steps would otherwise read 10114.800000000001
    return str(int(x)) if x.is_integer() else repr(x)


def interval_hierarchy(column: str, values: Iterable[float | int | str], widths: Sequence[float]) -> Hierarchy:
    """Numeric intervals: level i puts a value in ``[lo, lo + widths[i-1][`` aligned at 0 (ARX's interval label
    ``[lo, hi[``); each width must be a multiple of the one before, so that the levels nest; the top level is ``*``."""
    if any(w <= 0 for w in widths):
        raise ValueError("interval widths must be positive")
    for a, b in zip(widths, widths[1:], strict=False):
        if not math.isclose(b / a, round(b / a)):
            raise ValueError(f"each width must be a multiple of the one before ({a} then {b})")
    rows = []
    for raw in sorted({str(v) for v in values}, key=lambda s: float(s)):
        x = float(raw)
        labels = [raw]
        for w in widths:
            lo = math.floor(x / w) * w
            labels.append(f"[{_fmt(lo)}, {_fmt(lo + w)}[")
        labels.append("*")
        rows.append(tuple(labels))
    return Hierarchy(column, tuple(rows))


def date_hierarchy(column: str, values: Iterable[str | dt.date]) -> Hierarchy:
    """Dates (ISO ``YYYY-MM-DD``): day, month (``YYYY-MM``), year, decade (``2010-2019``), ``*``."""
    rows = []
    for raw in sorted({str(v) for v in values}):
        day = dt.date.fromisoformat(raw[:10])
        decade = day.year - day.year % 10
        rows.append((raw, f"{day.year:04d}-{day.month:02d}", f"{day.year:04d}", f"{decade}-{decade + 9}", "*"))
    return Hierarchy(column, tuple(rows))


def masking_hierarchy(column: str, values: Iterable[str], mask: str = "*") -> Hierarchy:
    """Masking right to left (ZIP codes, IDs): level i replaces the last i characters with ``mask``; values are
    right-aligned to the longest, so level ``max length`` is all masks, then ``*``."""
    texts = sorted({str(v) for v in values})
    width = max((len(t) for t in texts), default=0)
    rows = []
    for t in texts:
        padded = t.rjust(width, mask)
        labels = [t] + [padded[: width - i] + mask * i for i in range(1, width + 1)]
        if labels[-1] != "*":
            labels.append("*")
        rows.append(tuple(labels))
    return Hierarchy(column, tuple(rows))


def ordered_hierarchy(column: str, ordered_values: Sequence[str], group_sizes: Sequence[int]) -> Hierarchy:
    """Ordered categories: level i groups ``group_sizes[i-1]`` consecutive values (labelled ``first-last``); each
    size must be a multiple of the one before; the top level is ``*``."""
    for a, b in zip(group_sizes, group_sizes[1:], strict=False):
        if b % a:
            raise ValueError(f"each group size must be a multiple of the one before ({a} then {b})")
    values = [str(v) for v in ordered_values]
    rows = []
    for i, v in enumerate(values):
        labels = [v]
        for size in group_sizes:
            start = (i // size) * size
            stop = min(start + size, len(values)) - 1
            labels.append(values[start] if start == stop else f"{values[start]}-{values[stop]}")
        labels.append("*")
        rows.append(tuple(labels))
    return Hierarchy(column, tuple(rows))


def _nice_width(span: float) -> float:
    """The smallest 1, 2 or 5 x 10^e at least ``span / 20`` (about 20 intervals at the first level)."""
    target = max(span / 20.0, 1e-9)
    exponent = math.floor(math.log10(target))
    for step in (1, 2, 5, 10):
        width = step * 10.0**exponent
        if width >= target:
            return float(round(width, 12))
    return 10.0 ** (exponent + 1)


def _as_number(text: str) -> float | None:
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text[:10])
    except ValueError:
        return False
    return len(text) >= 10


def suggest_hierarchy(column: str, values: Iterable[object]) -> tuple[Hierarchy, str]:
    """A hierarchy for a column's values, and what it is (for the analyst to read): numbers get intervals (widths
    w, 2w, 4w, ... to the range, w about a twentieth of it), ISO dates day/month/year/decade, texts of one length
    (ZIP codes, IDs) masking from the right, other texts one level (the value, then ``*``). A missing value (as ARX
    reads it, an empty text) stays apart up to the top level."""
    texts = sorted({"" if v is None else str(v) for v in values})
    has_empty = "" in texts
    present = [t for t in texts if t != ""]
    numbers = [_as_number(t) for t in present]
    if present and len({len(t) for t in present}) == 1 and len(present[0]) >= 4 and all(t.isdigit() for t in present):
        h, what = masking_hierarchy(column, present), f"masking {len(present[0])} digits from the right"
    elif present and all(n is not None for n in numbers):
        low, high = min(n for n in numbers if n is not None), max(n for n in numbers if n is not None)
        width = _nice_width(high - low)
        widths = [width]
        while widths[-1] * 2 < (high - low) + width and len(widths) < 6:
            widths.append(widths[-1] * 2)
        h = interval_hierarchy(column, present, widths)
        what = f"intervals of {_fmt(widths[0])}" + (f" to {_fmt(widths[-1])}" if len(widths) > 1 else "")
    elif present and all(_is_iso_date(t) for t in present):
        h, what = date_hierarchy(column, present), "dates: month, year, decade"
    elif present and len({len(t) for t in present}) == 1 and len(present[0]) >= 2:
        h, what = masking_hierarchy(column, present), f"masking {len(present[0])} characters from the right"
    else:
        h, what = Hierarchy(column, tuple((t, "*") for t in present) or (("", "*"),)), "one level: the value, then *"
    if has_empty and any(r[0] == "" for r in h.rows) is False:
        h = Hierarchy(column, h.rows + (("",) * (h.height - 1) + ("*",),))
    return h, what
