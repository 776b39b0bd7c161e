"""Who may open a file in the streaming format: the key-wrapper protocols, the two symmetric slot kinds
(:class:`Passphrase`, :class:`SecretKey`) and the per-file keys derived from the data key (``docs/crypto-format.md``
§2.2 and §2.3; the overview is :mod:`workbench.core.crypto.stream`).

The public-key slot kinds are :mod:`workbench.core.crypto.share`.
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

from workbench.core.crypto import kdf as kdf_mod
from workbench.core.crypto.kdf import KdfParams
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
    WrongPassphraseError,
    hkdf_sha256,
    random_bytes,
    wipe,
)
from workbench.core.crypto.stream_format import (
    KEY_ID_SIZE,
    SLOT_PASSPHRASE,
    SLOT_SECRET_KEY,
    KeySlot,
    StreamHeader,
    slot_aad,
)

_INFO_PAYLOAD: Final = b"privacy-workbench stream v1 payload key"
_INFO_HEADER: Final = b"privacy-workbench stream v1 header key"


class FileKeys:
    """The keys of one file, derived from its data key with HKDF (salt: the file id): the payload key, as an
    :class:`~workbench.core.crypto.primitives.AesGcm`, and the header (HMAC) key."""

    __slots__ = ("aead", "digest", "header_key")

    def __init__(self, data_key: bytes | bytearray, file_id: bytes) -> None:
        self.aead = AesGcm(hkdf_sha256(data_key, salt=file_id, info=_INFO_PAYLOAD))
        self.header_key = hkdf_sha256(data_key, salt=file_id, info=_INFO_HEADER)
        self.digest = b""


# ----------------------------------------------------------------------------------------------------------
# Key wrapping: the protocols and the two symmetric kinds
# ----------------------------------------------------------------------------------------------------------


@runtime_checkable
class KeyWrapper(Protocol):
    """Something that can wrap a data key into a key slot (a passphrase, a secret key, a public key)."""

    def wrap(self, data_key: bytes, file_id: bytes) -> KeySlot: ...


@runtime_checkable
class KeyUnwrapper(Protocol):
    """Something that can find its slot in a header and unwrap the data key from it.

    Raises a :class:`CryptoError` subclass that says why not: wrong passphrase, not a recipient, no slot of its
    kind (naming who the file *is* for), weak KDF parameters.
    """

    def unwrap(self, header: StreamHeader) -> bytearray: ...


class Passphrase:
    """A passphrase as a key wrapper and unwrapper.

    Parameters
    ----------
    passphrase:
        The passphrase (normalised as in :func:`workbench.core.crypto.kdf.normalize_passphrase`).
    kdf:
        Parameters for wrapping; default :func:`workbench.core.crypto.kdf.default_params` (about 0.5 s).
        Tests pass ``kdf.minimum_params()`` here.
    floor:
        The weakest KDF parameters accepted when unwrapping; default the built-in floor (it cannot be lowered).
    """

    __slots__ = ("_secret", "_kdf", "_floor")

    def __init__(self, passphrase: str | bytes, *, kdf: KdfParams | None = None, floor: KdfParams | None = None):
        self._secret = bytearray(kdf_mod.normalize_passphrase(passphrase))
        self._kdf = kdf
        self._floor = floor

    def __repr__(self) -> str:
        return "Passphrase(<hidden>)"

    def wipe(self) -> None:
        """Zero the stored passphrase (best effort); the object is unusable afterwards."""
        wipe(self._secret)
        self._secret = bytearray()

    def wrap(self, data_key: bytes, file_id: bytes) -> KeySlot:
        params = self._kdf.with_new_salt() if self._kdf is not None else kdf_mod.default_params()
        kek = kdf_mod.derive_key(bytes(self._secret), params)
        encoded = params.encode()
        nonce = random_bytes(NONCE_SIZE)
        wrapped = AesGcm(kek).encrypt(nonce, data_key, slot_aad(file_id, SLOT_PASSPHRASE, encoded))
        return KeySlot(SLOT_PASSPHRASE, encoded + nonce + wrapped)

    def unwrap(self, header: StreamHeader) -> bytearray:
        slots = [s for s in header.slots if s.kind == SLOT_PASSPHRASE]
        if not slots:
            raise NotARecipientError(
                f"this file is not protected by a passphrase; it can be opened by: {header.describe_slots()}"
                + (" (open it with the matching private key)" if header.recipient_fingerprints() else "")
            )
        for slot in slots:
            try:
                params, used = kdf_mod.decode(slot.body)
            except FormatError:
                raise IntegrityError("header damaged: malformed passphrase slot", what="header") from None
            rest = slot.body[used:]
            if len(rest) != NONCE_SIZE + KEY_SIZE + TAG_SIZE:
                raise IntegrityError("header damaged: malformed passphrase slot", what="header")
            kek = kdf_mod.derive_key(bytes(self._secret), params, floor=self._floor)
            try:
                aad = slot_aad(header.file_id, SLOT_PASSPHRASE, slot.body[:used])
                return bytearray(AesGcm(kek).decrypt(rest[:NONCE_SIZE], rest[NONCE_SIZE:], aad))
            except AuthenticationError:
                continue
        raise WrongPassphraseError("wrong passphrase: it does not open this file (check the keyboard layout)")


class SecretKey:
    """A 256-bit symmetric key with a 16-byte id, as a key wrapper and unwrapper (e.g. a vault's file key)."""

    __slots__ = ("key_id", "_key")

    def __init__(self, key_id: bytes, key: bytes | bytearray) -> None:
        if len(key_id) != KEY_ID_SIZE or len(key) != KEY_SIZE:
            raise UnsupportedParameterError(f"a secret key is {KEY_SIZE} bytes with a {KEY_ID_SIZE}-byte id")
        self.key_id = bytes(key_id)
        self._key = bytearray(key)

    def __repr__(self) -> str:
        return f"SecretKey(id={self.key_id.hex()}, <hidden>)"

    def wipe(self) -> None:
        wipe(self._key)

    def wrap(self, data_key: bytes, file_id: bytes) -> KeySlot:
        nonce = random_bytes(NONCE_SIZE)
        wrapped = AesGcm(self._key).encrypt(nonce, data_key, slot_aad(file_id, SLOT_SECRET_KEY, self.key_id))
        return KeySlot(SLOT_SECRET_KEY, self.key_id + nonce + wrapped)

    def unwrap(self, header: StreamHeader) -> bytearray:
        slots = [s for s in header.slots if s.kind == SLOT_SECRET_KEY and s.body[:KEY_ID_SIZE] == self.key_id]
        if not slots:
            raise NotARecipientError(
                f"this file was not encrypted with this key (id {self.key_id.hex()}); it can be opened by: "
                f"{header.describe_slots()}. It may belong to another project"
            )
        for slot in slots:
            rest = slot.body[KEY_ID_SIZE:]
            if len(rest) != NONCE_SIZE + KEY_SIZE + TAG_SIZE:
                raise IntegrityError("header damaged: malformed key slot", what="header")
            aad = slot_aad(header.file_id, SLOT_SECRET_KEY, self.key_id)
            try:
                return bytearray(AesGcm(self._key).decrypt(rest[:NONCE_SIZE], rest[NONCE_SIZE:], aad))
            except AuthenticationError:
                continue
        raise IntegrityError("header damaged: the key slot failed authentication", what="header")
