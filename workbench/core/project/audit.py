"""The audit log of a project: its table, its entries, and writing one inside the transaction of the change it
records (:mod:`workbench.core.project.store`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.core.errors import ProjectError
from workbench.core.project.audit_chain import append
from workbench.core.project.connection import ProjectConnection
from workbench.core.project.records import FrozenMap, to_json

AUDIT_LOG_SQL_V1 = """\
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    action TEXT NOT NULL,
    detail_json TEXT NOT NULL CHECK (json_valid(detail_json))
);
CREATE INDEX audit_log_action ON audit_log(action);
"""
"""The ``audit_log`` table, as released in migration 1 (never edit it: add a migration)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the project's audit log. ``detail`` holds ids, names and roles, never dataset values."""

    id: int
    ts: str
    action: str
    detail: Mapping[str, Any] = field(hash=False)


def write_audit_entry(conn: sqlite3.Connection, action: str, detail: Mapping[str, Any]) -> None:
    """Append an entry in the caller's transaction, so that it commits (or rolls back) with the change. The entry
    is chained to the one before it (:mod:`workbench.core.project.audit_chain`)."""
    append(conn, action, to_json(dict(detail), f"the detail of audit action {action!r}"))


class AuditMixin(ProjectConnection):
    """The audit-log methods of :class:`~workbench.core.project.store.Project`."""

    @staticmethod
    def _insert_audit(conn: sqlite3.Connection, action: str, detail: Mapping[str, Any]) -> None:
        write_audit_entry(conn, action, detail)

    def audit(self, action: str, **detail: Any) -> None:
        """Append an entry to the audit log.

        Parameters
        ----------
        action:
            Dotted name, ``"<object>.<verb in past tense>"`` (``"dataset.exported"``).
        **detail:
            JSON-serialisable facts: ids, file and column names, roles, counts, parameters. Never dataset
            values.
        """
        if not action:
            raise ProjectError("an audit entry needs an action")
        with self._write("write the audit log") as conn:
            write_audit_entry(conn, action, detail)

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` audit entries, newest first."""
        with self._read("read the audit log") as conn:
            rows = conn.execute(
                "SELECT id, ts, action, detail_json FROM audit_log ORDER BY id DESC LIMIT ?", (int(limit),)
            ).fetchall()
        return [
            AuditEntry(id=int(row[0]), ts=row[1], action=row[2], detail=FrozenMap(json.loads(row[3]))) for row in rows
        ]

    def insert_audit(self, conn: sqlite3.Connection, action: str, **detail: Any) -> None:
        """Append an audit entry inside a :meth:`write_transaction` (so it commits with the change)."""
        write_audit_entry(conn, action, detail)
