"""The project store: a project folder and the SQLite database that remembers what the analyst did in it.

A project is a folder holding ``workbench.sqlite`` and a ``data/`` subfolder (for derived files: anonymized
versions, trained models, exports). The database records the datasets the analyst registered (with the column
roles they chose), project settings, and an audit log of every change. It never holds dataset values: only
metadata (file paths, fingerprints, column names and types, roles, counts).

Concurrency
-----------
* **Threads.** One :class:`Project` holds one SQLite connection (``check_same_thread=False``) guarded by one
  ``threading.Lock``: a job in a worker thread may register a dataset while the GUI thread lists datasets. The
  lock is held only around SQL; nothing is logged, emitted or called back while holding it.
* **Processes.** Two processes (the GUI and a ``workbench`` CLI run, two app windows) may open the same
  project. The database is in WAL mode, so readers never block the writer; writers take the write lock up
  front with ``BEGIN IMMEDIATE`` and wait up to :data:`BUSY_TIMEOUT_S` for each other (``busy_timeout``). WAL
  needs a local file system: a project on a network share is not supported.
* **Crashes.** Every change, with its audit-log entry, is one transaction. WAL with ``synchronous=NORMAL`` may
  lose the last transactions on power loss, but never corrupts the database, and a killed process loses only
  its uncommitted transaction. ``tests/core/test_project_store.py`` SIGKILLs a writer repeatedly to check
  this.

Encryption (SQLCipher)
----------------------
In an encrypted project (one with a ``vault.json``, :mod:`workbench.core.crypto.vault`) the store is itself
encrypted with SQLCipher 4, keyed with a raw 32-byte key that the caller takes from the unlocked vault: pass
``key=`` to :meth:`Project.create`, :meth:`Project.open` or :meth:`Project.open_or_create`.
:meth:`Project.encrypt_store` converts a plaintext store in place (crash-safely); :meth:`Project.store_is_encrypted`
tells the two kinds apart by the file header. ``sqlcipher3`` is imported only when a key is given, so plain
projects and ``workbench --help`` never load it. Its exceptions are not ``sqlite3.Error`` subclasses:
:func:`_db_errors` names both, and every ``except`` here uses it. SQLCipher reports a page that fails
authentication after the first as ``SQLITE_NOMEM`` (``MemoryError``); on an encrypted store that is translated into
"damaged" as well. The key never appears in a log line or an error message. ``docs/crypto-format.md`` ("The
encrypted project store") says what the encryption hides and what stays visible.

Schema migrations
-----------------
:data:`MIGRATIONS` is an ordered list of ``(version, sql)``. Opening a project applies, in order, every
migration whose version is above the database's ``PRAGMA user_version``. Each one runs in its own
``BEGIN IMMEDIATE`` transaction together with ``PRAGMA user_version = version``, so a crash mid-migration
leaves the previous version intact and two processes opening an old project at once migrate it once. A
database whose ``user_version`` is above :data:`SCHEMA_VERSION` was written by a newer workbench and is
refused rather than misread.

To add tables in a later issue (``runs``, ``privacy_ledger``), append a migration; never edit a released one::

    MIGRATIONS.append((2, '''
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dataset_id INTEGER REFERENCES datasets(id) ON DELETE RESTRICT,
            kind TEXT NOT NULL, status TEXT NOT NULL, config_json TEXT NOT NULL,
            started_at TEXT NOT NULL, finished_at TEXT
        );
        CREATE INDEX runs_dataset ON runs(dataset_id);
    '''))

(better: add the tuple to the literal list below). ``foreign_keys`` is on for every connection, so choose
``ON DELETE`` deliberately: a privacy ledger entry must outlive nothing it refers to (``RESTRICT``). Keep
:meth:`Project.remove_dataset` in step when a new table refers to datasets. Data changes that must accompany a
schema change (back-filling a column) go into the same migration's SQL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from workbench.core.data.dataset import ColumnRole
from workbench.core.errors import ProjectError

log = logging.getLogger(__name__)

DB_FILE_NAME = "workbench.sqlite"
DATA_DIR_NAME = "data"
BUSY_TIMEOUT_S = 5.0
APPLICATION_ID = 0x50525742  # "PRWB" in the SQLite header: tells our database from any other SQLite file
KEY_SIZE = 32
"""Bytes of the raw SQLCipher key of an encrypted store (AES-256)."""
SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every plaintext SQLite file; an SQLCipher file starts with a random salt instead."""
ENCRYPTING_SUFFIX = ".encrypting"
"""``workbench.sqlite.encrypting``: the encrypted copy that :meth:`Project.encrypt_store` writes before the swap."""
_VAULT_FILE_NAME = "vault.json"  # workbench.core.crypto.vault.VAULT_FILE (not imported: it loads `cryptography`)
_ENCRYPTED_DIR_NAME = "encrypted"  # workbench.core.crypto.vault.ENCRYPTED_DIR
_CONVERSION_LOCK_TIMEOUT_S = 30.0

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        f"""
        PRAGMA application_id = {APPLICATION_ID};
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
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value_json TEXT NOT NULL CHECK (json_valid(value_json))
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts TEXT NOT NULL,
            action TEXT NOT NULL,
            detail_json TEXT NOT NULL CHECK (json_valid(detail_json))
        );
        CREATE INDEX audit_log_action ON audit_log(action);
        """,
    ),
    (
        2,
        """
        -- Issue 3: anonymization policies, one row per saved version (dataset_id NULL: project-wide), and
        -- lineage. A removed parent leaves its lineage rows (parent NULL; its fingerprint stays in detail_json);
        -- a removed child takes its rows along, as a removed dataset takes its policies.
        CREATE TABLE pii_policies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            policy_json TEXT NOT NULL CHECK (json_valid(policy_json)),
            created_at TEXT NOT NULL
        );
        CREATE INDEX pii_policies_dataset ON pii_policies(dataset_id, id);
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
        """,
    ),
    (
        3,
        """
        -- Issue 4: training runs and the privacy-budget ledger (workbench.core.train.runs, workbench.core.dp.ledger).
        -- Keyed by dataset fingerprint, not datasets.id, and without a foreign key on purpose: the privacy budget
        -- belongs to the data, so removing and re-adding a dataset must not reset what was spent on it.
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
        """,
    ),
    (
        4,
        """
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
        """,
    ),
]

SCHEMA_VERSION = max(version for version, _ in MIGRATIONS)
"""The newest schema this code knows; projects are migrated up to it when opened."""


# ----------------------------------------------------------------------------------------------------------
# Records
# ----------------------------------------------------------------------------------------------------------


class FrozenMap(Mapping[str, Any]):
    """A read-only, picklable mapping (``MappingProxyType`` cannot be pickled, records may cross processes).

    It is hashable when its values are.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __reduce__(self) -> tuple[type[FrozenMap], tuple[dict[str, Any]]]:
        return (FrozenMap, (self._data,))


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


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the project's audit log. ``detail`` holds ids, names and roles, never dataset values."""

    id: int
    ts: str
    action: str
    detail: Mapping[str, Any] = field(hash=False)


# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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


_DAMAGED_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
_BUSY_CODES = {"SQLITE_BUSY", "SQLITE_LOCKED"}
_PLAIN_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,)


def _cipher() -> Any:
    """``sqlcipher3.dbapi2``, imported on first use (only encrypted projects need it)."""
    try:
        import sqlcipher3.dbapi2 as cipher
    except ImportError as exc:
        raise ProjectError(
            "this project's store is encrypted, but SQLCipher is not installed (the Python package "
            f"sqlcipher3-binary): {exc}. Reinstall Privacy Workbench."
        ) from None
    return cipher


def _db_errors() -> tuple[type[Exception], ...]:
    """The exceptions a database call may raise: ``sqlite3.Error``, and ``sqlcipher3.dbapi2.Error`` once sqlcipher3
    is loaded (it is not a subclass of ``sqlite3.Error``; a SQLCipher connection exists only after the import)."""
    cipher = sys.modules.get("sqlcipher3.dbapi2")
    return _PLAIN_ERRORS if cipher is None else (sqlite3.Error, cipher.Error)


def _key_literal(key: bytes | bytearray) -> str:
    """The key as SQLCipher's raw-key literal ``x'<64 hex>'`` (used as is: no PBKDF). Never log it."""
    if not isinstance(key, bytes | bytearray):
        raise ProjectError(f"the project store's key must be {KEY_SIZE} bytes, not a {type(key).__name__}")
    if len(key) != KEY_SIZE:
        raise ProjectError(f"the project store's key must be {KEY_SIZE} bytes, not {len(key)}")
    return f"x'{key.hex()}'"


def _damaged_page(doing: str) -> ProjectError:
    """SQLCipher reports a page that fails authentication (after the first) as SQLITE_NOMEM: a MemoryError."""
    return ProjectError(
        f"could not {doing}: a page of the encrypted project database failed authentication, so the project "
        "database is damaged or was altered. Restore the project folder from a backup."
    )


def _translate(exc: Exception, doing: str, *, encrypted: bool = False) -> ProjectError:
    """Turn an SQLite or SQLCipher error into a ProjectError that says what to do. SQLite messages hold no row values
    and no SQL text (so never the key). SQLCipher's errors carry ``sqlite_errorname`` too; the text is the fallback.

    ``encrypted``: the error came from a keyed SQLCipher connection, where a page that fails authentication surfaces
    as a bare "SQL logic error" (SQLITE_ERROR without a message of its own, e.g. from ``quick_check``).
    """
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if encrypted and text == "SQL logic error":
        return _damaged_page(doing)
    if code.startswith(tuple(_DAMAGED_CODES)) or "malformed" in text or "not a database" in text:
        return ProjectError(
            f"the project database is damaged: {text}. Restore the project folder from a backup, or create a "
            "new project and register the datasets again."
        )
    if code.startswith(tuple(_BUSY_CODES)) or "locked" in text:
        return ProjectError(
            f"could not {doing}: another program has been writing to this project for more than "
            f"{BUSY_TIMEOUT_S:g} seconds. Try again, or close the other program."
        )
    if code.startswith("SQLITE_READONLY"):
        return ProjectError(f"could not {doing}: the project folder is read-only ({text}).")
    if code.startswith("SQLITE_FULL"):
        return ProjectError(f"could not {doing}: the disk is full.")
    return ProjectError(f"could not {doing}: {text}")


def _try_lock(fd: int) -> bool:
    """Take an exclusive advisory lock on an open file without waiting; the OS drops it when the process dies."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextmanager
def _conversion_lock(folder: Path) -> Iterator[None]:
    """One :meth:`Project.encrypt_store` at a time per project folder, across processes.

    Held on ``workbench.sqlite.encrypting.lock``, removed on the way out; a holder checks that the file it locked
    is still the one at that path (a waiter may have locked a file the previous holder just removed).
    """
    path = folder / (DB_FILE_NAME + ENCRYPTING_SUFFIX + ".lock")
    deadline = time.monotonic() + _CONVERSION_LOCK_TIMEOUT_S
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ProjectError(f"could not encrypt the project database: {exc.strerror or exc} ({path})") from None
        if _try_lock(fd):
            try:
                current = os.stat(path)
            except OSError:
                current = None
            if current is not None and os.path.samestat(os.fstat(fd), current):
                break
        os.close(fd)
        if time.monotonic() > deadline:
            raise ProjectError(
                "could not encrypt the project database: another program has been encrypting it for more than "
                f"{_CONVERSION_LOCK_TIMEOUT_S:g} seconds. Try again when it has finished."
            )
        time.sleep(0.05)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # Windows refuses to remove an open file: it stays, harmlessly
            path.unlink()
        os.close(fd)


def _remove_with_journals(db_path: Path) -> None:
    """Remove a database file and any journal, WAL or shared-memory file next to it."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def _file_signature(path: Path) -> tuple[int, int, int]:
    """Identity, size and modification time: enough to notice that another process wrote to a file."""
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _encrypt_step(step: str) -> None:
    """Called between the steps of :meth:`Project.encrypt_store`; the crash tests replace it to kill the process
    at each step ("folded", "exported", "synced", "replaced")."""


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    """Flush a file (or a folder's entries) to disk; folders cannot be opened for this on Windows."""
    if directory and sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY if directory else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"{what} cannot be stored: it is not JSON-serialisable ({type(exc).__name__})") from None


_DATASET_COLUMNS = (
    "id, name, path, fingerprint, format, encoding, delimiter, rows, size_bytes, schema_json, roles_json, "
    "added_at, updated_at"
)


def _dataset_from_row(row: Sequence[Any]) -> DatasetRecord:
    schema = tuple((str(name), str(dtype)) for name, dtype in json.loads(row[9]))
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
        roles=FrozenMap(json.loads(row[10])),
        added_at=row[11],
        updated_at=row[12],
    )


def _policy_from_row(row: Sequence[Any]) -> PolicyRecord:
    return PolicyRecord(
        id=int(row[0]),
        dataset_id=None if row[1] is None else int(row[1]),
        name=row[2],
        policy_json=row[3],
        created_at=row[4],
    )


def _lineage_from_row(row: Sequence[Any]) -> LineageRecord:
    return LineageRecord(
        id=int(row[0]),
        child_dataset_id=int(row[1]),
        parent_dataset_id=None if row[2] is None else int(row[2]),
        operation=row[3],
        detail=FrozenMap(json.loads(row[4])),
        created_at=row[5],
    )


# ----------------------------------------------------------------------------------------------------------
# The project
# ----------------------------------------------------------------------------------------------------------


class Project:
    """An open project folder. Create with :meth:`create`, :meth:`open` or :meth:`open_or_create`.

    All methods are thread-safe. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, folder: Path, connection: sqlite3.Connection, *, encrypted: bool = False) -> None:
        """Internal: use :meth:`create`, :meth:`open` or :meth:`open_or_create`."""
        self._folder = folder
        self._conn: sqlite3.Connection | None = connection
        self._encrypted = encrypted
        self._lock = threading.Lock()

    # ---- opening and closing -------------------------------------------------------------------------------

    @classmethod
    def create(cls, folder: str | Path, *, key: bytes | None = None) -> Project:
        """Create a new project in ``folder`` (created if missing; an existing folder must be empty).

        Parameters
        ----------
        key:
            ``None`` for a plaintext store; otherwise the raw 32-byte SQLCipher key of an encrypted store (the
            caller takes it from the project's unlocked vault). With a key the folder may already hold the vault
            (``vault.json`` and ``encrypted/``).

        Raises
        ------
        ProjectError
            If ``folder`` is already a project, is a file, or holds other files, or the key is not 32 bytes.
        """
        if key is not None:
            _key_literal(key)  # validate before touching the disk
        path = Path(folder).expanduser().resolve()
        if (path / DB_FILE_NAME).exists():
            raise ProjectError(f"{path} is already a workbench project; open it instead of creating it")
        if path.exists() and not path.is_dir():
            raise ProjectError(f"{path} is a file, not a folder; choose a new or empty folder for the project")
        if path.is_dir() and not cls._is_empty_folder(path, vault_allowed=key is not None):
            raise ProjectError(
                f"{path} is not empty and is not a workbench project; choose a new or empty folder for the project"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / DATA_DIR_NAME).mkdir(exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"could not create the project folder {path}: {exc.strerror or exc}") from None
        project = cls._connect(path, key)
        log.info("created project %s (schema version %s%s)", path, SCHEMA_VERSION, ", encrypted store" if key else "")
        return project

    @classmethod
    def open(cls, folder: str | Path, *, key: bytes | None = None) -> Project:
        """Open an existing project, migrating its database to :data:`SCHEMA_VERSION` if it is older.

        Parameters
        ----------
        key:
            The raw 32-byte SQLCipher key of an encrypted store (from the project's unlocked vault); ``None`` for
            a plaintext store.

        Raises
        ------
        ProjectError
            If the folder is missing or not a project, the database is damaged or was written by a newer
            version of the workbench; if the store is encrypted and no key was given, the key does not open it,
            or a key was given for a store that is not encrypted yet (convert it with :meth:`encrypt_store`).
        """
        if key is not None:
            _key_literal(key)
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise ProjectError(f"{path} does not exist or is not a folder")
        if not (path / DB_FILE_NAME).is_file():
            raise ProjectError(f"{path} is not a workbench project (no {DB_FILE_NAME})")
        project = cls._connect(path, key)
        log.info("opened project %s%s", path, " (encrypted store)" if key else "")
        return project

    @classmethod
    def open_or_create(cls, folder: str | Path, *, key: bytes | None = None) -> Project:
        """Open ``folder`` if it is a project, otherwise create one there (same rules as :meth:`create`)."""
        path = Path(folder).expanduser().resolve()
        if (path / DB_FILE_NAME).is_file():
            return cls.open(path, key=key)
        return cls.create(path, key=key)

    @staticmethod
    def _is_empty_folder(path: Path, *, vault_allowed: bool = False) -> bool:
        """Empty, or holding only an empty ``data/`` (what a ``create`` killed before the database leaves), and
        with ``vault_allowed`` also the project's vault (``vault.json``, ``encrypted/``)."""
        entries = list(path.iterdir())
        if vault_allowed:
            entries = [
                e
                for e in entries
                if not (e.name == _VAULT_FILE_NAME and e.is_file())
                and not (e.name == _ENCRYPTED_DIR_NAME and e.is_dir())
            ]
        if not entries:
            return True
        return (
            len(entries) == 1
            and entries[0].name == DATA_DIR_NAME
            and entries[0].is_dir()
            and not any(entries[0].iterdir())
        )

    @staticmethod
    def store_is_encrypted(folder: str | Path) -> bool:
        """Whether the project's ``workbench.sqlite`` is an SQLCipher file, judged by its first 16 bytes.

        ``False`` for a missing or empty file and for a plaintext SQLite header (``SQLite format 3\\0``); ``True``
        for anything else. SQLCipher files start with a random salt, so a file of random bytes looks encrypted
        too: only opening it with the key tells (it then fails with "the key does not open this project's store").

        Raises
        ------
        ProjectError
            If the file exists but cannot be read.
        """
        db_path = Path(folder).expanduser() / DB_FILE_NAME
        try:
            with db_path.open("rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ProjectError(f"could not read {db_path}: {exc.strerror or exc}") from None
        return bool(head) and head != SQLITE_HEADER

    @classmethod
    def _connect(cls, folder: Path, key: bytes | None = None) -> Project:
        """Open the database (with SQLCipher if there is a key), check it is ours and sound, and migrate it."""
        db_path = folder / DB_FILE_NAME
        encrypted_file = cls.store_is_encrypted(folder)
        if key is None and encrypted_file:
            if (folder / _VAULT_FILE_NAME).is_file():
                raise ProjectError(
                    f"{folder} is an encrypted project: unlock it with its passphrase (window: Project ▸ Unlock; "
                    "command line: WORKBENCH_PASSPHRASE or the prompt)"
                )
            raise ProjectError(
                f"the project database is damaged: {db_path} does not start with an SQLite header, and the folder "
                f"has no {_VAULT_FILE_NAME}, so it is not an encrypted project either. Restore the project folder "
                "from a backup (with its vault.json if it was encrypted), or create a new project and register the "
                "datasets again."
            )
        if key is not None and db_path.is_file() and db_path.stat().st_size > 0 and not encrypted_file:
            raise ProjectError(
                f"the project database {db_path} is not encrypted yet (it is a plaintext SQLite file): encrypt it "
                "with Project.encrypt_store first, then open it with the key"
            )
        key_sql = None if key is None else f'PRAGMA key = "{_key_literal(key)}"'
        connect = sqlite3.connect if key is None else _cipher().connect
        try:
            conn = connect(db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except _db_errors() as exc:
            raise _translate(exc, "open the project database") from None
        try:
            if key_sql is not None:
                cls._apply_key(conn, key_sql, folder)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise ProjectError(
                    f"could not switch the project database to WAL mode (got {mode!r}); is the project on a "
                    "network share? Projects must be on a local disk."
                )
            conn.execute("PRAGMA synchronous = NORMAL")
            cls._check_identity(conn, folder)
            cls._check_integrity(conn)
            cls._migrate(conn)
        except ProjectError:
            conn.close()
            raise
        except _db_errors() as exc:
            conn.close()
            raise _translate(exc, "open the project database", encrypted=key is not None) from None
        except MemoryError:
            conn.close()
            if key is None:
                raise
            raise _damaged_page("open the project database") from None
        # The data folder is needed only when something is written there; that code reports a failure.
        with contextlib.suppress(OSError):
            (folder / DATA_DIR_NAME).mkdir(exist_ok=True)
        return cls(folder, conn, encrypted=key is not None)

    @staticmethod
    def _apply_key(conn: sqlite3.Connection, key_sql: str, folder: Path) -> None:
        """Key a fresh SQLCipher connection (its very first statement) and check the key opens the file.

        SQLCipher decrypts nothing until the first read: reading the schema (page 1, whose HMAC fails under another
        key) tells a wrong key from a good one before anything else runs.
        """
        conn.execute(key_sql)
        # SQLCipher writes its own error lines to stderr ("hmac check failed for pgno=1"); our messages say it.
        conn.execute("PRAGMA cipher_log_level = NONE")
        try:
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        except _db_errors() as exc:
            if "SQLITE_NOTADB" in (getattr(exc, "sqlite_errorname", "") or "") or "not a database" in str(exc):
                raise ProjectError(
                    f"the key does not open this project's store ({folder / DB_FILE_NAME}): it is not the key the "
                    "store was encrypted with (is the vault.json next to it the project's own?), or the store's "
                    "first page was altered. Restore the project folder from a backup if its own passphrase "
                    "unlocks the vault and this persists."
                ) from None
            raise

    @classmethod
    def encrypt_store(cls, folder: str | Path, key: bytes) -> bool:
        """Convert a project's plaintext store, in place, into an SQLCipher store keyed with ``key``.

        Close every :class:`Project` on this folder first, in this process and in others: a store that is open
        elsewhere is refused (its WAL cannot be folded in while another connection uses it).

        Steps: with plain ``sqlite3``, check the store is ours and sound, fold the WAL in
        (``wal_checkpoint(TRUNCATE)``) and switch to ``journal_mode=DELETE``, so that no ``-wal`` file is left that
        could be replayed onto the new file; then, with SQLCipher on the same (plaintext) file, in one read
        transaction (no other process can write meanwhile), ``sqlcipher_export`` everything into
        ``workbench.sqlite.encrypting`` (attached with the key) and copy ``user_version`` and ``application_id``;
        fsync it; check that no ``-wal``, ``-shm`` or ``-journal`` file appeared and the plaintext file did not
        change since the export (another process opening the project meanwhile); ``os.replace`` it over
        ``workbench.sqlite``; fsync the folder; and re-open the result with the key (``quick_check``, migrations).

        Crash safety: a kill at any point leaves either the intact plaintext store (in rollback-journal mode, which
        the next plain open turns back into WAL) or the complete encrypted one; a stale
        ``workbench.sqlite.encrypting`` is removed by the next call. Two calls at once (two windows) are
        serialised by a lock file; the second finds the store encrypted and returns ``False``. Not detected: a
        process that opens the plaintext project in the instant between the last check and the rename (it would
        keep writing to the replaced file).

        The old plaintext pages are freed, not securely erased: the file system (journaling, SSD wear levelling,
        snapshots, backups) may keep them. Anything that ever was in the plaintext store may be recoverable from
        the disk.

        Returns
        -------
        bool
            ``True`` if this call converted the store, ``False`` if it was already encrypted (nothing is done then,
            and the key is not checked: :meth:`open` does that).

        Raises
        ------
        ProjectError
            The folder is not a project, the store is damaged or not ours, it is open in another program, the
            key is not 32 bytes, or the disk failed. The plaintext store is then unchanged.
        """
        literal = _key_literal(key)
        path = Path(folder).expanduser().resolve()
        db_path = path / DB_FILE_NAME
        if not db_path.is_file():
            raise ProjectError(f"{path} is not a workbench project (no {DB_FILE_NAME})")
        if cls.store_is_encrypted(path):
            return False
        with _conversion_lock(path):
            if cls.store_is_encrypted(path):
                return False  # another process converted it while we waited for the lock
            tmp_path = path / (DB_FILE_NAME + ENCRYPTING_SUFFIX)
            try:
                _remove_with_journals(tmp_path)  # left by a conversion that was killed
                cls._fold_wal(path)
                signature = cls._export_encrypted(path, tmp_path, literal)
                _encrypt_step("exported")
                _fsync_path(tmp_path)
                _encrypt_step("synced")
                leftovers = [
                    name
                    for name in (f"{DB_FILE_NAME}-wal", f"{DB_FILE_NAME}-shm", f"{DB_FILE_NAME}-journal")
                    if (path / name).exists()
                ]
                if leftovers or _file_signature(db_path) != signature:
                    raise ProjectError(
                        "could not encrypt the project database: another window or program opened the project "
                        f"while it was being converted ({', '.join(leftovers) or 'the database changed'}). Close the "
                        "project everywhere else and try again."
                    )
                os.replace(tmp_path, db_path)
                _encrypt_step("replaced")
                _fsync_path(path, directory=True)
            except BaseException:
                with contextlib.suppress(OSError):
                    _remove_with_journals(tmp_path)
                raise
            cls._connect(path, key).close()  # quick_check and migrations, under the key
        log.info("encrypted the project database of %s", path)
        return True

    @classmethod
    def _fold_wal(cls, folder: Path) -> None:
        """Checkpoint the WAL into the plaintext file and leave it in rollback-journal mode (no ``-wal`` file)."""
        doing = "prepare the project database for encryption"
        try:
            conn = sqlite3.connect(
                folder / DB_FILE_NAME, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise _translate(exc, doing) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            cls._check_identity(conn, folder)
            cls._check_integrity(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            mode = str(conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower()
            if mode != "delete":
                raise ProjectError(
                    f"could not {doing}: it stayed in {mode} mode. Is the project open in another window or program? "
                    "Close it there and try again."
                )
        except sqlite3.Error as exc:
            if (getattr(exc, "sqlite_errorname", "") or "").startswith(tuple(_BUSY_CODES)) or "locked" in str(exc):
                raise ProjectError(
                    f"could not {doing}: the project is open in another window or program. Close it there and try "
                    "again."
                ) from None
            raise _translate(exc, doing) from None
        finally:
            conn.close()
        _encrypt_step("folded")

    @staticmethod
    def _export_encrypted(folder: Path, tmp_path: Path, literal: str) -> tuple[int, int, int]:
        """Copy the plaintext store into a new SQLCipher file; returns the plaintext file's signature meanwhile."""
        doing = "encrypt the project database"
        db_path = folder / DB_FILE_NAME
        cipher = _cipher()
        try:
            # No key: SQLCipher reads the plaintext file as plain SQLite. Only this library has the file open now
            # (two SQLite libraries on one file in one process would drop each other's POSIX locks).
            conn = cipher.connect(db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except cipher.Error as exc:
            raise _translate(exc, doing) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute("ATTACH DATABASE ? AS enc KEY ?", (str(tmp_path), literal))  # bound: not in the SQL text
            conn.execute("BEGIN")
            # A read lock on the plaintext file until COMMIT: no other process can write to it or switch it to WAL.
            user_version = int(conn.execute("PRAGMA main.user_version").fetchone()[0])
            application_id = int(conn.execute("PRAGMA main.application_id").fetchone()[0])
            signature = _file_signature(db_path)
            conn.execute("SELECT sqlcipher_export('enc')")
            conn.execute(f"PRAGMA enc.user_version = {user_version}")
            conn.execute(f"PRAGMA enc.application_id = {application_id}")
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE enc")
        except cipher.Error as exc:
            raise _translate(exc, doing) from None
        finally:
            conn.close()
        return signature

    @staticmethod
    def _check_identity(conn: sqlite3.Connection, folder: Path) -> None:
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

    @staticmethod
    def _check_integrity(conn: sqlite3.Connection) -> None:
        # quick_check is O(database size) and project databases hold metadata only: milliseconds.
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)").fetchall()]
        if problems != ["ok"]:
            raise ProjectError(
                "the project database is damaged: integrity check failed ("
                + "; ".join(problems)
                + "). Restore the project folder from a backup, or create a new project and register the "
                "datasets again."
            )

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
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

    def close(self) -> None:
        """Close the database. Idempotent; any later call on this object raises ProjectError."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except _db_errors() as exc:
                log.warning("closing the project database failed: %s", type(exc).__name__)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._conn is None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Project {str(self._folder)!r} ({state})>"

    # ---- properties ----------------------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        """The project folder (absolute)."""
        return self._folder

    @property
    def data_dir(self) -> Path:
        """The folder for files the project derives (anonymized versions, models, exports)."""
        return self._folder / DATA_DIR_NAME

    @property
    def encrypted(self) -> bool:
        """Whether this project's store was opened with a key (SQLCipher)."""
        return self._encrypted

    @property
    def db_path(self) -> Path:
        """The SQLite database file."""
        return self._folder / DB_FILE_NAME

    @property
    def name(self) -> str:
        """The project's display name: its folder name."""
        return self._folder.name

    @property
    def schema_version(self) -> int:
        """The database's schema version (``PRAGMA user_version``)."""
        with self._read("read the schema version") as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    # ---- transactions --------------------------------------------------------------------------------------

    def _require_open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProjectError(f"the project {self.name!r} is closed")
        return self._conn

    @contextmanager
    def _read(self, doing: str) -> Iterator[sqlite3.Connection]:
        """Hold the connection for reading (autocommit: each statement sees the latest committed state)."""
        with self._lock:
            conn = self._require_open()
            try:
                yield conn
            except _db_errors() as exc:
                raise _translate(exc, doing, encrypted=self._encrypted) from None
            except MemoryError:
                if not self._encrypted:
                    raise
                raise _damaged_page(doing) from None

    @contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, begun with ``BEGIN IMMEDIATE`` so that two processes queue, not fail.

        Everything inside commits together or not at all; any exception rolls back.
        """
        with self._lock:
            conn = self._require_open()
            errors = _db_errors()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except errors as exc:
                raise _translate(exc, doing, encrypted=self._encrypted) from None
            except MemoryError:
                if not self._encrypted:
                    raise
                raise _damaged_page(doing) from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    # The original error is the one to report.
                    with contextlib.suppress(*errors, MemoryError):
                        conn.execute("ROLLBACK")
                if isinstance(exc, errors):
                    raise _translate(exc, doing, encrypted=self._encrypted) from None
                if isinstance(exc, MemoryError) and self._encrypted:
                    raise _damaged_page(doing) from None
                raise

    @staticmethod
    def _insert_audit(conn: sqlite3.Connection, action: str, detail: Mapping[str, Any]) -> None:
        conn.execute(
            "INSERT INTO audit_log (ts, action, detail_json) VALUES (?, ?, ?)",
            (_now(), action, _json(dict(detail), f"the detail of audit action {action!r}")),
        )

    # ---- datasets ------------------------------------------------------------------------------------------

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
        schema_json = _json([list(pair) for pair in pairs], "the dataset schema")
        now = _now()
        with self._write("register the dataset") as conn:
            row = conn.execute("SELECT id, roles_json FROM datasets WHERE fingerprint = ?", (fingerprint,)).fetchone()
            if row is None:
                cursor = conn.execute(
                    "INSERT INTO datasets (name, path, fingerprint, format, encoding, delimiter, rows, "
                    "size_bytes, schema_json, roles_json, added_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        str(name),
                        str(path),
                        fingerprint,
                        str(format),
                        encoding,
                        delimiter,
                        int(rows),
                        int(size_bytes),
                        schema_json,
                        _json(suggested, "the column roles"),
                        now,
                        now,
                    ),
                )
                dataset_id = int(cursor.lastrowid or 0)
                self._insert_audit(
                    conn,
                    "dataset.registered",
                    {
                        "dataset_id": dataset_id,
                        "name": str(name),
                        "fingerprint": fingerprint,
                        "rows": int(rows),
                        "columns": len(pairs),
                    },
                )
            else:
                dataset_id = int(row[0])
                saved = json.loads(row[1])
                # The analyst's saved choices win over fresh suggestions; columns that vanished lose theirs.
                merged = {
                    column: saved[column] if column in saved else suggested[column]
                    for column, _ in pairs
                    if column in saved or column in suggested
                }
                conn.execute(
                    "UPDATE datasets SET name = ?, path = ?, format = ?, encoding = ?, delimiter = ?, "
                    "rows = ?, size_bytes = ?, schema_json = ?, roles_json = ?, updated_at = ? WHERE id = ?",
                    (
                        str(name),
                        str(path),
                        str(format),
                        encoding,
                        delimiter,
                        int(rows),
                        int(size_bytes),
                        schema_json,
                        _json(merged, "the column roles"),
                        now,
                        dataset_id,
                    ),
                )
                self._insert_audit(
                    conn,
                    "dataset.reregistered",
                    {"dataset_id": dataset_id, "name": str(name), "fingerprint": fingerprint},
                )
            record = self._fetch_dataset(conn, dataset_id)
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
        row = conn.execute(f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE id = ?", (int(dataset_id),)).fetchone()
        return _dataset_from_row(row) if row is not None else None

    def get_dataset(self, dataset_id: int) -> DatasetRecord:
        """The dataset with this id. Raises ProjectError if there is none."""
        with self._read("read the dataset") as conn:
            record = self._fetch_dataset(conn, dataset_id)
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
            record = self._fetch_dataset(conn, dataset_id)
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
                (_json(merged, "the column roles"), _now(), int(dataset_id)),
            )
            self._insert_audit(conn, "dataset.roles_changed", {"dataset_id": int(dataset_id), "changes": changes})
            updated = self._fetch_dataset(conn, dataset_id)
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
                "UPDATE datasets SET path = ?, updated_at = ? WHERE id = ?", (str(path), _now(), int(dataset_id))
            )
            if not cur.rowcount:
                raise ProjectError(f"this project has no dataset with id {dataset_id}")
            self._insert_audit(conn, "dataset.relocated", {"dataset_id": int(dataset_id), "reason": reason})
            record = self._fetch_dataset(conn, dataset_id)
        assert record is not None
        return record

    def remove_dataset(self, dataset_id: int) -> None:
        """Forget a dataset (its file is not touched). Raises ProjectError if there is none."""
        with self._write("remove the dataset") as conn:
            row = conn.execute("SELECT fingerprint FROM datasets WHERE id = ?", (int(dataset_id),)).fetchone()
            if row is None:
                raise ProjectError(f"this project has no dataset with id {dataset_id}")
            conn.execute("DELETE FROM datasets WHERE id = ?", (int(dataset_id),))
            self._insert_audit(conn, "dataset.removed", {"dataset_id": int(dataset_id), "fingerprint": row[0]})

    # ---- settings ------------------------------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The stored value of a project setting, or ``default``."""
        with self._read("read the project settings") as conn:
            row = conn.execute("SELECT value_json FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable project setting (audited by key; the value is not copied to the log)."""
        value_json = _json(value, f"the setting {key!r}")
        with self._write("save the project setting") as conn:
            conn.execute(
                "INSERT INTO settings (key, value_json) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json",
                (key, value_json),
            )
            self._insert_audit(conn, "setting.changed", {"key": key})

    # ---- anonymization policies and lineage (issue 3) -------------------------------------------------------

    _POLICY_COLUMNS = "id, dataset_id, name, policy_json, created_at"
    _LINEAGE_COLUMNS = "id, child_dataset_id, parent_dataset_id, operation, detail_json, created_at"

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
            text = _json(dict(policy_json), "the policy")
        change_detail = json.loads(_json(dict(changes or {}), "the policy changes"))
        with self._write("save the policy") as conn:
            if dataset_id is not None and self._fetch_dataset(conn, int(dataset_id)) is None:
                raise ProjectError(f"this project has no dataset with id {dataset_id}")
            cursor = conn.execute(
                "INSERT INTO pii_policies (dataset_id, name, policy_json, created_at) VALUES (?, ?, ?, ?)",
                (None if dataset_id is None else int(dataset_id), str(name), text, _now()),
            )
            policy_id = int(cursor.lastrowid or 0)
            self._insert_audit(
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
        detail_json = _json(dict(detail or {}), "the lineage detail")
        with self._write("record the dataset lineage") as conn:
            for dataset_id in (child_id, parent_id):
                if dataset_id is not None and self._fetch_dataset(conn, int(dataset_id)) is None:
                    raise ProjectError(f"this project has no dataset with id {dataset_id}")
            cursor = conn.execute(
                "INSERT INTO dataset_lineage (child_dataset_id, parent_dataset_id, operation, detail_json, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (int(child_id), None if parent_id is None else int(parent_id), str(operation), detail_json, _now()),
            )
            lineage_id = int(cursor.lastrowid or 0)
            self._insert_audit(
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

    # ---- audit log -----------------------------------------------------------------------------------------

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
            self._insert_audit(conn, action, detail)

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` audit entries, newest first."""
        with self._read("read the audit log") as conn:
            rows = conn.execute(
                "SELECT id, ts, action, detail_json FROM audit_log ORDER BY id DESC LIMIT ?", (int(limit),)
            ).fetchall()
        return [
            AuditEntry(id=int(row[0]), ts=row[1], action=row[2], detail=FrozenMap(json.loads(row[3]))) for row in rows
        ]

    # ---- transactions for other rooms' tables (issue 4: training runs, privacy ledger) ---------------------

    @contextmanager
    def write_transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction for modules that own tables of their own (``dp.ledger``,
        ``train.runs``): everything inside commits together or not at all, and it excludes every other writer,
        in this process (the project lock) and in others (SQLite's write lock). ``doing`` names the action in
        error messages ("reserve privacy budget"). Do not call out (callbacks, signals) inside it.
        """
        with self._write(doing) as conn:
            yield conn

    @contextmanager
    def read_connection(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection for reading (autocommit, under the project lock), for the same modules."""
        with self._read(doing) as conn:
            yield conn

    def insert_audit(self, conn: sqlite3.Connection, action: str, **detail: Any) -> None:
        """Append an audit entry inside a :meth:`write_transaction` (so it commits with the change)."""
        self._insert_audit(conn, action, detail)
