"""The datasets a project remembers: the ``datasets`` table, its records and the methods that register, read,
relocate and remove them (:mod:`workbench.core.project.store`).

A record holds metadata only (file path, fingerprint, column names and types, roles, counts), never values.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.data.dataset import ColumnRole
from workbench.core.errors import ProjectError, WorkbenchError
from workbench.core.project.audit import write_audit_entry
from workbench.core.project.connection import ProjectConnection
from workbench.core.project.records import FrozenMap, now, to_json
from workbench.core.safe_io import parse_json

DATASETS_SQL_V1 = """\
CREATE TABLE datasets (
    -- AUTOINCREMENT: an id is never reused after a removal, so audit entries and later runs
    -- that name a dataset id keep meaning the same dataset.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    encoding TEXT,
    delimiter TEXT,
    rows INTEGER NOT NULL CHECK (rows >= 0),
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    schema_json TEXT NOT NULL CHECK (json_valid(schema_json)),
    roles_json TEXT NOT NULL CHECK (json_valid(roles_json)),
    added_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""
"""The ``datasets`` table, as released in migration 1 (never edit it: add a migration). Tables that refer to it:
``pii_policies`` and ``dataset_lineage`` (:mod:`~workbench.core.project.policies`,
:mod:`~workbench.core.project.lineage`); keep :meth:`DatasetsMixin.remove_dataset` in step with a new one."""


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """What the project remembers about one dataset file.

    Attributes
    ----------
    schema:
        ``(column name, dtype)`` pairs in file order; dtypes as in
        :class:`~workbench.core.data.dataset.ColumnSummary`.
    roles:
        Column name → :class:`~workbench.core.data.dataset.ColumnRole` value (``"quasi_identifier"``...).
        Read-only; change it with :meth:`Project.set_roles`.
    added_at, updated_at:
        ISO-8601 UTC timestamps.
    """

    id: int
    name: str
    path: str
    fingerprint: str
    format: str
    encoding: str | None
    delimiter: str | None
    rows: int
    size_bytes: int
    schema: tuple[tuple[str, str], ...]
    roles: Mapping[str, str] = field(hash=False)
    added_at: str
    updated_at: str

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names in file order."""
        return tuple(name for name, _ in self.schema)

    def column_roles(self) -> dict[str, ColumnRole]:
        """The roles as :class:`ColumnRole` members (a new dict each call)."""
        return {column: ColumnRole(role) for column, role in self.roles.items()}


_DATASET_COLUMNS = (
    "id, name, path, fingerprint, format, encoding, delimiter, rows, size_bytes, schema_json, roles_json, "
    "added_at, updated_at"
)


def _damaged(dataset_id: Any, what: str) -> ProjectError:
    return ProjectError(
        f"the project store is damaged: the {what} stored for dataset {dataset_id} cannot be read (was "
        "workbench.sqlite edited?); restore the project from a backup"
    )


def _stored_json(text: Any, dataset_id: Any, what: str) -> Any:
    """A JSON column of the datasets table, parsed with a depth bound; anything else is a damaged store."""
    if not isinstance(text, str):
        raise _damaged(dataset_id, what)
    try:
        return parse_json(text, source="workbench.sqlite", what=what)
    except WorkbenchError:
        raise _damaged(dataset_id, what) from None


def _stored_schema(text: Any, dataset_id: Any) -> tuple[tuple[str, str], ...]:
    value = _stored_json(text, dataset_id, "schema")
    if not isinstance(value, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair) for pair in value
    ):
        raise _damaged(dataset_id, "schema")
    return tuple((name, dtype) for name, dtype in value)


def _stored_roles(text: Any, dataset_id: Any) -> dict[str, str]:
    value = _stored_json(text, dataset_id, "column roles")
    known = {role.value for role in ColumnRole}
    if not isinstance(value, dict) or not all(isinstance(v, str) and v in known for v in value.values()):
        raise _damaged(dataset_id, "column roles")
    return value


def _dataset_from_row(row: Sequence[Any]) -> DatasetRecord:
    schema = _stored_schema(row[9], row[0])
    return DatasetRecord(
        id=int(row[0]),
        name=row[1],
        path=row[2],
        fingerprint=row[3],
        format=row[4],
        encoding=row[5],
        delimiter=row[6],
        rows=int(row[7]),
        size_bytes=int(row[8]),
        schema=schema,
        roles=FrozenMap(_stored_roles(row[10], row[0])),
        added_at=row[11],
        updated_at=row[12],
    )


def fetch_dataset(conn: sqlite3.Connection, dataset_id: int) -> DatasetRecord | None:
    """The dataset with this id, read on ``conn`` (inside the caller's transaction), or ``None``."""
    row = conn.execute(f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE id = ?", (int(dataset_id),)).fetchone()
    return _dataset_from_row(row) if row is not None else None


def _role_value(column: str, role: str | ColumnRole) -> str:
    if isinstance(role, ColumnRole):
        return role.value
    try:
        return ColumnRole.parse(str(role)).value
    except ValueError as exc:
        raise ProjectError(f"column {column!r}: {exc}") from None


def _normalise_schema(schema: Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry in schema:
        if len(entry) != 2:
            raise ProjectError("a dataset schema must be a list of (column name, dtype) pairs")
        name, dtype = str(entry[0]), str(entry[1])
        if name in seen:
            raise ProjectError(f"the dataset has two columns named {name!r}; column names must be unique")
        seen.add(name)
        pairs.append((name, dtype))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class _LoadFacts:
    """The columns of a ``datasets`` row that a (re-)registration writes as given, checked and converted."""

    name: str
    path: str
    format: str
    encoding: str | None
    delimiter: str | None
    rows: int
    size_bytes: int
    schema_json: str


def _insert_dataset(
    conn: sqlite3.Connection, fingerprint: str, facts: _LoadFacts, roles: Mapping[str, str], columns: int, at: str
) -> int:
    """A new ``datasets`` row with the suggested ``roles``, audited as ``dataset.registered``; returns its id."""
    cursor = conn.execute(
        "INSERT INTO datasets (name, path, fingerprint, format, encoding, delimiter, rows, "
        "size_bytes, schema_json, roles_json, added_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            facts.name,
            facts.path,
            fingerprint,
            facts.format,
            facts.encoding,
            facts.delimiter,
            facts.rows,
            facts.size_bytes,
            facts.schema_json,
            to_json(roles, "the column roles"),
            at,
            at,
        ),
    )
    dataset_id = int(cursor.lastrowid or 0)
    write_audit_entry(
        conn,
        "dataset.registered",
        {
            "dataset_id": dataset_id,
            "name": facts.name,
            "fingerprint": fingerprint,
            "rows": facts.rows,
            "columns": columns,
        },
    )
    return dataset_id


def _refresh_dataset(
    conn: sqlite3.Connection, dataset_id: int, fingerprint: str, facts: _LoadFacts, roles: Mapping[str, str], at: str
) -> None:
    """Rewrite an existing row's load facts and ``roles`` (``added_at`` stays), audited as ``dataset.reregistered``."""
    conn.execute(
        "UPDATE datasets SET name = ?, path = ?, format = ?, encoding = ?, delimiter = ?, "
        "rows = ?, size_bytes = ?, schema_json = ?, roles_json = ?, updated_at = ? WHERE id = ?",
        (
            facts.name,
            facts.path,
            facts.format,
            facts.encoding,
            facts.delimiter,
            facts.rows,
            facts.size_bytes,
            facts.schema_json,
            to_json(roles, "the column roles"),
            at,
            dataset_id,
        ),
    )
    write_audit_entry(
        conn, "dataset.reregistered", {"dataset_id": dataset_id, "name": facts.name, "fingerprint": fingerprint}
    )


class DatasetsMixin(ProjectConnection):
    """The dataset methods of :class:`~workbench.core.project.store.Project`."""

    def register_dataset(
        self,
        name: str,
        path: str | Path,
        fingerprint: str,
        format: str,
        encoding: str | None,
        delimiter: str | None,
        rows: int,
        size_bytes: int,
        schema: Sequence[Sequence[str]],
        roles: Mapping[str, str | ColumnRole],
    ) -> DatasetRecord:
        """Remember a loaded dataset, or refresh the record of the same data registered before.

        "The same data is the same dataset": if a dataset with this ``fingerprint`` (hash of the file's bytes)
        is already registered, its name, path, load facts and ``updated_at`` are refreshed and its id is kept.
        The roles the analyst saved are kept as well; ``roles`` (usually the loader's suggestions) only fills
        in columns that have no saved role. Columns no longer in ``schema`` lose their role.

        Parameters
        ----------
        name, path:
            Display name and file location.
        fingerprint:
            SHA-256 hex of the file's bytes (``Dataset.fingerprint``).
        format, encoding, delimiter, rows, size_bytes:
            What the loader detected or was told.
        schema:
            ``(column name, dtype)`` pairs in file order.
        roles:
            Column name → role (a :class:`ColumnRole` or any spelling :meth:`ColumnRole.parse` accepts), for
            columns of ``schema`` only.

        Returns
        -------
        DatasetRecord
            The stored record (new or refreshed).
        """
        if not fingerprint:
            raise ProjectError("a dataset cannot be registered without a fingerprint")
        if int(rows) < 0 or int(size_bytes) < 0:
            raise ProjectError("a dataset's row count and size cannot be negative")
        pairs = _normalise_schema(schema)
        columns = {column for column, _ in pairs}
        suggested = self._validated_roles(roles, columns)
        schema_json = to_json([list(pair) for pair in pairs], "the dataset schema")
        facts = _LoadFacts(
            str(name), str(path), str(format), encoding, delimiter, int(rows), int(size_bytes), schema_json
        )
        at = now()
        with self._write("register the dataset") as conn:
            row = conn.execute("SELECT id, roles_json FROM datasets WHERE fingerprint = ?", (fingerprint,)).fetchone()
            if row is None:
                dataset_id = _insert_dataset(conn, fingerprint, facts, suggested, len(pairs), at)
            else:
                dataset_id = int(row[0])
                saved = _stored_roles(row[1], dataset_id)
                # The analyst's saved choices win over fresh suggestions; columns that vanished lose theirs.
                merged = {
                    column: saved[column] if column in saved else suggested[column]
                    for column, _ in pairs
                    if column in saved or column in suggested
                }
                _refresh_dataset(conn, dataset_id, fingerprint, facts, merged, at)
            record = fetch_dataset(conn, dataset_id)
        assert record is not None  # written in the same transaction
        return record

    @staticmethod
    def _validated_roles(roles: Mapping[str, str | ColumnRole], columns: set[str]) -> dict[str, str]:
        result: dict[str, str] = {}
        for column, role in roles.items():
            if column not in columns:
                raise ProjectError(f"the dataset has no column named {column!r}; roles can be set only for its columns")
            result[column] = _role_value(column, role)
        return result

    @staticmethod
    def _fetch_dataset(conn: sqlite3.Connection, dataset_id: int) -> DatasetRecord | None:
        return fetch_dataset(conn, dataset_id)

    def get_dataset(self, dataset_id: int) -> DatasetRecord:
        """The dataset with this id. Raises ProjectError if there is none."""
        with self._read("read the dataset") as conn:
            record = fetch_dataset(conn, dataset_id)
        if record is None:
            raise ProjectError(f"this project has no dataset with id {dataset_id}")
        return record

    def dataset_by_fingerprint(self, fingerprint: str) -> DatasetRecord | None:
        """The dataset registered for this fingerprint, or ``None``."""
        with self._read("read the dataset") as conn:
            row = conn.execute(
                f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()
        return _dataset_from_row(row) if row is not None else None

    def datasets(self) -> list[DatasetRecord]:
        """All registered datasets, oldest first."""
        with self._read("list the datasets") as conn:
            rows = conn.execute(f"SELECT {_DATASET_COLUMNS} FROM datasets ORDER BY id").fetchall()
        return [_dataset_from_row(row) for row in rows]

    def set_roles(self, dataset_id: int, roles: Mapping[str, str | ColumnRole]) -> DatasetRecord:
        """Save the analyst's roles for some columns of a dataset; other columns keep theirs.

        Parameters
        ----------
        dataset_id:
            The dataset.
        roles:
            Column name → role (a :class:`ColumnRole` or any spelling :meth:`ColumnRole.parse` accepts).

        Returns
        -------
        DatasetRecord
            The updated record.

        Raises
        ------
        ProjectError
            For an unknown dataset, a column the dataset does not have (named in the message) or an unknown
            role. Nothing is saved then.
        """
        with self._write("save the column roles") as conn:
            record = fetch_dataset(conn, dataset_id)
            if record is None:
                raise ProjectError(f"this project has no dataset with id {dataset_id}")
            wanted = self._validated_roles(roles, set(record.columns))
            changes = {
                column: [record.roles.get(column), role]
                for column, role in wanted.items()
                if record.roles.get(column) != role
            }
            if not changes:
                return record
            merged = {**record.roles, **wanted}
            conn.execute(
                "UPDATE datasets SET roles_json = ?, updated_at = ? WHERE id = ?",
                (to_json(merged, "the column roles"), now(), int(dataset_id)),
            )
            write_audit_entry(conn, "dataset.roles_changed", {"dataset_id": int(dataset_id), "changes": changes})
            updated = fetch_dataset(conn, dataset_id)
        assert updated is not None
        return updated

    def relocate_dataset(self, dataset_id: int, path: str, *, reason: str) -> DatasetRecord:
        """Record that a dataset's bytes now live at ``path`` (``vault:NAME`` when a project is encrypted); the
        fingerprint, roles and lineage stay. Audited as ``dataset.relocated`` with ``reason``.

        Raises
        ------
        ProjectError
            For an unknown dataset.
        """
        with self._write("record where the dataset is kept") as conn:
            cur = conn.execute(
                "UPDATE datasets SET path = ?, updated_at = ? WHERE id = ?", (str(path), now(), int(dataset_id))
            )
            if not cur.rowcount:
                raise ProjectError(f"this project has no dataset with id {dataset_id}")
            write_audit_entry(conn, "dataset.relocated", {"dataset_id": int(dataset_id), "reason": reason})
            record = fetch_dataset(conn, dataset_id)
        assert record is not None
        return record

    def remove_dataset(self, dataset_id: int) -> None:
        """Forget a dataset (its file is not touched). Raises ProjectError if there is none.

        Its policies and the lineage entries in which it is the child go with it (``ON DELETE CASCADE``); lineage
        entries in which it is the parent stay, with the parent set to NULL.
        """
        with self._write("remove the dataset") as conn:
            row = conn.execute("SELECT fingerprint FROM datasets WHERE id = ?", (int(dataset_id),)).fetchone()
            if row is None:
                raise ProjectError(f"this project has no dataset with id {dataset_id}")
            conn.execute("DELETE FROM datasets WHERE id = ?", (int(dataset_id),))
            write_audit_entry(conn, "dataset.removed", {"dataset_id": int(dataset_id), "fingerprint": row[0]})
