"""Encrypting a project, finishing an interrupted encryption, changing its passphrase.

Encrypting a project that already holds data takes four steps, each safe to interrupt:

1. create the vault (``vault.json``: the master key wrapped under the passphrase);
2. encrypt the store in place with SQLCipher, keyed with the vault secret ``STORE_KEY_SECRET``
   (:meth:`Project.encrypt_store`: a kill leaves the plaintext store or the complete encrypted one);
3. move every sensitive file the project owns into the vault: datasets kept inside the project folder, model
   checkpoints, and any other file in the folder (anonymized outputs, exports). For each: encrypt a copy under an
   opaque name, check it decrypts to the same bytes, point the store at the copy, and only then delete the
   plaintext. A kill at any point leaves the dataset readable, in plain or in the vault, never lost;
4. write the audit entry with what moved and what stays in clear (files registered by a path outside the
   project are not touched: they are the analyst's, and are listed).

The state is read from the folder, not from a journal: a vault next to a plaintext store, or a plaintext file the
project owns next to a vault, means an encryption was interrupted, and :func:`open_session_job
<workbench.services.session.open_session_job>` finishes it on the next unlock.

Deleting a file is not secure erasure (:data:`ERASURE_NOTE`); both front ends say so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.data.fingerprint import sha256_file_job
from workbench.core.dp.ledger_record import LOCK_NAME as LEDGER_LOCK
from workbench.core.dp.ledger_record import PLAIN_RECORD as PLAIN_LEDGER_RECORD
from workbench.core.errors import ProjectError
from workbench.core.faults import crash_point
from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.core.project.identity import MARKER_NAME
from workbench.core.project.store import DB_FILE_NAME, ENCRYPTING_SUFFIX, Project
from workbench.services.secrets import STORE_KEY_SECRET
from workbench.services.session import VAULT_PREFIX, ProjectSession, is_vault_location

if TYPE_CHECKING:
    from workbench.core.crypto.kdf import KdfParams

ERASURE_NOTE = (
    "Deleting a file is not secure erasure: on SSDs, journaling or copy-on-write file systems and in backups, "
    "the old blocks of a deleted plaintext file may stay readable until they are overwritten. If the plaintext "
    "was ever on this disk, treat the disk as holding it (full-disk encryption protects against this)."
)

_STORE_FILES = {
    DB_FILE_NAME,
    f"{DB_FILE_NAME}-wal",
    f"{DB_FILE_NAME}-shm",
    f"{DB_FILE_NAME}{ENCRYPTING_SUFFIX}",
    f"{DB_FILE_NAME}{ENCRYPTING_SUFFIX}.lock",
}
_NOT_OWNED_TOP = {"vault.json", "encrypted", MARKER_NAME, PLAIN_LEDGER_RECORD, LEDGER_LOCK}
"""Not moved into the vault: its header and folder, the project marker (an id), the signed ledger record (replaced
by the sealed one at the next open) and the ledger's lock file (empty)."""
ENCRYPTED_FILES_SETTING = "encrypted_files"
"""Project setting: relative path of each unregistered file moved into the vault -> its vault location."""


@dataclass(frozen=True, slots=True)
class PlannedMove:
    """A plaintext file of the project that encryption moves into the vault."""

    kind: str  # "dataset", "model" or "file"
    path: str
    ref: int | None  # the dataset or run id
    label: str

    def describe(self) -> str:
        return f"{self.kind} {self.label}: {self.path}"


@dataclass(frozen=True, slots=True)
class EncryptionPlan:
    """What encrypting (or finishing the encryption of) a project will do, before it does it."""

    moves: tuple[PlannedMove, ...]
    in_clear: tuple[str, ...]
    """Files registered by a path outside the project: not touched, still readable in clear there."""
    partials: tuple[str, ...]
    """Temporary files of interrupted writers: deleted."""

    def lines(self) -> list[str]:
        out = [f"moves into the vault, then deletes the plaintext: {m.describe()}" for m in self.moves]
        out += [f"still in clear at {p} (registered by path outside the project; not touched)" for p in self.in_clear]
        out += [f"deletes the unfinished temporary file {p}" for p in self.partials]
        return out or ["no file of the project needs moving"]


@dataclass(frozen=True, slots=True)
class EncryptionReport:
    """What an encryption (or the finishing of one) did."""

    moved: tuple[PlannedMove, ...]
    in_clear: tuple[str, ...]
    removed_partials: tuple[str, ...]
    kdf: str

    def summary(self) -> str:
        kinds = {k: sum(1 for m in self.moved if m.kind == k) for k in ("dataset", "model", "file")}
        text = (
            f"moved into the vault: {kinds['dataset']} dataset(s), {kinds['model']} model(s), {kinds['file']} other "
            "file(s); their plaintext copies were deleted"
        )
        if self.in_clear:
            text += f"; {len(self.in_clear)} file(s) registered outside the project stay in clear"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "moved": [{"kind": m.kind, "path": m.path, "id": m.ref, "label": m.label} for m in self.moved],
            "still_in_clear": list(self.in_clear),
            "removed_partials": list(self.removed_partials),
            "kdf": self.kdf,
        }


# ---- planning ---------------------------------------------------------------------------------------------------


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
    except ValueError:
        return False
    return True


def _owned_files(folder: Path) -> Iterable[Path]:
    """Regular files in the project folder other than the store, the vault header and the vault's own folder."""
    for entry in sorted(folder.iterdir()):
        if entry.name in _STORE_FILES or entry.name in _NOT_OWNED_TOP:
            continue
        if entry.name.startswith(".vault.json.") and entry.name.endswith((".tmp", ".partial")):
            continue  # the vault's own header being replaced
        if entry.is_symlink():
            continue
        if entry.is_dir():
            yield from (p for p in sorted(entry.rglob("*")) if p.is_file() and not p.is_symlink())
        elif entry.is_file():
            yield entry


def plan_encryption(project: Project) -> EncryptionPlan:
    """What encrypting ``project`` would move, leave in clear and delete; reads only, changes nothing."""
    from workbench.core.dp.runs import RunStore

    folder = project.folder
    moves: list[PlannedMove] = []
    in_clear: list[str] = []
    claimed: set[Path] = set()
    for record in project.datasets():
        if is_vault_location(record.path):
            continue
        path = Path(record.path)
        if not _inside(path, folder):
            if path.exists():
                in_clear.append(str(path))
            continue
        if path.is_file():
            moves.append(PlannedMove("dataset", str(path), record.id, f"{record.id} ({record.name})"))
            claimed.add(path.resolve())
    for run in RunStore(project, recover=False).runs():
        if not run.model_path or is_vault_location(run.model_path):
            continue
        path = Path(run.model_path)
        if _inside(path, folder) and path.is_file() and path.resolve() not in claimed:
            moves.append(PlannedMove("model", str(path), run.id, f"of run {run.id}"))
            claimed.add(path.resolve())
    partials: list[str] = []
    for path in _owned_files(folder):
        if path.resolve() in claimed:
            continue
        if path.name.endswith(".partial"):
            partials.append(str(path))
        else:
            moves.append(PlannedMove("file", str(path), None, str(path.relative_to(folder))))
    return EncryptionPlan(tuple(moves), tuple(in_clear), tuple(partials))


def plaintext_owned(session: ProjectSession) -> bool:
    """Whether an encrypted project still holds plaintext files of its own (an interrupted encryption)."""
    plan = plan_encryption(session.project)
    return bool(plan.moves or plan.partials)


# ---- moving -----------------------------------------------------------------------------------------------------


def _encrypt_checked(session: ProjectSession, path: Path, kind: str, identity: str, token: CancelToken) -> Any:
    """Encrypt ``path`` into the vault under its opaque name (reusing a copy made before) and check that the copy
    decrypts to the file's bytes; returns the vault location."""
    vault = session.vault
    assert vault is not None
    name = session.vault_name(kind, identity)
    expected = yield from sha256_file_job(path, token)
    if not vault.path_of(name).exists():
        crash_point(f"{kind}.encrypt")
        yield from vault.encrypt_file_into_job(path, name, token=token)
    crash_point(f"{kind}.encrypted")
    if session.vault_sha256(name) != expected:
        vault.remove(name)
        raise ProjectError(
            f"{path}: the file changed while it was being encrypted into the project; nothing was deleted. Run the "
            "encryption again."
        )
    return VAULT_PREFIX + name


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise ProjectError(
            f"{path}: encrypted into the project, but the plaintext could not be deleted ({exc.strerror}); delete it"
        ) from None


def _remove_empty_dirs(folder: Path) -> None:
    for entry in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if entry.name == "encrypted" or "encrypted" in entry.relative_to(folder).parts or entry == folder / "data":
            continue
        with contextlib.suppress(OSError):  # not empty
            entry.rmdir()


def _move(session: ProjectSession, move: PlannedMove, token: CancelToken) -> JobGenerator[None]:
    from workbench.core.dp.runs import RunStore

    path = Path(move.path)
    if move.kind == "dataset":
        record = session.project.get_dataset(int(move.ref or 0))
        location = yield from _encrypt_checked(session, path, "dataset", record.fingerprint, token)
        session.project.relocate_dataset(record.id, location, reason="project encrypted")
    elif move.kind == "model":
        location = yield from _encrypt_checked(session, path, "model", f"run-{move.ref}", token)
        runs = RunStore(session.project, recover=False)
        runs.set_model_path(int(move.ref or 0), location, reason="project encrypted")
    else:
        relative = str(path.relative_to(session.folder))
        location = yield from _encrypt_checked(session, path, "file", relative, token)
        files = dict(session.project.get_setting(ENCRYPTED_FILES_SETTING, {}) or {})
        files[relative] = location
        session.project.set_setting(ENCRYPTED_FILES_SETTING, files)
    crash_point(f"{move.kind}.recorded")
    _unlink(path)
    crash_point(f"{move.kind}.plaintext-deleted")


def finish_encryption_job(session: ProjectSession, token: CancelToken | None = None) -> JobGenerator[EncryptionReport]:
    """Move every plaintext file the (encrypted, unlocked) project owns into the vault; see the module docstring."""
    token = token if token is not None else CancelToken()
    if session.vault is None:
        raise ProjectError(f"{session.folder} is not encrypted")
    plan = plan_encryption(session.project)
    for number, move in enumerate(plan.moves):
        token.raise_if_cancelled()
        yield Progress("encrypt project", number, len(plan.moves), "files", f"moving {move.kind} into the vault")
        yield from _move(session, move, token)
    for partial in plan.partials:
        _unlink(Path(partial))
    _remove_empty_dirs(session.folder)
    report = EncryptionReport(plan.moves, plan.in_clear, plan.partials, session.vault.kdf_description)
    if plan.moves or plan.partials:
        session.project.audit("project.encryption_finished", **report.as_dict())
    return report


def encrypt_project_job(
    project: Project, passphrase: str, *, kdf: KdfParams | None = None, token: CancelToken | None = None
) -> JobGenerator[tuple[ProjectSession, EncryptionReport]]:
    """Encrypt an open, unencrypted project; returns the new session (store reopened with its key) and the report.

    ``project`` is closed here (its plaintext store is converted); use the returned session from then on. The
    caller must make sure no other job uses the project meanwhile.

    Raises
    ------
    ProjectError
        The project is already encrypted.
    """
    from workbench.core.crypto.vault import ProjectVault

    token = token if token is not None else CancelToken()
    folder = project.folder
    if ProjectVault.exists(folder):
        raise ProjectError(
            f"{folder} is already encrypted (change its passphrase with: workbench project passphrase DIR)"
        )
    yield Progress("encrypt project", 0, None, "", "deriving the key from the passphrase")
    project.close()
    crash_point("vault.before-create")
    vault = ProjectVault.create(folder, passphrase, kdf=kdf)
    try:
        crash_point("vault.created")
        key = vault.secret(STORE_KEY_SECRET)
        crash_point("store.before-encrypt")
        yield Progress("encrypt project", 0, None, "", "encrypting the project store")
        Project.encrypt_store(folder, key)
        crash_point("store.encrypted")
        session = ProjectSession(Project.open(folder, key=key), vault)
    except BaseException:
        vault.lock()
        raise
    try:
        from workbench.core.dp.ledger import PrivacyLedger

        PrivacyLedger(session.project)  # the ledger record is sealed under the new key, the signed one removed
        from workbench.services.audit import audit_signer

        session.project.set_audit_signer(audit_signer(session))  # from now on the vault's key signs the head
        report = yield from finish_encryption_job(session, token)
        session.project.audit("project.encrypted", **report.as_dict())
    except BaseException:
        session.close()
        raise
    return session, report


def change_passphrase(session: ProjectSession, old: str, new: str, *, kdf: KdfParams | None = None) -> None:
    """Re-wrap the project key under ``new`` (nothing is re-encrypted) and record it in the audit log."""
    if session.vault is None:
        raise ProjectError(f"{session.folder} is not encrypted (encrypt it with: workbench project encrypt DIR)")
    session.vault.change_passphrase(old, new, kdf=kdf)
    session.project.audit("project.passphrase_changed", kdf=session.vault.kdf_description)
