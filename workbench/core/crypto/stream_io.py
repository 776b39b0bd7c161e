"""Encrypting and decrypting in the streaming format, chunk by chunk: streams and their jobs, files (through a
private temporary file, :func:`atomic_output`) and memory (``docs/crypto-format.md`` §2.2 and §2.4; the overview
is :mod:`workbench.core.crypto.stream`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from workbench.core.atomic import atomic_write
from workbench.core.crypto.primitives import (
    KEY_SIZE,
    TAG_SIZE,
    AuthenticationError,
    CryptoError,
    IntegrityError,
    UnsupportedParameterError,
    random_bytes,
    wipe,
)
from workbench.core.crypto.stream_format import (
    CHUNK_SIZE,
    FILE_ID_SIZE,
    MAX_CHUNKS,
    NONCE_PREFIX_SIZE,
    Readable,
    StreamHeader,
    Writable,
    authenticate_header,
    build_header,
    check_chunk_size,
    chunk_aad,
    chunk_nonce,
    os_errors,
    read_header,
)
from workbench.core.crypto.stream_keys import FileKeys, KeyUnwrapper, KeyWrapper
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle, drive

# ----------------------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------------------


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
    check_chunk_size(chunk_size)
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
        keys = FileKeys(dk, file_id)
        header = build_header(chunk_size, prefix, file_id, slots, keys.header_key)
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
            keys.aead.encrypt_into(chunk_nonce(prefix, index), block, chunk_aad(digest, index, final), view)
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
        keys = FileKeys(dk, header.file_id)
    finally:
        wipe(dk)
    authenticate_header(header, keys.header_key)
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
            nonce = chunk_nonce(header.nonce_prefix, index)
            try:
                keys.aead.decrypt_into(nonce, data, chunk_aad(digest, index, last), plain)
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
    keys: FileKeys, nonce: bytes, data: memoryview, digest: bytes, index: int, offset: int, last: bool, full: bool
) -> IntegrityError:
    """Name what failed: a missing final chunk, data appended after it, or a damaged chunk."""
    scratch = bytearray(len(data) - TAG_SIZE)
    try:
        keys.aead.decrypt_into(nonce, data, chunk_aad(digest, index, not last), scratch)
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
def atomic_output(dst: Path, *, overwrite: bool, sensitive: bool = False) -> Iterator[BinaryIO]:
    """A private temporary file next to ``dst`` that becomes ``dst`` only if the block finishes without error.

    :func:`workbench.core.atomic.atomic_write` with this module's errors: the temporary file is created with mode
    0600 in the destination folder (so the final rename is atomic and never copies across file systems), flushed
    and fsynced before the rename, and removed on any exception, including cancellation and KeyboardInterrupt.
    Errors while writing (a full disk) propagate as they are, for the caller to name; creating the temporary
    file or moving it into place fails with a :class:`CryptoError` naming ``dst``, and with
    :class:`OutputExistsError` when ``overwrite`` is false and ``dst`` appeared meanwhile.

    ``sensitive`` (plaintext: decrypted files, plain exports): on Linux the temporary file has no name at all
    (``O_TMPFILE``), so not even SIGKILL leaves plaintext behind (``docs/crypto-format.md`` §2.4). Ciphertext
    outputs need not set it.
    """
    step = "create"
    try:
        with atomic_write(dst, overwrite=overwrite, sensitive=sensitive) as f:
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
    beside it; on Linux not even a kill with SIGKILL leaves plaintext (the file has no name until it is
    complete). With ``overwrite`` a previous ``dst`` is replaced only on success.
    """
    src_path, dst_path = Path(src), Path(dst)
    _check_paths(src_path, dst_path, overwrite)
    with os_errors("read", src_path):
        fin = open(src_path, "rb")  # noqa: SIM115 - closed by the with below
    with fin:
        read_header(fin)  # a file that is not ours fails before any output file is created
        fin.seek(0)
        with (
            os_errors("decrypt", f"{src_path} into {dst_path}"),
            atomic_output(dst_path, overwrite=overwrite, sensitive=True) as f,
        ):
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
