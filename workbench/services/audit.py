"""The audit log use cases (issue 18): the key that signs the chain's head, verifying the chain, its head, and
exporting the log.

Where the signing key lives:

- **encrypted project**: an Ed25519 key whose 32-byte seed is the vault secret ``audit-signing`` (encrypted under
  the passphrase). The head is signed only while the project is unlocked; a change made while it is locked is
  signed with the next change made unlocked.
- **unencrypted project**: ``audit-keys/<project id>.ed25519`` in the user's data folder (the raw seed, mode 0600):
  protected only by the operating system's file permissions (docs/encrypted-projects.md says so).

The head's public key is kept with the signature; :func:`verify_audit_log` also says whether it is *this*
project's key (when the key is at hand), so a chain re-signed with another key is told apart.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import ProjectError
from workbench.core.paths import user_data_dir
from workbench.core.project.audit_chain import ChainReport, HeadSigner, verify_chain
from workbench.services.secrets import AUDIT_SIGNING_SECRET

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from workbench.services.session import ProjectSession

KEYS_DIR = "audit-keys"


def _plain_seed(project_id: str) -> bytes:
    folder = user_data_dir() / KEYS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{project_id}.ed25519"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
            f.flush()
            os.fsync(f.fileno())
    seed = path.read_bytes()
    if len(seed) != 32:
        raise ProjectError(f"the audit signing key {path} is damaged (it must hold 32 bytes)")
    return seed


def _private_key(session: ProjectSession) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if session.encrypted:
        seed = session.secret(AUDIT_SIGNING_SECRET)[:32]
    else:
        seed = _plain_seed(session.project.identity.project_id)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def key_fingerprint(public_key: str) -> str:
    """A short, readable name of a public key (SHA-256 of its bytes, 16 hex digits in groups of 4)."""
    digest = hashlib.sha256(bytes.fromhex(public_key)).hexdigest()[:16]
    return ":".join(digest[i : i + 4] for i in range(0, 16, 4))


def audit_signer(session: ProjectSession) -> HeadSigner:
    """The signer of this project's chain head (see the module docstring for where its key lives)."""
    key = _private_key(session)
    vault = session.vault

    def sign(message: bytes) -> bytes | None:
        if vault is not None and not vault.is_unlocked:
            return None  # signed at the next change made while the project is unlocked
        return key.sign(message)

    return HeadSigner(session.project.identity.project_id, public_key_hex(key), sign)


def _verify_signature(public_key: str, message: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class AuditVerdict:
    """The chain report, and whether the head was signed with this project's own key."""

    report: ChainReport
    own_key: bool | None
    """``None`` when this project's key is not at hand (a locked project)."""

    @property
    def ok(self) -> bool:
        return self.report.ok and self.own_key is not False

    def lines(self) -> list[str]:
        r = self.report
        out = [f"{r.entries} entries; head {r.head_seq}:{r.head_hash}"]
        if r.broken_at is not None:
            out.append(f"BROKEN at entry {r.broken_at}: {r.reason}")
        else:
            out.append("every entry verifies and follows the one before it")
        key = f" by key {key_fingerprint(r.public_key)}" if r.public_key else ""
        signature = {
            "valid": f"the head is signed{key}",
            "behind": f"signed{key} up to entry {r.signed_seq} (later entries were written while it was locked)",
            "invalid": "the head signature does NOT verify (the log was rewritten, or the signature edited)",
            "none": "the head was never signed",
        }[r.signature]
        out.append(signature)
        if self.own_key is False:
            out.append("the head was signed with a key that is NOT this project's: the chain was re-signed elsewhere")
        if r.anchor is not None:
            out.append(
                "the log extends the recorded head" if r.anchor == "extends" else f"RECORDED HEAD NOT FOUND: {r.anchor}"
            )
        return out


def verify_audit_log(session: ProjectSession, since_head: tuple[int, str] | None = None) -> AuditVerdict:
    """Check the whole chain, its signed head and, with ``since_head``, that it extends a recorded head."""
    project = session.project
    with project.read_connection("verify the audit log") as conn:
        conn.execute("BEGIN")
        try:
            report = verify_chain(conn, project.identity.project_id, _verify_signature, since_head)
        finally:
            conn.execute("COMMIT")
    own: bool | None = None
    if report.public_key is not None and (session.vault is None or session.vault.is_unlocked):
        own = public_key_hex(_private_key(session)) == report.public_key
    return AuditVerdict(report, own)


def audit_head(session: ProjectSession) -> dict[str, Any]:
    """The head to record elsewhere: sequence number, hash, and the signing key's fingerprint."""
    verdict = verify_audit_log(session)
    r = verdict.report
    return {
        "seq": r.head_seq,
        "hash": r.head_hash,
        "head": f"{r.head_seq}:{r.head_hash}",
        "signed": r.signature,
        "key_fingerprint": key_fingerprint(r.public_key) if r.public_key else None,
        "chain_intact": r.broken_at is None,
    }


# ---- reading and exporting --------------------------------------------------------------------------------------

EXPORT_COLUMNS = ("id", "ts", "action", "detail_json", "prev_hash", "entry_hash")


_DATASET_ID_KEYS = ("dataset_id", "child_dataset_id", "parent_dataset_id")
_FINGERPRINT_KEYS = ("fingerprint", "parent_fingerprint")
_NAME_KEYS = ("name", "dataset")


def names_dataset(detail: dict[str, Any], dataset_id: int, fingerprint: str, name: str, run_ids: set[Any]) -> bool:
    """Whether an entry's detail names the dataset: its id (``dataset_id``, ``child_dataset_id``,
    ``parent_dataset_id``), its fingerprint (``fingerprint``, ``parent_fingerprint``), its name (``name``,
    ``dataset``), or a training run started on it (``run_id`` in ``run_ids``)."""
    if any(detail.get(k) == dataset_id for k in _DATASET_ID_KEYS):
        return True
    if any(detail.get(k) == fingerprint for k in _FINGERPRINT_KEYS):
        return True
    if any(detail.get(k) == name for k in _NAME_KEYS):
        return True
    return detail.get("run_id") in run_ids


def _dataset_rows(session: ProjectSession, rows: list[dict[str, Any]], dataset_id: int) -> Iterator[dict[str, Any]]:
    record = session.project.get_dataset(dataset_id)
    with session.project.read_connection("read the audit log") as conn:
        started = conn.execute("SELECT detail_json FROM audit_log WHERE action = 'training_run.started'").fetchall()
    run_ids = set()
    for (text,) in started:  # every run started on the dataset, also before a time filter's start
        detail = json.loads(text)
        if isinstance(detail, dict) and detail.get("fingerprint") == record.fingerprint:
            run_ids.add(detail.get("run_id"))
    for row in rows:
        detail = json.loads(row["detail_json"])
        if isinstance(detail, dict) and names_dataset(detail, record.id, record.fingerprint, record.name, run_ids):
            yield row


def iter_audit_rows(
    session: ProjectSession,
    *,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
    dataset: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The log's entries, oldest first, filtered by action prefix and time (ISO 8601 strings compare in order) and,
    with ``dataset`` (an id), to the entries that name that dataset (:func:`names_dataset`)."""
    query = f"SELECT {', '.join(EXPORT_COLUMNS)} FROM audit_log WHERE 1 = 1"
    params: list[Any] = []
    if action:
        query += " AND (action = ? OR action LIKE ?)"
        params += [action, action.rstrip(".") + ".%"]
    if since:
        query += " AND ts >= ?"
        params.append(since)
    if until:
        query += " AND ts <= ?"
        params.append(until)
    with session.project.read_connection("read the audit log") as conn:
        rows = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in conn.execute(query + " ORDER BY id", params)]
    yield from (rows if dataset is None else _dataset_rows(session, rows, int(dataset)))


def audit_export_text(rows: list[dict[str, Any]], fmt: str) -> str:
    """The rows as CSV or JSON (one object per entry, ``detail`` parsed)."""
    if fmt == "json":
        entries = [
            {**{k: v for k, v in r.items() if k != "detail_json"}, "detail": json.loads(r["detail_json"])} for r in rows
        ]
        return json.dumps(entries, indent=1, ensure_ascii=False) + "\n"
    if fmt != "csv":
        raise ProjectError(f"an audit log is exported as csv or json, not {fmt!r}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def export_audit_log(session: ProjectSession, out: Path, fmt: str, *, overwrite: bool = False, **filters: Any) -> int:
    """Write the (filtered) log to ``out``; audited. Entries hold no dataset values, so the file may be in clear."""
    from workbench.core.atomic import atomic_write_text

    rows = list(iter_audit_rows(session, **filters))
    try:
        atomic_write_text(out, audit_export_text(rows, fmt), overwrite=overwrite, mode=0o644)
    except FileExistsError:
        raise ProjectError(f"{out} already exists (replace it with --force)") from None
    except OSError as exc:
        raise ProjectError(f"{out}: cannot be written ({exc.strerror or exc})") from None
    if not session.project.read_only:
        session.project.audit("audit_log.exported", path=str(out), format=fmt, entries=len(rows))
    return len(rows)
