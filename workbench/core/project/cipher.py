"""Converting a project's plaintext store into an SQLCipher store, in place and crash-safely: the file work behind
:meth:`workbench.core.project.store.Project.encrypt_store` (whose docstring gives the steps and the guarantees).

:func:`conversion_lock` serialises conversions of one folder across processes; :func:`replace_with_encrypted_copy`
folds the WAL in, exports an encrypted copy, checks nobody touched the plaintext file meanwhile, and swaps the copy
in. :func:`~workbench.core.faults.crash_point` marks the steps for the kill tests (``store.folded``, ``store.exported``,
``store.synced``, ``store.replaced``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.core.errors import ProjectError
from workbench.core.faults import crash_point
from workbench.core.project.connection import (
    DB_FILE_NAME,
    busy_timeout_pragma,
    cipher_module,
    connect_file,
    is_busy,
    translate,
)

ENCRYPTING_SUFFIX = ".encrypting"
"""``workbench.sqlite.encrypting``: the encrypted copy that :meth:`Project.encrypt_store` writes before the swap."""
_CONVERSION_LOCK_TIMEOUT_S = 30.0


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
def conversion_lock(folder: Path) -> Iterator[None]:
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


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    """Flush a file (or a folder's entries) to disk; folders cannot be opened for this on Windows."""
    if directory and sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY if directory else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_with_encrypted_copy(
    folder: Path, literal: str, check_store: Callable[[sqlite3.Connection, Path], None]
) -> None:
    """Write the encrypted copy of the folder's plaintext store and swap it in; call under :func:`conversion_lock`.

    ``literal`` is the key as :func:`~workbench.core.project.connection.key_literal` writes it; ``check_store``
    raises ProjectError unless the plaintext store is a sound workbench project (the checks of every open). On any
    failure the copy is removed and the plaintext store is left as it was (in rollback-journal mode once the WAL
    was folded).
    """
    db_path = folder / DB_FILE_NAME
    tmp_path = folder / (DB_FILE_NAME + ENCRYPTING_SUFFIX)
    try:
        _remove_with_journals(tmp_path)  # left by a conversion that was killed
        _fold_wal(folder, check_store)
        signature = _export_encrypted(folder, tmp_path, literal)
        crash_point("store.exported")
        _fsync_path(tmp_path)
        crash_point("store.synced")
        leftovers = [
            name
            for name in (f"{DB_FILE_NAME}-wal", f"{DB_FILE_NAME}-shm", f"{DB_FILE_NAME}-journal")
            if (folder / name).exists()
        ]
        if leftovers or _file_signature(db_path) != signature:
            raise ProjectError(
                "could not encrypt the project database: another window or program opened the project "
                f"while it was being converted ({', '.join(leftovers) or 'the database changed'}). Close the "
                "project everywhere else and try again."
            )
        os.replace(tmp_path, db_path)
        crash_point("store.replaced")
        _fsync_path(folder, directory=True)
    except BaseException:
        with contextlib.suppress(OSError):
            _remove_with_journals(tmp_path)
        raise


def _fold_wal(folder: Path, check_store: Callable[[sqlite3.Connection, Path], None]) -> None:
    """Checkpoint the WAL into the plaintext file and leave it in rollback-journal mode (no ``-wal`` file)."""
    doing = "prepare the project database for encryption"
    try:
        conn = connect_file(sqlite3.connect, folder / DB_FILE_NAME)
    except sqlite3.Error as exc:
        raise translate(exc, doing) from None
    try:
        conn.execute(busy_timeout_pragma())
        check_store(conn, folder)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        mode = str(conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower()
        if mode != "delete":
            raise ProjectError(
                f"could not {doing}: it stayed in {mode} mode. Is the project open in another window or program? "
                "Close it there and try again."
            )
    except sqlite3.Error as exc:
        if is_busy(exc):
            raise ProjectError(
                f"could not {doing}: the project is open in another window or program. Close it there and try again."
            ) from None
        raise translate(exc, doing) from None
    finally:
        conn.close()
    crash_point("store.folded")


def _export_encrypted(folder: Path, tmp_path: Path, literal: str) -> tuple[int, int, int]:
    """Copy the plaintext store into a new SQLCipher file; returns the plaintext file's signature meanwhile."""
    doing = "encrypt the project database"
    db_path = folder / DB_FILE_NAME
    cipher = cipher_module()
    try:
        # No key: SQLCipher reads the plaintext file as plain SQLite. Only this library has the file open now
        # (two SQLite libraries on one file in one process would drop each other's POSIX locks).
        conn = connect_file(cipher.connect, db_path)
    except cipher.Error as exc:
        raise translate(exc, doing) from None
    try:
        conn.execute(busy_timeout_pragma())
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
        raise translate(exc, doing) from None
    finally:
        conn.close()
    return signature
