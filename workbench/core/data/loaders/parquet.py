"""Parquet files, read in record batches with ``pyarrow.parquet.ParquetFile.iter_batches``.

Column types come from the file. Progress is in rows (the footer says how many there are); the first batch is
the preview.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.core.data.dataset import LoadOptions
from workbench.core.data.loaders.base import Loader, LoadSource, ParsedTable
from workbench.core.errors import DatasetError
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle

BATCH_ROWS = 65_536
NOT_PARQUET = "not a valid Parquet file (its footer cannot be read); check the file or choose another format"
CORRUPT = "the Parquet file is corrupt or truncated: a row group cannot be read"


class ParquetLoader(Loader):
    """Apache Parquet."""

    format_name = "parquet"

    def load(self, source: LoadSource, options: LoadOptions, token: CancelToken) -> JobGenerator[ParsedTable]:
        yield Progress("parse", 0, None, "rows", "reading the Parquet footer")
        with source.open_binary() as fh:
            try:
                parquet = pq.ParquetFile(fh)
                schema = parquet.schema_arrow
            except (pa.ArrowException, OSError, ValueError):  # messages may quote metadata: not shown
                raise DatasetError(source.path, NOT_PARQUET) from None
            total = parquet.metadata.num_rows
            batches: list[pa.RecordBatch] = []
            rows = 0
            preview_sent = False
            throttle = Throttle()
            iterator = parquet.iter_batches(batch_size=BATCH_ROWS)
            while True:
                token.raise_if_cancelled()
                try:
                    batch = next(iterator)
                except StopIteration:
                    break
                except (pa.ArrowException, OSError, ValueError):
                    raise DatasetError(source.path, CORRUPT) from None
                batches.append(batch)
                rows += batch.num_rows
                if not preview_sent:
                    preview_sent = True
                    preview = pa.Table.from_batches([batch]).slice(0, options.preview_rows)
                    yield Progress("parse", rows, total, "rows", "reading row groups", payload=preview)
                elif throttle.ready():
                    yield Progress("parse", rows, total, "rows", "reading row groups")
        table = pa.Table.from_batches(batches, schema=schema)
        if not preview_sent:
            yield Progress("parse", 0, total, "rows", "reading row groups", payload=table)
        warnings = ("the file has columns but no rows",) if rows == 0 else ()
        return ParsedTable(table, warnings=warnings)
