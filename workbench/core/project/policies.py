"""Anonymization policies saved in a project: the ``pii_policies`` table, one row per saved version
(:mod:`workbench.core.project.store`; the policy itself is :mod:`workbench.core.pii.policy`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.errors import ProjectError
from workbench.core.project.audit import write_audit_entry
from workbench.core.project.connection import ProjectConnection
from workbench.core.project.datasets import fetch_dataset
from workbench.core.project.records import now, to_json

POLICIES_SQL_V2 = """\
CREATE TABLE pii_policies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    policy_json TEXT NOT NULL CHECK (json_valid(policy_json)),
    created_at TEXT NOT NULL
);
CREATE INDEX pii_policies_dataset ON pii_policies(dataset_id, id);
"""
"""The ``pii_policies`` table, as released in migration 2 (never edit it: add a migration). ``dataset_id`` NULL:
a project-wide policy; a removed dataset takes its policies along."""


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """One saved version of an anonymization policy (``dataset_id`` ``None``: project-wide).

    ``policy_json`` is the policy as :mod:`workbench.core.pii.policy` writes it; this store only checks that it
    is JSON.
    """

    id: int
    dataset_id: int | None
    name: str
    policy_json: str
    created_at: str


def _policy_from_row(row: Sequence[Any]) -> PolicyRecord:
    return PolicyRecord(
        id=int(row[0]),
        dataset_id=None if row[1] is None else int(row[1]),
        name=row[2],
        policy_json=row[3],
        created_at=row[4],
    )


class PoliciesMixin(ProjectConnection):
    """The policy methods of :class:`~workbench.core.project.store.Project` (issue 3)."""

    _POLICY_COLUMNS = "id, dataset_id, name, policy_json, created_at"

    def save_policy(
        self,
        policy_json: str | Mapping[str, Any],
        *,
        name: str,
        dataset_id: int | None = None,
        changes: Mapping[str, Any] | None = None,
    ) -> PolicyRecord:
        """Store a new version of a policy and record the change in the audit log (one transaction).

        Parameters
        ----------
        policy_json:
            The policy as JSON text or a JSON-serialisable mapping.
        name:
            The policy's display name.
        dataset_id:
            The dataset it belongs to; ``None`` for a project-wide policy.
        changes:
            What changed since the previous version, by name (entity types, columns, operators): copied to the
            audit entry ``pii_policy.saved``. Never put allow- or deny-list terms here.

        Raises
        ------
        ProjectError
            For text that is not JSON, or an unknown dataset.
        """
        if isinstance(policy_json, str):
            try:
                json.loads(policy_json)
            except json.JSONDecodeError:
                raise ProjectError("a policy must be stored as JSON text") from None
            text = policy_json
        else:
            text = to_json(dict(policy_json), "the policy")
        change_detail = json.loads(to_json(dict(changes or {}), "the policy changes"))
        with self._write("save the policy") as conn:
            if dataset_id is not None and fetch_dataset(conn, int(dataset_id)) is None:
                raise ProjectError(f"this project has no dataset with id {dataset_id}")
            cursor = conn.execute(
                "INSERT INTO pii_policies (dataset_id, name, policy_json, created_at) VALUES (?, ?, ?, ?)",
                (None if dataset_id is None else int(dataset_id), str(name), text, now()),
            )
            policy_id = int(cursor.lastrowid or 0)
            write_audit_entry(
                conn,
                "pii_policy.saved",
                {"policy_id": policy_id, "dataset_id": dataset_id, "name": str(name), "changes": change_detail},
            )
            row = conn.execute(f"SELECT {self._POLICY_COLUMNS} FROM pii_policies WHERE id = ?", (policy_id,)).fetchone()
        return _policy_from_row(row)

    def latest_policy(self, dataset_id: int | None = None) -> PolicyRecord | None:
        """The newest policy saved for ``dataset_id`` (``None``: the newest project-wide one), or ``None``."""
        history = self._policies(dataset_id, limit=1)
        return history[0] if history else None

    def policy_history(self, dataset_id: int | None = None) -> list[PolicyRecord]:
        """Every saved version for ``dataset_id`` (``None``: project-wide), newest first."""
        return self._policies(dataset_id, limit=-1)

    def _policies(self, dataset_id: int | None, limit: int) -> list[PolicyRecord]:
        where, params = ("dataset_id IS NULL", ()) if dataset_id is None else ("dataset_id = ?", (int(dataset_id),))
        with self._read("read the policies") as conn:
            rows = conn.execute(
                f"SELECT {self._POLICY_COLUMNS} FROM pii_policies WHERE {where} ORDER BY id DESC LIMIT ?",
                (*params, int(limit)),
            ).fetchall()
        return [_policy_from_row(row) for row in rows]
