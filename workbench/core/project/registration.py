"""Registering a loaded :class:`~workbench.core.data.dataset.Dataset` in a project (shared by the GUI and CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from workbench.core.data.dataset import Dataset
from workbench.core.project.store import DatasetRecord, Project


def register_loaded(
    project: Project, ds: Dataset, *, path: str | Path | None = None, roles: Mapping[str, str] | None = None
) -> DatasetRecord:
    """Register ``ds`` (by fingerprint: the same bytes are the same dataset) with its suggested roles.

    A dataset already in the project keeps the roles the analyst saved; ``roles`` (column -> role value) are
    then applied on top, as an explicit choice. ``path`` overrides where the project says the data lives (for
    example a copy inside the project folder).
    """
    record = project.register_dataset(
        name=ds.name,
        path=str(Path(path).resolve()) if path is not None else ds.path,
        fingerprint=ds.fingerprint,
        format=ds.format,
        encoding=ds.encoding,
        delimiter=ds.delimiter,
        rows=ds.num_rows,
        size_bytes=ds.size_bytes,
        schema=tuple((c.name, c.dtype) for c in ds.columns),
        roles={c.name: c.suggested_role.value for c in ds.columns},
    )
    if roles:
        record = project.set_roles(record.id, dict(roles))
    return record
