"""Opening a project: the one way the window and the command get a :class:`ProjectSession`.

For an encrypted project (one with ``vault.json``) :func:`open_session_job` unlocks the vault with the passphrase,
takes the store's SQLCipher key from the vault and opens the store with it; if an earlier encryption was
interrupted (a plaintext store, or plaintext files the project owns) it finishes it first, so that a session never
works on a half-encrypted project.

A project whose folder or store this user cannot write is opened read-only (:func:`cannot_write`): listing and
reading work, every change is refused with one line, and a note says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from workbench.core.errors import ProjectError
from workbench.core.jobs import CancelToken, JobGenerator, Progress, drive
from workbench.core.project.store import DB_FILE_NAME, Project
from workbench.services.encryption import finish_encryption_job, plaintext_owned
from workbench.services.secrets import STORE_KEY_SECRET
from workbench.services.session import ProjectSession

PassphraseSource = str | Callable[[], str] | None
"""The passphrase, a function that asks for it (called only for an encrypted project), or ``None``."""


READ_ONLY_NOTE = "the project folder cannot be written: opened read-only (reading works, changes are refused)"


def cannot_write(folder: Path) -> bool:
    """Whether this user cannot write the project's folder or its store (then it is opened read-only)."""
    store = folder / DB_FILE_NAME
    return not os.access(folder, os.W_OK) or (store.exists() and not os.access(store, os.W_OK))


def _passphrase(source: PassphraseSource, folder: Path) -> str:
    if source is None:
        raise ProjectError(
            f"{folder} is an encrypted project: unlock it with its passphrase (window: you are asked when opening "
            "it; command line: set WORKBENCH_PASSPHRASE or answer the prompt)"
        )
    return source() if callable(source) else source


def open_session_job(
    folder: str | Path,
    passphrase: PassphraseSource = None,
    token: CancelToken | None = None,
    *,
    read_only: bool | None = None,
) -> JobGenerator[ProjectSession]:
    """Open the project in ``folder``; an encrypted one is unlocked with ``passphrase`` (asked only if needed).

    Finishes an interrupted encryption first (see :func:`workbench.services.encryption.finish_encryption_job`).
    ``read_only``: open the store without ever writing (``Project.open(read_only=True)``; an interrupted
    encryption is then not finished); ``None``: read-only exactly when :func:`cannot_write`.

    Raises
    ------
    ProjectError
        Not a project, or an encrypted project without a passphrase.
    WrongPassphraseError
        The passphrase does not unlock it.
    """
    from workbench.core.crypto.vault import ProjectVault

    token = token if token is not None else CancelToken()
    path = Path(folder).expanduser().resolve()
    read_only = cannot_write(path) if read_only is None else read_only
    notes = [READ_ONLY_NOTE] if read_only and path.is_dir() else []
    if not ProjectVault.exists(path):
        return check_session(ProjectSession(Project.open(path, read_only=read_only), notes=notes))
    vault = ProjectVault.open(path)
    secret = _passphrase(passphrase, path)
    yield Progress("unlock", 0, None, "", "checking the passphrase")
    vault.unlock(secret)
    if not read_only:
        vault.sweep_partials()  # ciphertext partials that killed writes left (a wrong passphrase changed nothing)
    try:
        key = vault.secret(STORE_KEY_SECRET, create=not read_only)
        if not read_only and not Project.store_is_encrypted(path):
            yield Progress("unlock", 0, None, "", "encrypting the project store (an encryption was interrupted)")
            Project.encrypt_store(path, key)
            notes.append("an interrupted encryption of this project was resumed: the project store is now encrypted")
        session = ProjectSession(Project.open(path, key=key, read_only=read_only), vault, notes)
    except BaseException:
        vault.lock()
        raise
    try:
        if not read_only and plaintext_owned(session):
            report = yield from finish_encryption_job(session, token)
            session.notes.append(report.summary())
    except BaseException:
        session.close()
        raise
    return check_session(session)


def check_session(session: ProjectSession) -> ProjectSession:
    """Every open goes through here (the window calls it for a project it shows, too; it may run twice).

    The session, once its privacy ledger is checked against the ledger record kept outside the store (issue 12):
    a store restored from an older copy, or edited, is refused here, before any use case runs on it. Reservations
    whose process died, or that the record missed, are counted as spent in full."""
    from workbench.core.dp.ledger import PrivacyLedger

    try:
        PrivacyLedger(session.project)
        if not session.project.read_only:
            from workbench.services.audit import audit_signer

            session.project.set_audit_signer(audit_signer(session))  # the audit chain's head, signed at each change
    except BaseException:
        session.close()
        raise
    return session


def open_session(
    folder: str | Path, passphrase: PassphraseSource = None, *, read_only: bool | None = None
) -> ProjectSession:
    """Synchronous :func:`open_session_job`."""
    return drive(open_session_job(folder, passphrase, read_only=read_only))
