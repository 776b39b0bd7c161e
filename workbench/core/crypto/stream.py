"""The streaming file format: chunked AES-256-GCM with a versioned header and wrapped per-file data keys.

Every encrypted file the workbench writes (CLI ``encrypt``/``share``, the project vault, private key files) is in
this format; ``docs/crypto-format.md`` describes it byte by byte. In short::

    header  = magic | version | flags | header length | chunk size | nonce prefix | file id | key slots
              | HMAC-SHA256(header key, everything before) | CRC-32(everything before)
    chunk i = AES-256-GCM(payload key, nonce = prefix | i, aad = SHA-256(header) | i | final?) = ciphertext | tag

* A random 256-bit **data key** per file; the payload and header keys are derived from it with HKDF. The data key
  is stored only wrapped, in one or more **key slots**: by a passphrase (Argon2id/scrypt, :class:`Passphrase`), by
  a symmetric key such as a vault's master key (:class:`SecretKey`), or for recipients' public keys
  (``workbench.core.crypto.share``).
* Chunks are ``chunk_size`` bytes of plaintext (1 MiB by default), the last one shorter (or empty for an empty
  file). Binding the header digest, the chunk index and a final-chunk flag into each chunk's associated data makes
  truncation, reordering, chunk swapping between files and bit flips fail with an :class:`IntegrityError` that
  names what failed ("chunk 3 ... failed authentication", "file is truncated: the final chunk is missing",
  "header damaged ...").
* Memory is bounded: three chunk-sized buffers, whatever the file size.
* Long work is a job generator (``*_job``) yielding :class:`~workbench.core.jobs.Progress` and polling a
  :class:`~workbench.core.jobs.CancelToken`; each has a synchronous wrapper of the same name without ``_job``.
* Decrypting to a file writes a temporary file (mode 0600) in the destination folder and renames it only after
  the last chunk authenticated; on any failure or cancellation the temporary file is removed, so no partial
  plaintext is left behind under any name. (Its blocks may survive on disk: secure deletion is not possible from
  user space, see the threat model.) Decrypting to memory (:func:`decrypt_bytes`, :func:`iter_decrypt`) writes
  nothing to disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import os
import stat
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Protocol, runtime_checkable

from workbench.core.atomic import atomic_write
from workbench.core.crypto import kdf as kdf_mod
from workbench.core.crypto.kdf import KdfParams
from workbench.core.crypto.primitives import (
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    AesGcm,
    AuthenticationError,
    CryptoError,
    FormatError,
    IntegrityError,
    NotARecipientError,
    UnsupportedParameterError,
    WrongPassphraseError,
    hkdf_sha256,
    random_bytes,
    wipe,
)
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle, drive

MAGIC: Final = b"\x89PWB\r\n\x1a\n"
"""First 8 bytes of every encrypted file. The high-bit byte and the CR LF / ^Z / LF catch 7-bit and text-mode
transfers, as PNG's signature does."""
FORMAT_VERSION: Final = 1
CHUNK_SIZE: Final = 1 << 20
"""Default plaintext bytes per chunk (1 MiB)."""
MIN_CHUNK_SIZE: Final = 16
MAX_CHUNK_SIZE: Final = 64 << 20
MAX_HEADER_SIZE: Final = 256 << 10
MAX_CHUNKS: Final = 1 << 32  # the chunk counter is 32 bits in the nonce
FILE_ID_SIZE: Final = 16
NONCE_PREFIX_SIZE: Final = 8
KEY_ID_SIZE: Final = 16

SLOT_PASSPHRASE: Final = 1
SLOT_SECRET_KEY: Final = 2
SLOT_X25519: Final = 3
SLOT_RSA_OAEP: Final = 4
SLOT_NAMES: Final = {
    SLOT_PASSPHRASE: "passphrase",
    SLOT_SECRET_KEY: "secret key",
    SLOT_X25519: "x25519 recipient",
    SLOT_RSA_OAEP: "rsa-oaep recipient",
}

# magic, version, flags, header length, chunk size, nonce prefix, file id, slot count
_FIXED: Final = struct.Struct(">8sHHII8s16sH")
_SLOT_HEAD: Final = struct.Struct(">BH")
_MAC_SIZE: Final = 32
_CRC_SIZE: Final = 4
_TRAILER_SIZE: Final = _MAC_SIZE + _CRC_SIZE
_ENVELOPE_SIZE: Final = 16  # magic, version, flags, header length: stable across format versions

SLOT_AAD_PREFIX: Final = b"privacy-workbench key slot v1\x00"
_INFO_PAYLOAD: Final = b"privacy-workbench stream v1 payload key"
_INFO_HEADER: Final = b"privacy-workbench stream v1 header key"


class Readable(Protocol):
    """A binary source: anything with ``readinto`` and ``read`` (files, ``io.BytesIO``, :class:`BytesReader`)."""

    def readinto(self, buffer: bytearray | memoryview, /) -> int | None: ...

    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    """A binary sink: anything with ``write``."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...


class BytesReader:
    """A read-only binary stream over a buffer, without copying it (``io.BytesIO(data)`` would copy)."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        n = min(len(buffer), len(self._view) - self._pos)
        memoryview(buffer).cast("B")[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int = -1, /) -> bytes:
        end = len(self._view) if size < 0 else min(len(self._view), self._pos + size)
        out = bytes(self._view[self._pos : end])
        self._pos = end
        return out

    def read_view(self, size: int) -> memoryview:
        """The next ``size`` bytes (fewer at the end) as a view into the buffer: no copy."""
        view = self._view[self._pos : self._pos + size]
        self._pos += len(view)
        return view

    @property
    def remaining(self) -> int:
        return len(self._view) - self._pos


# ----------------------------------------------------------------------------------------------------------
# Header and key slots
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeySlot:
    """One wrapped copy of a file's data key. ``kind`` is one of the ``SLOT_*`` constants."""

    kind: int
    body: bytes

    @property
    def kind_name(self) -> str:
        return SLOT_NAMES.get(self.kind, f"unknown slot type {self.kind}")


def slot_aad(file_id: bytes, kind: int, metadata: bytes) -> bytes:
    """Associated data for wrapping a data key in a slot: binds the wrap to this file and the slot's metadata."""
    return SLOT_AAD_PREFIX + file_id + bytes([kind]) + metadata


@dataclass(frozen=True, slots=True)
class StreamHeader:
    """A parsed, checksum-verified (not yet authenticated) header."""

    version: int
    chunk_size: int
    nonce_prefix: bytes
    file_id: bytes
    slots: tuple[KeySlot, ...]
    raw: bytes

    @property
    def length(self) -> int:
        return len(self.raw)

    @property
    def has_passphrase(self) -> bool:
        return any(s.kind == SLOT_PASSPHRASE for s in self.slots)

    def recipient_fingerprints(self) -> list[bytes]:
        """SHA-256 fingerprints of the public keys this file was shared with (see ``keys.PublicKey``)."""
        return [s.body[:32] for s in self.slots if s.kind in (SLOT_X25519, SLOT_RSA_OAEP) and len(s.body) >= 32]

    def key_ids(self) -> list[bytes]:
        """Ids of the symmetric keys (e.g. vault master keys) that hold a slot."""
        return [s.body[:KEY_ID_SIZE] for s in self.slots if s.kind == SLOT_SECRET_KEY]

    def describe_slots(self) -> str:
        """Who can open this file, in words, for error messages (no secrets, fingerprints abbreviated)."""
        parts = []
        for s in self.slots:
            if s.kind in (SLOT_X25519, SLOT_RSA_OAEP):
                parts.append(f"{s.kind_name} {_short_hex(s.body[:32])}")
            elif s.kind == SLOT_SECRET_KEY:
                parts.append(f"secret key id {s.body[:KEY_ID_SIZE].hex()}")
            else:
                parts.append(s.kind_name)
        return ", ".join(parts) or "nobody"


def _short_hex(fp: bytes) -> str:
    h = fp.hex().upper()
    return " ".join(h[i : i + 4] for i in range(0, 16, 4)) + " …"


def _build_header(
    chunk_size: int, nonce_prefix: bytes, file_id: bytes, slots: Sequence[KeySlot], header_key: bytes
) -> bytes:
    body = b"".join(_SLOT_HEAD.pack(s.kind, len(s.body)) + s.body for s in slots)
    length = _FIXED.size + len(body) + _TRAILER_SIZE
    if length > MAX_HEADER_SIZE:
        raise UnsupportedParameterError(f"too many key slots: the header would be {length} bytes")
    fixed = _FIXED.pack(MAGIC, FORMAT_VERSION, 0, length, chunk_size, nonce_prefix, file_id, len(slots))
    unsigned = fixed + body
    mac = hmac.new(header_key, unsigned, hashlib.sha256).digest()
    with_mac = unsigned + mac
    return with_mac + struct.pack(">I", zlib.crc32(with_mac))


def _read_exact(src: Readable, n: int) -> bytes:
    parts = []
    left = n
    while left > 0:
        block = src.read(left)
        if not block:
            break
        parts.append(block)
        left -= len(block)
    return b"".join(parts)


def _readinto_full(src: Readable, buf: bytearray) -> int:
    """Fill ``buf`` from ``src``; return the bytes read (fewer only at end of file)."""
    view = memoryview(buf)
    total = 0
    size = len(buf)
    while total < size:
        n = src.readinto(view[total:])
        if not n:
            break
        total += n
    return total


def _next_block(src: Readable, buf: bytearray) -> memoryview:
    """The next ``len(buf)`` bytes of ``src`` (fewer only at the end): a view into ``buf``, or for a
    :class:`BytesReader` a view into its buffer, which saves a copy per chunk."""
    if isinstance(src, BytesReader):
        return src.read_view(len(buf))
    return memoryview(buf)[: _readinto_full(src, buf)]


def read_header(source: Readable | str | Path) -> StreamHeader:
    """Read and check an encrypted file's header (magic, length, checksum, version, fields).

    For a stream, reads exactly the header's bytes and leaves the position at the first chunk. The header is
    *authenticated* later, once the data key is unwrapped (:func:`decrypt_stream_job`).

    Raises
    ------
    FormatError
        Not a workbench encrypted file.
    IntegrityError
        The header is damaged or truncated (``what == "header"``).
    UnsupportedParameterError
        Written by a newer format version.
    """
    if isinstance(source, (str, Path)):
        with os_errors("read", source), open(source, "rb") as f:
            return read_header(f)
    envelope = _read_exact(source, _ENVELOPE_SIZE)
    if len(envelope) < len(MAGIC) or envelope[: len(MAGIC)] != MAGIC:
        if not envelope:
            raise FormatError("the file is empty: it is not a Privacy Workbench encrypted file")
        if MAGIC.startswith(envelope):
            raise IntegrityError("header damaged: the file is truncated inside its header", what="header")
        raise FormatError(
            "not a Privacy Workbench encrypted file, or its header is damaged (the first bytes are not the "
            "format's magic number)"
        )
    if len(envelope) < _ENVELOPE_SIZE:
        raise IntegrityError("header damaged: the file is truncated inside its header", what="header")
    (length,) = struct.unpack_from(">I", envelope, 12)
    if not _FIXED.size + _TRAILER_SIZE <= length <= MAX_HEADER_SIZE:
        raise IntegrityError(f"header damaged: impossible header length {length}", what="header")
    raw = envelope + _read_exact(source, length - _ENVELOPE_SIZE)
    if len(raw) < length:
        raise IntegrityError(
            f"header damaged or truncated: the header should be {length} bytes but the file ends after {len(raw)}",
            what="header",
        )
    (crc,) = struct.unpack_from(">I", raw, length - _CRC_SIZE)
    if zlib.crc32(raw[: length - _CRC_SIZE]) != crc:
        raise IntegrityError("header damaged: its checksum does not match", what="header")
    _magic, version, flags, _length, chunk_size, nonce_prefix, file_id, slot_count = _FIXED.unpack_from(raw, 0)
    if version > FORMAT_VERSION:
        raise UnsupportedParameterError(
            f"this file uses format version {version}, newer than this workbench reads ({FORMAT_VERSION}): "
            "update the workbench to open it"
        )
    if version < 1 or flags != 0:
        raise IntegrityError(f"header damaged: unknown version {version} or flags {flags:#x}", what="header")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise IntegrityError(f"header damaged: impossible chunk size {chunk_size}", what="header")
    slots = []
    pos = _FIXED.size
    end = length - _TRAILER_SIZE
    for _ in range(slot_count):
        if pos + _SLOT_HEAD.size > end:
            raise IntegrityError("header damaged: key slots overrun the header", what="header")
        kind, size = _SLOT_HEAD.unpack_from(raw, pos)
        pos += _SLOT_HEAD.size
        if pos + size > end:
            raise IntegrityError("header damaged: key slots overrun the header", what="header")
        slots.append(KeySlot(kind, bytes(raw[pos : pos + size])))
        pos += size
    if pos != end or not slots:
        raise IntegrityError("header damaged: key slot table is inconsistent", what="header")
    return StreamHeader(version, chunk_size, bytes(nonce_prefix), bytes(file_id), tuple(slots), bytes(raw))


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


# ----------------------------------------------------------------------------------------------------------
# Chunk layer
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """What an encryption or decryption did: plaintext bytes, chunks, the file id (hex) and header length."""

    plaintext_bytes: int
    chunks: int
    file_id: str
    header_bytes: int
    chunk_size: int


class _Keys:
    __slots__ = ("aead", "digest", "header_key")

    def __init__(self, data_key: bytes | bytearray, file_id: bytes) -> None:
        self.aead = AesGcm(hkdf_sha256(data_key, salt=file_id, info=_INFO_PAYLOAD))
        self.header_key = hkdf_sha256(data_key, salt=file_id, info=_INFO_HEADER)
        self.digest = b""


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + index.to_bytes(4, "big")


def _aad(digest: bytes, index: int, final: bool) -> bytes:
    return digest + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def _check_chunk_size(chunk_size: int) -> None:
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise UnsupportedParameterError(
            f"chunk size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE} bytes, not {chunk_size}"
        )


def _source_size(src: Readable) -> int | None:
    """Bytes left in ``src`` when that can be known cheaply (regular files, BytesIO, BytesReader), else None."""
    if isinstance(src, BytesReader):
        return src.remaining
    if isinstance(src, io.BytesIO):
        return src.getbuffer().nbytes - src.tell()
    try:
        st = os.fstat(src.fileno())  # type: ignore[attr-defined]
        return st.st_size - src.tell() if stat.S_ISREG(st.st_mode) else None  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return None


def _encrypt_chunks(
    src: Readable,
    wrappers: Sequence[KeyWrapper],
    chunk_size: int,
    data_key: bytes | None,
) -> Iterator[memoryview]:
    """Yield the header, then each encrypted chunk; views are valid until the next item is requested."""
    _check_chunk_size(chunk_size)
    if not wrappers:
        raise UnsupportedParameterError("give at least one passphrase, key or recipient to encrypt for")
    dk = bytearray(data_key if data_key is not None else random_bytes(KEY_SIZE))
    if len(dk) != KEY_SIZE:
        raise UnsupportedParameterError(f"a data key is {KEY_SIZE} bytes")
    cur = bytearray(chunk_size)
    nxt = bytearray(chunk_size)
    out = bytearray(chunk_size + TAG_SIZE)
    try:
        file_id = random_bytes(FILE_ID_SIZE)
        prefix = random_bytes(NONCE_PREFIX_SIZE)
        slots = [w.wrap(bytes(dk), file_id) for w in wrappers]
        keys = _Keys(dk, file_id)
        header = _build_header(chunk_size, prefix, file_id, slots, keys.header_key)
        digest = hashlib.sha256(header).digest()
        yield memoryview(header)
        block = _next_block(src, cur)
        index = 0
        while True:
            # Read ahead one chunk: the current one is final exactly when nothing follows it.
            ahead = _next_block(src, nxt) if len(block) == chunk_size else memoryview(b"")
            final = len(ahead) == 0
            if index >= MAX_CHUNKS:
                raise UnsupportedParameterError(f"the input is too large for chunks of {chunk_size} bytes")
            view = memoryview(out)[: len(block) + TAG_SIZE]
            keys.aead.encrypt_into(_nonce(prefix, index), block, _aad(digest, index, final), view)
            yield view
            if final:
                return
            cur, nxt = nxt, cur
            block = ahead
            index += 1
    finally:
        wipe(dk)
        wipe(cur)
        wipe(nxt)


def _decrypt_chunks(src: Readable, unwrapper: KeyUnwrapper, header: StreamHeader | None = None) -> Iterator[memoryview]:
    """Yield each chunk's plaintext once it authenticated; views are valid until the next item is requested.

    The iteration ends normally only after the final chunk authenticated and nothing follows it; every other
    ending raises :class:`IntegrityError` naming the chunk (0-based) and its byte offset in the file.
    """
    if header is None:
        header = read_header(src)
    dk = unwrapper.unwrap(header)
    try:
        keys = _Keys(dk, header.file_id)
    finally:
        wipe(dk)
    unsigned = header.raw[: header.length - _TRAILER_SIZE]
    mac = header.raw[header.length - _TRAILER_SIZE : header.length - _CRC_SIZE]
    if not hmac.compare_digest(hmac.new(keys.header_key, unsigned, hashlib.sha256).digest(), mac):
        raise IntegrityError("header damaged: it failed authentication (it was modified)", what="header")
    digest = hashlib.sha256(header.raw).digest()
    chunk_size = header.chunk_size
    record = chunk_size + TAG_SIZE
    cur = bytearray(record)
    nxt = bytearray(record)
    out = bytearray(chunk_size)
    try:
        data = _next_block(src, cur)
        index = 0
        offset = header.length
        while True:
            n = len(data)
            if n < TAG_SIZE:  # only the first read can return 0 bytes: later ones follow a non-empty read-ahead
                where = "no chunk follows the header" if n == 0 else f"it ends inside chunk {index}"
                raise IntegrityError(
                    f"file is truncated: the final chunk is missing ({where}, at byte offset {offset + n})",
                    what="truncated",
                    chunk_index=index,
                    offset=offset,
                )
            ahead = _next_block(src, nxt) if n == record else memoryview(b"")
            last = len(ahead) == 0
            plain = memoryview(out)[: n - TAG_SIZE]
            nonce = _nonce(header.nonce_prefix, index)
            try:
                keys.aead.decrypt_into(nonce, data, _aad(digest, index, last), plain)
            except AuthenticationError:
                raise _diagnose(keys, nonce, data, digest, index, offset, last, n == record) from None
            yield plain
            if last:
                return
            cur, nxt = nxt, cur
            data = ahead
            index += 1
            offset += record
    finally:
        wipe(out)


def _diagnose(
    keys: _Keys, nonce: bytes, data: memoryview, digest: bytes, index: int, offset: int, last: bool, full: bool
) -> IntegrityError:
    """Name what failed: a missing final chunk, data appended after it, or a damaged chunk."""
    scratch = bytearray(len(data) - TAG_SIZE)
    try:
        keys.aead.decrypt_into(nonce, data, _aad(digest, index, not last), scratch)
        authentic_with_other_flag = True
    except AuthenticationError:
        authentic_with_other_flag = False
    finally:
        wipe(scratch)
    where = f"chunk {index} (at byte offset {offset})"
    if authentic_with_other_flag and last and full:
        end = offset + len(data)
        return IntegrityError(
            f"file is truncated: the final chunk is missing (the file ends after chunk {index}, at byte offset {end})",
            what="truncated",
            chunk_index=index + 1,
            offset=end,
        )
    if authentic_with_other_flag and not last:
        return IntegrityError(
            f"unexpected data after the final chunk: {where} is marked final, yet the file goes on (bytes were "
            "appended)",
            what="trailing data",
            chunk_index=index,
            offset=offset,
        )
    hint = "the file was modified, damaged or truncated there" if last else "the file was modified or damaged there"
    return IntegrityError(f"{where} failed authentication: {hint}", what="chunk", chunk_index=index, offset=offset)


# ----------------------------------------------------------------------------------------------------------
# Stream jobs
# ----------------------------------------------------------------------------------------------------------


def encrypt_stream_job(
    src: Readable,
    dst: Writable,
    wrappers: Sequence[KeyWrapper],
    *,
    chunk_size: int = CHUNK_SIZE,
    token: CancelToken | None = None,
    total: int | None = None,
    data_key: bytes | None = None,
) -> JobGenerator[StreamSummary]:
    """Encrypt ``src`` into ``dst`` (binary streams), yielding progress; returns a :class:`StreamSummary`.

    Parameters
    ----------
    src, dst:
        Readable and writable binary streams. ``dst`` receives the header and then each chunk as it is made.
    wrappers:
        Who may open the file: :class:`Passphrase`, :class:`SecretKey`, ``share.Recipient`` (at least one).
    chunk_size:
        Plaintext bytes per chunk; tests use small values, files use the default 1 MiB.
    token:
        Polled between chunks; cancellation raises :class:`~workbench.core.errors.JobCancelled`.
    total:
        Plaintext size for the progress bar; found from ``src`` when it is a regular file or BytesIO.
    data_key:
        Normally ``None`` (a fresh random key). Tests pass one to check that chunks cannot move between files
        that share a data key.
    """
    token = token or CancelToken()
    total = total if total is not None else _source_size(src)
    yield Progress("preparing keys", 0, total, "bytes")
    throttle = Throttle()
    done = 0
    chunks = -1
    header_len = 0
    file_id = ""
    for view in _encrypt_chunks(src, wrappers, chunk_size, data_key):
        token.raise_if_cancelled()
        dst.write(view)
        if chunks < 0:
            header_len = len(view)
            file_id = bytes(view[28:44]).hex()
        else:
            done += len(view) - TAG_SIZE
        chunks += 1
        if throttle.ready():
            yield Progress("encrypting", done, total, "bytes")
    yield Progress("encrypting", done, total if total is not None else done, "bytes")
    return StreamSummary(done, chunks, file_id, header_len, chunk_size)


def decrypt_stream_job(
    src: Readable,
    dst: Writable,
    unwrapper: KeyUnwrapper,
    *,
    token: CancelToken | None = None,
    total: int | None = None,
) -> JobGenerator[StreamSummary]:
    """Decrypt ``src`` into ``dst`` chunk by chunk, yielding progress; returns a :class:`StreamSummary`.

    ``dst`` receives each chunk as soon as it authenticated, so on an error it holds a prefix of the plaintext:
    use :func:`decrypt_file_job` (temporary file, renamed at the end) or :func:`decrypt_bytes` instead unless
    ``dst`` is private memory you discard on error.
    """
    token = token or CancelToken()
    size = total if total is not None else _source_size(src)
    yield Progress("unlocking", 0, size, "bytes")
    header = read_header(src)
    throttle = Throttle()
    done = 0
    chunks = 0
    consumed = header.length
    for plain in _decrypt_chunks(src, unwrapper, header):
        token.raise_if_cancelled()
        dst.write(plain)
        done += len(plain)
        consumed += len(plain) + TAG_SIZE
        chunks += 1
        if throttle.ready():
            yield Progress("decrypting", consumed, size, "bytes")
    yield Progress("decrypting", consumed, size if size is not None else consumed, "bytes")
    return StreamSummary(done, chunks, header.file_id.hex(), header.length, header.chunk_size)


# ----------------------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------------------


class OutputExistsError(CryptoError):
    """The output file exists and overwriting was not allowed."""


@contextlib.contextmanager
def os_errors(doing: str, path: str | Path) -> Iterator[None]:
    """Turn OSError into a CryptoError that names the file and the reason (a one-line, user-fixable error)."""
    try:
        yield
    except FileNotFoundError:
        raise CryptoError(f"could not {doing} {path}: no such file or folder") from None
    except IsADirectoryError:
        raise CryptoError(f"could not {doing} {path}: it is a folder, not a file") from None
    except PermissionError:
        raise CryptoError(f"could not {doing} {path}: permission denied") from None
    except OSError as exc:
        raise CryptoError(f"could not {doing} {path}: {exc.strerror or type(exc).__name__}") from None


def _check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    if not src.is_file():
        raise CryptoError(f"{src}: no such file" if not src.exists() else f"{src} is not a regular file")
    if dst.exists():
        if src.resolve() == dst.resolve():
            raise CryptoError(f"the output {dst} is the input file; choose another output path")
        if not overwrite:
            raise OutputExistsError(f"{dst} already exists; choose another output path or allow overwriting it")
        if dst.is_dir():
            raise CryptoError(f"{dst} is a folder; give a file name for the output")
    if not dst.parent.is_dir():
        raise CryptoError(f"the output folder {dst.parent} does not exist")


@contextlib.contextmanager
def atomic_output(dst: Path, *, overwrite: bool) -> Iterator[BinaryIO]:
    """A private temporary file next to ``dst`` that becomes ``dst`` only if the block finishes without error.

    :func:`workbench.core.atomic.atomic_write` with this module's errors: the temporary file is created with mode
    0600 in the destination folder (so the final rename is atomic and never copies across file systems), flushed
    and fsynced before the rename, and removed on any exception, including cancellation and KeyboardInterrupt.
    Errors while writing (a full disk) propagate as they are, for the caller to name; creating the temporary
    file or moving it into place fails with a :class:`CryptoError` naming ``dst``, and with
    :class:`OutputExistsError` when ``overwrite`` is false and ``dst`` appeared meanwhile.
    """
    step = "create"
    try:
        with atomic_write(dst, overwrite=overwrite) as f:
            step = "write"
            yield f
            # Flushed and synced here as well, so that a failure of the data itself (a full disk) is told apart
            # from a failure to publish the file; the helper's own sync then has nothing left to do.
            f.flush()
            os.fsync(f.fileno())
            step = "publish"
    except FileExistsError:
        if step != "publish":
            raise
        raise OutputExistsError(f"{dst} already exists; choose another output path or allow overwriting it") from None
    except OSError:
        if step == "write":
            raise
        with os_errors("write to the folder of" if step == "create" else "write", dst):
            raise  # as a CryptoError naming dst, like every file error of this module


def encrypt_file_job(
    src: str | Path,
    dst: str | Path,
    wrappers: Sequence[KeyWrapper],
    *,
    chunk_size: int = CHUNK_SIZE,
    token: CancelToken | None = None,
    overwrite: bool = False,
) -> JobGenerator[StreamSummary]:
    """Encrypt the file ``src`` into ``dst`` (written under a temporary name, renamed when complete).

    Raises
    ------
    OutputExistsError
        ``dst`` exists and ``overwrite`` is false.
    CryptoError
        The input is missing or unreadable, the output folder is missing or unwritable.
    """
    src_path, dst_path = Path(src), Path(dst)
    _check_paths(src_path, dst_path, overwrite)
    with os_errors("read", src_path):
        fin = open(src_path, "rb")  # noqa: SIM115 - closed by the with below
    with fin, os_errors("encrypt", f"{src_path} into {dst_path}"), atomic_output(dst_path, overwrite=overwrite) as f:
        return (yield from encrypt_stream_job(fin, f, wrappers, chunk_size=chunk_size, token=token))


def decrypt_file_job(
    src: str | Path,
    dst: str | Path,
    unwrapper: KeyUnwrapper,
    *,
    token: CancelToken | None = None,
    overwrite: bool = False,
) -> JobGenerator[StreamSummary]:
    """Decrypt the file ``src`` into ``dst``; ``dst`` appears only after the whole file authenticated.

    On any failure (tampering, truncation, wrong key, cancellation, a full disk) nothing is left at ``dst`` or
    beside it. With ``overwrite`` a previous ``dst`` is replaced only on success.
    """
    src_path, dst_path = Path(src), Path(dst)
    _check_paths(src_path, dst_path, overwrite)
    with os_errors("read", src_path):
        fin = open(src_path, "rb")  # noqa: SIM115 - closed by the with below
    with fin:
        read_header(fin)  # a file that is not ours fails before any output file is created
        fin.seek(0)
        with os_errors("decrypt", f"{src_path} into {dst_path}"), atomic_output(dst_path, overwrite=overwrite) as f:
            return (yield from decrypt_stream_job(fin, f, unwrapper, token=token))


def encrypt_file(
    src: str | Path,
    dst: str | Path,
    wrappers: Sequence[KeyWrapper],
    *,
    chunk_size: int = CHUNK_SIZE,
    overwrite: bool = False,
) -> StreamSummary:
    """Synchronous :func:`encrypt_file_job`."""
    return drive(encrypt_file_job(src, dst, wrappers, chunk_size=chunk_size, overwrite=overwrite))


def decrypt_file(
    src: str | Path, dst: str | Path, unwrapper: KeyUnwrapper, *, overwrite: bool = False
) -> StreamSummary:
    """Synchronous :func:`decrypt_file_job`."""
    return drive(decrypt_file_job(src, dst, unwrapper, overwrite=overwrite))


# ----------------------------------------------------------------------------------------------------------
# Memory
# ----------------------------------------------------------------------------------------------------------


def encrypt_bytes(
    data: bytes | bytearray | memoryview, wrappers: Sequence[KeyWrapper], *, chunk_size: int = CHUNK_SIZE
) -> bytes:
    """Encrypt bytes held in memory into the streaming format (secrets, keys, reports, derived data)."""
    out = io.BytesIO()
    drive(encrypt_stream_job(BytesReader(data), out, wrappers, chunk_size=chunk_size))
    return out.getvalue()


def iter_decrypt(source: bytes | bytearray | str | Path | Readable, unwrapper: KeyUnwrapper) -> Iterator[bytes]:
    """Yield the plaintext chunk by chunk, in memory only (nothing is written to disk).

    Each chunk has authenticated when it is yielded, but truncation of the *file* is detected only at the end:
    the iterator raises :class:`IntegrityError` instead of finishing. Treat what it yielded as provisional until
    it is exhausted without an error.
    """
    if isinstance(source, (str, Path)):
        with os_errors("read", source), open(source, "rb") as f:
            for plain in _decrypt_chunks(f, unwrapper):
                yield bytes(plain)
        return
    stream: Readable = BytesReader(source) if isinstance(source, (bytes, bytearray)) else source
    for plain in _decrypt_chunks(stream, unwrapper):
        yield bytes(plain)


def decrypt_bytes(source: bytes | bytearray | str | Path | Readable, unwrapper: KeyUnwrapper) -> bytes:
    """Decrypt a whole file or byte string into memory; returns only after every chunk authenticated."""
    return b"".join(iter_decrypt(source, unwrapper))
