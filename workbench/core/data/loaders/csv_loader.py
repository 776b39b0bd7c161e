"""CSV and TSV files, read with Arrow's streaming CSV reader.

How a file is read:

1. Encoding: forced or detected (:func:`~workbench.core.data.detect.detect_encoding`). Arrow reads UTF-8; any
   other encoding is transcoded on the fly by :class:`~.base.SourceReader`, which also counts the file bytes
   read so progress is in bytes of the file.
2. Delimiter: forced, tab for ``.tsv``/``.tab``, or detected among ``, \\t ; |`` (quote-aware).
3. A first open of the stream reads only the header (Arrow parses one block) to learn the column names.
4. The data pass reads every column as a *string*: Arrow's streaming reader infers types from the first block
   only and fails when a later block disagrees ("1, 2, 3, ... unknown"), so instead each column is converted
   after the read, and only when all of its values convert (:func:`~workbench.core.data.schema.infer_types`).
   Empty fields are missing (null); other missing-value tokens are handled by the conversion.
5. Rows whose field count differs from the header's stop the load with the line number and the two counts.
6. Misreads (:mod:`~workbench.core.data.misreads`): a first row that looks like data is refused unless
   ``options.header`` says what it is (before the read, from the head); a quote still open at the end of the
   file is refused unless ``options.accept_unclosed_quote`` (after the read, and only when the last record holds
   a line break, so a normal file costs no extra pass); values spanning over 100 lines load with a warning; a
   detected Latin-1/cp1252/GB18030 that is really mixed with UTF-8 is refused by :func:`~.base.choose_encoding`.

Arrow's own error messages quote the offending row, so they are never passed on: each failure is translated
into a sentence with line numbers, byte offsets and counts only.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from workbench.core.data import detect, misreads
from workbench.core.data.dataset import LoadOptions
from workbench.core.data.loaders.base import (
    PASSTHROUGH_ENCODINGS,
    DecodeFailure,
    Loader,
    LoadSource,
    ParsedTable,
    SourceReader,
    choose_encoding,
    find_undecodable_offset,
    translate_unexpected,
    undecodable_message,
)
from workbench.core.data.schema import infer_types
from workbench.core.errors import DatasetError
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle

log = logging.getLogger("workbench.data")

BLOCK_SIZE = 1 << 20
"""Bytes per Arrow block: small enough that the first rows arrive within milliseconds."""

MAX_BLOCK_SIZE = 256 << 20
"""Largest block tried when a single record (a huge quoted value) does not fit in a block."""

HEADER_ONLY_WARNING = "the file has a header but no data rows"

_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


def delimiter_label(delimiter: str) -> str:
    """A readable name for a delimiter (``"tab"`` rather than an invisible character)."""
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


@dataclass(slots=True)
class _RaggedRows:
    """Arrow's ``invalid_row_handler``: remembers the first bad row's number and counts, never its text."""

    line: int | None = None
    actual: int | None = None
    expected: int | None = None

    def __call__(self, row: Any) -> str:
        if self.actual is None:
            self.line, self.actual, self.expected = row.number, row.actual_columns, row.expected_columns
        return "error"


def _straddles(exc: BaseException) -> bool:
    """Arrow's "a record straddles two blocks" failure, which a bigger block size fixes."""
    return isinstance(exc, pa.ArrowInvalid) and "straddl" in str(exc).lower()


class _EndsWithNewline(SourceReader):
    """A :class:`SourceReader` that ends its text with a newline when the file does not: Arrow reports a lone
    header line without one as an empty file ("only blank lines"); with it, the header is read as such."""

    _last = b"\n"
    _ended = False

    def read(self, size: int | None = -1) -> bytes:
        if self._ended:
            return b""
        data = super().read(size)
        if size is not None and size > 0 and 0 < len(data) < size:
            more = super().read(size - len(data))  # short: at the end? (Arrow needs the newline in this block)
            data += more
            at_end = not more
        else:
            at_end = not data
        if at_end:
            self._ended = True
            last = data[-1:] or self._last
            if last not in (b"\n", b"\r"):
                data += b"\n"
        if data:
            self._last = data[-1:]
        return data


def batch_text_bytes(batch: pa.RecordBatch) -> int:
    """Approximate size in the UTF-8 text of a batch of string columns: value bytes plus one separator each.

    Arrow's streaming reader reads far ahead of the parser (tens of MB), so the bytes pulled from the file say
    little about how far parsing has come; the parsed batches do.
    """
    size = batch.num_rows * batch.num_columns
    for column in batch.columns:
        size += pc.sum(pc.binary_length(column)).as_py() or 0
    return int(size)


def physical_line(source: LoadSource, encoding: str, delimiter: str, record: int) -> int | None:
    """The 1-based line in the file where CSV record number ``record`` (Arrow's count) ends.

    Arrow numbers records, skipping empty lines and counting a quoted value with line breaks as one record;
    people look for lines in an editor. Only used on the error path: it re-reads the file up to that record.
    """
    with io.TextIOWrapper(source.open_binary(), encoding=encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
        seen = 0
        try:
            for fields in reader:
                if fields:
                    seen += 1
                    if seen == record:
                        return reader.line_num
        except csv.Error:
            return None
    return None


class CsvLoader(Loader):
    """Delimited text: CSV, TSV, semicolon- and pipe-separated files."""

    format_name = "csv"

    # size: one retry loop around pyarrow's streaming reader; its steps share the reader's state (block size,
    # preview sent, ragged rows), so splitting it would pass all of that around
    def load(self, source: LoadSource, options: LoadOptions, token: CancelToken) -> JobGenerator[ParsedTable]:
        path = source.path
        encoding = choose_encoding(source, options, token)
        delimiter = self._choose_delimiter(source, options, encoding)
        log.debug("csv: %s encoding=%s delimiter=%s", path.name, encoding, delimiter_label(delimiter))
        notes = list(_check_header(source, options, encoding, delimiter))
        yield Progress("parse", 0, source.size, "bytes", "reading the header")

        preview_sent = False
        block_size = BLOCK_SIZE
        while True:
            ragged = _RaggedRows()
            read_options = pa_csv.ReadOptions(
                use_threads=False, block_size=block_size, autogenerate_column_names=options.header is False
            )
            parse_options = pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=ragged
            )
            batches: list[pa.RecordBatch] = []
            rows = 0
            parsed = 0  # estimated UTF-8 bytes parsed so far
            throttle = Throttle()
            try:
                names = self._read_header(source, encoding, read_options, parse_options)
                convert_options = pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    strings_can_be_null=True,
                    null_values=[""],
                    quoted_strings_can_be_null=True,
                )
                clean_names = [names[0].removeprefix("\ufeff"), *names[1:]] if names else []
                if options.header is False:
                    clean_names = [f"column_{i}" for i in range(1, len(names) + 1)]
                with source.open_binary() as raw:
                    stream = _EndsWithNewline(raw, encoding)
                    reader = pa_csv.open_csv(
                        stream,
                        read_options=read_options,
                        parse_options=parse_options,
                        convert_options=convert_options,
                    )
                    schema = reader.schema
                    while True:
                        token.raise_if_cancelled()
                        try:
                            batch = reader.read_next_batch()
                        except StopIteration:
                            break
                        batches.append(batch)
                        rows += batch.num_rows
                        parsed += batch_text_bytes(batch)
                        done = min(int(parsed * stream.scale), source.size)
                        if not preview_sent and rows >= options.preview_rows:
                            preview_sent = True
                            preview = pa.Table.from_batches(batches).slice(0, options.preview_rows)
                            yield Progress(
                                "parse",
                                done,
                                source.size,
                                "bytes",
                                "reading rows",
                                payload=preview.rename_columns(clean_names),
                            )
                        elif throttle.ready():
                            yield Progress("parse", done, source.size, "bytes", "reading rows")
                break
            except (pa.ArrowException, DecodeFailure, UnicodeError) as exc:
                if _straddles(exc) and block_size < MAX_BLOCK_SIZE:
                    # a record longer than a block (a huge quoted value): read again with bigger blocks
                    block_size *= 16
                    log.debug(
                        "csv: %s: a record exceeds the block size; retrying with %d bytes",
                        path.name,
                        block_size,
                    )
                    continue
                raise self._translate(exc, source, encoding, delimiter, ragged) from None

        if rows == 0 and not any(name.strip() for name in clean_names):
            raise DatasetError(path, "the file has no header row (it holds only blank lines)")
        table = pa.Table.from_batches(batches, schema=schema).rename_columns(clean_names)
        del batches
        notes.extend(_check_quotes(source, options, encoding, delimiter, table, token))
        if not preview_sent:
            yield Progress("parse", source.size, source.size, "bytes", "reading rows", payload=table)
        yield Progress("parse", source.size, source.size, "bytes", "detecting column types")
        token.raise_if_cancelled()
        table = infer_types(table)
        if table.num_rows == 0:
            notes.append(HEADER_ONLY_WARNING)
        return ParsedTable(table, encoding=encoding, delimiter=delimiter, warnings=tuple(notes))

    # --------------------------------------------------------------------------------------------------------

    @staticmethod
    def _choose_delimiter(source: LoadSource, options: LoadOptions, encoding: str) -> str:
        if options.delimiter:
            try:
                return detect.normalize_delimiter(options.delimiter)
            except ValueError as exc:
                raise DatasetError(source.path, str(exc)) from None
        if source.path.suffix.lower() in (".tsv", ".tab") or (options.format or "").lower() == "tsv":
            return "\t"
        sample = detect.decode_sample(source.head, encoding, complete=source.complete)
        found = detect.detect_delimiter(sample, complete=source.complete)
        if found is not None:
            return found
        # One column: split on a candidate that does not occur, so commas inside values stay in the value.
        for candidate in detect.DELIMITER_CANDIDATES:
            if candidate not in sample:
                return candidate
        return ","

    @staticmethod
    def _read_header(
        source: LoadSource,
        encoding: str,
        read_options: pa_csv.ReadOptions,
        parse_options: pa_csv.ParseOptions,
    ) -> list[str]:
        """Column names as Arrow sees them (it parses the first block to find them)."""
        with source.open_binary() as raw:
            reader = pa_csv.open_csv(
                _EndsWithNewline(raw, encoding), read_options=read_options, parse_options=parse_options
            )
            return list(reader.schema.names)

    @staticmethod
    def _translate(
        exc: BaseException, source: LoadSource, encoding: str, delimiter: str, ragged: _RaggedRows
    ) -> DatasetError:
        """Turn a parser failure into a DatasetError whose message holds no dataset values."""
        path = source.path
        if isinstance(exc, DecodeFailure):
            return misreads.undecodable_error(source, encoding, exc.offset, undecodable_message(exc.offset, encoding))
        text = str(exc)  # inspected for its kind only, never shown
        if not (isinstance(exc, UnicodeError) or "UTF8" in text or "UTF-8" in text):
            unclosed = _unclosed_quote(source, encoding, delimiter)
            if unclosed is not None:  # the open value swallowed the fields after it: accepting cannot help
                short = replace(unclosed, row_short=True)
                return misreads.MisreadError(path, short.problem(), misreads.UNCLOSED_QUOTE, short)
        if ragged.actual is not None:
            line = physical_line(source, encoding, delimiter, ragged.line) if ragged.line is not None else None
            where = f"line {line}" if line is not None else "a row"
            return DatasetError(
                path,
                f"{where} has {ragged.actual} fields but the header has {ragged.expected} "
                f"(delimiter: {delimiter_label(delimiter)}); fix that row or choose another delimiter",
            )
        if isinstance(exc, UnicodeError) or "UTF8" in text or "UTF-8" in text:
            offset = find_undecodable_offset(source, "utf-8" if encoding in ("utf-8", "utf-8-sig") else encoding)
            return misreads.undecodable_error(source, encoding, offset, undecodable_message(offset, encoding))
        if "Empty CSV file" in text:
            return DatasetError(path, "the file has no header row (it holds only blank lines)")
        counts = re.search(r"Expected (\d+) columns, got (\d+)", text)
        if counts:
            return DatasetError(
                path, f"a row has {counts.group(2)} fields but the header has {counts.group(1)}; fix that row"
            )
        log.debug("csv: %s: unexplained parser failure (%s)", path.name, type(exc).__name__)
        return translate_unexpected(path, "CSV")


def _check_header(source: LoadSource, options: LoadOptions, encoding: str, delimiter: str) -> tuple[str, ...]:
    """Refuse a first row that looks like data unless ``options.header`` decides; the warnings to keep."""
    if options.header is False:
        return ()
    sample = detect.decode_sample(source.head, encoding, complete=source.complete)
    verdict = misreads.first_row_looks_like_data(misreads.sample_records(sample, delimiter))
    if verdict is None:
        return ()
    if options.header is None:
        raise misreads.MisreadError(source.path, misreads.header_problem(verdict), misreads.HEADER, verdict)
    return (misreads.HEADER_USED_WARNING,)


def _check_quotes(
    source: LoadSource, options: LoadOptions, encoding: str, delimiter: str, table: pa.Table, token: CancelToken
) -> tuple[str, ...]:
    """Refuse a quote still open at the end of the file unless accepted; the warnings to keep.

    Only a last record (or, without rows, a header) holding a line break can be an unclosed quote's work (the
    reader adds a final line break inside the open value), so only then is the file scanned again. Values that span
    more than :data:`~.misreads.LONG_VALUE_LINES` lines (a stray pair of quotes) are reported as a warning.
    """
    notes = _long_values(table)
    if table.num_rows:
        last = table.slice(table.num_rows - 1)
        suspect = any(
            isinstance(value := last.column(i)[0].as_py(), str) and ("\n" in value or "\r" in value)
            for i in range(last.num_columns)
        )
    else:
        suspect = any("\n" in name or "\r" in name for name in table.column_names)
    unclosed = _unclosed_quote(source, encoding, delimiter, token) if suspect else None
    if unclosed is None:
        return notes
    if not options.accept_unclosed_quote:
        raise misreads.MisreadError(source.path, unclosed.problem(), misreads.UNCLOSED_QUOTE, unclosed)
    return (*notes, unclosed.problem(accepted=True))


def _long_values(table: pa.Table) -> tuple[str, ...]:
    """A warning when some values hold more than LONG_VALUE_LINES line breaks (counted by Arrow kernels)."""
    count = longest = 0
    for column in table.columns:
        if not pa.types.is_string(column.type) or column.null_count == len(column):
            continue
        breaks = pc.count_substring(column, "\n")
        count += pc.sum(pc.greater(breaks, misreads.LONG_VALUE_LINES)).as_py() or 0
        longest = max(longest, pc.max(breaks).as_py() or 0)
    return (misreads.long_values_warning(count, longest),) if count else ()


def _unclosed_quote(
    source: LoadSource, encoding: str, delimiter: str, token: CancelToken | None = None
) -> misreads.UnclosedQuote | None:
    with source.open_binary() as raw:
        found = misreads.find_unclosed_quote(SourceReader(raw, encoding), delimiter, token)
    if found is not None and encoding not in PASSTHROUGH_ENCODINGS:
        found = replace(found, offset=None)  # counted in the UTF-8 text, not in the file's bytes
    return found
