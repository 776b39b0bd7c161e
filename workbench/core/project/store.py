"""The project store: a project folder and the SQLite database that remembers what the analyst did in it.

A project is a folder holding ``workbench.sqlite`` and a ``data/`` subfolder (for derived files: anonymized
versions, trained models, exports). The database records the datasets the analyst registered (with the column
roles they chose), project settings, and an audit log of every change. It never holds dataset values: only
metadata (file paths, fingerprints, column names and types, roles, counts).

Layout
------
:class:`Project` is put together from one module per job, each table's SQL beside the code that owns it:

* :mod:`~workbench.core.project.connection`: opening the file (SQLite or SQLCipher), keys, pragmas, the integrity
  check, error translation, the lock and the read/write transactions (:class:`ProjectConnection`).
* :mod:`~workbench.core.project.migrations`: :data:`MIGRATIONS`, :data:`SCHEMA_VERSION`, the identity check and
  applying the migrations (its docstring says how to add one).
* :mod:`~workbench.core.project.cipher`: :meth:`Project.encrypt_store`'s in-place conversion.
* Tables: :mod:`~workbench.core.project.datasets`, :mod:`~workbench.core.project.settings`,
  :mod:`~workbench.core.project.policies`, :mod:`~workbench.core.project.lineage`,
  :mod:`~workbench.core.project.audit` (each a mixin of :class:`Project` and its records);
  :mod:`~workbench.core.project.records` holds what they share. The training tables belong to
  :mod:`workbench.core.dp.runs` and :mod:`workbench.core.dp.ledger`, which use :meth:`Project.write_transaction`.

This module is the public face: import :class:`Project`, the records and the constants from here (a test that
changes a module-level value, such as ``BUSY_TIMEOUT_S`` or ``MIGRATIONS``, patches the module that owns it).

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
  its uncommitted transaction. ``tests/project/test_project_store.py`` SIGKILLs a writer repeatedly to check
  this.

Encryption (SQLCipher)
----------------------
In an encrypted project (one with a ``vault.json``, :mod:`workbench.core.crypto.vault`) the store is itself
encrypted with SQLCipher 4, keyed with a raw 32-byte key that the caller takes from the unlocked vault: pass
``key=`` to :meth:`Project.create`, :meth:`Project.open` or :meth:`Project.open_or_create`.
:meth:`Project.encrypt_store` converts a plaintext store in place (crash-safely); :meth:`Project.store_is_encrypted`
tells the two kinds apart by the file header. ``sqlcipher3`` is imported only when a key is given, so plain
projects and ``workbench --help`` never load it. Its exceptions are not ``sqlite3.Error`` subclasses:
:func:`~workbench.core.project.connection.db_errors` names both, and every ``except`` of the store uses it.
SQLCipher reports a page that fails authentication after the first as ``SQLITE_NOMEM`` (``MemoryError``); on an
encrypted store that is translated into "damaged" as well. The key never appears in a log line or an error
message. ``docs/crypto-format.md`` ("The encrypted project store") says what the encryption hides and what stays
visible.

Schema migrations
-----------------
Opening a project applies every migration of :data:`MIGRATIONS` above the database's ``PRAGMA user_version``,
each in its own transaction; a database written by a newer workbench is refused. Released migrations are never
edited: :mod:`workbench.core.project.migrations` says how to add one.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

from workbench.core.errors import ProjectError
from workbench.core.project import connection
from workbench.core.project.audit import AuditEntry, AuditMixin
from workbench.core.project.audit_chain import chain_on_open
from workbench.core.project.cipher import ENCRYPTING_SUFFIX, conversion_lock, replace_with_encrypted_copy
from workbench.core.project.connection import (
    BUSY_TIMEOUT_S,
    DATA_DIR_NAME,
    DB_FILE_NAME,
    ENCRYPTED_DIR_NAME,
    KEY_SIZE,
    SQLITE_HEADER,
    VAULT_FILE_NAME,
    ProjectConnection,
    check_integrity,
    closed_on_error,
    key_literal,
    open_connection,
    require_schema,
)
from workbench.core.project.datasets import DatasetRecord, DatasetsMixin
from workbench.core.project.identity import (
    ProjectIdentity,
    check_store_identity,
    ensure_identity,
    ledger_record_key,
    read_identity,
    refuse_missing_store,
)
from workbench.core.project.lineage import LineageMixin, LineageRecord
from workbench.core.project.migrations import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, check_identity, migrate
from workbench.core.project.migrations import _split_statements as _split_statements  # tested here
from workbench.core.project.policies import PoliciesMixin, PolicyRecord
from workbench.core.project.records import FrozenMap
from workbench.core.project.settings import SettingsMixin

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_S",
    "DATA_DIR_NAME",
    "DB_FILE_NAME",
    "ENCRYPTING_SUFFIX",
    "KEY_SIZE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLITE_HEADER",
    "AuditEntry",
    "DatasetRecord",
    "FrozenMap",
    "LineageRecord",
    "PolicyRecord",
    "Project",
    "ProjectConnection",
]

log = logging.getLogger(__name__)


class Project(DatasetsMixin, SettingsMixin, PoliciesMixin, LineageMixin, AuditMixin):
    """An open project folder. Create with :meth:`create`, :meth:`open` or :meth:`open_or_create`.

    All methods are thread-safe. Use it as a context manager, or call :meth:`close`.
    """

    _identity: ProjectIdentity

    # ---- opening -------------------------------------------------------------------------------------------

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
            key_literal(key)  # validate before touching the disk
        path = Path(folder).expanduser().resolve()
        if (path / DB_FILE_NAME).exists():
            raise ProjectError(f"{path} is already a workbench project; open it instead of creating it")
        refuse_missing_store(path)  # a project that existed is never re-created in place (its budget would reset)
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
    def open(cls, folder: str | Path, *, key: bytes | None = None, read_only: bool = False) -> Project:
        """Open an existing project, migrating its database to :data:`SCHEMA_VERSION` if it is older.

        Parameters
        ----------
        key:
            The raw 32-byte SQLCipher key of an encrypted store (from the project's unlocked vault); ``None`` for
            a plaintext store.
        read_only:
            Open without ever writing (``mode=ro``; no migration, so an outdated store is refused): for a folder
            or store that cannot be written. Every change then raises ProjectError.

        Raises
        ------
        ProjectError
            If the folder is missing or not a project, the database is damaged or was written by a newer
            version of the workbench; if the store is encrypted and no key was given, the key does not open it,
            or a key was given for a store that is not encrypted yet (convert it with :meth:`encrypt_store`).
        """
        if key is not None:
            key_literal(key)
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise ProjectError(f"{path} does not exist or is not a folder")
        if not (path / DB_FILE_NAME).is_file():
            refuse_missing_store(path)
            raise ProjectError(f"{path} is not a workbench project (no {DB_FILE_NAME})")
        project = cls._connect(path, key, read_only=read_only)
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
                if not (e.name == VAULT_FILE_NAME and e.is_file()) and not (e.name == ENCRYPTED_DIR_NAME and e.is_dir())
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
        return connection.store_is_encrypted(folder)

    # The steps of every open, looked up on the class: tests replace them (monkeypatch.setattr(Project, ...)).
    _check_identity = staticmethod(check_identity)
    _check_integrity = staticmethod(check_integrity)
    _migrate = staticmethod(migrate)

    @classmethod
    def _check_store(cls, conn: sqlite3.Connection, folder: Path) -> None:
        """ProjectError unless the database is a workbench project of a schema this code reads, and sound."""
        cls._check_identity(conn, folder)
        check_store_identity(conn, folder)
        cls._check_integrity(conn)

    @classmethod
    def _connect(cls, folder: Path, key: bytes | None = None, read_only: bool = False) -> Project:
        """Open the database (with SQLCipher if there is a key), check it is ours and sound, and migrate it."""
        conn = open_connection(folder, key, read_only=read_only)
        with closed_on_error(conn, "open the project database", encrypted=key is not None):
            cls._check_store(conn, folder)
            if read_only:
                require_schema(conn, SCHEMA_VERSION, folder)
            else:
                cls._migrate(conn)
            project_id = read_identity(conn, folder) if read_only else ensure_identity(conn, folder)
            if not read_only:
                chain_on_open(conn)  # entries an older version wrote join the audit chain
        # The data folder is needed only when something is written there; that code reports a failure.
        with contextlib.suppress(OSError):
            (folder / DATA_DIR_NAME).mkdir(exist_ok=True)
        project = cls(folder, conn, encrypted=key is not None, read_only=read_only)
        project._identity = ProjectIdentity(project_id, ledger_record_key(key))
        return project

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
        literal = key_literal(key)
        path = Path(folder).expanduser().resolve()
        if not (path / DB_FILE_NAME).is_file():
            raise ProjectError(f"{path} is not a workbench project (no {DB_FILE_NAME})")
        if cls.store_is_encrypted(path):
            return False
        with conversion_lock(path):
            if cls.store_is_encrypted(path):
                return False  # another process converted it while we waited for the lock
            replace_with_encrypted_copy(path, literal, cls._check_store)
            cls._connect(path, key).close()  # quick_check and migrations, under the key
        log.info("encrypted the project database of %s", path)
        return True

    # ---- properties ----------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Project {str(self._folder)!r} ({state})>"

    @property
    def folder(self) -> Path:
        """The project folder (absolute)."""
        return self._folder

    @property
    def data_dir(self) -> Path:
        """The folder for files the project derives (anonymized versions, models, exports)."""
        return self._folder / DATA_DIR_NAME

    @property
    def identity(self) -> ProjectIdentity:
        """The project's id (kept in the store and in the marker file) and its ledger-record key."""
        return self._identity

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
