"""JSON Lines: one JSON object per line (also accepted: a file holding one JSON array of objects).

Columns are the union of the keys of all objects, in the order they are first seen; a key missing from an
object is a missing value. Nested values (objects, arrays) are stored as compact JSON strings. A key whose
values mix JSON types (a number in one line, a string in another) becomes a string column, with a warning;
numbers that mix integers and decimals become floats. Blank lines are skipped.

The standard :mod:`json` module parses each line (Arrow's JSON reader fails on type changes between blocks and
reports errors with row text); lines are read in batches, so progress is by bytes and memory grows with the
table, not with Python objects for the whole file.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from workbench.core.data import detect
from workbench.core.data.dataset import LoadOptions
from workbench.core.data.loaders.base import (
    DecodeFailure,
    Loader,
    LoadSource,
    ParsedTable,
    SourceReader,
    choose_encoding,
    iter_line_batches,
    undecodable_message,
)
from workbench.core.data.misreads import undecodable_error
from workbench.core.errors import DatasetError
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle
from workbench.core.safe_io import MAX_JSON_DEPTH, json_depth

NO_RECORDS_WARNING = "the file holds no JSON objects"
ARRAY_BATCH = 50_000


def mixed_types_warning(column: str) -> str:
    """The warning for a column whose JSON values have different types."""
    return f"column '{column}' mixes JSON value types (for example numbers and strings); it was read as text"


# the C scanner behind json.loads, without its per-call wrappers (not in the typeshed stubs)
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


_INVALID = object()
_TOO_DEEP = object()
_TOO_LONG = object()
#: The deepest nesting of arrays and objects accepted in one record (checked before the parser recurses).
MAX_RECORD_DEPTH = MAX_JSON_DEPTH


def _parse_line(text: str) -> Any:
    """Parse one line that must hold exactly one JSON value; :data:`_INVALID` when it does not,
    :data:`_TOO_DEEP` when it nests too deeply, :data:`_TOO_LONG` when a number has too many digits."""
    text = text.strip()
    if text.count("[") + text.count("{") > MAX_RECORD_DEPTH and json_depth(text) > MAX_RECORD_DEPTH:
        return _TOO_DEEP
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, json.JSONDecodeError):
        return _INVALID
    except ValueError:  # an integer literal beyond Python's digit limit
        return _TOO_LONG
    except RecursionError:
        return _TOO_DEEP
    return value if end == len(text) else _INVALID


def _line_problem(kind: object, number: int) -> str:
    if kind is _TOO_DEEP:
        return f"line {number} nests arrays or objects more than {MAX_RECORD_DEPTH} levels deep"
    if kind is _TOO_LONG:
        return f"line {number} holds a number with too many digits (over 4,300)"
    return f"line {number} is not valid JSON"


def _json_text(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _ColumnBuilder:
    """Collects records batch by batch into typed Arrow chunks per key."""

    def __init__(self) -> None:
        self.columns: dict[str, list[pa.Array]] = {}
        self.mixed: set[str] = set()
        self.rows = 0

    def add(self, records: list[dict[str, Any]]) -> pa.Table:
        """Add one batch of records; returns the batch as a table (for the preview)."""
        n = len(records)
        first = records[0]
        if all(len(record) == len(first) for record in records) and set().union(*records) == first.keys():
            keys = dict.fromkeys(first)  # the common case: every object has the same keys
        else:
            keys = dict.fromkeys(key for record in records for key in record)
        for key in keys:
            chunks = self.columns.setdefault(key, [pa.nulls(self.rows)] if self.rows else [])
            chunks.append(self._to_array(key, [record.get(key) for record in records]))
        for key, chunks in self.columns.items():
            if key not in keys:
                chunks.append(pa.nulls(n))
        self.rows += n
        return pa.Table.from_arrays([chunks[-1] for chunks in self.columns.values()], names=list(self.columns))

    def _to_array(self, key: str, values: list[Any]) -> pa.Array:
        kinds = set(map(type, values))
        kinds.discard(type(None))
        if kinds & {dict, list}:
            values = [_json_text(v) for v in values]
            kinds = set(map(type, values)) - {type(None)}
        if not kinds:
            return pa.nulls(len(values))
        if kinds == {str}:
            return pa.array(values, pa.string())
        if kinds == {bool}:
            return pa.array(values, pa.bool_())
        if kinds == {int}:
            try:
                return pa.array(values, pa.int64())
            except OverflowError:  # beyond int64: keep the digits exactly, as text
                return pa.array([_as_text(v) for v in values], pa.string())
        if kinds <= {int, float}:
            return pa.array(values, pa.float64())
        self.mixed.add(key)
        return pa.array([_as_text(v) for v in values], pa.string())

    def finish(self) -> tuple[pa.Table, tuple[str, ...]]:
        arrays = []
        for key, chunks in self.columns.items():
            types = {c.type for c in chunks if not pa.types.is_null(c.type)}
            if not types:
                target = pa.string()
            elif len(types) == 1:
                target = types.pop()
            elif types <= {pa.int64(), pa.float64()}:
                target = pa.float64()
            else:
                target = pa.string()
                self.mixed.add(key)
            arrays.append(pa.chunked_array([c.cast(target) if c.type != target else c for c in chunks], target))
        table = pa.Table.from_arrays(arrays, names=list(self.columns)) if arrays else pa.table({})
        warnings = tuple(mixed_types_warning(key) for key in self.columns if key in self.mixed)
        if self.rows == 0:
            warnings = (NO_RECORDS_WARNING, *warnings)
        return table, warnings


class JsonlLoader(Loader):
    """JSON Lines (``.jsonl``, ``.ndjson``) and JSON arrays of objects (``.json``)."""

    format_name = "jsonl"

    def load(self, source: LoadSource, options: LoadOptions, token: CancelToken) -> JobGenerator[ParsedTable]:
        encoding = choose_encoding(source, options, token)
        sample = detect.decode_sample(source.head, encoding, complete=source.complete)
        if detect.looks_like_json_array(sample):
            return (yield from self._load_array(source, options, token, encoding))
        builder = _ColumnBuilder()
        preview_sent = False
        throttle = Throttle()
        try:
            for batch in iter_line_batches(source, encoding, token):
                records: list[dict[str, Any]] = []
                for line, number, offset in zip(batch.lines, batch.numbers, batch.offsets, strict=True):
                    try:
                        text = line.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        bad = offset + exc.start
                        raise undecodable_error(source, encoding, bad, undecodable_message(bad, encoding)) from None
                    record = _parse_line(text)
                    if record is _INVALID or record is _TOO_DEEP or record is _TOO_LONG:
                        raise DatasetError(source.path, _line_problem(record, number))
                    if type(record) is not dict:
                        raise DatasetError(
                            source.path,
                            f"line {number} is valid JSON but not an object; each line must hold one JSON object",
                        )
                    records.append(record)
                if not records:
                    continue
                chunk = builder.add(records)
                if not preview_sent:
                    preview_sent = True
                    preview = chunk.slice(0, options.preview_rows)
                    yield Progress("parse", batch.bytes_read, source.size, "bytes", "reading lines", payload=preview)
                elif throttle.ready():
                    yield Progress("parse", batch.bytes_read, source.size, "bytes", "reading lines")
        except DecodeFailure as exc:
            raise undecodable_error(source, encoding, exc.offset, undecodable_message(exc.offset, encoding)) from None
        table, warnings = builder.finish()
        if not preview_sent:
            yield Progress("parse", source.size, source.size, "bytes", "reading lines", payload=table)
        return ParsedTable(table, encoding=encoding, warnings=warnings)

    def _load_array(
        self, source: LoadSource, options: LoadOptions, token: CancelToken, encoding: str
    ) -> JobGenerator[ParsedTable]:
        """A whole-file JSON array of objects (read at once: arrays cannot be streamed line by line)."""
        yield Progress("parse", 0, source.size, "bytes", "reading the JSON array")
        try:
            with source.open_binary() as raw:
                data = SourceReader(raw, encoding).read()
        except DecodeFailure as exc:
            raise undecodable_error(source, encoding, exc.offset, undecodable_message(exc.offset, encoding)) from None
        token.raise_if_cancelled()
        try:
            items = json.loads(data.removeprefix(b"\xef\xbb\xbf"))
        except UnicodeDecodeError as exc:
            raise undecodable_error(source, encoding, exc.start, undecodable_message(exc.start, encoding)) from None
        except json.JSONDecodeError as exc:
            raise DatasetError(source.path, f"the JSON is not valid at line {exc.lineno}") from None
        except ValueError:  # an integer literal beyond Python's digit limit
            raise DatasetError(source.path, "the JSON holds a number with too many digits (over 4,300)") from None
        except RecursionError:
            raise DatasetError(source.path, "the JSON nests arrays or objects too deeply") from None
        del data
        if not isinstance(items, list):
            raise DatasetError(source.path, "the file holds one JSON value that is not an array of objects")
        builder = _ColumnBuilder()
        for start in range(0, len(items), ARRAY_BATCH):
            token.raise_if_cancelled()
            records = items[start : start + ARRAY_BATCH]
            for index, record in enumerate(records, start=start + 1):
                if not isinstance(record, dict):
                    raise DatasetError(source.path, f"item {index} of the JSON array is not an object")
            chunk = builder.add(records)
            if start == 0:
                yield Progress(
                    "parse",
                    source.size,
                    source.size,
                    "bytes",
                    "converting",
                    payload=chunk.slice(0, options.preview_rows),
                )
        table, warnings = builder.finish()
        if not items:
            yield Progress("parse", source.size, source.size, "bytes", "converting", payload=table)
        return ParsedTable(table, encoding=encoding, warnings=warnings)
