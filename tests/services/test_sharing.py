"""Key pairs, sharing and signatures through the use cases (the Keys and sharing page and the crypto commands call
these): keys in the user's keys folder with their private half encrypted, other sites' keys imported by fingerprint,
datasets shared out of an encrypted project without plaintext on disk and opened back into another one's vault,
detached signatures that name what failed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.support.planted import PASSPHRASE, canary_csv, files_holding
from workbench.core.crypto.primitives import NotARecipientError, SignatureError, WrongPassphraseError
from workbench.core.errors import DatasetError, WorkbenchError
from workbench.core.jobs import drive
from workbench.core.paths import user_data_dir
from workbench.core.project.secure_data import is_vault_path
from workbench.core.project.store import Project
from workbench.services import sharing
from workbench.services.datasets import add_dataset_job
from workbench.services.encryption import encrypt_project_job
from workbench.services.session import ProjectSession

KEY_PW = "the key's own passphrase"


def _encrypted_session(folder: Path, fast_kdf) -> ProjectSession:  # noqa: ANN001
    session, _report = drive(encrypt_project_job(Project.create(folder), PASSPHRASE, kdf=fast_kdf))
    return session


def test_key_pairs_live_in_the_users_keys_folder_encrypted(fast_kdf) -> None:  # noqa: ANN001
    folder = sharing.keys_folder()
    assert folder == user_data_dir() / "keys"
    files = sharing.create_key_pair(folder, "site-a", KEY_PW, kdf=fast_kdf)
    assert stat.S_IMODE(files.private_path.stat().st_mode) == 0o600
    text = files.private_path.read_text()
    assert "PRIVACY WORKBENCH PRIVATE KEY" in text and files.fingerprint_text in text
    listed = sharing.list_key_pairs(folder)
    assert [(k.name, k.fingerprint_text, k.private_path) for k in listed] == [
        ("site-a", files.fingerprint_text, files.private_path)
    ]
    assert listed[0].usable and files.fingerprint_text in listed[0].label()
    (folder / "lone.key").write_text(text)
    lone = {k.private_path.name: k for k in sharing.list_key_pairs(folder) if k.private_path}["lone.key"]
    assert not lone.usable and "its .pub file is missing" in lone.label()
    (folder / "lone.key").unlink()
    with pytest.raises(WorkbenchError, match="already exists"):
        sharing.create_key_pair(folder, "site-a", KEY_PW, kdf=fast_kdf)
    with pytest.raises(WorkbenchError, match="not usable"):
        sharing.create_key_pair(folder, "../evil", KEY_PW, kdf=fast_kdf)
    key = sharing.load_private_key(files.private_path, KEY_PW)
    assert key.public.fingerprint_text == files.fingerprint_text
    with pytest.raises(WrongPassphraseError):
        sharing.load_private_key(files.private_path, "not the passphrase")


def test_import_keeps_one_copy_per_key_and_refuses_a_name_clash(tmp_path: Path, fast_kdf) -> None:  # noqa: ANN001
    a = sharing.create_key_pair(tmp_path / "a", "site-b", KEY_PW, kdf=fast_kdf)
    other = sharing.create_key_pair(tmp_path / "b", "site-b", KEY_PW, kdf=fast_kdf)
    imported = sharing.import_public_key(a.public_path)
    assert imported.fingerprint_text == a.fingerprint_text
    assert imported.public_path == sharing.sites_folder() / "site-b.pub"
    assert sharing.import_public_key(a.public_path) == imported  # the same key again: not duplicated
    with pytest.raises(WorkbenchError, match="another public key is already imported as 'site-b'"):
        sharing.import_public_key(other.public_path)
    with pytest.raises(WorkbenchError, match="not a Privacy Workbench public key"):
        sharing.import_public_key(a.private_path)
    broken = sharing.sites_folder() / "edited.pub"
    text = a.public_path.read_text()
    fp_line = next(line for line in text.splitlines() if line.startswith("Fingerprint:"))
    broken.write_text(text.replace(fp_line, "Fingerprint: " + " ".join(["0000"] * 16)))
    listed = {k.public_path.name: k for k in sharing.list_site_keys()}
    assert listed["site-b.pub"].usable
    assert not listed["edited.pub"].usable and "does not match" in listed["edited.pub"].problem


def test_a_dataset_goes_from_one_encrypted_project_to_another_without_plaintext_on_disk(
    tmp_path: Path,
    fast_kdf,  # noqa: ANN001
) -> None:
    them = sharing.create_key_pair(tmp_path / "their-keys", "site-b", KEY_PW, kdf=fast_kdf)
    src = canary_csv(tmp_path / "outside" / "intake.csv", rows=40)
    sender = _encrypted_session(tmp_path / "sender", fast_kdf)
    record = drive(add_dataset_job(sender, src)).record
    out = tmp_path / "outbox" / "intake.csv.pwb"
    out.parent.mkdir()
    result = drive(sharing.share_dataset_job(sender, record, out, [sharing.read_public_key(them.public_path)]))
    assert result.output == out and result.plaintext_bytes == src.stat().st_size
    assert them.fingerprint_text in result.describe() and str(out) in result.describe()
    entry = sender.project.audit_log(limit=1)[0]
    assert entry.action == "dataset.shared" and entry.detail["recipients"] == [them.fingerprint_text]
    assert files_holding([sender.folder, out.parent]) == []

    receiver = _encrypted_session(tmp_path / "receiver", fast_kdf)
    key = sharing.load_private_key(them.private_path, KEY_PW)
    opened = drive(sharing.open_shared_job(out, key, session=receiver))
    assert opened.output is None and is_vault_path(opened.vault_location)
    assert opened.dataset is not None and opened.dataset.name == "intake.csv"
    assert opened.dataset.fingerprint == record.fingerprint and "encrypted project as dataset" in opened.describe()
    assert receiver.load_dataset(opened.dataset).table.num_rows == 40
    assert files_holding([receiver.folder]) == []
    wrong = sharing.create_key_pair(tmp_path / "their-keys", "site-c", KEY_PW, kdf=fast_kdf)
    with pytest.raises(NotARecipientError, match="not shared with your key 'site-c'"):
        drive(sharing.open_shared_job(out, sharing.load_private_key(wrong.private_path, KEY_PW), session=receiver))
    sender.close()
    receiver.close()


def test_share_a_file_open_it_to_a_path_and_a_plain_dataset_that_changed_is_refused(
    tmp_path: Path,
    project,  # noqa: ANN001
    fast_kdf,  # noqa: ANN001
) -> None:
    me = sharing.create_key_pair(tmp_path / "keys", "me", KEY_PW, kdf=fast_kdf)
    pub = sharing.read_public_key(me.public_path)
    src = tmp_path / "notes.txt"
    src.write_bytes(b"not a table, just bytes\x00\x01")
    shared = drive(sharing.share_file_job(src, tmp_path / "notes.pwb", [pub]))
    back = tmp_path / "back.txt"
    opened = drive(sharing.open_shared_job(shared.output, sharing.load_private_key(me.private_path, KEY_PW), out=back))
    assert back.read_bytes() == src.read_bytes() and opened.output == back and str(back) in opened.describe()
    with pytest.raises(WorkbenchError, match="choose where to write"):
        drive(sharing.open_shared_job(shared.output, sharing.load_private_key(me.private_path, KEY_PW)))
    with pytest.raises(WorkbenchError, match="at least one recipient"):
        drive(sharing.share_file_job(src, tmp_path / "none.pwb", []))

    session = ProjectSession(project)
    data = canary_csv(tmp_path / "plain.csv", rows=10)
    record = drive(add_dataset_job(session, data)).record
    data.write_text(data.read_text() + "R9999,Someone,30,F,1,late,no\n")
    with pytest.raises(DatasetError, match="no longer has the bytes registered"):
        drive(sharing.share_dataset_job(session, record, tmp_path / "plain.pwb", [pub]))
    assert not (tmp_path / "plain.pwb").exists()


def test_sign_then_verify_names_what_failed(tmp_path: Path, fast_kdf) -> None:  # noqa: ANN001
    from workbench.core.crypto.sign import SIGNATURE_SUFFIX

    assert sharing.SIGNATURE_SUFFIX == SIGNATURE_SUFFIX
    a = sharing.create_key_pair(tmp_path / "keys", "site-a", KEY_PW, kdf=fast_kdf)
    b = sharing.create_key_pair(tmp_path / "keys", "site-b", KEY_PW, kdf=fast_kdf)
    export = tmp_path / "report.csv"
    export.write_text("a,b\n1,2\n")
    signed = sharing.sign_file(export, sharing.load_private_key(a.private_path, KEY_PW))
    assert signed.signature_path == tmp_path / "report.csv.sig" and signed.signature_path.is_file()
    assert a.fingerprint_text in signed.describe()
    verified = sharing.verify_file(export, signed.signature_path, sharing.read_public_key(a.public_path))
    assert verified.describe().startswith(f"good signature by site-a ({a.fingerprint_text})")
    with pytest.raises(SignatureError, match="not by the given public key 'site-b'"):
        sharing.verify_file(export, signed.signature_path, sharing.read_public_key(b.public_path))
    export.write_text("a,b\n1,3\n")
    with pytest.raises(SignatureError, match="modified after signing"):
        sharing.verify_file(export, signed.signature_path, sharing.read_public_key(a.public_path))


def test_a_model_kept_in_the_vault_is_shared_and_listed(tmp_path: Path, fast_kdf) -> None:  # noqa: ANN001
    from workbench.core.dp.runs import RunStore

    session = _encrypted_session(tmp_path / "proj", fast_kdf)
    record = drive(add_dataset_job(session, canary_csv(tmp_path / "intake.csv", rows=10))).record
    checkpoint = b"model weights\x00" * 100
    location = session.store_bytes("model", "run-test", checkpoint)
    runs = RunStore(session.project)
    run_id = runs.create(
        fingerprint=record.fingerprint,
        dataset_name=record.name,
        task="tabular",
        private=False,
        config={},
        seed=0,
        target_epsilon=None,
        noise_multiplier=None,
        sample_rate=None,
        delta=None,
        accountant=None,
    )
    runs.finish(run_id, "succeeded", steps=1, epsilon=None, delta=None, model_path=location)
    items = sharing.shareable_items(session.project)
    assert [(i.kind, i.ref) for i in items] == [("dataset", record.id), ("model", run_id)]
    assert items[1].suggested_name == f"run-{run_id}.pt.pwb" and "not private" in items[1].label
    me = sharing.create_key_pair(tmp_path / "keys", "me", KEY_PW, kdf=fast_kdf)
    out = tmp_path / items[1].suggested_name
    result = drive(sharing.share_item_job(session, items[1], out, [sharing.read_public_key(me.public_path)]))
    assert result.plaintext_bytes == len(checkpoint) and f"model of run {run_id}" in result.describe()
    assert session.project.audit_log(limit=1)[0].action == "model.shared"
    back = tmp_path / "back.pt"
    drive(sharing.open_shared_job(out, sharing.load_private_key(me.private_path, KEY_PW), out=back))
    assert back.read_bytes() == checkpoint
    session.close()
