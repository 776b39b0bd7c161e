"""Detached signatures for exported files and reports (Ed25519; RSA-PSS-SHA256 for RSA key pairs).

Signing hashes the file with SHA-256 in a streaming pass (bounded memory, progress, cancellable) and signs a
domain-separated message that binds the hash, the file size, the signer's fingerprint and the signing time::

    message = "privacy-workbench file signature v1" 0x00 | algorithm | 0x00 | signer fingerprint (32)
              | file size (uint64 BE) | SHA-256 of the file (32) | created (ISO-8601 UTC, ASCII)

The signature file (``FILE.sig`` by default) is text::

    -----BEGIN PRIVACY WORKBENCH SIGNATURE-----
    Version: 1
    Algorithm: ed25519
    Signer: 1A2B 3C4D ... (fingerprint of the signer's public key)
    Size: 12345
    SHA-256: 9f86d0...
    Created: 2026-11-26T10:00:00Z

    <base64 signature>
    -----END PRIVACY WORKBENCH SIGNATURE-----

Verification checks, in this order, and says which failed: the signature was made by the given public key
(fingerprints match), the signature is valid over the stated fields (the .sig file was not edited), and the file
has the stated size and SHA-256 (the file was not modified after signing). It returns the signer's fingerprint
for the caller to show; trusting *that* fingerprint is the user's out-of-band decision.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from workbench.core.crypto.keys import (
    KEY_FILE_VERSION,
    PrivateKey,
    PublicKey,
    armor,
    dearmor,
    format_fingerprint,
    parse_fingerprint,
    read_text_file,
    write_new_file,
)
from workbench.core.crypto.primitives import FormatError, SignatureError
from workbench.core.crypto.stream import Readable, os_errors
from workbench.core.jobs import CancelToken, JobGenerator, Progress, Throttle, drive

SIGNATURE_DOMAIN: Final = b"privacy-workbench file signature v1\x00"
SIGNATURE_SUFFIX: Final = ".sig"
_BLOCK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Signature:
    """A parsed detached signature."""

    algorithm: str
    signer_fingerprint: bytes
    size: int
    sha256: bytes
    created: str
    signature: bytes

    @property
    def signer_fingerprint_text(self) -> str:
        return format_fingerprint(self.signer_fingerprint)

    def message(self) -> bytes:
        """The exact bytes that were signed."""
        return signed_message(self.algorithm, self.signer_fingerprint, self.size, self.sha256, self.created)

    def to_text(self) -> str:
        headers = [
            ("Version", str(KEY_FILE_VERSION)),
            ("Algorithm", self.algorithm),
            ("Signer", self.signer_fingerprint_text),
            ("Size", str(self.size)),
            ("SHA-256", self.sha256.hex()),
            ("Created", self.created),
        ]
        return armor("SIGNATURE", headers, self.signature)

    @classmethod
    def from_text(cls, text: str) -> Signature:
        headers, body = dearmor(text, "SIGNATURE", "signature file")
        try:
            size = int(headers["Size"])
            digest = bytes.fromhex(headers["SHA-256"])
            sig = cls(
                headers["Algorithm"], parse_fingerprint(headers["Signer"]), size, digest, headers["Created"], body
            )
        except (KeyError, ValueError) as exc:
            raise FormatError(f"signature file damaged: missing or malformed field ({exc})") from None
        if len(digest) != 32 or size < 0 or not sig.created.isascii():
            raise FormatError("signature file damaged: malformed Size, SHA-256 or Created field")
        return sig


@dataclass(frozen=True, slots=True)
class Verified:
    """A signature that verified: who signed (by fingerprint) what (size, SHA-256) and when they said they did."""

    signer_fingerprint: bytes
    signer_name: str
    algorithm: str
    size: int
    sha256: str
    created: str

    @property
    def signer_fingerprint_text(self) -> str:
        return format_fingerprint(self.signer_fingerprint)

    def describe(self) -> str:
        """One line for the user, e.g. ``good signature by site-a (1A2B 3C4D ...), signed 2026-11-26T10:00:00Z``."""
        name = f"{self.signer_name} " if self.signer_name else ""
        return f"good signature by {name}({self.signer_fingerprint_text}), signed {self.created}"


def signed_message(algorithm: str, signer_fingerprint: bytes, size: int, sha256: bytes, created: str) -> bytes:
    """Build the domain-separated message that is signed (see the module docstring)."""
    return (
        SIGNATURE_DOMAIN
        + algorithm.encode("ascii")
        + b"\x00"
        + signer_fingerprint
        + size.to_bytes(8, "big")
        + sha256
        + created.encode("ascii")
    )


def hash_stream_job(
    src: Readable, *, token: CancelToken | None = None, total: int | None = None
) -> JobGenerator[tuple[int, bytes]]:
    """SHA-256 a stream in 1 MiB blocks; returns ``(size, digest)``."""
    token = token or CancelToken()
    h = hashlib.sha256()
    size = 0
    throttle = Throttle()
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    while True:
        token.raise_if_cancelled()
        n = src.readinto(view)
        if not n:
            break
        h.update(view[:n])
        size += n
        if throttle.ready():
            yield Progress("hashing", size, total, "bytes")
    return size, h.digest()


def _hash_file_job(path: Path, token: CancelToken | None) -> JobGenerator[tuple[int, bytes]]:
    with os_errors("read", path), open(path, "rb") as f:
        return (yield from hash_stream_job(f, token=token, total=path.stat().st_size))


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign_digest(private_key: PrivateKey, size: int, digest: bytes) -> Signature:
    algorithm = private_key.public.signature_algorithm
    fp = private_key.fingerprint
    created = _now()
    sig = private_key.sign(signed_message(algorithm, fp, size, digest, created))
    return Signature(algorithm, fp, size, digest, created, sig)


def sign_file_job(
    path: str | Path, private_key: PrivateKey, *, token: CancelToken | None = None
) -> JobGenerator[Signature]:
    """Hash ``path`` and sign it with ``private_key``; returns the :class:`Signature` (write it with ``to_text``)."""
    size, digest = yield from _hash_file_job(Path(path), token)
    return _sign_digest(private_key, size, digest)


def sign_file(
    path: str | Path, private_key: PrivateKey, *, out: str | Path | None = None, overwrite: bool = False
) -> Path:
    """Sign ``path`` and write the detached signature to ``out`` (default ``path + ".sig"``); returns ``out``."""
    target = Path(out) if out is not None else Path(str(path) + SIGNATURE_SUFFIX)
    signature = drive(sign_file_job(path, private_key))
    write_new_file(target, signature.to_text(), private=False, overwrite=overwrite)
    return target


def sign_bytes(data: bytes, private_key: PrivateKey) -> Signature:
    """Sign bytes held in memory (a report about to be exported) in the same format as a file."""
    return _sign_digest(private_key, len(data), hashlib.sha256(data).digest())


def _check_signer(signature: Signature, public_key: PublicKey) -> None:
    if signature.signer_fingerprint != public_key.fingerprint:
        name = f" {public_key.name!r}" if public_key.name else ""
        raise SignatureError(
            f"the signature was made by the key {signature.signer_fingerprint_text}, not by the given public "
            f"key{name} ({public_key.fingerprint_text}): verify with the signer's public key"
        )
    if signature.algorithm != public_key.signature_algorithm:
        raise SignatureError(
            f"signature file damaged: algorithm {signature.algorithm!r} does not fit a {public_key.kind} key"
        )
    try:
        public_key.verify(signature.signature, signature.message())
    except SignatureError:
        raise SignatureError(
            "the signature is invalid: the signature file was modified or damaged after signing"
        ) from None


def _check_content(signature: Signature, public_key: PublicKey, size: int, digest: bytes, what: str) -> Verified:
    if size != signature.size or digest != signature.sha256:
        raise SignatureError(
            f"{what} does not match its signature: it was modified after signing (signed: {signature.size} bytes, "
            f"SHA-256 {signature.sha256.hex()[:16]}…; now: {size} bytes, SHA-256 {digest.hex()[:16]}…)"
        )
    return Verified(
        signature.signer_fingerprint,
        public_key.name,
        signature.algorithm,
        size,
        digest.hex(),
        signature.created,
    )


def verify_file_job(
    path: str | Path, signature: Signature, public_key: PublicKey, *, token: CancelToken | None = None
) -> JobGenerator[Verified]:
    """Verify ``path`` against ``signature`` and ``public_key``; returns :class:`Verified` or raises
    :class:`SignatureError` naming what failed (wrong key, edited signature, modified file)."""
    _check_signer(signature, public_key)
    size, digest = yield from _hash_file_job(Path(path), token)
    return _check_content(signature, public_key, size, digest, str(path))


def load_signature(path: str | Path) -> Signature:
    text = read_text_file(path, "signature file")
    try:
        return Signature.from_text(text)
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None


def verify_file(path: str | Path, signature_path: str | Path, public_key: PublicKey) -> Verified:
    """Synchronous :func:`verify_file_job` reading the signature from ``signature_path``."""
    return drive(verify_file_job(path, load_signature(signature_path), public_key))


def verify_bytes(data: bytes, signature: Signature, public_key: PublicKey) -> Verified:
    """Verify bytes held in memory against a signature."""
    _check_signer(signature, public_key)
    size, digest = drive(hash_stream_job(io.BytesIO(data)))
    return _check_content(signature, public_key, size, digest, "the data")
