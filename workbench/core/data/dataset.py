"""The in-memory dataset and the facts the workbench keeps about its columns.

A :class:`Dataset` is immutable once loaded: its Arrow table is never modified in place (Arrow tables are
immutable), so any number of jobs and views may read it at once. A re-import or an anonymized version is a new
``Dataset`` that replaces the old one in the :class:`~workbench.core.data.cache.DatasetCache`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyarrow is imported lazily by the loaders; keep the type for readers and mypy
    import pyarrow as pa


class ColumnRole(enum.StrEnum):
    """What a column means for privacy. Stored by value in the project."""

    DIRECT_IDENTIFIER = "direct_identifier"
    QUASI_IDENTIFIER = "quasi_identifier"
    SENSITIVE = "sensitive"
    FREE_TEXT = "free_text"
    LABEL = "label"
    OTHER = "other"

    @property
    def label(self) -> str:
        """Human-readable name for menus and tables."""
        return self.value.replace("_", " ").capitalize()

    @classmethod
    def parse(cls, text: str) -> ColumnRole:
        """Accept the stored value, the label or a dash/space spelling; raise ValueError naming the choices."""
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        aliases = {"direct": "direct_identifier", "quasi": "quasi_identifier", "text": "free_text"}
        key = aliases.get(key, key)
        for role in cls:
            if role.value == key:
                return role
        choices = ", ".join(r.value for r in cls)
        raise ValueError(f"unknown column role {text!r}; choose one of: {choices}")


@dataclass(frozen=True, slots=True)
class ColumnSummary:
    """Per-column facts computed at load time.

    ``dtype`` is one of ``integer``, ``float``, ``boolean``, ``date``, ``datetime``, ``string``, ``text``
    (long free-form strings), ``binary``, ``other``. ``examples`` holds up to five distinct non-missing values as
    strings: they are shown to the analyst who loaded the data and must never be logged.
    """

    name: str
    dtype: str
    missing: int
    distinct: int
    examples: tuple[str, ...]
    suggested_role: ColumnRole
    role_reason: str


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What the analyst may force instead of detection. ``None`` means: detect.

    ``header`` (delimited text only): ``True`` reads the first row as column names even when it looks like data
    (with a warning), ``False`` reads it as data (columns ``column_1`` ... ``column_n``), ``None`` refuses a first
    row that looks like data. ``accept_unclosed_quote`` loads a file whose last quote is never closed (the rest
    of the file becomes one value, with a warning) instead of refusing it. See :mod:`~workbench.core.data.misreads`.
    """

    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    preview_rows: int = 200
    header: bool | None = None
    accept_unclosed_quote: bool = False


@dataclass(frozen=True, slots=True)
class Dataset:
    """A loaded dataset: the table plus where it came from and what was detected."""

    path: str
    name: str
    format: str
    fingerprint: str  # SHA-256 hex of the file's bytes
    size_bytes: int
    table: pa.Table = field(repr=False, compare=False)
    columns: tuple[ColumnSummary, ...]
    encoding: str | None = None
    delimiter: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    @property
    def column_names(self) -> list[str]:
        return list(self.table.column_names)

    def suggested_roles(self) -> dict[str, ColumnRole]:
        return {c.name: c.suggested_role for c in self.columns}
