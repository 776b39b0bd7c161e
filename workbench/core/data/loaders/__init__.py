"""File-format loaders behind one registry.

Importing this package registers the built-in formats by module path only; each loader module (and pyarrow
with it) is imported the first time a file of its format is loaded. Add a format with :func:`register_loader`;
:func:`format_names` lists the formats (for ``--format`` choices) without importing any loader or pyarrow.
"""

from __future__ import annotations

from workbench.core.data.loaders.base import (
    FORMATS,
    Loader,
    LoadSource,
    ParsedTable,
    available_formats,
    format_for,
    format_names,
    loader_for,
    register_loader,
    resolve_format,
)

__all__ = [
    "FORMATS",
    "LoadSource",
    "Loader",
    "ParsedTable",
    "available_formats",
    "format_for",
    "format_names",
    "loader_for",
    "register_loader",
    "resolve_format",
]

_PKG = __name__
register_loader("csv", f"{_PKG}.csv_loader", "CsvLoader", extensions=(".csv", ".tsv", ".tab"), aliases=("tsv",))
register_loader("jsonl", f"{_PKG}.jsonl", "JsonlLoader", extensions=(".jsonl", ".ndjson", ".json"), aliases=("json",))
register_loader("parquet", f"{_PKG}.parquet", "ParquetLoader", extensions=(".parquet", ".pq", ".parq"))
register_loader("text", f"{_PKG}.text", "TextLoader", extensions=(".txt", ".text"), aliases=("txt",))
