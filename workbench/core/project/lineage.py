"""Dataset lineage: the ``dataset_lineage`` table, which dataset was derived from which, by what operation
(:mod:`workbench.core.project.store`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.core.errors import ProjectError
from workbench.core.project.audit import write_audit_entry
from workbench.core.project.connection import ProjectConnection
from workbench.core.project.datasets import fetch_dataset
from workbench.core.project.records import FrozenMap, now, to_json

LINEAGE_SQL_V2 = """\
CREATE TABLE dataset_lineage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    child_dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    parent_dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
    operation TEXT NOT NULL,
    detail_json TEXT NOT NULL CHECK (json_valid(detail_json)),
    created_at TEXT NOT NULL
);
CREATE INDEX dataset_lineage_child ON dataset_lineage(child_dataset_id);
CREATE INDEX dataset_lineage_parent ON dataset_lineage(parent_dataset_id);
"""
"""The ``dataset_lineage`` table, as released in migration 2 (never edit it: add a migration). A removed parent
leaves its lineage rows (parent NULL; its fingerprint stays in ``detail_json``); a removed child takes them along."""


@dataclass(frozen=True, slots=True)
class LineageRecord:
    """One derivation: ``child_dataset_id`` was made from ``parent_dataset_id`` by ``operation``.

    ``parent_dataset_id`` is ``None`` once the parent was removed from the project. ``detail`` holds ids,
    names, counts and parameters (never dataset values).
    """

    id: int
    child_dataset_id: int
    parent_dataset_id: int | None
    operation: str
    detail: Mapping[str, Any] = field(hash=False)
    created_at: str


def _lineage_from_row(row: Sequence[Any]) -> LineageRecord:
    return LineageRecord(
        id=int(row[0]),
        child_dataset_id=int(row[1]),
        parent_dataset_id=None if row[2] is None else int(row[2]),
        operation=row[3],
        detail=FrozenMap(json.loads(row[4])),
        created_at=row[5],
    )


class LineageMixin(ProjectConnection):
    """The lineage methods of :class:`~workbench.core.project.store.Project` (issue 3)."""

    _LINEAGE_COLUMNS = "id, child_dataset_id, parent_dataset_id, operation, detail_json, created_at"

    def add_lineage(
        self, child_id: int, parent_id: int | None, operation: str, detail: Mapping[str, Any] | None = None
    ) -> LineageRecord:
        """Record that dataset ``child_id`` was derived from ``parent_id`` by ``operation`` (audited).

        ``detail`` holds ids, names, counts and parameters (for an anonymization: the policy id, the key id,
        entity counts), never dataset values.

        Raises
        ------
        ProjectError
            For an unknown dataset or an empty operation.
        """
        if not operation:
            raise ProjectError("a lineage entry needs an operation (for example 'anonymize')")
        detail_json = to_json(dict(detail or {}), "the lineage detail")
        with self._write("record the dataset lineage") as conn:
            for dataset_id in (child_id, parent_id):
                if dataset_id is not None and fetch_dataset(conn, int(dataset_id)) is None:
                    raise ProjectError(f"this project has no dataset with id {dataset_id}")
            cursor = conn.execute(
                "INSERT INTO dataset_lineage (child_dataset_id, parent_dataset_id, operation, detail_json, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (int(child_id), None if parent_id is None else int(parent_id), str(operation), detail_json, now()),
            )
            lineage_id = int(cursor.lastrowid or 0)
            write_audit_entry(
                conn,
                "dataset.derived",
                {"child_dataset_id": int(child_id), "parent_dataset_id": parent_id, "operation": str(operation)},
            )
            row = conn.execute(
                f"SELECT {self._LINEAGE_COLUMNS} FROM dataset_lineage WHERE id = ?", (lineage_id,)
            ).fetchone()
        return _lineage_from_row(row)

    def lineage(self, dataset_id: int) -> list[LineageRecord]:
        """Lineage entries in which ``dataset_id`` is the child or the parent, oldest first."""
        with self._read("read the dataset lineage") as conn:
            rows = conn.execute(
                f"SELECT {self._LINEAGE_COLUMNS} FROM dataset_lineage "
                "WHERE child_dataset_id = ? OR parent_dataset_id = ? ORDER BY id",
                (int(dataset_id), int(dataset_id)),
            ).fetchall()
        return [_lineage_from_row(row) for row in rows]
