"""Key pairs and key files, sharing with recipients' public keys, and detached signatures."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import pytest

from workbench.core.crypto import kdf, keys, share, sign, stream
from workbench.core.crypto.keys import KIND_RSA_3072, KIND_X25519_ED25519, PrivateKey, PublicKey
from workbench.core.crypto.primitives import (
    FormatError,
    IntegrityError,
    NotARecipientError,
    SignatureError,
    WrongPassphraseError,
)


@pytest.fixture(scope="module")
def alice() -> PrivateKey:
    return PrivateKey.generate(KIND_X25519_ED25519, "site-a")


@pytest.fixture(scope="module")
def bob() -> PrivateKey:
    return PrivateKey.generate(KIND_X25519_ED25519, "site-b")


@pytest.fixture(scope="module")
def carol_rsa() -> PrivateKey:
    return PrivateKey.generate(KIND_RSA_3072, "site-c")


# --- keys ------------------------------------------------------------------------------------------------------


def test_fingerprint_is_sha256_of_the_raw_public_key(alice: PrivateKey, carol_rsa: PrivateKey) -> None:
    pub = alice.public
    assert len(pub.raw) == 64
    assert pub.fingerprint == hashlib.sha256(pub.raw).digest()
    text = pub.fingerprint_text
    groups = text.split(" ")
    assert len(groups) == 16 and all(len(g) == 4 for g in groups) and text == text.upper()
    assert keys.parse_fingerprint(text.lower().replace(" ", ":")) == pub.fingerprint
    assert carol_rsa.public.rsa.key_size == 3072
    assert carol_rsa.public.fingerprint == hashlib.sha256(carol_rsa.public.raw).digest()


@pytest.mark.parametrize("which", ["alice", "carol_rsa"])
def test_key_files_round_trip(tmp_path: Path, which: str, request: pytest.FixtureRequest) -> None:
    key: PrivateKey = request.getfixturevalue(which)
    cheap = kdf.minimum_params()
    key.save(tmp_path / "k.key", "key passphrase", kdf=cheap)
    key.public.save(tmp_path / "k.pub")
    assert oct((tmp_path / "k.key").stat().st_mode & 0o777) == "0o600"
    pub_text = (tmp_path / "k.pub").read_text()
    assert pub_text.startswith("-----BEGIN PRIVACY WORKBENCH PUBLIC KEY-----\nVersion: 1\n")
    assert f"Fingerprint: {key.public.fingerprint_text}" in pub_text
    assert PublicKey.load(tmp_path / "k.pub") == key.public
    loaded = PrivateKey.load(tmp_path / "k.key", "key passphrase")
    assert loaded.public == key.public and loaded.name == key.name
    msg = b"message"
    key.public.verify(loaded.sign(msg), msg)
    # The private key file holds no private material in clear.
    assert b"key passphrase" not in (tmp_path / "k.key").read_bytes()
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        PrivateKey.load(tmp_path / "k.key", "not it")
    with pytest.raises(stream.OutputExistsError):
        key.public.save(tmp_path / "k.pub")


def test_edited_or_swapped_key_files_are_refused(tmp_path: Path, alice: PrivateKey, bob: PrivateKey) -> None:
    pub_text = alice.public.to_text()
    edited = pub_text.replace(alice.public.fingerprint_text, bob.public.fingerprint_text)
    with pytest.raises(FormatError, match="Fingerprint line does not match"):
        PublicKey.from_text(edited)
    priv_text = alice.to_text("pw", kdf=kdf.minimum_params())
    with pytest.raises(FormatError, match="Fingerprint line does not match"):
        PrivateKey.from_text(priv_text.replace(alice.public.fingerprint_text, bob.public.fingerprint_text), "pw")
    (tmp_path / "a.pub").write_text(pub_text)
    with pytest.raises(FormatError, match="is a public key file"):
        PrivateKey.load(tmp_path / "a.pub", "pw")
    with pytest.raises(FormatError, match="not a Privacy Workbench public key file"):
        PublicKey.from_text("hello")
    with pytest.raises(stream.CryptoError, match="no such file"):
        PublicKey.load(tmp_path / "missing.pub")


def test_generate_key_pair_writes_both_files_and_never_overwrites(tmp_path: Path) -> None:
    files = keys.generate_key_pair(tmp_path / "keys", "pw", name="site-a", kdf=kdf.minimum_params())
    assert files.public_path.name == "site-a.pub" and files.private_path.name == "site-a.key"
    assert PublicKey.load(files.public_path).fingerprint_text == files.fingerprint_text
    with pytest.raises(stream.OutputExistsError, match="never replaced"):
        keys.generate_key_pair(tmp_path / "keys", "pw", name="site-a", kdf=kdf.minimum_params())
    with pytest.raises(stream.UnsupportedParameterError, match="not usable"):
        keys.generate_key_pair(tmp_path / "keys", "pw", name="../evil", kdf=kdf.minimum_params())


# --- sharing -----------------------------------------------------------------------------------------------------


def test_share_with_several_recipients_of_both_kinds(
    tmp_path: Path, alice: PrivateKey, bob: PrivateKey, carol_rsa: PrivateKey
) -> None:
    data = os.urandom(3 * 1024 + 5)
    src, dst = tmp_path / "export.csv", tmp_path / "export.csv.pwb"
    src.write_bytes(data)
    share.share_file(src, dst, [bob.public, carol_rsa.public], chunk_size=1024)
    assert share.recipients_of(dst) == [bob.public.fingerprint, carol_rsa.public.fingerprint]
    assert share.open_shared_bytes(dst, bob) == data
    assert share.open_shared_bytes(dst, carol_rsa) == data
    share.open_shared_file(dst, tmp_path / "back.csv", carol_rsa)
    assert (tmp_path / "back.csv").read_bytes() == data


def test_wrong_recipient_key_is_a_clear_error(tmp_path: Path, alice: PrivateKey, bob: PrivateKey) -> None:
    src, dst = tmp_path / "f", tmp_path / "f.pwb"
    src.write_bytes(b"rows")
    share.share_file(src, dst, [bob.public])
    with pytest.raises(NotARecipientError) as info:
        share.open_shared_bytes(dst, alice)
    msg = str(info.value)
    assert "not shared with your key 'site-a'" in msg and bob.public.fingerprint_text[:9] in msg
    with pytest.raises(NotARecipientError, match="not shared"):
        share.open_shared_file(dst, tmp_path / "out", alice)
    assert not (tmp_path / "out").exists()
    with pytest.raises(NotARecipientError, match="not protected by a passphrase"):
        stream.decrypt_bytes(dst, stream.Passphrase("guess"))


def test_tampered_recipient_slot(tmp_path: Path, bob: PrivateKey) -> None:
    blob = stream.encrypt_bytes(b"rows", [share.Recipient(bob.public)])
    header = stream.read_header(io.BytesIO(blob))
    # Flip a byte of the wrapped key inside bob's slot (after the 32-byte fingerprint and the ephemeral key),
    # then fix the header checksum as an attacker would.
    slot_start = blob.index(header.slots[0].body)
    forged = bytearray(blob)
    forged[slot_start + 70] ^= 1
    n = header.length
    forged[n - 4 : n] = struct.pack(">I", zlib.crc32(bytes(forged[: n - 4])))
    with pytest.raises(IntegrityError, match="key slot for your key failed authentication"):
        share.open_shared_bytes(bytes(forged), bob)


def test_share_refuses_no_or_duplicate_recipients(tmp_path: Path, bob: PrivateKey) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(stream.UnsupportedParameterError, match="at least one recipient"):
        share.share_file(tmp_path / "f", tmp_path / "g", [])
    with pytest.raises(stream.UnsupportedParameterError, match="twice"):
        share.share_file(tmp_path / "f", tmp_path / "g", [bob.public, bob.public])


# --- signatures ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["alice", "carol_rsa"])
def test_sign_and_verify_names_the_signer(tmp_path: Path, which: str, request: pytest.FixtureRequest) -> None:
    key: PrivateKey = request.getfixturevalue(which)
    report = tmp_path / "report.pdf"
    report.write_bytes(os.urandom(3 << 20))
    sig_path = sign.sign_file(report, key)
    assert sig_path == tmp_path / "report.pdf.sig"
    text = sig_path.read_text()
    assert f"Signer: {key.public.fingerprint_text}" in text
    assert f"SHA-256: {hashlib.sha256(report.read_bytes()).hexdigest()}" in text
    verified = sign.verify_file(report, sig_path, key.public)
    assert verified.signer_fingerprint == key.fingerprint
    assert verified.signer_fingerprint_text == key.public.fingerprint_text
    assert verified.describe().startswith(f"good signature by {key.name} ({key.public.fingerprint_text})")


def test_tampered_file_wrong_key_and_edited_signature(tmp_path: Path, alice: PrivateKey, bob: PrivateKey) -> None:
    report = tmp_path / "report.csv"
    report.write_bytes(b"id,score\n1,0.5\n")
    sig_path = sign.sign_file(report, alice)
    report.write_bytes(b"id,score\n1,0.9\n")
    with pytest.raises(SignatureError, match="modified after signing"):
        sign.verify_file(report, sig_path, alice.public)
    report.write_bytes(b"id,score\n1,0.5\n")
    with pytest.raises(SignatureError, match=f"made by the key {alice.public.fingerprint_text}, not by"):
        sign.verify_file(report, sig_path, bob.public)
    # Editing the stated hash to match a modified file breaks the signature itself.
    report.write_bytes(b"id,score\n1,0.9\n")
    text = sig_path.read_text()
    old_hash = hashlib.sha256(b"id,score\n1,0.5\n").hexdigest()
    sig_path.write_text(text.replace(old_hash, hashlib.sha256(report.read_bytes()).hexdigest()))
    with pytest.raises(SignatureError, match="signature is invalid"):
        sign.verify_file(report, sig_path, alice.public)
    sig_path.write_text("garbage")
    with pytest.raises(FormatError, match="not a Privacy Workbench signature file"):
        sign.verify_file(report, sig_path, alice.public)


def test_sign_bytes_matches_the_file_format(alice: PrivateKey) -> None:
    sig = sign.sign_bytes(b"report body", alice)
    parsed = sign.Signature.from_text(sig.to_text())
    assert parsed == sig
    assert sign.verify_bytes(b"report body", parsed, alice.public).size == 11
    with pytest.raises(SignatureError):
        sign.verify_bytes(b"report b0dy", parsed, alice.public)
    assert parsed.message().startswith(sign.SIGNATURE_DOMAIN)
