"""The streaming file format's bytes: constants, the header with its key-slot table, and the chunk nonces and
associated data (``docs/crypto-format.md`` §2.1 and §2.2; the overview is :mod:`workbench.core.crypto.stream`).

What a key slot's body holds is up to its kind (:mod:`~workbench.core.crypto.stream_keys`,
:mod:`workbench.core.crypto.share`); encrypting and decrypting chunks is :mod:`~workbench.core.crypto.stream_io`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from workbench.core.crypto.primitives import CryptoError, FormatError, IntegrityError, UnsupportedParameterError

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


class Readable(Protocol):
    """A binary source: anything with ``readinto`` and ``read`` (files, ``io.BytesIO``,
    :class:`~workbench.core.crypto.stream_io.BytesReader`)."""

    def readinto(self, buffer: bytearray | memoryview, /) -> int | None: ...

    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    """A binary sink: anything with ``write``."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...


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


# ----------------------------------------------------------------------------------------------------------
# Key slots and the header
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


def build_header(
    chunk_size: int, nonce_prefix: bytes, file_id: bytes, slots: Sequence[KeySlot], header_key: bytes
) -> bytes:
    """The complete header: fixed fields, the slot table, its HMAC under ``header_key`` and the CRC-32."""
    body = b"".join(_SLOT_HEAD.pack(s.kind, len(s.body)) + s.body for s in slots)
    length = _FIXED.size + len(body) + _TRAILER_SIZE
    if length > MAX_HEADER_SIZE:
        raise UnsupportedParameterError(f"too many key slots: the header would be {length} bytes")
    fixed = _FIXED.pack(MAGIC, FORMAT_VERSION, 0, length, chunk_size, nonce_prefix, file_id, len(slots))
    unsigned = fixed + body
    mac = hmac.new(header_key, unsigned, hashlib.sha256).digest()
    with_mac = unsigned + mac
    return with_mac + struct.pack(">I", zlib.crc32(with_mac))


def authenticate_header(header: StreamHeader, header_key: bytes) -> None:
    """Check the header's HMAC under ``header_key`` (derived from the unwrapped data key); IntegrityError if not."""
    unsigned = header.raw[: header.length - _TRAILER_SIZE]
    mac = header.raw[header.length - _TRAILER_SIZE : header.length - _CRC_SIZE]
    if not hmac.compare_digest(hmac.new(header_key, unsigned, hashlib.sha256).digest(), mac):
        raise IntegrityError("header damaged: it failed authentication (it was modified)", what="header")


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


def read_header(source: Readable | str | Path) -> StreamHeader:
    """Read and check an encrypted file's header (magic, length, checksum, version, fields).

    For a stream, reads exactly the header's bytes and leaves the position at the first chunk. The header is
    *authenticated* later, once the data key is unwrapped (:func:`~workbench.core.crypto.stream.decrypt_stream_job`).

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
    raw = _read_raw_header(source)
    length = len(raw)
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
    slots = _parse_slots(raw, slot_count)
    return StreamHeader(version, chunk_size, bytes(nonce_prefix), bytes(file_id), slots, bytes(raw))


def _read_raw_header(source: Readable) -> bytes:
    """The header's bytes, after checking the magic number and the length it gives; nothing past them is read."""
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
    return raw


def _parse_slots(raw: bytes, slot_count: int) -> tuple[KeySlot, ...]:
    """The key-slot table between the fixed fields and the trailer; it must fill that space exactly."""
    slots = []
    pos = _FIXED.size
    end = len(raw) - _TRAILER_SIZE
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
    return tuple(slots)


# ----------------------------------------------------------------------------------------------------------
# Chunks
# ----------------------------------------------------------------------------------------------------------


def check_chunk_size(chunk_size: int) -> None:
    """UnsupportedParameterError unless ``chunk_size`` is one the format allows."""
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise UnsupportedParameterError(
            f"chunk size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE} bytes, not {chunk_size}"
        )


def chunk_nonce(prefix: bytes, index: int) -> bytes:
    """The nonce of chunk ``index``: the file's nonce prefix and the 32-bit big-endian index."""
    return prefix + index.to_bytes(4, "big")


def chunk_aad(digest: bytes, index: int, final: bool) -> bytes:
    """The associated data of chunk ``index``: the header's SHA-256, the 64-bit index and the final flag."""
    return digest + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")
