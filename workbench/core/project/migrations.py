"""The schema of the project store: the ordered migrations, the identity check, and applying them.

Schema migrations
-----------------
:data:`MIGRATIONS` is an ordered list of ``(version, sql)``. Opening a project applies, in order, every
migration whose version is above the database's ``PRAGMA user_version``. Each one runs in its own
``BEGIN IMMEDIATE`` transaction together with ``PRAGMA user_version = version``, so a crash mid-migration
leaves the previous version intact and two processes opening an old project at once migrate it once. A
database whose ``user_version`` is above :data:`SCHEMA_VERSION` was written by a newer workbench and is
refused rather than misread.

Each table's SQL lives beside the code that owns the table (``DATASETS_SQL_V1`` in
:mod:`~workbench.core.project.datasets`, ``POLICIES_SQL_V2`` in :mod:`~workbench.core.project.policies`...);
this module puts the pieces together in the order and layout they were released in. The tables of
:mod:`workbench.core.dp.runs` and :mod:`workbench.core.dp.ledger` are written out here, because those modules
import the store (the store cannot import them back).

Released migrations are never edited, not even their comments or white space: SQLite keeps the text of every
``CREATE`` in ``sqlite_schema``, and old and new projects must hold the same schema. To change the schema, write
the new SQL beside the code that owns the table and append the next version, for example::

    # workbench/core/project/exports.py
    EXPORTS_SQL_V5 = '''\\
    CREATE TABLE exports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dataset_id INTEGER REFERENCES datasets(id) ON DELETE RESTRICT,
        path TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    '''

    # here, at the end of MIGRATIONS
    (5, _released(EXPORTS_SQL_V5)),

``foreign_keys`` is on for every connection, so choose ``ON DELETE`` deliberately: a privacy ledger entry must
outlive nothing it refers to (``RESTRICT``). Keep ``Project.remove_dataset`` in step when a new table refers
to datasets. Data changes that must accompany a schema change
(back-filling a column) go into the same migration's SQL.
"""

from __future__ import annotations

import logging
import sqlite3
import textwrap
from pathlib import Path

from workbench.core.errors import ProjectError
from workbench.core.project.audit import AUDIT_LOG_SQL_V1
from workbench.core.project.audit_chain import AUDIT_CHAIN_SQL_V6
from workbench.core.project.connection import DB_FILE_NAME
from workbench.core.project.datasets import DATASETS_SQL_V1
from workbench.core.project.identity import PROJECT_META_SQL_V5
from workbench.core.project.lineage import LINEAGE_SQL_V2
from workbench.core.project.policies import POLICIES_SQL_V2
from workbench.core.project.settings import SETTINGS_SQL_V1

log = logging.getLogger("workbench.core.project.store")  # the store's logger, as before the split

APPLICATION_ID = 0x50525742  # "PRWB" in the SQLite header: tells our database from any other SQLite file


def _released(*parts: str) -> str:
    """A migration script in the layout it was released in: the parts indented by 8 spaces, after a newline and
    before 8 spaces (the triple-quoted literals of the first store module). The text must not change."""
    return "\n" + textwrap.indent("".join(parts), " " * 8) + " " * 8


_IDENTITY_SQL_V1 = f"PRAGMA application_id = {APPLICATION_ID};\n"

_ISSUE_3_NOTE = """\
-- Issue 3: anonymization policies, one row per saved version (dataset_id NULL: project-wide), and
-- lineage. A removed parent leaves its lineage rows (parent NULL; its fingerprint stays in detail_json);
-- a removed child takes its rows along, as a removed dataset takes its policies.
"""

# ---- the tables of workbench.core.dp.runs and workbench.core.dp.ledger ---------------------------------------

# The released note names "workbench.core.train.runs": the module is workbench.core.dp.runs. Kept as released.
_ISSUE_4_NOTE = """\
-- Issue 4: training runs and the privacy-budget ledger (workbench.core.train.runs, workbench.core.dp.ledger).
-- Keyed by dataset fingerprint, not datasets.id, and without a foreign key on purpose: the privacy budget
-- belongs to the data, so removing and re-adding a dataset must not reset what was spent on it.
"""

TRAINING_RUNS_SQL_V3 = """\
CREATE TABLE training_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    dataset_name TEXT NOT NULL,
    task TEXT NOT NULL,
    private INTEGER NOT NULL CHECK (private IN (0, 1)),
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    config_json TEXT NOT NULL CHECK (json_valid(config_json)),
    seed INTEGER NOT NULL,
    target_epsilon REAL,
    noise_multiplier REAL,
    sample_rate REAL,
    steps INTEGER NOT NULL DEFAULT 0,
    epsilon REAL,
    delta REAL,
    accountant TEXT,
    metrics_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metrics_json)),
    model_path TEXT,
    error TEXT,
    owner_pid INTEGER NOT NULL,
    owner_token TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX training_runs_fingerprint ON training_runs(fingerprint);
"""
"""``training_runs`` (:mod:`workbench.core.dp.runs`), as released in migration 3."""

PRIVACY_LEDGER_SQL_V3 = """\
CREATE TABLE privacy_budgets (
    fingerprint TEXT PRIMARY KEY,
    total_epsilon REAL NOT NULL CHECK (total_epsilon >= 0),
    total_delta REAL CHECK (total_delta IS NULL OR (total_delta > 0 AND total_delta < 1)),
    updated_at TEXT NOT NULL
);
CREATE TABLE privacy_ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    run_id INTEGER REFERENCES training_runs(id) ON DELETE RESTRICT,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'committed', 'released')),
    reserved_epsilon REAL NOT NULL CHECK (reserved_epsilon >= 0),
    reserved_delta REAL NOT NULL CHECK (reserved_delta >= 0 AND reserved_delta < 1),
    spent_epsilon REAL CHECK (spent_epsilon IS NULL OR spent_epsilon >= 0),
    spent_delta REAL CHECK (spent_delta IS NULL OR spent_delta >= 0),
    accountant TEXT,
    noise_multiplier REAL,
    sample_rate REAL,
    steps INTEGER,
    owner_pid INTEGER NOT NULL,
    owner_token TEXT NOT NULL,
    reserved_at TEXT NOT NULL,
    committed_at TEXT,
    note TEXT
);
CREATE INDEX privacy_ledger_fingerprint ON privacy_ledger(fingerprint, state);
"""
"""``privacy_budgets`` and ``privacy_ledger`` (:mod:`workbench.core.dp.ledger`), as released in migration 3."""

TRAINING_RUN_ROWS_SQL_V4 = """\
-- Issue 9: which rows each run trained on and which it held out (workbench.core.dp.runs), so that a later
-- membership audit uses true members and non-members. Row numbers of the dataset as loaded (0-based),
-- stored as little-endian int64 arrays; the hashes let a report name the split without the lists.
CREATE TABLE training_run_rows (
    run_id INTEGER PRIMARY KEY REFERENCES training_runs(id) ON DELETE CASCADE,
    split_seed INTEGER NOT NULL,
    val_fraction REAL NOT NULL,
    train_count INTEGER NOT NULL CHECK (train_count >= 0),
    val_count INTEGER NOT NULL CHECK (val_count >= 0),
    train_sha256 TEXT NOT NULL,
    val_sha256 TEXT NOT NULL,
    train_rows BLOB NOT NULL,
    val_rows BLOB NOT NULL
);
"""
"""``training_run_rows`` (:mod:`workbench.core.dp.runs`), as released in migration 4."""

# ---- the migrations --------------------------------------------------------------------------------------------

MIGRATIONS: list[tuple[int, str]] = [
    (1, _released(_IDENTITY_SQL_V1, DATASETS_SQL_V1, SETTINGS_SQL_V1, AUDIT_LOG_SQL_V1)),
    (2, _released(_ISSUE_3_NOTE, POLICIES_SQL_V2, LINEAGE_SQL_V2)),
    (3, _released(_ISSUE_4_NOTE, TRAINING_RUNS_SQL_V3, PRIVACY_LEDGER_SQL_V3)),
    (4, _released(TRAINING_RUN_ROWS_SQL_V4)),
    (5, _released(PROJECT_META_SQL_V5)),
    (6, _released(AUDIT_CHAIN_SQL_V6)),
]

SCHEMA_VERSION = max(version for version, _ in MIGRATIONS)
"""The newest schema this code knows; projects are migrated up to it when opened."""


def _split_statements(sql: str) -> list[str]:
    """Split a migration script into statements (``executescript`` would commit our transaction first)."""
    statements: list[str] = []
    buffer = ""
    for piece in sql.split(";"):
        buffer += piece + ";"
        # complete_statement understands string literals and CREATE TRIGGER ... END bodies.
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\r\n;"):
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \t\r\n;"):
        raise ValueError("migration SQL ends with an incomplete statement")
    return statements


def check_identity(conn: sqlite3.Connection, folder: Path) -> None:
    """ProjectError unless the database is a workbench project (or a brand-new file) of a schema this code reads."""
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if app_id == 0 and version == 0:
        # A brand-new file, or a create that was killed before its first migration committed.
        tables = conn.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").fetchone()[0]
        if tables:
            raise ProjectError(f"{folder / DB_FILE_NAME} is an SQLite database, but not a workbench project")
        return
    if app_id != APPLICATION_ID:
        raise ProjectError(f"{folder / DB_FILE_NAME} is an SQLite database, but not a workbench project")
    if version > SCHEMA_VERSION:
        raise ProjectError(
            "this project was written by a newer version of Privacy Workbench "
            f"(schema version {version}; this version reads up to {SCHEMA_VERSION}). "
            "Update Privacy Workbench to open it."
        )


def migrate(conn: sqlite3.Connection) -> None:
    """Apply every migration above the database's ``user_version``, each in its own write transaction."""
    # Up to date (the usual case): no write lock, so opening never waits for another process's writes.
    if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= SCHEMA_VERSION:
        return
    for version, sql in sorted(MIGRATIONS):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Read again inside the write lock: another process may have migrated meanwhile.
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current < version:
                for statement in _split_statements(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {int(version)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if current < version:
            log.info("project database migrated to schema version %s", version)
