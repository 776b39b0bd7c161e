"""Plain text: one record per line, in a single string column named ``text``.

Blank lines (empty or white space only) are skipped; line breaks (``\\n``, ``\\r\\n``, ``\\r``) are removed
and everything else on the line is kept as it is. The encoding is detected as for CSV.
"""

from __future__ import annotations

import pyarrow as pa

from workbench.core.data.dataset import LoadOptions
from workbench.core.data.loaders.base import (
    DecodeFailure,
    Loader,
    LoadSource,
    ParsedTable,
    choose_encoding,
    iter_line_batches,
    undecodable_message,
)
from workbench.core.data.misreads import undecodable_error
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle

COLUMN = "text"
NO_LINES_WARNING = "the file holds only blank lines"


def first_bad_utf8(lines: list[bytes], offsets: list[int]) -> int | None:
    """Stream offset of the first byte that is not valid UTF-8 in ``lines`` (which start at ``offsets``)."""
    for line, offset in zip(lines, offsets, strict=True):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return offset + exc.start
    return None


class TextLoader(Loader):
    """One line, one record."""

    format_name = "text"

    def load(self, source: LoadSource, options: LoadOptions, token: CancelToken) -> JobGenerator[ParsedTable]:
        encoding = choose_encoding(source, options, token)
        chunks: list[pa.Array] = []
        rows = 0
        preview_sent = False
        throttle = Throttle()
        try:
            for batch in iter_line_batches(source, encoding, token):
                try:
                    chunk = pa.array(batch.lines, pa.binary()).cast(pa.string())  # the cast validates UTF-8
                except pa.ArrowInvalid:
                    offset = first_bad_utf8(batch.lines, batch.offsets)
                    raise undecodable_error(source, encoding, offset, undecodable_message(offset, encoding)) from None
                chunks.append(chunk)
                rows += len(chunk)
                if not preview_sent and rows >= options.preview_rows:
                    preview_sent = True
                    preview = pa.table({COLUMN: pa.chunked_array(chunks, pa.string())}).slice(0, options.preview_rows)
                    yield Progress("parse", batch.bytes_read, source.size, "bytes", "reading lines", payload=preview)
                elif throttle.ready():
                    yield Progress("parse", batch.bytes_read, source.size, "bytes", "reading lines")
        except DecodeFailure as exc:
            raise undecodable_error(source, encoding, exc.offset, undecodable_message(exc.offset, encoding)) from None
        table = pa.table({COLUMN: pa.chunked_array(chunks, pa.string())})
        if not preview_sent:
            yield Progress("parse", source.size, source.size, "bytes", "reading lines", payload=table)
        warnings = (NO_LINES_WARNING,) if rows == 0 else ()
        return ParsedTable(table, encoding=encoding, warnings=warnings)
