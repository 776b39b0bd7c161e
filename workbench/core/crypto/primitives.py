"""The primitive layer: AES-GCM, HKDF, randomness, best-effort wiping, and the crypto room's errors.

Everything above this module (the streaming format, key wrapping, the vault) calls AES-GCM only through
:func:`aes_gcm_encrypt` / :func:`aes_gcm_decrypt` (single-shot) or an :class:`AesGcm` object (one key, many
messages, with ``*_into`` variants that write into caller-owned buffers so a streaming loop allocates nothing per
chunk). The Wycheproof AES-GCM vectors run against exactly these functions (``tests/crypto/test_crypto_primitives.py``).

The layer is thin on purpose: it adds no cryptography, only

* errors that teach the fix instead of ``cryptography.exceptions.InvalidTag`` (which says nothing),
* a check of key and nonce sizes with an :class:`UnsupportedParameterError` (a ``ValueError``) for sizes the
  backend refuses, so callers and the vector tests can tell "not supported" from "failed",
* HKDF-SHA256 for the key schedule and :func:`wipe` for best-effort zeroing of key material.

The data format uses 256-bit keys and 96-bit nonces only; 128- and 192-bit keys are accepted here because the
published vectors use them and the primitive should be tested as a whole.
"""

from __future__ import annotations

import ctypes
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from workbench.core.errors import WorkbenchError

KEY_SIZE = 32
"""Bytes in every key the workbench's formats use (AES-256)."""
NONCE_SIZE = 12
"""Bytes in every nonce the workbench's formats use (the 96-bit nonce GCM is designed for)."""
TAG_SIZE = 16
"""Bytes of the GCM authentication tag appended to every ciphertext."""

AES_KEY_SIZES = (16, 24, 32)
MIN_NONCE_SIZE = 8  # what cryptography's AESGCM accepts: 64 to 1024 bits
MAX_NONCE_SIZE = 128


# ----------------------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------------------


class CryptoError(WorkbenchError):
    """Base class of the crypto room's user-facing errors. Messages never contain key or plaintext bytes."""


class UnsupportedParameterError(CryptoError, ValueError):
    """A key or nonce size, format version or algorithm that this implementation does not support."""


class AuthenticationError(CryptoError):
    """Data failed authentication: it was modified, damaged, truncated, or the key is wrong."""


class IntegrityError(AuthenticationError):
    """An encrypted file is damaged, truncated, reordered or was modified.

    ``what`` names the part that failed (``"header"``, ``"chunk"``, ``"truncated"``, ``"trailing data"``);
    ``chunk_index`` and ``offset`` (byte offset in the encrypted file) are set when a chunk failed.
    """

    def __init__(self, message: str, *, what: str, chunk_index: int | None = None, offset: int | None = None):
        super().__init__(message)
        self.what = what
        self.chunk_index = chunk_index
        self.offset = offset


class FormatError(CryptoError):
    """A file is not in the expected format (wrong magic, unknown version, malformed fields)."""


class WrongPassphraseError(AuthenticationError):
    """The passphrase does not open the file, key or vault."""


class NotARecipientError(AuthenticationError):
    """The private key offered is not one the file was encrypted for (or the key slot is damaged)."""


class WeakParametersError(CryptoError):
    """Key-derivation parameters below the accepted minimum (downgrade protection) or above the sane maximum."""


class SignatureError(AuthenticationError):
    """A signature does not verify: the file or the signature was modified, or the key is not the signer's."""


class VaultLockedError(CryptoError):
    """The project vault is locked; unlock it with the project passphrase first."""


# ----------------------------------------------------------------------------------------------------------
# AES-GCM
# ----------------------------------------------------------------------------------------------------------


def _check_key(key: bytes | bytearray | memoryview) -> None:
    if len(key) not in AES_KEY_SIZES:
        raise UnsupportedParameterError(f"AES-GCM keys are 16, 24 or 32 bytes long, not {len(key)}")


def _check_nonce(nonce: bytes | bytearray | memoryview) -> None:
    if not MIN_NONCE_SIZE <= len(nonce) <= MAX_NONCE_SIZE:
        raise UnsupportedParameterError(
            f"AES-GCM nonces of {len(nonce)} bytes are not supported (the backend accepts {MIN_NONCE_SIZE} to "
            f"{MAX_NONCE_SIZE} bytes; the workbench's formats use {NONCE_SIZE})"
        )


class AesGcm:
    """AES-GCM under one key, for many messages.

    Parameters
    ----------
    key:
        16, 24 or 32 bytes. The workbench's formats always pass 32. The backend keeps its own copy of the key;
        wiping the caller's buffer afterwards is the caller's business (see :func:`wipe`).
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes | bytearray) -> None:
        _check_key(key)
        self._aead = AESGCM(bytes(key))

    def encrypt(self, nonce: bytes, plaintext: bytes | bytearray | memoryview, aad: bytes | None = None) -> bytes:
        """Return ``ciphertext || tag`` (``len(plaintext) + 16`` bytes)."""
        _check_nonce(nonce)
        try:
            return self._aead.encrypt(nonce, plaintext, aad)
        except ValueError as exc:  # sizes the backend refuses (e.g. > 2**32 bytes in one message)
            raise UnsupportedParameterError(f"AES-GCM refused the input: {exc}") from None

    def encrypt_into(
        self, nonce: bytes, plaintext: bytes | bytearray | memoryview, aad: bytes | None, out: bytearray | memoryview
    ) -> int:
        """Write ``ciphertext || tag`` into ``out`` (exactly ``len(plaintext) + 16`` bytes); return that length."""
        _check_nonce(nonce)
        try:
            return self._aead.encrypt_into(nonce, plaintext, aad, out)
        except ValueError as exc:
            raise UnsupportedParameterError(f"AES-GCM refused the input: {exc}") from None

    def decrypt(
        self, nonce: bytes, data: bytes | bytearray | memoryview, aad: bytes | None = None, *, what: str = "data"
    ) -> bytes:
        """Check the tag of ``ciphertext || tag`` and return the plaintext.

        Raises
        ------
        AuthenticationError
            "``what`` failed authentication" when the tag does not match (modified data, wrong key, wrong
            nonce or associated data). Callers that know more (a chunk index, a wrong passphrase) catch it and
            raise a more precise error.
        """
        _check_nonce(nonce)
        try:
            return self._aead.decrypt(nonce, data, aad)
        except InvalidTag:
            raise AuthenticationError(f"{what} failed authentication") from None
        except ValueError as exc:
            raise UnsupportedParameterError(f"AES-GCM refused the input: {exc}") from None

    def decrypt_into(
        self,
        nonce: bytes,
        data: bytes | bytearray | memoryview,
        aad: bytes | None,
        out: bytearray | memoryview,
        *,
        what: str = "data",
    ) -> int:
        """Like :meth:`decrypt`, writing the plaintext into ``out`` (exactly ``len(data) - 16`` bytes).

        On failure ``out`` may hold unauthenticated plaintext: it is wiped before the error is raised.
        """
        _check_nonce(nonce)
        try:
            return self._aead.decrypt_into(nonce, data, aad, out)
        except InvalidTag:
            wipe(out)
            raise AuthenticationError(f"{what} failed authentication") from None
        except ValueError as exc:
            raise UnsupportedParameterError(f"AES-GCM refused the input: {exc}") from None


def aes_gcm_encrypt(key: bytes | bytearray, nonce: bytes, plaintext: bytes, aad: bytes | None = None) -> bytes:
    """Single-shot AES-GCM encryption; returns ``ciphertext || tag``. See :class:`AesGcm`."""
    return AesGcm(key).encrypt(nonce, plaintext, aad)


def aes_gcm_decrypt(
    key: bytes | bytearray, nonce: bytes, data: bytes, aad: bytes | None = None, *, what: str = "data"
) -> bytes:
    """Single-shot AES-GCM decryption of ``ciphertext || tag``. See :meth:`AesGcm.decrypt`."""
    return AesGcm(key).decrypt(nonce, data, aad, what=what)


# ----------------------------------------------------------------------------------------------------------
# Key schedule, randomness, comparison, wiping
# ----------------------------------------------------------------------------------------------------------


def hkdf_sha256(ikm: bytes | bytearray, *, salt: bytes | None, info: bytes, length: int = KEY_SIZE) -> bytes:
    """HKDF-SHA256 (RFC 5869): derive ``length`` bytes from input key material, bound to ``salt`` and ``info``."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(bytes(ikm))


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the operating system's CSPRNG."""
    return os.urandom(n)


def wipe(buf: bytearray | memoryview | None) -> None:
    """Overwrite a mutable buffer with zeros (best effort).

    Python may have copied the bytes elsewhere (immutable ``bytes`` objects, the backend's own key schedule,
    freed memory not yet reused), so this reduces, but does not remove, the time key material lingers in
    memory. It is still worth doing for buffers we own.
    """
    if buf is None:
        return
    view = memoryview(buf).cast("B")
    n = view.nbytes
    if n == 0 or view.readonly:
        return
    try:
        # ctypes.memset is not optimised away, unlike a slice assignment might be in some implementations.
        address = ctypes.addressof(ctypes.c_char.from_buffer(view))
        ctypes.memset(address, 0, n)
    except (TypeError, ValueError, BufferError):
        view[:] = bytes(n)
