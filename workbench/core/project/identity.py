"""A project's identity: the marker file beside the store, and the id the store holds (issue 12).

A project that ever existed is never re-created in place. Its privacy ledger lives in ``workbench.sqlite``; were an
emptied, deleted or swapped store silently re-initialised, every epsilon already spent could be spent again. So:

- every project has a random **project id**, kept in the store (``project_meta``) and in the **marker file**
  ``workbench-project.json`` beside it, written when the project is created (last, after the store is complete)
  and, for a project made by an older version, the first time it is opened;
- opening refuses, with what to do, a store that is **missing** or **empty** where the marker (or another trace of
  a past project: a ledger record, files in ``data/``) says a project was, and a store whose id differs from the
  marker's (**replaced** by another project's store).

A ``create`` killed before its marker was written leaves a store without a marker and an empty ``data/``: the next
open finishes it, as before. The marker holds no dataset information (an id, a format name and a date).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.atomic import atomic_write_text
from workbench.core.errors import ProjectError
from workbench.core.project.connection import DB_FILE_NAME
from workbench.core.project.records import now

log = logging.getLogger("workbench.core.project.store")

MARKER_NAME = "workbench-project.json"
"""The marker file beside the store."""
MARKER_FORMAT = "privacy-workbench project"
LEDGER_RECORD_NAMES = ("ledger-record.json", "encrypted/.ledger-record")
"""The privacy-ledger records (:mod:`workbench.core.dp.ledger_record`): a trace that a project existed here."""
_MAX_MARKER_BYTES = 4096

PROJECT_META_SQL_V5 = """\
CREATE TABLE project_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
"""``project_meta`` (key/value facts about the project itself, e.g. its id), as released in migration 5."""


@dataclass(frozen=True, slots=True)
class ProjectIdentity:
    """What an open project knows about itself: its id and, for an encrypted store, the key of its ledger record
    (derived from the store's key, so it lives as long as the open store does and never touches the disk)."""

    project_id: str
    ledger_record_key: bytes | None = field(default=None, repr=False)


def ledger_record_key(store_key: bytes | None) -> bytes | None:
    """The key that seals an encrypted project's ledger record; ``None`` for a plaintext store."""
    if store_key is None:
        return None
    return hmac.new(bytes(store_key), b"workbench/ledger-record/v1", hashlib.sha256).digest()


_RESTORE = (
    "Restore workbench.sqlite (with its -wal file, if any) from your backup of this project. A project is never "
    "re-created in place, because its privacy budget would start again."
)


def read_marker(folder: Path) -> dict[str, str] | None:
    """The marker's content, ``None`` when there is none.

    Raises
    ------
    ProjectError
        A marker that cannot be read or is not ours (it is never silently ignored: it guards the ledger).
    """
    path = folder / MARKER_NAME
    if not path.exists() and not path.is_symlink():
        return None
    try:
        if not path.is_file():
            raise ProjectError(f"{path} is not a regular file; it should be this project's marker")
        with path.open("rb") as f:
            raw = f.read(_MAX_MARKER_BYTES + 1)
        data = json.loads(raw) if len(raw) <= _MAX_MARKER_BYTES else None
    except OSError as exc:
        raise ProjectError(f"the project marker {path} cannot be read ({exc.strerror or exc})") from None
    except (ValueError, RecursionError):
        data = None
    if not (isinstance(data, dict) and data.get("format") == MARKER_FORMAT and isinstance(data.get("project_id"), str)):
        raise ProjectError(
            f"the project marker {path} is damaged. Restore it from your backup of this project (it holds only "
            "the project's id, which its store also holds)."
        )
    return {str(k): str(v) for k, v in data.items()}


def write_marker(folder: Path, project_id: str) -> None:
    """Write the marker (atomically; replaces one that holds the same id)."""
    content = {"format": MARKER_FORMAT, "project_id": project_id, "written_at": now()}
    atomic_write_text(folder / MARKER_NAME, json.dumps(content, indent=2) + "\n", mode=0o644)


def store_project_id(conn: sqlite3.Connection) -> str | None:
    """The id the store holds; ``None`` for a store made before ids (or one not migrated yet)."""
    exists = conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'project_meta'").fetchone()
    if exists is None:
        return None
    row = conn.execute("SELECT value FROM project_meta WHERE key = 'project_id'").fetchone()
    return None if row is None else str(row[0])


def traces_of_a_project(folder: Path) -> list[str]:
    """What in ``folder`` shows that a project existed there (the marker, a ledger record, files in data/)."""
    traces = [name for name in (MARKER_NAME, *LEDGER_RECORD_NAMES) if (folder / name).exists()]
    data = folder / "data"
    try:
        if data.is_dir() and any(data.iterdir()):
            traces.append("data/")
    except OSError:
        traces.append("data/ (unreadable)")
    return traces


def refuse_missing_store(folder: Path) -> None:
    """ProjectError when ``folder`` has no store but held a project (the store was deleted or moved)."""
    traces = traces_of_a_project(folder)
    if traces:
        raise ProjectError(
            f"{folder} held a workbench project ({', '.join(traces)}) but its store {DB_FILE_NAME} is missing: it "
            f"was deleted or moved. {_RESTORE}"
        )


def check_store_identity(conn: sqlite3.Connection, folder: Path) -> None:
    """ProjectError when the store is empty or swapped although the folder held a project.

    Called on every open (after the store is known to be ours or brand new), before any migration.
    """
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    marker = read_marker(folder)
    if app_id == 0 and version == 0:
        traces = traces_of_a_project(folder)
        if traces:
            raise ProjectError(
                f"the store of the project in {folder} is empty although the project existed ({', '.join(traces)}): "
                f"it was emptied or replaced. {_RESTORE}"
            )
        return
    held = store_project_id(conn)
    if marker is not None and held != marker["project_id"]:
        # A store without an id never had a marker written beside it (ids came first): an older copy.
        raise ProjectError(
            f"the store {folder / DB_FILE_NAME} belongs to another project (its id differs from the one in "
            f"{MARKER_NAME}): it was replaced. {_RESTORE}"
        )


def ensure_identity(conn: sqlite3.Connection, folder: Path) -> str:
    """The project's id, created (store first, then the marker) when the store has none; the marker is
    rewritten when missing. Called after the migrations, on a writable store."""
    project_id = store_project_id(conn)
    if project_id is None:
        project_id = uuid.uuid4().hex
        conn.execute("BEGIN IMMEDIATE")
        try:
            held = store_project_id(conn)  # another process may have done it meanwhile
            if held is None:
                conn.execute("INSERT INTO project_meta (key, value) VALUES ('project_id', ?)", (project_id,))
                conn.execute("INSERT OR IGNORE INTO project_meta (key, value) VALUES ('created_at', ?)", (now(),))
            else:
                project_id = held
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    if read_marker(folder) is None:
        try:
            write_marker(folder, project_id)
        except OSError as exc:  # a read-only folder: the store still knows its id
            log.warning("the project marker could not be written (%s)", exc.strerror or type(exc).__name__)
    return project_id


def read_identity(conn: sqlite3.Connection, folder: Path) -> str:
    """The project's id from a store opened read-only (which cannot be given one)."""
    project_id = store_project_id(conn)
    if project_id is None:
        raise ProjectError(
            f"the store {folder / DB_FILE_NAME} has no project id and cannot be given one read-only: open the project "
            "once where it can be written"
        )
    return project_id
