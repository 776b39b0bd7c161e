"""The streaming file format: round trips, every tamper case, truncation, wrong keys, bounded memory, clean-up.

Most tests use a 64-byte chunk and a :class:`SecretKey` (no KDF) to stay fast; passphrase tests use the KDF's
floor parameters passed explicitly (``kdf.minimum_params()``), never weakened defaults.
"""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest

from workbench.core.crypto import kdf, stream
from workbench.core.crypto.primitives import (
    AesGcm,
    FormatError,
    IntegrityError,
    NotARecipientError,
    UnsupportedParameterError,
    WeakParametersError,
    WrongPassphraseError,
)
from workbench.core.crypto.stream import Passphrase, SecretKey
from workbench.core.errors import JobCancelled
from workbench.core.jobs import CancelToken, Progress, drive

C = 64  # chunk size used by most tests
REC = C + 16
KEY = SecretKey(b"K" * 16, bytes(range(32)))


def enc(data: bytes, *wrappers: stream.KeyWrapper, chunk: int = C, data_key: bytes | None = None) -> bytes:
    out = io.BytesIO()
    drive(
        stream.encrypt_stream_job(io.BytesIO(data), out, list(wrappers) or [KEY], chunk_size=chunk, data_key=data_key)
    )
    return out.getvalue()


def header_len(blob: bytes) -> int:
    return stream.read_header(io.BytesIO(blob)).length


def flip(blob: bytes, pos: int, bit: int = 0) -> bytes:
    b = bytearray(blob)
    b[pos] ^= 1 << bit
    return bytes(b)


def recrc(blob: bytes) -> bytes:
    """Recompute the header checksum after a deliberate edit (what an attacker would do)."""
    n = header_len_unchecked(blob)
    b = bytearray(blob)
    b[n - 4 : n] = struct.pack(">I", zlib.crc32(bytes(b[: n - 4])))
    return bytes(b)


def header_len_unchecked(blob: bytes) -> int:
    return int(struct.unpack_from(">I", blob, 12)[0])


# --- round trips -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, C - 1, C, C + 1, 5 * C, 7 * C + 13])
def test_round_trip_sizes(size: int) -> None:
    data = os.urandom(size)
    blob = enc(data)
    n = header_len(blob)
    chunks = max(1, -(-size // C))
    assert len(blob) == n + size + 16 * chunks, "one tag per chunk; an empty file has one empty final chunk"
    assert stream.decrypt_bytes(blob, KEY) == data
    assert b"".join(stream.iter_decrypt(blob, KEY)) == data
    pieces = list(stream.iter_decrypt(blob, KEY))
    assert all(len(p) == C for p in pieces[:-1])


@pytest.mark.parametrize("size", [0, 1, C - 1, C, C + 1, 6 * C + 5])
def test_round_trip_files_and_summary(tmp_path: Path, size: int) -> None:
    src, enc_path, out = tmp_path / "plain.bin", tmp_path / "x.pwb", tmp_path / "back.bin"
    data = os.urandom(size)
    src.write_bytes(data)
    s1 = stream.encrypt_file(src, enc_path, [KEY], chunk_size=C)
    s2 = stream.decrypt_file(enc_path, out, KEY)
    assert out.read_bytes() == data
    assert s1.plaintext_bytes == s2.plaintext_bytes == size
    assert s1.chunks == s2.chunks == max(1, -(-size // C))
    assert s1.file_id == s2.file_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.bin", "plain.bin", "x.pwb"], "no temp files left"


def test_round_trip_at_the_real_chunk_size(tmp_path: Path) -> None:
    assert stream.CHUNK_SIZE == 1 << 20
    data = os.urandom(2 * stream.CHUNK_SIZE + 12345)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    summary = stream.encrypt_file(src, tmp_path / "big.pwb", [KEY])
    assert summary.chunks == 3 and summary.chunk_size == stream.CHUNK_SIZE
    assert stream.decrypt_bytes(tmp_path / "big.pwb", KEY) == data
    exact = os.urandom(stream.CHUNK_SIZE)
    blob = stream.encrypt_bytes(exact, [KEY])
    assert len(blob) == header_len(blob) + stream.CHUNK_SIZE + 16, "a full last chunk is the final chunk"
    assert stream.decrypt_bytes(blob, KEY) == exact


def test_passphrase_and_several_slots() -> None:
    pw = Passphrase("correct horse battery staple", kdf=kdf.minimum_params())
    blob = enc(b"secret rows", pw, KEY)
    header = stream.read_header(io.BytesIO(blob))
    assert [s.kind for s in header.slots] == [stream.SLOT_PASSPHRASE, stream.SLOT_SECRET_KEY]
    assert header.has_passphrase and header.key_ids() == [KEY.key_id]
    assert stream.decrypt_bytes(blob, Passphrase("correct horse battery staple")) == b"secret rows"
    assert stream.decrypt_bytes(blob, KEY) == b"secret rows"
    assert "hidden" in repr(pw) and "correct" not in repr(pw)


def test_progress_is_reported_with_a_total() -> None:
    data = os.urandom(50 * C)
    seen: list[Progress] = []
    drive(stream.encrypt_stream_job(io.BytesIO(data), io.BytesIO(), [KEY], chunk_size=C), seen.append)
    assert seen[-1].total == len(data) and seen[-1].done == len(data) and seen[-1].fraction == 1.0


# --- tampering ---------------------------------------------------------------------------------------------


DATA = bytes(range(256)) * 2  # 512 bytes: 8 full chunks of 64, so the final chunk is full


@pytest.fixture(scope="module")
def blob() -> bytes:
    return enc(DATA + b"tail")  # 9 chunks, the final one short


def test_every_header_byte_flip_is_detected(blob: bytes) -> None:
    n = header_len(blob)
    for pos in range(n):
        for bit in (0, 7):
            with pytest.raises((IntegrityError, FormatError)) as info:
                stream.decrypt_bytes(flip(blob, pos, bit), KEY)
            assert "header" in str(info.value), (pos, bit, str(info.value))


def test_header_edit_with_fixed_checksum_fails_authentication(blob: bytes) -> None:
    # Change the nonce prefix (offset 20) and recompute the CRC: only the keyed header MAC can notice.
    forged = recrc(flip(blob, 21))
    with pytest.raises(IntegrityError, match="header damaged: it failed authentication") as info:
        stream.decrypt_bytes(forged, KEY)
    assert info.value.what == "header"


def test_every_chunk_bit_flip_names_the_chunk(blob: bytes) -> None:
    n = header_len(blob)
    chunks = 9
    for i in range(chunks):
        start = n + i * REC
        length = REC if i < chunks - 1 else 4 + 16
        for pos in (start, start + length // 2, start + length - 17, start + length - 16, start + length - 1):
            # first byte, middle, last ciphertext byte, first and last tag byte
            with pytest.raises(
                IntegrityError, match=f"chunk {i} \\(at byte offset {start}\\) failed authentication"
            ) as info:
                stream.decrypt_bytes(flip(blob, pos, 3), KEY)
            assert info.value.chunk_index == i and info.value.offset == start and info.value.what == "chunk"


def test_truncation_at_each_chunk_boundary_says_final_chunk_missing(blob: bytes) -> None:
    n = header_len(blob)
    for k in range(0, 9):  # keep k full chunks, drop the rest
        with pytest.raises(IntegrityError, match="file is truncated: the final chunk is missing") as info:
            stream.decrypt_bytes(blob[: n + k * REC], KEY)
        assert info.value.what == "truncated"


def test_dropping_a_full_final_chunk() -> None:
    full = enc(DATA)  # 8 full chunks, the 8th is the final one
    n = header_len(full)
    assert len(full) == n + 8 * REC
    with pytest.raises(IntegrityError, match=r"final chunk is missing \(the file ends after chunk 6"):
        stream.decrypt_bytes(full[:-REC], KEY)


def test_truncation_mid_chunk(blob: bytes) -> None:
    n = header_len(blob)
    for cut in (n + 3, n + REC + 40, n + 4 * REC + REC - 1, len(blob) - 1, len(blob) - 17):
        with pytest.raises(IntegrityError, match="truncated|failed authentication"):
            stream.decrypt_bytes(blob[:cut], KEY)


def test_truncated_header(blob: bytes) -> None:
    n = header_len(blob)
    with pytest.raises(FormatError, match="empty"):
        stream.decrypt_bytes(b"", KEY)
    for cut in range(1, n):
        with pytest.raises(IntegrityError, match="header damaged") as info:
            stream.decrypt_bytes(blob[:cut], KEY)
        assert info.value.what == "header"


def test_reordered_chunks_fail(blob: bytes) -> None:
    n = header_len(blob)
    chunks = [blob[n + i * REC : n + (i + 1) * REC] for i in range(8)]
    swapped = blob[:n] + chunks[0] + chunks[2] + chunks[1] + b"".join(chunks[3:]) + blob[n + 8 * REC :]
    with pytest.raises(IntegrityError, match="chunk 1 .* failed authentication"):
        stream.decrypt_bytes(swapped, KEY)


def test_chunk_from_another_file_with_the_same_data_key_fails() -> None:
    dk = os.urandom(32)
    a, b = enc(DATA, data_key=dk), enc(DATA, data_key=dk)
    assert stream.decrypt_bytes(a, KEY) == stream.decrypt_bytes(b, KEY) == DATA
    n = header_len(a)
    assert header_len(b) == n
    mixed = a[: n + 2 * REC] + b[n + 2 * REC : n + 3 * REC] + a[n + 3 * REC :]
    with pytest.raises(IntegrityError, match="chunk 2 .* failed authentication"):
        stream.decrypt_bytes(mixed, KEY)
    # Whole-body swap (a's header, b's chunks) fails at the first chunk.
    with pytest.raises(IntegrityError, match="chunk 0"):
        stream.decrypt_bytes(a[:n] + b[n:], KEY)


def test_appended_data_is_detected() -> None:
    full = enc(DATA)
    n = header_len(full)
    with pytest.raises(IntegrityError, match="unexpected data after the final chunk"):
        stream.decrypt_bytes(full + full[n : n + REC], KEY)
    with pytest.raises(IntegrityError):
        stream.decrypt_bytes(full + b"x", KEY)


def test_newer_version_and_foreign_files() -> None:
    blob = enc(b"x")
    newer = bytearray(blob)
    newer[8:10] = (2).to_bytes(2, "big")
    with pytest.raises(UnsupportedParameterError, match="newer than this workbench"):
        stream.decrypt_bytes(recrc(bytes(newer)), KEY)
    with pytest.raises(FormatError, match="not a Privacy Workbench encrypted file"):
        stream.decrypt_bytes(b"name,email\nAda,ada@example.org\n", KEY)


# --- wrong keys ---------------------------------------------------------------------------------------------


def test_wrong_passphrase() -> None:
    blob = enc(b"rows", Passphrase("right", kdf=kdf.minimum_params()))
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        stream.decrypt_bytes(blob, Passphrase("wrong"))


def test_wrong_secret_key_and_missing_slot_kind() -> None:
    blob = enc(b"rows")
    other = SecretKey(b"Z" * 16, bytes(32))
    with pytest.raises(NotARecipientError, match="not encrypted with this key"):
        stream.decrypt_bytes(blob, other)
    same_id_other_key = SecretKey(KEY.key_id, bytes(32))
    with pytest.raises(IntegrityError, match="key slot failed authentication"):
        stream.decrypt_bytes(blob, same_id_other_key)
    with pytest.raises(NotARecipientError, match="not protected by a passphrase"):
        stream.decrypt_bytes(blob, Passphrase("anything"))


def test_kdf_downgrade_in_a_header_is_refused() -> None:
    """A header whose passphrase slot asks for weak parameters is refused before any key is derived."""
    weak = kdf.Argon2idParams(salt=os.urandom(16), memory_kib=256, iterations=1, lanes=1)

    class WeakPassphrase:
        def wrap(self, data_key: bytes, file_id: bytes) -> stream.KeySlot:
            encoded = weak.encode()
            kek = weak.derive("pw")  # bypasses the floor on purpose: an attacker's tool would
            nonce = os.urandom(12)
            sealed = AesGcm(kek).encrypt(nonce, data_key, stream.slot_aad(file_id, stream.SLOT_PASSPHRASE, encoded))
            return stream.KeySlot(stream.SLOT_PASSPHRASE, encoded + nonce + sealed)

    blob = enc(b"rows", WeakPassphrase())
    with pytest.raises(WeakParametersError, match="weaker than the minimum"):
        stream.decrypt_bytes(blob, Passphrase("pw"))
    with pytest.raises(WeakParametersError):  # and never written either
        enc(b"rows", Passphrase("pw", kdf=weak))


# --- files: all or nothing ---------------------------------------------------------------------------------


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_decrypt_file_leaves_nothing_after_tampering(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(20 * C))
    stream.encrypt_file(src, tmp_path / "x.pwb", [KEY], chunk_size=C)
    blob = (tmp_path / "x.pwb").read_bytes()
    n = header_len(blob)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for i, bad in enumerate([flip(blob, n + 15 * REC + 5), blob[: n + 10 * REC], flip(blob, 3)]):
        p = tmp_path / f"bad{i}.pwb"
        p.write_bytes(bad)
        with pytest.raises((IntegrityError, FormatError)):
            stream.decrypt_file(p, out_dir / "plain.bin", KEY)
        assert _names(out_dir) == [], "no partial plaintext under any name"
    with pytest.raises(NotARecipientError):
        stream.decrypt_file(tmp_path / "x.pwb", out_dir / "plain.bin", SecretKey(b"Q" * 16, bytes(32)))
    assert _names(out_dir) == []


def test_failed_decrypt_keeps_an_existing_output(tmp_path: Path) -> None:
    (tmp_path / "x.pwb").write_bytes(enc(os.urandom(5 * C))[:-3])
    old = tmp_path / "out.bin"
    old.write_bytes(b"previous")
    with pytest.raises(IntegrityError):
        stream.decrypt_file(tmp_path / "x.pwb", old, KEY, overwrite=True)
    assert old.read_bytes() == b"previous"
    assert _names(tmp_path) == ["out.bin", "x.pwb"]


def test_cancellation_removes_the_partial_output(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(400 * C))
    stream.encrypt_file(src, tmp_path / "x.pwb", [KEY], chunk_size=C)
    for job in ("encrypt", "decrypt"):
        token = CancelToken()
        out = tmp_path / f"{job}.out"
        gen = (
            stream.encrypt_file_job(src, out, [KEY], chunk_size=C, token=token)
            if job == "encrypt"
            else stream.decrypt_file_job(tmp_path / "x.pwb", out, KEY, token=token)
        )
        with pytest.raises(JobCancelled):
            for _ in gen:
                token.cancel()
        assert not out.exists()
    assert _names(tmp_path) == ["in.bin", "x.pwb"]


def test_closing_the_generator_early_removes_the_partial_output(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(100 * C))
    gen = stream.encrypt_file_job(src, tmp_path / "x.pwb", [KEY], chunk_size=C)
    next(gen)
    next(gen)
    gen.close()
    assert _names(tmp_path) == ["in.bin"]


def test_a_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    (tmp_path / "x.pwb").write_bytes(enc(os.urandom(5 * C)))
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(stream.os, "fsync", no_space)
    with pytest.raises(stream.CryptoError, match=r"could not decrypt .* into .*: No space left on device"):
        stream.decrypt_file(tmp_path / "x.pwb", out_dir / "plain.bin", KEY)
    assert _names(out_dir) == []


def test_output_rules(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(b"abc")
    stream.encrypt_file(src, tmp_path / "x.pwb", [KEY])
    with pytest.raises(stream.OutputExistsError, match="already exists"):
        stream.encrypt_file(src, tmp_path / "x.pwb", [KEY])
    stream.encrypt_file(src, tmp_path / "x.pwb", [KEY], overwrite=True)
    with pytest.raises(stream.CryptoError, match="is the input file"):
        stream.encrypt_file(src, src, [KEY], overwrite=True)
    with pytest.raises(stream.CryptoError, match="no such file"):
        stream.encrypt_file(tmp_path / "missing", tmp_path / "y.pwb", [KEY])
    with pytest.raises(stream.CryptoError, match="does not exist"):
        stream.encrypt_file(src, tmp_path / "nodir" / "y.pwb", [KEY])
    with pytest.raises(UnsupportedParameterError, match="at least one"):
        stream.encrypt_file(src, tmp_path / "z.pwb", [])
    assert oct((tmp_path / "x.pwb").stat().st_mode & 0o777) == "0o600"


# --- bounded memory ----------------------------------------------------------------------------------------


class _Zeros:
    """A source of ``size`` zero bytes that holds no buffer of its own."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readinto(self, buf: bytearray | memoryview) -> int:
        n = min(len(buf), self.left)
        memoryview(buf)[:n] = bytes(n) if n <= 4096 else memoryview(bytearray(n))
        self.left -= n
        return n

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the format reads with readinto")


class _Sink:
    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.n += len(data)
        return len(data)


def test_memory_stays_bounded_by_the_chunk_size() -> None:
    size = 48 << 20
    tracemalloc.start()
    try:
        sink = _Sink()
        drive(stream.encrypt_stream_job(_Zeros(size), sink, [KEY]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.n > size
    assert peak < 8 << 20, f"peak Python allocations {peak / 2**20:.1f} MiB for a {size >> 20} MiB stream"
