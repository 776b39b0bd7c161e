"""Three ways a text file is read wrong without a word, and the checks that say so before anything is stored.

1. **A header row that is data.** A headerless CSV would turn its first record into column names, which
   ``info`` prints and a project keeps. :func:`first_row_looks_like_data` compares the first record with the
   records below it and answers only on clear evidence (see its docstring); the loader then refuses unless the
   analyst said ``header=True`` (use it as names anyway, with a warning) or ``header=False`` (it is data; the
   columns are named ``column_1`` ... ``column_n``).
2. **An unclosed quote.** A quote that is never closed swallows the rest of the file into one value: Arrow
   reads it without complaint. :func:`find_unclosed_quote` scans the file (streaming, bounded memory) with the
   same quoting rules and names the line where the quote opened and how many lines follow it.
3. **Mixed encodings.** A file that mixes UTF-8 with Latin-1 bytes fails strict UTF-8 detection and would be
   read as Latin-1/cp1252, turning every UTF-8 character into two (``é`` read as ``Ã©``); UTF-8-encoded lone
   surrogates (CESU-8/WTF-8) likewise. :func:`scan_encoding` counts, in one streaming pass, the byte sequences
   that are valid multi-byte UTF-8, those that are encoded surrogates and the bytes that fit no UTF-8, with
   the first few offsets of each.

Each refusal is a :class:`MisreadError` (a :class:`~workbench.core.errors.DatasetError`) whose :attr:`kind`
lets a window ask the question instead of only showing the sentence. Messages hold line numbers, byte offsets
and counts, never a value of the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from workbench.core.errors import DatasetError
from workbench.core.jobs import CancelToken

HEADER = "header"
UNCLOSED_QUOTE = "unclosed_quote"
ENCODING = "encoding"

HEADER_SAMPLE_RECORDS = 200
"""Records below the first one that :func:`first_row_looks_like_data` compares it with."""

OFFSETS_SHOWN = 5
"""How many byte offsets a message names (then a count)."""

SCAN_CHUNK = 1 << 20

HEADER_HINT = (
    "pass --header to use it as column names anyway, or --no-header to read it as data "
    "(columns named column_1, column_2, ...)"
)


class Source(Protocol):
    """What the checks read: :class:`~workbench.core.data.loaders.base.LoadSource` (not imported: the loaders
    import this module)."""

    @property
    def path(self) -> Path: ...

    def open_binary(self) -> BinaryIO: ...


class MisreadError(DatasetError):
    """A load refused because the file would be read wrong without a word; :attr:`kind` says which check.

    ``kind`` is :data:`HEADER`, :data:`UNCLOSED_QUOTE` or :data:`ENCODING`. ``detail`` holds the check's
    findings (line numbers, offsets, counts: never values) for a window that asks the analyst.
    """

    def __init__(self, path: str | Path, problem: str, kind: str, detail: object = None) -> None:
        super().__init__(path, problem)
        self.kind = kind
        self.detail = detail


# --- 1. a header row that looks like data -----------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)?|\.\d+)(?:[eE][+-]?\d+)?%?")
_DATE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"
)
_MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "?", ".", "nil", "missing"})


def _kind_of(value: str) -> str | None:
    text = value.strip()
    if text.lower() in _MISSING:
        return None
    if _NUMBER.fullmatch(text):
        return "number"
    if _DATE.fullmatch(text):
        return "date"
    return "text"


def _is_year(value: str) -> bool:
    text = value.strip()
    return text.isdigit() and len(text) == 4 and 1800 <= int(text) <= 2100


def _label_sequence(header: Sequence[str], typed: set[int]) -> bool:
    """True when the numeric first-row cells above numeric columns are column labels: a run of consecutive
    integers across the row (``1, 2, 3``; pandas writes ``0, 1, 2, ...`` for unnamed columns)."""
    cells = [header[j].strip() for j in sorted(typed)]
    if cells and all(c.isdigit() for c in cells) and len(set(cells)) == len(cells):
        numbers = [int(c) for c in cells]
        if len(numbers) >= 2 and all(b - a == 1 for a, b in zip(numbers, numbers[1:], strict=False)):
            return True
    return False


@dataclass(frozen=True, slots=True)
class HeaderVerdict:
    """Why the first record looks like data: the 1-based columns with each kind of evidence."""

    same_type: tuple[int, ...]
    repeated: tuple[int, ...]

    def reason(self) -> str:
        parts = []
        if self.same_type:
            parts.append(f"in {_columns(self.same_type)} it has the same type (number or date) as every value below it")
        if self.repeated:
            parts.append(f"in {_columns(self.repeated)} its value repeats in the rows below, as data values do")
        return "; ".join(parts)


def _columns(positions: Sequence[int]) -> str:
    shown = ", ".join(str(p) for p in positions[:OFFSETS_SHOWN])
    more = f" and {len(positions) - OFFSETS_SHOWN} more" if len(positions) > OFFSETS_SHOWN else ""
    return f"column{'s' if len(positions) > 1 else ''} {shown}{more}"


def first_row_looks_like_data(records: Sequence[Sequence[str]]) -> HeaderVerdict | None:
    """Whether the first record of a delimited file looks like a data row rather than column names.

    Compared with the records below it that have the same number of fields (at least two of them), column by
    column:

    * *header evidence*: a column whose values below are all numbers (or all dates) has a first cell that is
      text, e.g. ``age`` above ``34, 51, ...``. Any such column means the first row is a header: no alarm.
    * *data evidence*: a typed column whose first cell has the same type (``1`` above ``2, 3, ...``), except
      years above columns that are not years and a run of consecutive integers across the row (labels such as
      ``2019, 2020`` or ``1, 2, 3``); or a first cell of two or more characters that repeats among the values
      below it (column names are labels, not values).

    Returns a :class:`HeaderVerdict` when there is data evidence and no header evidence, else ``None``.
    Conservative on purpose: a false alarm stops a load.
    """
    if len(records) < 3:
        return None
    header = [cell.strip() for cell in records[0]]
    width = len(header)
    # rows that repeat the first row (files concatenated with their headers) say nothing about it
    body = [
        row
        for row in records[1 : HEADER_SAMPLE_RECORDS + 1]
        if len(row) == width and [cell.strip() for cell in row] != header
    ]
    if width == 0 or len(body) < 2:
        return None
    typed: dict[int, str] = {}
    repeated: list[int] = []
    for j in range(width):
        values = [row[j].strip() for row in body]
        kinds = {k for k in map(_kind_of, values) if k is not None}
        first = _kind_of(header[j])
        if len(kinds) == 1 and kinds != {"text"} and sum(1 for v in values if _kind_of(v)) >= 2:
            kind = next(iter(kinds))
            if first == "text":
                return None  # header evidence: a name above a typed column
            if first == kind and not (_is_year(header[j]) and not all(_is_year(v) for v in values if _kind_of(v))):
                typed[j] = kind
        if len(header[j]) >= 2 and header[j] in values and header.count(header[j]) == 1:
            repeated.append(j)
    numbers = {j for j, kind in typed.items() if kind == "number"}
    if _label_sequence(header, numbers):
        typed = {j: kind for j, kind in typed.items() if j not in numbers}
    if not typed and not repeated:
        return None
    return HeaderVerdict(tuple(j + 1 for j in sorted(typed)), tuple(j + 1 for j in sorted(set(repeated) - set(typed))))


def sample_records(text: str, delimiter: str, limit: int = HEADER_SAMPLE_RECORDS + 1) -> list[list[str]]:
    """The first ``limit`` non-blank records of decoded ``text`` (a file's head), quote-aware."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    records: list[list[str]] = []
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            records.append(record)
            if len(records) >= limit:
                break
    except csv.Error:
        pass
    return records


def header_problem(verdict: HeaderVerdict) -> str:
    return f"the first row looks like data, not column names ({verdict.reason()}); {HEADER_HINT}"


def recorded_header(columns: Sequence[str]) -> bool | None:
    """The header choice a project's dataset was registered with, read from its column names: ``False`` when they
    are ``column_1`` ... ``column_n`` (its first row was read as data), else ``None`` (detect again).

    The project keeps no load options beyond format, encoding and delimiter; this lets a reload repeat a
    ``--no-header`` load instead of asking again.
    """
    if columns and list(columns) == [f"column_{i}" for i in range(1, len(columns) + 1)]:
        return False
    return None


HEADER_USED_WARNING = (
    "the first row looks like data but was used as column names, as asked: the column names are values of the file"
)


# --- 2. an unclosed quote ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnclosedQuote:
    """Where a quote opened that is never closed: its 1-based line, byte offset (``None`` when the file is not
    UTF-8: the scan counts bytes of the UTF-8 text), and the lines after it.

    ``row_short``: the open value swallowed the fields after it, so its row has too few fields and accepting the
    reading cannot help (only fixing the quote does).
    """

    line: int
    offset: int | None
    lines_after: int
    row_short: bool = False

    def problem(self, accepted: bool = False) -> str:
        where = f"line {self.line}" + (f" (byte {self.offset})" if self.offset is not None else "")
        head = f"a quote opened on {where} is never closed"
        more = f"{self.lines_after} more line{'s' if self.lines_after != 1 else ''}"
        rest = f"the rest of the file ({more})" if self.lines_after else "the rest of that last line"
        if self.row_short:
            return f"{head}; {rest} is read as one value, which leaves that row with too few fields: fix the quote"
        if accepted:
            return f"{head}: {rest} was read as one value, as accepted"
        return (
            f"{head}; {rest} would be read as one value. Fix the quote, or accept that reading "
            "(command line: --accept-unclosed-quote)"
        )


def find_unclosed_quote(
    reader: io.RawIOBase | BinaryIO, delimiter: str, token: CancelToken | None = None
) -> UnclosedQuote | None:
    """Scan a file's text as UTF-8 bytes (``reader``: a :class:`~.loaders.base.SourceReader`, so any encoding
    works) with CSV quoting rules (a quote opens a value only at the start of a field; ``""`` inside is a quote)
    and return where the quote is that is still open at the end, else ``None``.

    Streams in chunks (bounded memory); offsets and lines are counted in the UTF-8 text, which equals the file's
    bytes for a UTF-8 file.
    """
    quote, delim = ord('"'), ord(delimiter)
    starts = (delim, ord("\n"), ord("\r"))
    inside = False
    opened_at = opened_line = 0
    lines = 0  # line breaks before the current chunk
    base = 0  # offset of the current chunk
    prev = ord("\n")
    pending = b""
    while True:
        if token is not None:
            token.raise_if_cancelled()
        data = reader.read(SCAN_CHUNK) or b""
        chunk = pending + data
        if not chunk:
            break
        # keep a trailing quote for the next chunk when inside a value: it may be the first half of ""
        end = len(chunk) - 1 if data and inside and chunk.endswith(b'"') else len(chunk)
        pos = counted = 0
        while pos < end:
            q = chunk.find(b'"', pos, end)
            if q < 0:
                break
            if inside:
                if q + 1 < len(chunk) and chunk[q + 1] == quote:
                    pos = q + 2
                    continue
                inside = False
            else:
                before = chunk[q - 1] if q > 0 else prev
                if before in starts:
                    inside = True
                    opened_at = base + q
                    lines += chunk.count(b"\n", counted, q)
                    counted = q
                    opened_line = lines + 1
            pos = q + 1
        end = max(end, pos)  # a "" pair may have taken the quote kept back for the next chunk
        lines += chunk.count(b"\n", counted, end)
        prev = chunk[end - 1] if end > 0 else prev
        base += end
        pending = chunk[end:]
        if not data:
            break
    if not inside:
        return None
    return UnclosedQuote(opened_line, opened_at, max(lines - opened_line, 0))


LONG_VALUE_LINES = 100
"""A value read with more line breaks than this is reported: a stray pair of quotes may have joined rows."""


def long_values_warning(count: int, longest: int) -> str:
    """The warning for quoted values that span very many lines (a closed but misplaced quote)."""
    values = f"{count} value{'s' if count > 1 else ''}"
    return (
        f"{values} span{'s' if count == 1 else ''} more than {LONG_VALUE_LINES} lines (the longest {longest + 1}): "
        "a stray quote may have joined many rows into one value; check the quoting and the row count"
    )


# --- 3. mixed encodings -----------------------------------------------------------------------------------------

_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_UTF8_OR_BYTE = re.compile(
    rb"(?P<surrogate>\xed[\xa0-\xbf][\x80-\xbf])"
    rb"|(?P<utf8>[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2})"
    rb"|(?P<bad>[\x80-\xff])"
)


@dataclass(slots=True)
class _Tally:
    count: int = 0
    offsets: list[int] = field(default_factory=list)

    def add(self, offset: int) -> None:
        self.count += 1
        if len(self.offsets) < OFFSETS_SHOWN:
            self.offsets.append(offset)

    def describe(self, noun: str) -> str:
        """``"3 bytes (at offsets 10, 20, 30)"``: the count and the first offsets, never the bytes."""
        shown = ", ".join(str(o) for o in self.offsets)
        more = ", ..." if self.count > len(self.offsets) else ""
        plural = "s" if self.count > 1 else ""
        return f"{self.count} {noun}{plural} (at byte offset{plural} {shown}{more})"


@dataclass(slots=True)
class EncodingScan:
    """What one pass over a file's bytes found, UTF-8-wise."""

    utf8: _Tally = field(default_factory=_Tally)
    surrogates: _Tally = field(default_factory=_Tally)
    not_utf8: _Tally = field(default_factory=_Tally)

    @property
    def mixed(self) -> bool:
        """Multi-byte UTF-8 (or encoded surrogates) beside bytes that are not UTF-8, or encoded surrogates."""
        return self.surrogates.count > 0 or (self.utf8.count > 0 and self.not_utf8.count > 0)

    def mixed_for(self, encoding: str) -> bool:
        """Whether a file detected as ``encoding`` is really (partly) UTF-8.

        For Latin-1/cp1252: :attr:`mixed` (in real Latin-1 text a byte pair that is valid UTF-8, such as ``Ã©``,
        is rare). For GB18030: UTF-8 sequences outnumber the bytes that fit no UTF-8 (in Chinese GBK text about
        one pair in five happens to be valid UTF-8 and encoded-surrogate patterns occur, so neither alone says
        anything; a UTF-8 file with a few Latin-1 bytes is what the detector's byte pairing takes for GBK).
        """
        if encoding == "gb18030":
            return self.utf8.count > self.not_utf8.count
        return self.mixed

    def problem(self, encoding: str) -> str:
        parts = []
        if self.utf8.count:
            parts.append(f"{self.utf8.describe('byte sequence')} {_are(self.utf8)} UTF-8 characters")
        if self.surrogates.count:
            what = "UTF-8-encoded surrogates" if self.surrogates.count > 1 else "a UTF-8-encoded surrogate"
            parts.append(
                f"{self.surrogates.describe('byte sequence')} {_are(self.surrogates)} {what} (CESU-8/WTF-8), "
                "which is not valid UTF-8"
            )
        if self.not_utf8.count:
            parts.append(f"{self.not_utf8.describe('byte')} {_are(self.not_utf8)} not UTF-8 (Latin-1 or Windows-1252?)")
        label = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        return (
            f"the file mixes encodings: {'; '.join(parts)}. Read as {label}, part of the text would come out wrong; "
            "choose the encoding (command line: --encoding utf-8, latin-1 or cp1252)"
        )


def _are(tally: _Tally) -> str:
    return "are" if tally.count > 1 else "is"


def scan_encoding(source: Source, token: CancelToken | None = None) -> EncodingScan:
    """One streaming pass over the file's bytes, classifying every byte >= 0x80 (bounded memory)."""
    scan = EncodingScan()
    base = 0
    carry = b""
    with source.open_binary() as fh:
        while True:
            if token is not None:
                token.raise_if_cancelled()
            data = fh.read(SCAN_CHUNK)
            chunk = carry + data
            if not chunk:
                break
            # a sequence that goes on in the next chunk has its lead byte (>= 0xC0) in the last 3 bytes: keep it
            end = len(chunk)
            for i in range(len(chunk) - 1, max(len(chunk) - 4, -1), -1) if data else ():
                if chunk[i] >= 0xC0:
                    end = i
                    break
                if chunk[i] < 0x80:
                    break
            for run in _HIGH_RUN.finditer(chunk, 0, end):
                start = run.start()
                if run.end() - start == 1:
                    scan.not_utf8.add(base + start)
                    continue
                for m in _UTF8_OR_BYTE.finditer(chunk, start, run.end()):
                    tally = (
                        scan.surrogates if m.lastgroup == "surrogate" else scan.utf8 if m.lastgroup == "utf8" else None
                    )
                    (tally or scan.not_utf8).add(base + m.start())
            base += end
            carry = chunk[end:]
            if not data:
                break
    return scan


LEGACY_FALLBACKS = frozenset({"latin-1", "cp1252", "gb18030"})
"""Encodings :func:`~workbench.core.data.detect.detect_encoding` falls back to when a head is not UTF-8."""


def check_detected_encoding(source: Source, encoding: str, token: CancelToken | None = None) -> None:
    """Refuse a detected legacy encoding for a file that also holds UTF-8 (or encoded surrogates).

    Only for a *detected* encoding: one the analyst chose is loaded as chosen.
    """
    if encoding not in LEGACY_FALLBACKS:
        return
    scan = scan_encoding(source, token)
    if scan.mixed_for(encoding):
        raise MisreadError(source.path, scan.problem(encoding), ENCODING, scan)


def undecodable_error(source: Source, encoding: str, offset: int | None, message: str) -> DatasetError:
    """The error for UTF-8 text with bytes that do not decode: with the offsets and counts of a scan when the
    file mixes encodings, else ``message``; always of kind :data:`ENCODING` so a window offers the choice."""
    if encoding in ("utf-8", "utf-8-sig"):
        scan = scan_encoding(source)
        if scan.mixed:
            return MisreadError(source.path, scan.problem(encoding), ENCODING, scan)
    return MisreadError(source.path, message, ENCODING, offset)
