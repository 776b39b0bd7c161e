"""The machine-wide ledger index: the same bytes share one privacy budget across the projects of this machine.

A project's ledger (:mod:`workbench.core.dp.ledger`) knows only its own spending. Were the same file added to a
second project, or an anonymized copy of it added anywhere, it would start a fresh budget. The index, one SQLite
file in the user's data folder (``ledger-index.sqlite``), closes both holes:

- ``usage``: per dataset and project, the epsilon and delta that project has committed or reserved on it. A
  reservation claims its epsilon here *before* its project's database commits it and reads, in the same
  transaction, what the other projects use: two projects reserving at once each see the other's claim. After the
  project's commit (or a release) the row is set to the project's true figure; a crash in between leaves the
  index ahead (the safe side) until the project is next opened, which sets it again.
- ``derived``: which dataset another was derived from (an anonymized copy, a generalized table), so that a derived
  file added to a project that does not hold its lineage still charges the original's budget.

Nothing in the index is in clear: a dataset is named by an HMAC of its fingerprint under the machine key, and the
original of a derived dataset is sealed (AES-GCM) under a key derived from the same machine key. The machine key
(``ledger.key``, 32 random bytes, mode 0600) also signs the ledger record of unencrypted projects
(:mod:`workbench.core.dp.ledger_record`). What it protects against, and what it does not (another machine, another
user account, someone who deletes the index), is in docs/differential-privacy.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from workbench.core.errors import WorkbenchError
from workbench.core.paths import user_data_dir

INDEX_NAME = "ledger-index.sqlite"
KEY_NAME = "ledger.key"
_KEY_SIZE = 32
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS usage (dataset TEXT NOT NULL, project_id TEXT NOT NULL, epsilon REAL NOT NULL, "
    "delta REAL NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (dataset, project_id))",
    "CREATE TABLE IF NOT EXISTS derived (dataset TEXT PRIMARY KEY, original BLOB NOT NULL, created_at TEXT NOT NULL)",
)


class MachineIndexError(WorkbenchError):
    """The machine-wide ledger index or its key cannot be used (the message says where and why)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def machine_key(folder: Path | None = None) -> bytes:
    """This user's machine key, created on first use (32 random bytes, mode 0600, never replaced)."""
    folder = folder if folder is not None else user_data_dir()
    path = folder / KEY_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise MachineIndexError(f"the ledger key {path} cannot be created ({exc.strerror or exc})") from None
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(_KEY_SIZE))
            f.flush()
            os.fsync(f.fileno())
    try:
        with open(path, "rb") as f:
            key = f.read(_KEY_SIZE + 1)
    except OSError as exc:
        raise MachineIndexError(f"the ledger key {path} cannot be read ({exc.strerror or exc})") from None
    if len(key) != _KEY_SIZE:
        raise MachineIndexError(
            f"the ledger key {path} is damaged (it must hold {_KEY_SIZE} bytes). Restore it from a backup of your "
            "data folder; without it the ledger records of unencrypted projects cannot be checked."
        )
    return key


def key_id(key: bytes) -> str:
    """A short public name of a machine key (which machine signed a record)."""
    return hashlib.sha256(b"workbench/ledger-key-id\x00" + key).hexdigest()[:16]


class MachineIndex:
    """The index in ``folder`` (the user's data folder by default). Each call opens and closes its connection,
    so an index is safe to share between threads and processes (SQLite's locking serialises the writers)."""

    def __init__(self, folder: Path | None = None) -> None:
        try:
            self._folder = folder if folder is not None else user_data_dir()
        except OSError as exc:
            raise MachineIndexError(f"the user data folder cannot be created ({exc.strerror or exc})") from None
        self._key = machine_key(self._folder)

    @property
    def path(self) -> Path:
        return self._folder / INDEX_NAME

    @property
    def key(self) -> bytes:
        return self._key

    def _name(self, fingerprint: str) -> str:
        return hmac.new(self._key, b"dataset\x00" + fingerprint.encode(), hashlib.sha256).hexdigest()

    def _seal_key(self) -> bytes:
        return hmac.new(self._key, b"workbench/ledger-index/derived/v1", hashlib.sha256).digest()

    @contextlib.contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise MachineIndexError(f"the machine ledger index {self.path} cannot be opened ({exc})") from None
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            for statement in _SCHEMA if write else ():
                conn.execute(statement)
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise MachineIndexError(f"the machine ledger index {self.path} cannot be used ({exc})") from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    @staticmethod
    def _has_tables(conn: sqlite3.Connection) -> bool:
        return conn.execute("SELECT count(*) FROM sqlite_schema WHERE name IN ('usage', 'derived')").fetchone()[0] == 2

    # ---- usage --------------------------------------------------------------------------------------------

    def claim(self, fingerprint: str, project_id: str, epsilon: float, delta: float) -> tuple[float, float]:
        """Add ``(epsilon, delta)`` to this project's usage of the dataset, and return what the *other* projects
        use, both in one write transaction."""
        name = self._name(fingerprint)
        with self._connect(write=True) as conn:
            conn.execute(
                "INSERT INTO usage (dataset, project_id, epsilon, delta, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(dataset, project_id) DO UPDATE SET epsilon = epsilon + excluded.epsilon, "
                "delta = delta + excluded.delta, updated_at = excluded.updated_at",
                (name, project_id, float(epsilon), float(delta), _now()),
            )
            return self._others(conn, name, project_id)

    def set_usage(self, fingerprint: str, project_id: str, epsilon: float, delta: float) -> None:
        """Set this project's usage of the dataset to its ledger's true figure."""
        with self._connect(write=True) as conn:
            conn.execute(
                "INSERT INTO usage (dataset, project_id, epsilon, delta, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(dataset, project_id) DO UPDATE SET epsilon = excluded.epsilon, "
                "delta = excluded.delta, updated_at = excluded.updated_at",
                (self._name(fingerprint), project_id, float(epsilon), float(delta), _now()),
            )

    def elsewhere(self, fingerprint: str, project_id: str) -> tuple[float, float, int]:
        """What the other projects of this machine use of the dataset: epsilon, delta and how many projects."""
        name = self._name(fingerprint)
        with self._connect(write=False) as conn:
            if not self._has_tables(conn):
                return 0.0, 0.0, 0
            eps, delta = self._others(conn, name, project_id)
            count = conn.execute(
                "SELECT count(*) FROM usage WHERE dataset = ? AND project_id != ? AND epsilon > 0",
                (name, project_id),
            ).fetchone()[0]
        return eps, delta, int(count)

    @staticmethod
    def _others(conn: sqlite3.Connection, name: str, project_id: str) -> tuple[float, float]:
        row = conn.execute(
            "SELECT COALESCE(SUM(epsilon), 0), COALESCE(SUM(delta), 0) FROM usage "
            "WHERE dataset = ? AND project_id != ?",
            (name, project_id),
        ).fetchone()
        return float(row[0]), float(row[1])

    # ---- derived datasets ---------------------------------------------------------------------------------

    def note_derived(self, child_fingerprint: str, parent_fingerprint: str) -> None:
        """Remember that ``child`` was derived from ``parent`` (the first derivation recorded is kept)."""
        if child_fingerprint == parent_fingerprint:
            return
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        name = self._name(child_fingerprint)
        nonce = secrets.token_bytes(12)
        sealed = nonce + AESGCM(self._seal_key()).encrypt(nonce, parent_fingerprint.encode(), name.encode())
        with self._connect(write=True) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO derived (dataset, original, created_at) VALUES (?, ?, ?)",
                (name, sealed, _now()),
            )

    def parent_of(self, fingerprint: str) -> str | None:
        """The dataset ``fingerprint`` was derived from, as noted on this machine; ``None`` when none was."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        name = self._name(fingerprint)
        with self._connect(write=False) as conn:
            if not self._has_tables(conn):
                return None
            row = conn.execute("SELECT original FROM derived WHERE dataset = ?", (name,)).fetchone()
        if row is None:
            return None
        blob = bytes(row[0])
        try:
            return AESGCM(self._seal_key()).decrypt(blob[:12], blob[12:], name.encode()).decode()
        except (InvalidTag, ValueError, UnicodeDecodeError):
            raise MachineIndexError(
                f"the machine ledger index {self.path} was altered (a derived-dataset entry does not verify)"
            ) from None
