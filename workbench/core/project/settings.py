"""Project settings: the ``settings`` table of the project store, JSON values by key.

Not the application settings: those, and the resolver that ranks the environment, a project setting and an
application setting, are :mod:`workbench.core.settings`.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.core.project.audit import write_audit_entry
from workbench.core.project.connection import ProjectConnection
from workbench.core.project.records import to_json

SETTINGS_SQL_V1 = """\
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value_json TEXT NOT NULL CHECK (json_valid(value_json))
);
"""
"""The ``settings`` table, as released in migration 1 (never edit it: add a migration)."""


class SettingsMixin(ProjectConnection):
    """The settings methods of :class:`~workbench.core.project.store.Project`."""

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The stored value of a project setting, or ``default``."""
        with self._read("read the project settings") as conn:
            row = conn.execute("SELECT value_json FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable project setting (audited by key; the value is not copied to the log)."""
        value_json = to_json(value, f"the setting {key!r}")
        with self._write("save the project setting") as conn:
            conn.execute(
                "INSERT INTO settings (key, value_json) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json",
                (key, value_json),
            )
            write_audit_entry(conn, "setting.changed", {"key": key})
