"""The audit log as a hash chain with a signed head (issue 18).

Every entry of ``audit_log`` carries ``prev_hash`` (the hash of the entry before it; 64 zeros for the first) and
``entry_hash``, the SHA-256 of its canonical content::

    "workbench-audit-v1" NUL  id US ts US action US detail_json US prev_hash        (US = 0x1F)

``detail_json`` is hashed as stored: any change of a stored byte changes the hash. Entries are appended in the
write transaction of the change they record, with consecutive ids, so that a change, a deletion, an insertion or a
reordering of rows breaks the chain at a place :func:`verify_chain` names.

Anyone can recompute hashes, so a rewrite of the *whole* tail of the chain is caught only by the **signed head**:
after every write transaction that appended entries, the head (``id``, ``entry_hash``, the project id) is signed
with the project's Ed25519 key (:class:`HeadSigner`; see :mod:`workbench.services.audit` for where the key lives)
and kept in the one-row table ``audit_head``. The analyst holds that key and could rebuild and re-sign a chain, so
a compliance officer **anchors**: records the head (``workbench audit-log head``) elsewhere, and later checks that
the log still extends it (``verify --since-head``). Every report carries the head.

Entries written before this version (no hashes yet) are chained, in id order, the first time the project is
opened by it: the chain vouches for them from then on, not for what happened to them before.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from workbench.core.errors import ProjectError
from workbench.core.project.records import now

GENESIS = "0" * 64
"""``prev_hash`` of the first entry."""
_DOMAIN = b"workbench-audit-v1\x00"
_HEAD_DOMAIN = b"workbench-audit-head-v1\x00"

AUDIT_CHAIN_SQL_V6 = """\
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN entry_hash TEXT;
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    entry_hash TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
"""
"""The chain columns and the signed head, as released in migration 6."""


def entry_hash(seq: int, ts: str, action: str, detail_json: str, prev_hash: str) -> str:
    """The SHA-256 (hex) of one entry's canonical content."""
    content = "\x1f".join((str(int(seq)), ts, action, detail_json, prev_hash)).encode("utf-8")
    return hashlib.sha256(_DOMAIN + content).hexdigest()


def head_message(project_id: str, seq: int, head_hash: str) -> bytes:
    """What the head signature covers."""
    return _HEAD_DOMAIN + f"{project_id}\x1f{int(seq)}\x1f{head_hash}".encode()


@dataclass(frozen=True)
class HeadSigner:
    """Signs the head of one project's chain: the project id, the public key (hex) and a signing function."""

    project_id: str
    public_key: str
    sign: Callable[[bytes], bytes | None]
    """Returns the signature, or ``None`` when the key cannot be used now (a locked project): the head is then
    signed at the next change made while it can."""


# ---- appending ------------------------------------------------------------------------------------------------


def _last(conn: sqlite3.Connection) -> tuple[int, str | None] | None:
    row = conn.execute("SELECT id, entry_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), row[1])


def chain_unchained(conn: sqlite3.Connection) -> int:
    """Chain the entries written before the chain existed (in the caller's write transaction); returns how many."""
    rows = conn.execute(
        "SELECT id, ts, action, detail_json FROM audit_log WHERE entry_hash IS NULL ORDER BY id"
    ).fetchall()
    if not rows:
        return 0
    for rid, ts, action, detail in rows:
        prev = conn.execute(
            "SELECT entry_hash FROM audit_log WHERE id < ? AND entry_hash IS NOT NULL ORDER BY id DESC LIMIT 1", (rid,)
        ).fetchone()
        prev_hash = GENESIS if prev is None else str(prev[0])
        conn.execute(
            "UPDATE audit_log SET prev_hash = ?, entry_hash = ? WHERE id = ?",
            (prev_hash, entry_hash(rid, ts, action, detail, prev_hash), rid),
        )
    return len(rows)


def chain_on_open(conn: sqlite3.Connection) -> int:
    """Chain the entries an older version wrote, in a write transaction of its own (a store opened for writing)."""
    if conn.execute("SELECT 1 FROM audit_log WHERE entry_hash IS NULL LIMIT 1").fetchone() is None:
        return 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = chain_unchained(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return done


def append(conn: sqlite3.Connection, action: str, detail_json: str) -> int:
    """Append one chained entry in the caller's write transaction; returns its id."""
    last = _last(conn)
    if last is not None and last[1] is None:
        chain_unchained(conn)
        last = _last(conn)
    seq = 1 if last is None else last[0] + 1
    prev_hash = GENESIS if last is None else str(last[1])
    ts = now()
    conn.execute(
        "INSERT INTO audit_log (id, ts, action, detail_json, prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?)",
        (seq, ts, action, detail_json, prev_hash, entry_hash(seq, ts, action, detail_json, prev_hash)),
    )
    return seq


def sign_head(conn: sqlite3.Connection, signer: HeadSigner) -> bool:
    """Sign the chain's head when it moved since the last signature (in the caller's write transaction)."""
    last = _last(conn)
    if last is None or last[1] is None:
        return False
    signed = conn.execute("SELECT seq, entry_hash, public_key FROM audit_head WHERE id = 1").fetchone()
    if signed is not None and (int(signed[0]), signed[1], signed[2]) == (last[0], last[1], signer.public_key):
        return False
    signature = signer.sign(head_message(signer.project_id, last[0], str(last[1])))
    if signature is None:
        return False
    conn.execute(
        "INSERT INTO audit_head (id, seq, entry_hash, public_key, signature, signed_at) VALUES (1, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, entry_hash = excluded.entry_hash, "
        "public_key = excluded.public_key, signature = excluded.signature, signed_at = excluded.signed_at",
        (last[0], str(last[1]), signer.public_key, signature.hex(), now()),
    )
    return True


# ---- verifying ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found. ``broken_at`` is the id of the first entry that does not verify."""

    entries: int
    head_seq: int
    head_hash: str
    broken_at: int | None = None
    reason: str | None = None
    signed_seq: int | None = None
    signature: str = "none"
    """``valid``, ``invalid``, ``none`` (never signed) or ``behind`` (valid, for an earlier head)."""
    public_key: str | None = None
    anchor: str | None = None
    """With ``since_head``: ``extends`` or why not."""

    @property
    def ok(self) -> bool:
        return self.broken_at is None and self.signature in ("valid", "behind") and self.anchor in (None, "extends")


def _walk(conn: sqlite3.Connection) -> tuple[int, int, str, int | None, str | None, dict[int, str]]:
    """Recompute the chain: (entries, head id, head hash, first broken id, reason, hash by id)."""
    hashes: dict[int, str] = {}
    prev_id, prev_hash, count = 0, GENESIS, 0
    rows = conn.execute("SELECT id, ts, action, detail_json, prev_hash, entry_hash FROM audit_log ORDER BY id")
    for rid, ts, action, detail, stored_prev, stored_hash in rows:
        count += 1
        rid = int(rid)
        if rid != prev_id + 1:
            return count, prev_id, prev_hash, rid, f"entry {prev_id + 1} is missing (ids jump to {rid})", hashes
        if stored_prev != prev_hash:
            return (
                count,
                prev_id,
                prev_hash,
                rid,
                "it does not follow the entry before it (deleted, inserted or moved)",
                hashes,
            )
        if stored_hash != entry_hash(rid, ts, action, detail, prev_hash):
            return count, prev_id, prev_hash, rid, "its content was changed after it was written", hashes
        hashes[rid] = stored_hash
        prev_id, prev_hash = rid, stored_hash
    return count, prev_id, prev_hash, None, None, hashes


def verify_chain(
    conn: sqlite3.Connection,
    project_id: str,
    verify_signature: Callable[[str, bytes, bytes], bool],
    since_head: tuple[int, str] | None = None,
) -> ChainReport:
    """Check every entry, the signed head, and (``since_head``) that the log still extends a recorded head.

    ``verify_signature(public_key_hex, message, signature)`` checks one Ed25519 signature.
    """
    count, head_seq, head_hash, broken, reason, hashes = _walk(conn)
    signed = conn.execute("SELECT seq, entry_hash, public_key, signature FROM audit_head WHERE id = 1").fetchone()
    signature, signed_seq, public_key = "none", None, None
    if signed is not None:
        signed_seq, public_key = int(signed[0]), str(signed[2])
        message = head_message(project_id, signed_seq, str(signed[1]))
        try:
            good = verify_signature(public_key, message, bytes.fromhex(str(signed[3])))
        except ValueError:
            good = False
        if not good or hashes.get(signed_seq) != signed[1]:
            signature = "invalid"
        else:
            signature = "valid" if signed_seq == head_seq else "behind"
    anchor = None
    if since_head is not None:
        seq, expected = since_head
        anchor = "extends" if hashes.get(seq) == expected else f"the log no longer holds entry {seq} with that hash"
    return ChainReport(count, head_seq, head_hash, broken, reason, signed_seq, signature, public_key, anchor)


def parse_head(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` (what ``workbench audit-log head`` prints) as a pair."""
    seq, _, digest = text.strip().partition(":")
    if not (seq.isdigit() and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise ProjectError(f"a recorded head is written SEQ:HASH (e.g. 42:{'ab' * 32}), not {text[:80]!r}")
    return int(seq), digest
