"""The project database connection: opening the file (plain SQLite, or SQLCipher with a key), its per-connection
settings, error translation, and the one-connection-one-lock transactions that every table's code runs in.

This is the layer under :class:`workbench.core.project.store.Project` (whose module docstring states the
concurrency, crash-safety and encryption promises this code keeps). It knows nothing of tables: the schema and its
identity check are :mod:`workbench.core.project.migrations`, each table's code is its own module.

``sqlcipher3`` is imported only when a key is given (:func:`cipher_module`). Its exceptions are not
``sqlite3.Error`` subclasses: :func:`db_errors` names both, and every ``except`` of the store uses it. SQLCipher
reports a page that fails authentication after the first as ``SQLITE_NOMEM`` (``MemoryError``); on an encrypted
store that is translated into "damaged" as well (:func:`damaged_page`). The key never appears in a log line or an
error message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from workbench.core.errors import ProjectError
from workbench.core.project.audit_chain import HeadSigner, sign_head

log = logging.getLogger("workbench.core.project.store")  # the store's logger, as before the split

DB_FILE_NAME = "workbench.sqlite"
DATA_DIR_NAME = "data"
BUSY_TIMEOUT_S = 5.0
KEY_SIZE = 32
"""Bytes of the raw SQLCipher key of an encrypted store (AES-256)."""
SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every plaintext SQLite file; an SQLCipher file starts with a random salt instead."""
VAULT_FILE_NAME = "vault.json"  # workbench.core.crypto.vault.VAULT_FILE (not imported: it loads `cryptography`)
ENCRYPTED_DIR_NAME = "encrypted"  # workbench.core.crypto.vault.ENCRYPTED_DIR

_DAMAGED_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
_BUSY_CODES = {"SQLITE_BUSY", "SQLITE_LOCKED"}
_PLAIN_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,)


# ----------------------------------------------------------------------------------------------------------
# SQLCipher, keys and errors
# ----------------------------------------------------------------------------------------------------------


def cipher_module() -> Any:
    """``sqlcipher3.dbapi2``, imported on first use (only encrypted projects need it)."""
    try:
        import sqlcipher3.dbapi2 as cipher
    except ImportError as exc:
        raise ProjectError(
            "this project's store is encrypted, but SQLCipher is not installed (the Python package "
            f"sqlcipher3-binary): {exc}. Reinstall Privacy Workbench."
        ) from None
    return cipher


def db_errors() -> tuple[type[Exception], ...]:
    """The exceptions a database call may raise: ``sqlite3.Error``, and ``sqlcipher3.dbapi2.Error`` once sqlcipher3
    is loaded (it is not a subclass of ``sqlite3.Error``; a SQLCipher connection exists only after the import)."""
    cipher = sys.modules.get("sqlcipher3.dbapi2")
    return _PLAIN_ERRORS if cipher is None else (sqlite3.Error, cipher.Error)


def key_literal(key: bytes | bytearray) -> str:
    """The key as SQLCipher's raw-key literal ``x'<64 hex>'`` (used as is: no PBKDF). Never log it."""
    if not isinstance(key, bytes | bytearray):
        raise ProjectError(f"the project store's key must be {KEY_SIZE} bytes, not a {type(key).__name__}")
    if len(key) != KEY_SIZE:
        raise ProjectError(f"the project store's key must be {KEY_SIZE} bytes, not {len(key)}")
    return f"x'{key.hex()}'"


def damaged_page(doing: str) -> ProjectError:
    """SQLCipher reports a page that fails authentication (after the first) as SQLITE_NOMEM: a MemoryError."""
    return ProjectError(
        f"could not {doing}: a page of the encrypted project database failed authentication, so the project "
        "database is damaged or was altered. Restore the project folder from a backup."
    )


def is_busy(exc: Exception) -> bool:
    """Whether an SQLite or SQLCipher error means another connection holds a lock we waited for in vain."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    return code.startswith(tuple(_BUSY_CODES)) or "locked" in str(exc)


def translate(exc: Exception, doing: str, *, encrypted: bool = False) -> ProjectError:
    """Turn an SQLite or SQLCipher error into a ProjectError that says what to do. SQLite messages hold no row values
    and no SQL text (so never the key). SQLCipher's errors carry ``sqlite_errorname`` too; the text is the fallback.

    ``encrypted``: the error came from a keyed SQLCipher connection, where a page that fails authentication surfaces
    as a bare "SQL logic error" (SQLITE_ERROR without a message of its own, e.g. from ``quick_check``).
    """
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if encrypted and text == "SQL logic error":
        return damaged_page(doing)
    if code.startswith(tuple(_DAMAGED_CODES)) or "malformed" in text or "not a database" in text:
        return ProjectError(
            f"the project database is damaged: {text}. Restore the project folder from a backup, or create a "
            "new project and register the datasets again."
        )
    if is_busy(exc):
        return ProjectError(
            f"could not {doing}: another program has been writing to this project for more than "
            f"{BUSY_TIMEOUT_S:g} seconds. Try again, or close the other program."
        )
    if code.startswith("SQLITE_READONLY"):
        return ProjectError(f"could not {doing}: the project folder is read-only ({text}).")
    if code.startswith("SQLITE_FULL"):
        return ProjectError(f"could not {doing}: the disk is full.")
    return ProjectError(f"could not {doing}: {text}")


@contextmanager
def closed_on_error(conn: sqlite3.Connection, doing: str, *, encrypted: bool) -> Iterator[None]:
    """Close ``conn`` when the block fails with a ProjectError, a database error (translated) or, on an encrypted
    store, a ``MemoryError`` (a page that failed authentication)."""
    try:
        yield
    except ProjectError:
        conn.close()
        raise
    except db_errors() as exc:
        conn.close()
        raise translate(exc, doing, encrypted=encrypted) from None
    except MemoryError:
        conn.close()
        if not encrypted:
            raise
        raise damaged_page(doing) from None


# ----------------------------------------------------------------------------------------------------------
# Opening
# ----------------------------------------------------------------------------------------------------------


def store_is_encrypted(folder: str | Path) -> bool:
    """Whether the project's ``workbench.sqlite`` is an SQLCipher file, judged by its first 16 bytes
    (:meth:`Project.store_is_encrypted <workbench.core.project.store.Project.store_is_encrypted>`)."""
    db_path = Path(folder).expanduser() / DB_FILE_NAME
    try:
        with db_path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ProjectError(f"could not read {db_path}: {exc.strerror or exc}") from None
    return bool(head) and head != SQLITE_HEADER


def connect_file(connect: Callable[..., Any], path: Path, *, read_only: bool = False) -> Any:
    """``connect(path)`` as every store connection is made: autocommit, usable from any thread, waiting up to
    :data:`BUSY_TIMEOUT_S` for a lock. ``connect`` is ``sqlite3.connect`` or SQLCipher's.

    ``read_only``: opened with ``mode=ro`` (SQLite refuses every write). A WAL store needs its ``-shm`` file; when
    neither the ``-wal`` file exists nor the folder can be written (so no writer can be at work and none could make
    those files), the file is opened ``immutable`` instead, which reads it without them.
    """
    if not read_only:
        return connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    wal = path.with_name(path.name + "-wal")
    immutable = not wal.exists() and not os.access(path.parent, os.W_OK)
    uri = f"file:{quote(str(path))}?mode=ro" + ("&immutable=1" if immutable else "")
    return connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)


def busy_timeout_pragma() -> str:
    """The ``PRAGMA busy_timeout`` statement for :data:`BUSY_TIMEOUT_S`."""
    return f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}"


def _refuse_mismatched_key(folder: Path, key: bytes | None) -> None:
    """An encrypted file opened without a key, or a key given for a plaintext file: say which, and what to do."""
    db_path = folder / DB_FILE_NAME
    encrypted_file = store_is_encrypted(folder)
    if key is None and encrypted_file:
        if (folder / VAULT_FILE_NAME).is_file():
            raise ProjectError(
                f"{folder} is an encrypted project: unlock it with its passphrase (window: Project ▸ Unlock; "
                "command line: WORKBENCH_PASSPHRASE or the prompt)"
            )
        raise ProjectError(
            f"the project database is damaged: {db_path} does not start with an SQLite header, and the folder "
            f"has no {VAULT_FILE_NAME}, so it is not an encrypted project either. Restore the project folder "
            "from a backup (with its vault.json if it was encrypted), or create a new project and register the "
            "datasets again."
        )
    if key is not None and db_path.is_file() and db_path.stat().st_size > 0 and not encrypted_file:
        raise ProjectError(
            f"the project database {db_path} is not encrypted yet (it is a plaintext SQLite file): encrypt it "
            "with Project.encrypt_store first, then open it with the key"
        )


def open_connection(folder: Path, key: bytes | None = None, *, read_only: bool = False) -> sqlite3.Connection:
    """Connect to the folder's database (with SQLCipher if there is a key), key it and set the per-connection
    pragmas (busy timeout, foreign keys, WAL, ``synchronous=NORMAL``). The schema is not looked at yet.

    ``read_only``: nothing is ever written (:func:`connect_file`; the journal mode is left as the file has it).

    Raises
    ------
    ProjectError
        The file's kind does not match ``key``, the key does not open it, WAL cannot be used, or SQLite failed.
    """
    _refuse_mismatched_key(folder, key)
    key_sql = None if key is None else f'PRAGMA key = "{key_literal(key)}"'
    connect = sqlite3.connect if key is None else cipher_module().connect
    try:
        conn = connect_file(connect, folder / DB_FILE_NAME, read_only=read_only)
    except db_errors() as exc:
        raise translate(exc, "open the project database") from None
    with closed_on_error(conn, "open the project database", encrypted=key is not None):
        if key_sql is not None:
            apply_key(conn, key_sql, folder)
        conn.execute(busy_timeout_pragma())
        conn.execute("PRAGMA foreign_keys = ON")
        if read_only:
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()  # fails now if the file cannot be read
            return conn
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ProjectError(
                f"could not switch the project database to WAL mode (got {mode!r}); is the project on a "
                "network share? Projects must be on a local disk."
            )
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def apply_key(conn: sqlite3.Connection, key_sql: str, folder: Path) -> None:
    """Key a fresh SQLCipher connection (its very first statement) and check the key opens the file.

    SQLCipher decrypts nothing until the first read: reading the schema (page 1, whose HMAC fails under another
    key) tells a wrong key from a good one before anything else runs.
    """
    conn.execute(key_sql)
    # SQLCipher writes its own error lines to stderr ("hmac check failed for pgno=1"); our messages say it.
    conn.execute("PRAGMA cipher_log_level = NONE")
    try:
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except db_errors() as exc:
        if "SQLITE_NOTADB" in (getattr(exc, "sqlite_errorname", "") or "") or "not a database" in str(exc):
            raise ProjectError(
                f"the key does not open this project's store ({folder / DB_FILE_NAME}): it is not the key the "
                "store was encrypted with (is the vault.json next to it the project's own?), or the store's "
                "first page was altered. Restore the project folder from a backup if its own passphrase "
                "unlocks the vault and this persists."
            ) from None
        raise


def require_schema(conn: sqlite3.Connection, version: int, folder: Path) -> None:
    """A read-only opening cannot migrate: ProjectError when the store's schema is older than ``version``."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current < version:
        raise ProjectError(
            f"{folder}: the project database needs an upgrade (schema {current} to {version}), which a read-only "
            "opening cannot do; open the project once where it can be written"
        )


def check_integrity(conn: sqlite3.Connection) -> None:
    """ProjectError unless SQLite's ``quick_check`` finds the file sound."""
    # quick_check is O(database size) and project databases hold metadata only: milliseconds.
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)").fetchall()]
    if problems != ["ok"]:
        raise ProjectError(
            "the project database is damaged: integrity check failed ("
            + "; ".join(problems)
            + "). Restore the project folder from a backup, or create a new project and register the "
            "datasets again."
        )


# ----------------------------------------------------------------------------------------------------------
# The open connection and its transactions
# ----------------------------------------------------------------------------------------------------------


class ProjectConnection:
    """The base of :class:`~workbench.core.project.store.Project`: one open connection guarded by one lock, its
    read and write transactions, and closing. Every table's mixin derives from it."""

    def __init__(
        self, folder: Path, connection: sqlite3.Connection, *, encrypted: bool = False, read_only: bool = False
    ) -> None:
        """Internal: use :meth:`create`, :meth:`open` or :meth:`open_or_create`."""
        self._folder = folder
        self._conn: sqlite3.Connection | None = connection
        self._encrypted = encrypted
        self._read_only = read_only
        self._lock = threading.Lock()
        self._audit_signer: HeadSigner | None = None

    def set_audit_signer(self, signer: HeadSigner | None) -> None:
        """Sign the audit chain's head after every write transaction that moved it (``None``: stop signing)."""
        with self._lock:
            self._audit_signer = signer

    def close(self) -> None:
        """Close the database. Idempotent; any later call on this object raises ProjectError."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except db_errors() as exc:
                log.warning("closing the project database failed: %s", type(exc).__name__)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._conn is None

    @property
    def read_only(self) -> bool:
        """Whether the store was opened read-only (every change raises ProjectError)."""
        return self._read_only

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _require_open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProjectError(f"the project {self._folder.name!r} is closed")
        return self._conn

    @contextmanager
    def _read(self, doing: str) -> Iterator[sqlite3.Connection]:
        """Hold the connection for reading (autocommit: each statement sees the latest committed state)."""
        with self._lock:
            conn = self._require_open()
            try:
                yield conn
            except db_errors() as exc:
                raise translate(exc, doing, encrypted=self._encrypted) from None
            except MemoryError:
                if not self._encrypted:
                    raise
                raise damaged_page(doing) from None

    @contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, begun with ``BEGIN IMMEDIATE`` so that two processes queue, not fail.

        Everything inside commits together or not at all; any exception rolls back.
        """
        with self._lock:
            conn = self._require_open()
            if self._read_only:
                raise ProjectError(
                    f"could not {doing}: the project {self._folder.name!r} was opened read-only (its folder or "
                    "database cannot be written); nothing was changed"
                )
            errors = db_errors()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except errors as exc:
                raise translate(exc, doing, encrypted=self._encrypted) from None
            except MemoryError:
                if not self._encrypted:
                    raise
                raise damaged_page(doing) from None
            try:
                yield conn
                if self._audit_signer is not None:
                    sign_head(conn, self._audit_signer)
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    # The original error is the one to report.
                    with contextlib.suppress(*errors, MemoryError):
                        conn.execute("ROLLBACK")
                if isinstance(exc, errors):
                    raise translate(exc, doing, encrypted=self._encrypted) from None
                if isinstance(exc, MemoryError) and self._encrypted:
                    raise damaged_page(doing) from None
                raise

    # ---- transactions for the tables of other modules (workbench.core.dp.runs, workbench.core.dp.ledger) ------

    @contextmanager
    def write_transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction for modules that own tables of their own (``dp.ledger``,
        ``dp.runs``): everything inside commits together or not at all, and it excludes every other writer,
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
