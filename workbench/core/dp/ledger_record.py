"""The ledger record: a tamper-evident copy of the privacy ledger kept outside the project's SQLite (issue 12).

The ledger (:mod:`workbench.core.dp.ledger`) lives in ``workbench.sqlite``. Restoring an older copy of that file,
or editing it, would give back budget already spent. So after every ledger change is committed, a snapshot of the
whole ledger (every budget total, every reservation's state and counted epsilon and delta; no dataset values,
no names) is written beside it:

- **encrypted project**: ``encrypted/.ledger-record``, sealed with AES-256-GCM under a key derived from the
  store's key (which the vault holds): unreadable and unforgeable without the passphrase;
- **unencrypted project**: ``ledger-record.json``, in clear, with an HMAC-SHA256 under the *machine key* in the
  user's data folder (:func:`workbench.core.dp.machine_index.machine_key`). It can be checked on the machine that
  wrote it; a record written on another machine (a project copied over) cannot be, and is taken as it is (said
  in the log), then re-signed here.

Ledger changes take a lock file (``.ledger.lock``) around the database commit *and* the record write, so under
that lock the record is never behind the database except after a crash between the two writes. When the project
is opened, :func:`reconcile` compares them under the lock:

- an entry or a budget the record has and the database lacks, an entry whose committed figures differ, or a
  record that does not verify: the **database is behind** (restored from an older copy, or edited); the project is
  refused, with what to do;
- the database **one step ahead** (a reservation's commit or release the record does not show: the crash case):
  that reservation is counted as spent in full, and the record is rewritten;
- a budget total higher in the database than in the record: the record's lower total is restored.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.core.atomic import atomic_write_bytes
from workbench.core.errors import WorkbenchError

log = logging.getLogger(__name__)

PLAIN_RECORD = "ledger-record.json"
SEALED_RECORD = "encrypted/.ledger-record"
LOCK_NAME = ".ledger.lock"
_FORMAT = "privacy-workbench ledger record"
_AAD = b"workbench/ledger-record/v1"
_MAX_BYTES = 64 << 20
_TOL = 1e-9


class LedgerRecordError(WorkbenchError):
    """The ledger record refuses the project's database (behind, altered) or cannot be read or written."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The ledger's state: budget totals by fingerprint, and each entry ``id -> (fingerprint, state, eps, delta)``
    where eps and delta are what the entry counts (its reservation while reserved, its spend once finished)."""

    project_id: str
    budgets: dict[str, tuple[float, float | None]]
    entries: dict[int, tuple[str, str, float, float]]

    def to_json(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "budgets": {fp: list(v) for fp, v in sorted(self.budgets.items())},
            "entries": {str(i): list(v) for i, v in sorted(self.entries.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> Snapshot:
        try:
            budgets = {
                str(fp): (float(v[0]), None if v[1] is None else float(v[1])) for fp, v in data["budgets"].items()
            }
            entries = {int(i): (str(v[0]), str(v[1]), float(v[2]), float(v[3])) for i, v in data["entries"].items()}
            return cls(str(data["project_id"]), budgets, entries)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise LedgerRecordError("the ledger record is damaged (its content is not a ledger snapshot)") from None


def snapshot(conn: sqlite3.Connection, project_id: str) -> Snapshot:
    """The ledger as the database holds it (call inside a transaction for one consistent read)."""
    budgets = {
        str(fp): (float(t), None if d is None else float(d))
        for fp, t, d in conn.execute("SELECT fingerprint, total_epsilon, total_delta FROM privacy_budgets")
    }
    entries = {}
    for rid, fp, state, r_eps, r_delta, s_eps, s_delta in conn.execute(
        "SELECT id, fingerprint, state, reserved_epsilon, reserved_delta, spent_epsilon, spent_delta "
        "FROM privacy_ledger"
    ):
        reserved = state == "reserved"
        eps = float(r_eps if reserved else (s_eps or 0.0))
        delta = float(r_delta if reserved else (s_delta or 0.0))
        entries[int(rid)] = (str(fp), str(state), eps, delta)
    return Snapshot(project_id, budgets, entries)


# ---- reading and writing the record ---------------------------------------------------------------------------


class RecordFile:
    """The record of one project: where it lives and how it is sealed or signed."""

    def __init__(self, folder: Path, sealing_key: bytes | None, machine_key: bytes) -> None:
        self.folder = folder
        self._sealing_key = sealing_key
        self._machine_key = machine_key
        self.foreign = False
        """The last record read was signed on another machine (or is the plain one of a now encrypted project):
        it is rewritten at the next open."""

    @property
    def path(self) -> Path:
        return self.folder / (SEALED_RECORD if self._sealing_key is not None else PLAIN_RECORD)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across processes (``flock``) for a database commit and the record write that follows."""
        path = self.folder / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise LedgerRecordError(f"the ledger lock {path} cannot be opened ({exc.strerror or exc})") from None
        try:
            try:
                import fcntl
            except ImportError:  # Windows: SQLite's own locking still serialises the database writes
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _read_bytes(self, path: Path) -> bytes | None:
        if not path.exists():
            return None
        if not path.is_file():
            raise LedgerRecordError(f"the ledger record {path} is not a regular file")
        try:
            with path.open("rb") as f:
                data = f.read(_MAX_BYTES + 1)
        except OSError as exc:
            raise LedgerRecordError(f"the ledger record {path} cannot be read ({exc.strerror or exc})") from None
        if len(data) > _MAX_BYTES:
            raise LedgerRecordError(f"the ledger record {path} is larger than any ledger record")
        return data

    def read(self) -> Snapshot | None:
        """The recorded snapshot, ``None`` when there is no record yet. For an encrypted project with no sealed
        record, the signed plain record left from before the encryption is read (and replaced at the next write).

        Raises
        ------
        LedgerRecordError
            A record that does not verify (altered, or sealed under another key) or is damaged.
        """
        if self._sealing_key is not None:
            data = self._read_bytes(self.path)
            if data is not None:
                self.foreign = False
                return self._unseal(data)
        data = self._read_bytes(self.folder / PLAIN_RECORD)
        self.foreign = data is not None and self._sealing_key is not None
        return None if data is None else self._verify(data)

    def write(self, snap: Snapshot) -> None:
        body = json.dumps(snap.to_json(), sort_keys=True, separators=(",", ":")).encode()
        try:
            if self._sealing_key is not None:
                from cryptography.hazmat.primitives.ciphers.aead import AESGCM

                nonce = secrets.token_bytes(12)
                self.path.parent.mkdir(mode=0o700, exist_ok=True)
                atomic_write_bytes(self.path, nonce + AESGCM(self._sealing_key).encrypt(nonce, body, _AAD))
                with contextlib.suppress(FileNotFoundError):
                    (self.folder / PLAIN_RECORD).unlink()
                return
            mac = hmac.new(self._machine_key, _AAD + body, hashlib.sha256).hexdigest()
            from workbench.core.dp.machine_index import key_id

            doc = {"format": _FORMAT, "key_id": key_id(self._machine_key), "body": snap.to_json(), "mac": mac}
            atomic_write_bytes(self.path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode(), mode=0o644)
        except OSError as exc:
            raise LedgerRecordError(
                f"the ledger record {self.path} cannot be written ({exc.strerror or exc}); the change is in the "
                "project's database, and the next open counts any reservation the record misses as spent in full"
            ) from None

    def _unseal(self, data: bytes) -> Snapshot:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        assert self._sealing_key is not None
        try:
            body = AESGCM(self._sealing_key).decrypt(data[:12], data[12:], _AAD)
        except (InvalidTag, ValueError):
            raise LedgerRecordError(
                f"the ledger record {self.path} does not verify under this project's key: it was altered or "
                "belongs to another project. Restore the project folder from your backup."
            ) from None
        return Snapshot.from_json(_loads(body))

    def _verify(self, data: bytes) -> Snapshot:
        from workbench.core.dp.machine_index import key_id

        doc = _loads(data)
        if not (isinstance(doc, dict) and doc.get("format") == _FORMAT and isinstance(doc.get("body"), dict)):
            raise LedgerRecordError(f"the ledger record {self.folder / PLAIN_RECORD} is damaged")
        body = json.dumps(doc["body"], sort_keys=True, separators=(",", ":")).encode()
        if doc.get("key_id") != key_id(self._machine_key):
            self.foreign = True
            log.warning("the ledger record was signed on another machine: it cannot be checked here")
            return Snapshot.from_json(doc["body"])
        expected = hmac.new(self._machine_key, _AAD + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(doc.get("mac", ""))):
            raise LedgerRecordError(
                f"the ledger record {self.folder / PLAIN_RECORD} was altered (its signature does not match). "
                "Restore the project folder from your backup."
            )
        return Snapshot.from_json(doc["body"])


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise LedgerRecordError("the ledger record is damaged (not valid JSON)") from None


# ---- comparing the record with the database -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What :func:`compare` found: entries to count in full, budget totals to lower back."""

    count_in_full: tuple[int, ...]
    lower_totals: dict[str, float]


def _behind(what: str) -> LedgerRecordError:
    return LedgerRecordError(
        f"this project's database is behind its privacy-ledger record ({what}): workbench.sqlite was restored from "
        "an older copy or edited, which would give back privacy budget already spent. Restore the latest "
        "workbench.sqlite (with its -wal file) from your backup; the project is not opened meanwhile."
    )


def compare(recorded: Snapshot, db: Snapshot) -> Reconciliation:
    """How the database stands against the record (see the module docstring); raises when it is behind."""
    if recorded.project_id != db.project_id:
        raise LedgerRecordError(
            "the privacy-ledger record belongs to another project (its project id differs): the record or the "
            "store was copied from elsewhere. Restore the project folder from your backup."
        )
    for fp in recorded.budgets:
        if fp not in db.budgets:
            raise _behind("a dataset's budget is missing")
    full: list[int] = []
    for rid, (fp, state, eps, delta) in recorded.entries.items():
        now = db.entries.get(rid)
        if now is None:
            raise _behind(f"reservation {rid} is missing")
        if now[0] != fp:
            raise _behind(f"reservation {rid} changed dataset")
        if state != "reserved":
            if now[1] != state or abs(now[2] - eps) > _TOL * max(1.0, eps) or abs(now[3] - delta) > _TOL:
                raise _behind(f"reservation {rid} was {state} with other figures")
        elif now[1] != "reserved" and now[2] < eps - _TOL * max(1.0, eps):
            full.append(rid)  # finished in the database after the record was last written: a crash between
    for rid, (_fp, state, _eps, _delta) in db.entries.items():
        if rid not in recorded.entries and state == "released":
            full.append(rid)  # a release the record never saw: counted in full
    lower = {
        fp: recorded.budgets[fp][0]
        for fp, (total, _d) in db.budgets.items()
        if fp in recorded.budgets and total > recorded.budgets[fp][0] + _TOL
    }
    return Reconciliation(tuple(sorted(full)), lower)


def apply_reconciliation(conn: sqlite3.Connection, audit: Callable[..., Any], outcome: Reconciliation) -> None:
    """Write what :func:`~workbench.core.dp.ledger_record.compare` found (audited, one entry per change)."""
    for rid in outcome.count_in_full:
        conn.execute(
            "UPDATE privacy_ledger SET state = 'committed', spent_epsilon = reserved_epsilon, "
            "spent_delta = reserved_delta, note = ? WHERE id = ? AND state != 'reserved'",
            ("its commit was not in the ledger record (a crash between the two writes): counted as spent in full", rid),
        )
        audit(conn, "privacy_budget.counted_in_full", reservation_id=rid, reason="ledger record behind")
    for fp, total in sorted(outcome.lower_totals.items()):
        conn.execute(
            "UPDATE privacy_budgets SET total_epsilon = ?, updated_at = ? WHERE fingerprint = ?",
            (total, datetime.now(UTC).isoformat(timespec="milliseconds"), fp),
        )
        audit(conn, "privacy_budget.total_restored", fingerprint=fp, total_epsilon=total)
