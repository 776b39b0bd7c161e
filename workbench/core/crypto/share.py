"""Share a file with other sites: its data key wrapped for each recipient's public key.

The shared file is an ordinary streaming-format file (``stream.py``) whose key slots hold the data key wrapped
for each recipient, so the recipient opens it with their private key alone: no passphrase travels between sites.
Any number of recipients, of either key kind, may be mixed; a passphrase slot may be added as well.

Slot constructions (``docs/crypto-format.md`` has the bytes):

* **X25519** (``x25519-ed25519`` keys): an ephemeral X25519 key pair per slot; ``shared = X25519(ephemeral,
  recipient)``; ``HKDF-SHA256(shared, salt = ephemeral public || recipient public, info = "privacy-workbench
  x25519 key wrap v1")`` gives a 32-byte key-wrapping key and a 12-byte nonce; the data key is sealed with
  AES-256-GCM, with the file id, slot type, recipient fingerprint and ephemeral public key as associated data.
* **RSA-OAEP-3072** (``rsa-3072`` keys): the data key encrypted with RSA-OAEP (SHA-256, MGF1-SHA256), the OAEP
  label binding the file id, slot type and recipient fingerprint.

Each slot starts with the recipient's fingerprint, so the recipient's key is found without trial decryption and
a wrong key gets an error listing who the file *was* shared with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from workbench.core.crypto import stream
from workbench.core.crypto.keys import KIND_RSA_3072, KIND_X25519_ED25519, PrivateKey, PublicKey
from workbench.core.crypto.primitives import (
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    AesGcm,
    AuthenticationError,
    FormatError,
    IntegrityError,
    NotARecipientError,
    UnsupportedParameterError,
    hkdf_sha256,
)
from workbench.core.crypto.stream import SLOT_RSA_OAEP, SLOT_X25519, KeySlot, StreamHeader, StreamSummary, slot_aad
from workbench.core.jobs import CancelToken, JobGenerator, drive

_X25519_INFO = b"privacy-workbench x25519 key wrap v1"


def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label)


def _x25519_kek(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> tuple[bytes, bytes]:
    okm = hkdf_sha256(shared, salt=ephemeral_public + recipient_public, info=_X25519_INFO, length=KEY_SIZE + NONCE_SIZE)
    return okm[:KEY_SIZE], okm[KEY_SIZE:]


class Recipient:
    """Wraps a file's data key for one recipient's :class:`~workbench.core.crypto.keys.PublicKey`."""

    __slots__ = ("public_key",)

    def __init__(self, public_key: PublicKey) -> None:
        self.public_key = public_key

    def __repr__(self) -> str:
        return f"Recipient({self.public_key!r})"

    def wrap(self, data_key: bytes, file_id: bytes) -> KeySlot:
        pub = self.public_key
        fp = pub.fingerprint
        if pub.kind == KIND_X25519_ED25519:
            ephemeral = X25519PrivateKey.generate()
            eph_raw = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            recipient_raw = pub.raw[:32]
            try:
                shared = ephemeral.exchange(pub.x25519)
            except ValueError:  # a low-order point: the "public key" would let anyone read the file
                raise FormatError(f"the public key {pub.name!r} is not a usable X25519 key") from None
            kek, nonce = _x25519_kek(shared, eph_raw, recipient_raw)
            metadata = fp + eph_raw
            sealed = AesGcm(kek).encrypt(nonce, data_key, slot_aad(file_id, SLOT_X25519, metadata))
            return KeySlot(SLOT_X25519, metadata + sealed)
        if pub.kind == KIND_RSA_3072:
            label = slot_aad(file_id, SLOT_RSA_OAEP, fp)
            return KeySlot(SLOT_RSA_OAEP, fp + pub.rsa.encrypt(data_key, _oaep(label)))
        raise UnsupportedParameterError(f"cannot share with a {pub.kind} key")


class RecipientKey:
    """Unwraps a shared file's data key with a recipient's :class:`~workbench.core.crypto.keys.PrivateKey`."""

    __slots__ = ("private_key",)

    def __init__(self, private_key: PrivateKey) -> None:
        self.private_key = private_key

    def __repr__(self) -> str:
        return f"RecipientKey({self.private_key!r})"

    def unwrap(self, header: StreamHeader) -> bytearray:
        key = self.private_key
        fp = key.fingerprint
        kind = SLOT_X25519 if key.kind == KIND_X25519_ED25519 else SLOT_RSA_OAEP
        slots = [s for s in header.slots if s.kind == kind and s.body[:32] == fp]
        if not slots:
            raise NotARecipientError(
                f"this file was not shared with your key {key.name!r} ({key.public.fingerprint_text}); it can be "
                f"opened by: {header.describe_slots()}. Ask the sender to share it with your public key"
            )
        for slot in slots:
            try:
                return bytearray(self._unwrap_slot(slot, header.file_id, fp))
            except (AuthenticationError, ValueError):
                continue
        raise IntegrityError("header damaged: the key slot for your key failed authentication", what="header")

    def _unwrap_slot(self, slot: KeySlot, file_id: bytes, fp: bytes) -> bytes:
        key = self.private_key
        if slot.kind == SLOT_X25519:
            if len(slot.body) != 64 + KEY_SIZE + TAG_SIZE:
                raise ValueError("malformed slot")
            eph_raw = slot.body[32:64]
            shared = key.x25519.exchange(X25519PublicKey.from_public_bytes(eph_raw))
            kek, nonce = _x25519_kek(shared, eph_raw, key.public.raw[:32])
            return AesGcm(kek).decrypt(nonce, slot.body[64:], slot_aad(file_id, SLOT_X25519, slot.body[:64]))
        label = slot_aad(file_id, SLOT_RSA_OAEP, fp)
        data_key = key.rsa.decrypt(slot.body[32:], _oaep(label))
        if len(data_key) != KEY_SIZE:
            raise ValueError("malformed slot")
        return data_key


def share_file_job(
    src: str | Path,
    dst: str | Path,
    recipients: Sequence[PublicKey],
    *,
    also: Sequence[stream.KeyWrapper] = (),
    chunk_size: int = stream.CHUNK_SIZE,
    token: CancelToken | None = None,
    overwrite: bool = False,
) -> JobGenerator[StreamSummary]:
    """Encrypt the file ``src`` into ``dst`` for each of ``recipients`` (and any extra wrappers in ``also``).

    Raises
    ------
    UnsupportedParameterError
        No recipients, or the same recipient twice.
    """
    if not recipients:
        raise UnsupportedParameterError("give at least one recipient public key to share with")
    fps = [r.fingerprint for r in recipients]
    if len(set(fps)) != len(fps):
        raise UnsupportedParameterError("the same recipient public key is given twice")
    wrappers: list[stream.KeyWrapper] = [Recipient(r) for r in recipients]
    wrappers += list(also)
    return (
        yield from stream.encrypt_file_job(src, dst, wrappers, chunk_size=chunk_size, token=token, overwrite=overwrite)
    )


def share_file(
    src: str | Path,
    dst: str | Path,
    recipients: Sequence[PublicKey],
    *,
    chunk_size: int = stream.CHUNK_SIZE,
    overwrite: bool = False,
) -> StreamSummary:
    """Synchronous :func:`share_file_job`."""
    return drive(share_file_job(src, dst, recipients, chunk_size=chunk_size, overwrite=overwrite))


def open_shared_file_job(
    src: str | Path,
    dst: str | Path,
    private_key: PrivateKey,
    *,
    token: CancelToken | None = None,
    overwrite: bool = False,
) -> JobGenerator[StreamSummary]:
    """Decrypt a file shared with ``private_key``'s owner into ``dst`` (all-or-nothing, as ``decrypt_file_job``)."""
    return (yield from stream.decrypt_file_job(src, dst, RecipientKey(private_key), token=token, overwrite=overwrite))


def open_shared_file(
    src: str | Path, dst: str | Path, private_key: PrivateKey, *, overwrite: bool = False
) -> StreamSummary:
    """Synchronous :func:`open_shared_file_job`."""
    return drive(open_shared_file_job(src, dst, private_key, overwrite=overwrite))


def open_shared_bytes(source: bytes | str | Path | stream.Readable, private_key: PrivateKey) -> bytes:
    """Decrypt a shared file into memory only."""
    return stream.decrypt_bytes(source, RecipientKey(private_key))


def recipients_of(path: str | Path) -> list[bytes]:
    """Fingerprints of the public keys a file was shared with (from its header; no key needed)."""
    return stream.read_header(path).recipient_fingerprints()
