"""Ciphertext partials that killed writes left in an encrypted project's vault folders are removed when the project
is opened: only names of the exact pattern, older than the process and held by no living writer (issue 11)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from tests.support.planted import PASSPHRASE
from workbench.core.jobs import drive
from workbench.core.project.store import Project
from workbench.services.encryption import encrypt_project_job
from workbench.services.opening import open_session

HEX = "0123456789abcdef"


def _plant(path: Path, *, age_s: float = 3600) -> Path:
    path.write_bytes(os.urandom(64))
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_stale_vault_partials_are_swept_when_the_project_opens(tmp_path: Path, fast_kdf) -> None:  # noqa: ANN001
    session, _ = drive(encrypt_project_job(Project.create(tmp_path / "proj"), PASSPHRASE, kdf=fast_kdf))
    with session:
        vault = session.vault
        assert vault is not None
        encrypted, secrets_dir, folder = vault.encrypted_dir, vault.secrets_dir, vault.folder
    secrets_dir.mkdir(parents=True, exist_ok=True)
    stale = [
        _plant(encrypted / f".ds-1.csv.{HEX}.partial"),
        _plant(encrypted / f".model run\n7.pt.{HEX[::-1]}.partial"),
        _plant(secrets_dir / f".anonymization.secret.{HEX}.partial"),
        _plant(folder / f".vault.json.{HEX}.partial"),
    ]
    kept = [
        _plant(encrypted / ".notes.partial"),  # not our pattern
        _plant(encrypted / f"visible.{HEX}.partial"),  # not hidden
        _plant(encrypted / f".short.{HEX[:15]}.partial"),  # 15 hex digits
        _plant(encrypted / f".ds-2.csv.{HEX}.partial", age_s=-60),  # modified after this process started
    ]
    held = _plant(encrypted / f".ds-3.csv.{HEX}.partial")
    fd = os.open(held, os.O_RDONLY)  # a living writer holds its lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with open_session(folder, PASSPHRASE):
            pass
        assert held.exists()
    finally:
        os.close(fd)
    assert [p for p in stale if p.exists()] == []
    assert [p for p in kept if not p.exists()] == []


def test_a_wrong_passphrase_sweeps_nothing(tmp_path: Path, fast_kdf) -> None:  # noqa: ANN001
    from workbench.core.crypto.primitives import WrongPassphraseError

    session, _ = drive(encrypt_project_job(Project.create(tmp_path / "proj"), PASSPHRASE, kdf=fast_kdf))
    with session:
        assert session.vault is not None
        partial = _plant(session.vault.encrypted_dir / f".ds-1.csv.{HEX}.partial")
    with pytest.raises(WrongPassphraseError):
        open_session(tmp_path / "proj", "not the passphrase")
    assert partial.exists()
