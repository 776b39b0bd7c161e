"""The project vault: unlock/lock, passphrase change, files and secrets, and no plaintext on disk, ever."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from workbench.core.crypto import kdf, stream
from workbench.core.crypto.primitives import (
    IntegrityError,
    NotARecipientError,
    UnsupportedParameterError,
    VaultLockedError,
    WeakParametersError,
    WrongPassphraseError,
)
from workbench.core.crypto.vault import ProjectVault
from workbench.core.jobs import drive
from workbench.core.project.store import Project

PW = "blue harbour lantern 42"
FAST = kdf.minimum_params()  # explicit cheap parameters for tests; the defaults stay tuned to ~0.5 s


@pytest.fixture()
def vault(tmp_path: Path) -> ProjectVault:
    return ProjectVault.create(tmp_path / "proj", PW, kdf=FAST)


def test_create_open_unlock_lock(tmp_path: Path, vault: ProjectVault) -> None:
    assert vault.is_unlocked and ProjectVault.exists(vault.folder)
    header = json.loads((vault.folder / "vault.json").read_text())
    assert header["format"] == "privacy-workbench-vault" and header["kdf"]["algorithm"] == "argon2id"
    assert set(header) >= {"vault_id", "kdf", "master_key", "key_check"}
    vault.lock()
    assert not vault.is_unlocked
    with pytest.raises(VaultLockedError, match="unlock it with the project passphrase"):
        vault.secret("anon")
    again = ProjectVault.open(vault.folder)
    assert not again.is_unlocked and again.vault_id == vault.vault_id
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        again.unlock("blue harbour lantern 43")
    assert not again.is_unlocked
    again.unlock(PW)
    assert again.is_unlocked
    with pytest.raises(stream.CryptoError, match="already has a vault"):
        ProjectVault.create(vault.folder, PW, kdf=FAST)
    with pytest.raises(stream.CryptoError, match="not an encrypted project"):
        ProjectVault.open(tmp_path)
    assert "argon2id m=19456 KiB t=2" in again.kdf_description


def test_files_round_trip_in_memory(tmp_path: Path, vault: ProjectVault) -> None:
    src = tmp_path / "intake.csv"
    data = b"name,diagnosis\n" + os.urandom(3 << 20)
    src.write_bytes(data)
    path = vault.encrypt_file_into(src, "intake.csv")
    assert path == vault.folder / "encrypted" / "intake.csv"
    assert path.read_bytes()[:8] == stream.MAGIC
    assert vault.open_bytes("intake.csv") == data
    assert b"".join(vault.iter_chunks("intake.csv")) == data
    vault.write_bytes("derived.parquet", b"derived rows")
    assert vault.open_bytes("derived.parquet") == b"derived rows"
    assert vault.names() == ["derived.parquet", "intake.csv"]
    with pytest.raises(stream.OutputExistsError):
        vault.encrypt_file_into(src, "intake.csv")
    with pytest.raises(UnsupportedParameterError, match="not usable"):
        vault.encrypt_file_into(src, "../escape.csv")
    with pytest.raises(stream.CryptoError, match="no file named"):
        vault.open_bytes("nope.csv")
    vault.remove("derived.parquet")
    assert vault.names() == ["intake.csv"]


def test_change_passphrase_keeps_data_and_retires_the_old_one(tmp_path: Path, vault: ProjectVault) -> None:
    vault.write_bytes("a.bin", b"payload")
    secret = vault.secret("anonymization-master")
    before = (vault.folder / "encrypted" / "a.bin").read_bytes()
    with pytest.raises(WrongPassphraseError):
        vault.change_passphrase("not the passphrase", "new one", kdf=FAST)
    vault.change_passphrase(PW, "a brand new passphrase", kdf=FAST)
    assert (vault.folder / "encrypted" / "a.bin").read_bytes() == before, "no data is re-encrypted"
    assert vault.is_unlocked and vault.open_bytes("a.bin") == b"payload"
    reopened = ProjectVault.open(vault.folder)
    with pytest.raises(WrongPassphraseError):
        reopened.unlock(PW)
    reopened.unlock("a brand new passphrase")
    assert reopened.open_bytes("a.bin") == b"payload"
    assert reopened.secret("anonymization-master") == secret
    assert not list(vault.folder.glob(".vault.json*")), "no temporary header left"


def test_secrets_are_stable_and_bound_to_their_names(vault: ProjectVault) -> None:
    s1 = vault.secret("anonymization-master")
    assert len(s1) == 32 and vault.secret("anonymization-master") == s1
    assert vault.secret("other", nbytes=64) != s1
    with pytest.raises(stream.CryptoError, match="no secret named"):
        vault.secret("missing", create=False)
    reopened = ProjectVault.open(vault.folder)
    reopened.unlock(PW)
    assert reopened.secret("anonymization-master", create=False) == s1
    assert reopened.secret_names() == ["anonymization-master", "other"]
    assert vault.names() == [], "secrets are not listed as files"
    d = vault.secrets_dir
    os.replace(d / "other.secret", d / "stolen.secret")
    with pytest.raises(IntegrityError, match="holds a different secret"):
        vault.secret("stolen")
    with pytest.raises(UnsupportedParameterError):
        vault.secret("../x")


def test_concurrent_secret_creation_agrees_on_one_value(vault: ProjectVault) -> None:
    vaults = []
    for _ in range(6):
        v = ProjectVault.open(vault.folder)
        v.unlock(PW)
        vaults.append(v)
    results: list[bytes] = []
    barrier = threading.Barrier(len(vaults))

    def worker(v: ProjectVault) -> None:
        barrier.wait()
        results.append(v.secret("race"))

    threads = [threading.Thread(target=worker, args=(v,)) for v in vaults]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and len(set(results)) == 1
    assert vault.secret("race") == results[0]


def test_files_of_another_vault_are_refused(tmp_path: Path, vault: ProjectVault) -> None:
    other = ProjectVault.create(tmp_path / "other", PW, kdf=FAST)
    other.write_bytes("x.bin", b"theirs")
    os.replace(other.folder / "encrypted" / "x.bin", vault.folder / "encrypted" / "x.bin")
    with pytest.raises(NotARecipientError, match="another project"):
        vault.open_bytes("x.bin")


def test_vault_header_downgrade_and_tampering(vault: ProjectVault) -> None:
    path = vault.folder / "vault.json"
    header = json.loads(path.read_text())
    weak = dict(header, kdf=dict(header["kdf"], memory_kib=1024, iterations=1))
    path.write_text(json.dumps(weak))
    with pytest.raises(WeakParametersError, match="weaker than the minimum"):
        ProjectVault.open(vault.folder).unlock(PW)
    # Stronger but different parameters: the KEK changes and the wrap's associated data no longer matches.
    path.write_text(json.dumps(dict(header, kdf=dict(header["kdf"], iterations=3))))
    with pytest.raises(WrongPassphraseError):
        ProjectVault.open(vault.folder).unlock(PW)
    path.write_text(json.dumps(dict(header, key_check="00" * 16)))
    with pytest.raises(IntegrityError, match="key check value"):
        ProjectVault.open(vault.folder).unlock(PW)
    path.write_text("{not json")
    with pytest.raises(stream.FormatError, match="damaged"):
        ProjectVault.open(vault.folder)


def test_lock_during_a_job_lets_it_finish_and_blocks_new_work(tmp_path: Path, vault: ProjectVault) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 << 20))
    gen = vault.encrypt_file_into_job(src, "big.bin")
    next(gen)
    vault.lock()
    path = drive(gen)
    assert path.is_file()
    with pytest.raises(VaultLockedError):
        vault.open_bytes("big.bin")
    vault.unlock(PW)
    assert vault.open_bytes("big.bin") == src.read_bytes()


def test_idle_time_for_auto_lock(vault: ProjectVault) -> None:
    vault.touch()
    assert vault.idle_seconds < 0.5
    time.sleep(0.05)
    assert vault.idle_seconds >= 0.04
    vault.secret("anon")
    assert vault.idle_seconds < 0.04, "vault operations count as activity"


# --- no plaintext on disk --------------------------------------------------------------------------------------


def _files_containing(roots: list[Path], needles: list[bytes], since: float | None = None) -> list[str]:
    hits = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root, onerror=lambda e: None):
            for name in files:
                p = Path(dirpath) / name
                try:
                    st = p.stat()
                    if since is not None and st.st_mtime < since:
                        continue
                    if st.st_size > 64 << 20:
                        continue
                    data = p.read_bytes()
                except OSError:
                    continue
                hits += [f"{p} holds needle {i}" for i, n in enumerate(needles) if n in data]
    return hits


def test_no_plaintext_canary_on_disk_after_a_round_of_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full round of vault work leaves no known plaintext in the project folder or in any temp folder."""
    start = time.time() - 1
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    system_tmp = Path(tempfile.gettempdir())
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))  # anything using tempfile lands here
    monkeypatch.setenv("TMPDIR", str(private_tmp))

    canary = f"CANARY-{uuid.uuid4().hex}".encode()
    outside = tmp_path / "outside"
    outside.mkdir()
    src = outside / "intake.csv"
    rows = b"".join(b"%d,%s,J45\n" % (i, canary) for i in range(40_000))  # ~2 MB: several 1 MiB chunks
    src.write_bytes(b"id,name,diagnosis\n" + rows)

    with Project.create(tmp_path / "project") as project:
        folder = project.folder
    v = ProjectVault.create(folder, PW, kdf=FAST)
    v.encrypt_file_into(src, "intake.csv")
    src.unlink()  # the analyst's original is gone; only the vault copy remains
    assert canary in v.open_bytes("intake.csv")
    assert sum(canary in c for c in v.iter_chunks("intake.csv")) >= 2
    v.write_bytes("anonymized.csv", b"id,token\n1," + canary + b"-derived\n")
    secret = v.secret("anonymization-master")
    v.lock()
    v2 = ProjectVault.open(folder)
    v2.unlock(PW)
    assert v2.secret("anonymization-master") == secret
    v2.change_passphrase(PW, "second passphrase", kdf=FAST)
    v2.lock()
    v3 = ProjectVault.open(folder)
    v3.unlock("second passphrase")
    assert canary in v3.open_bytes("anonymized.csv")
    v3.lock()

    needles = [canary, secret, secret.hex().encode(), PW.encode(), b"second passphrase"]
    assert _files_containing([folder, private_tmp], needles) == []
    assert _files_containing([system_tmp], needles, since=start) == []
    expected = ["data", "encrypted", "vault.json", "workbench-project.json", "workbench.sqlite"]
    assert sorted(p.name for p in folder.iterdir() if p.name != ".ledger.lock") == expected
