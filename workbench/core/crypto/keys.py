"""Key pairs for analysts and sites: X25519 + Ed25519 bundles (default) or RSA-3072, with fingerprints.

A key pair is what another site needs to share files with you (``share.py``) and to check what you signed
(``sign.py``). Two kinds:

* ``x25519-ed25519`` (default): an X25519 key for key agreement and an Ed25519 key for signatures, always used
  together. The raw public key is the 64 bytes ``X25519 public || Ed25519 public``.
* ``rsa-3072``: for sites whose policy requires RSA. One RSA key, used with OAEP (SHA-256) to wrap data keys and
  with PSS (SHA-256) to sign. The raw public key is its DER SubjectPublicKeyInfo.

The **fingerprint** is SHA-256 of the raw public key, shown as 16 groups of 4 hex digits. Compare it over
another channel (a phone call, a letter) before trusting a public key received by e-mail.

Files (text, documented in ``docs/crypto-format.md``)::

    -----BEGIN PRIVACY WORKBENCH PUBLIC KEY-----
    Version: 1
    Type: x25519-ed25519
    Name: site-a
    Fingerprint: 1A2B 3C4D ...

    <base64 of the raw public key>
    -----END PRIVACY WORKBENCH PUBLIC KEY-----

The private key file has the same shape (``PRIVATE KEY``); its body is the private key material encrypted with
the owner's passphrase in the streaming format (``stream.py``, a passphrase slot with Argon2id), so it enjoys the
same KDF floor and authenticated encryption as every other file. The ``Fingerprint`` line is checked against the
decrypted key when loading.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from workbench.core.atomic import atomic_write_text
from workbench.core.crypto import stream
from workbench.core.crypto.kdf import KdfParams
from workbench.core.crypto.primitives import (
    CryptoError,
    FormatError,
    SignatureError,
    UnsupportedParameterError,
    wipe,
)
from workbench.core.errors import WorkbenchError
from workbench.core.safe_io import escape_for_terminal, read_small_file

KIND_X25519_ED25519: Final = "x25519-ed25519"
KIND_RSA_3072: Final = "rsa-3072"
KINDS: Final = (KIND_X25519_ED25519, KIND_RSA_3072)
RSA_BITS: Final = 3072
KEY_FILE_VERSION: Final = 1

PUBLIC_SUFFIX: Final = ".pub"
PRIVATE_SUFFIX: Final = ".key"

_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")
_PSS: Final = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def format_fingerprint(fingerprint: bytes) -> str:
    """Show a 32-byte fingerprint as 16 groups of 4 upper-case hex digits (easy to read aloud)."""
    h = fingerprint.hex().upper()
    return " ".join(h[i : i + 4] for i in range(0, len(h), 4))


def parse_fingerprint(text: str) -> bytes:
    """Read a fingerprint written by :func:`format_fingerprint` (spaces, colons and case do not matter)."""
    cleaned = re.sub(r"[\s:]", "", text)
    try:
        fp = bytes.fromhex(cleaned)
    except ValueError:
        raise FormatError(f"not a fingerprint: {text[:80]!r} (expected 64 hex digits)") from None
    if len(fp) != 32:
        raise FormatError(f"a fingerprint has 64 hex digits, this one has {len(cleaned)}")
    return fp


def check_key_name(name: str) -> str:
    """Return ``name`` if it is a usable key name (also a file name), else raise a teaching error."""
    if not _NAME_RE.match(name):
        raise UnsupportedParameterError(
            f"key name {name!r} is not usable: use 1 to 64 letters, digits, spaces or . _ @ - (starting with a "
            "letter or digit), e.g. 'site-a' or 'jane.doe'"
        )
    return name


# ----------------------------------------------------------------------------------------------------------
# Armored text
# ----------------------------------------------------------------------------------------------------------


def armor(label: str, headers: list[tuple[str, str]], body: bytes) -> str:
    """Write a ``-----BEGIN PRIVACY WORKBENCH <label>-----`` block: ``Key: value`` lines, a blank line, base64."""
    b64 = base64.b64encode(body).decode("ascii")
    lines = [f"-----BEGIN PRIVACY WORKBENCH {label}-----"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append("")
    lines += [b64[i : i + 64] for i in range(0, len(b64), 64)]
    lines.append(f"-----END PRIVACY WORKBENCH {label}-----")
    return "\n".join(lines) + "\n"


def dearmor(text: str, label: str, what: str) -> tuple[dict[str, str], bytes]:
    """Parse a block written by :func:`armor`; ``what`` names the file in errors (e.g. "public key file")."""
    begin = f"-----BEGIN PRIVACY WORKBENCH {label}-----"
    end = f"-----END PRIVACY WORKBENCH {label}-----"
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    try:
        start = lines.index(begin)
        stop = lines.index(end, start)
    except ValueError:
        if begin in lines:
            raise FormatError(f"{what} truncated or damaged: no '{end}' line after its '{begin}' line") from None
        found = next((line for line in lines if line.startswith("-----BEGIN ")), None)
        hint = f" (it is a {found.strip('-').removeprefix('BEGIN ').lower()})" if found else ""
        raise FormatError(f"not a Privacy Workbench {what}{hint}: no '{begin}' line") from None
    headers: dict[str, str] = {}
    i = start + 1
    while i < stop and lines[i]:
        key, sep, value = lines[i].partition(":")
        if not sep:
            raise FormatError(f"{what} damaged: header line {i + 1} has no ':'")
        headers[key.strip()] = value.strip()
        i += 1
    try:
        body = base64.b64decode("".join(lines[i + 1 : stop]), validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} damaged: its base64 body is not valid") from None
    version = headers.get("Version", "")
    if version != str(KEY_FILE_VERSION):
        if version.isdigit() and int(version) > KEY_FILE_VERSION:
            raise UnsupportedParameterError(f"{what} version {version} is newer than this workbench: update it")
        raise FormatError(f"{what} damaged: missing or unknown 'Version' line")
    return headers, body


def write_new_file(path: Path, text: str, *, private: bool, overwrite: bool) -> None:
    """Write a key or signature file atomically: mode 0600 if ``private`` (else 0644), ASCII, ``\\n`` line ends.

    Without ``overwrite`` an existing file is never replaced, even one that appears while this writes.
    """
    try:
        atomic_write_text(
            path, text, overwrite=overwrite, mode=0o600 if private else 0o644, encoding="ascii", newline="\n"
        )
    except FileExistsError:
        raise stream.OutputExistsError(f"{path} already exists; choose another name or folder") from None
    except OSError as exc:
        raise CryptoError(f"could not write {path}: {exc.strerror or type(exc).__name__}") from None


#: The largest key or signature file read (an RSA-3072 private key file is about 3 KB).
MAX_KEY_FILE_BYTES: Final = 1 << 20


def read_text_file(path: str | Path, what: str) -> str:
    """A key or signature file's text, read with a size and time limit (a device, folder or socket is refused
    before reading; a pipe is read until its end). Every problem is one :class:`CryptoError` line."""
    try:
        data = read_small_file(path, what=what, limit=MAX_KEY_FILE_BYTES)
    except WorkbenchError as exc:
        raise CryptoError(str(exc)) from None
    return data.decode("utf-8", errors="replace")


def with_path(exc: CryptoError, path: str | Path) -> CryptoError:
    """``exc`` with the file's (escaped) name in front of its message, of the same type and with the same
    attributes, even for errors whose constructor needs more than a message (``type(exc)(...)`` is not enough)."""
    new = type(exc).__new__(type(exc))
    new.__dict__.update(exc.__dict__)
    CryptoError.__init__(new, f"{escape_for_terminal(path)}: {exc}")
    return new


# ----------------------------------------------------------------------------------------------------------
# Public keys
# ----------------------------------------------------------------------------------------------------------


class PublicKey:
    """A site's or analyst's public key: what others use to share files with them and to verify signatures.

    Parameters
    ----------
    kind:
        ``"x25519-ed25519"`` or ``"rsa-3072"``.
    raw:
        The raw public key (see the module docstring); the fingerprint is its SHA-256.
    name:
        A label chosen by the owner (not authenticated: trust the fingerprint, not the name).
    """

    __slots__ = ("kind", "raw", "name", "_x25519", "_ed25519", "_rsa")

    def __init__(self, kind: str, raw: bytes, name: str = "") -> None:
        self.kind = kind
        self.raw = bytes(raw)
        self.name = name
        self._x25519: X25519PublicKey | None = None
        self._ed25519: Ed25519PublicKey | None = None
        self._rsa: rsa.RSAPublicKey | None = None
        if kind not in KINDS:
            raise FormatError(f"unknown key type {kind!r}; this workbench knows {', '.join(KINDS)}")
        try:
            if kind == KIND_X25519_ED25519:
                if len(raw) != 64:
                    raise ValueError("an x25519-ed25519 public key is 64 bytes")
                self._x25519 = X25519PublicKey.from_public_bytes(self.raw[:32])
                self._ed25519 = Ed25519PublicKey.from_public_bytes(self.raw[32:])
            elif kind == KIND_RSA_3072:
                key = serialization.load_der_public_key(self.raw)
                if not isinstance(key, rsa.RSAPublicKey) or key.key_size < RSA_BITS:
                    raise ValueError(f"not an RSA key of at least {RSA_BITS} bits")
                self._rsa = key
        except ValueError as exc:
            raise FormatError(f"not a valid {kind} public key ({exc})") from None

    def __repr__(self) -> str:
        return f"PublicKey({self.kind}, {self.name!r}, {self.fingerprint_text})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and (self.kind, self.raw) == (other.kind, other.raw)

    def __hash__(self) -> int:
        return hash((self.kind, self.raw))

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 of the raw public key (32 bytes)."""
        return hashlib.sha256(self.raw).digest()

    @property
    def fingerprint_text(self) -> str:
        """The fingerprint as 16 groups of 4 hex digits, for reading aloud and comparing."""
        return format_fingerprint(self.fingerprint)

    @property
    def x25519(self) -> X25519PublicKey:
        if self._x25519 is None:
            raise UnsupportedParameterError(f"{self.kind} keys have no X25519 part")
        return self._x25519

    @property
    def rsa(self) -> rsa.RSAPublicKey:
        if self._rsa is None:
            raise UnsupportedParameterError(f"{self.kind} keys have no RSA part")
        return self._rsa

    @property
    def signature_algorithm(self) -> str:
        return "ed25519" if self.kind == KIND_X25519_ED25519 else "rsa-pss-sha256"

    def verify(self, signature: bytes, message: bytes) -> None:
        """Check a signature over ``message``; raise :class:`SignatureError` if it does not verify."""
        try:
            if self._ed25519 is not None:
                self._ed25519.verify(signature, message)
            else:
                self.rsa.verify(signature, message, _PSS, hashes.SHA256())
        except InvalidSignature:
            raise SignatureError("the signature is invalid") from None

    def to_text(self) -> str:
        headers = [
            ("Version", str(KEY_FILE_VERSION)),
            ("Type", self.kind),
            ("Name", self.name),
            ("Fingerprint", self.fingerprint_text),
        ]
        return armor("PUBLIC KEY", headers, self.raw)

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        """Parse a public key file's text; a ``Fingerprint`` line that does not match the key is an error."""
        headers, raw = dearmor(text, "PUBLIC KEY", "public key file")
        key = cls(headers.get("Type", ""), raw, headers.get("Name", ""))
        stated = headers.get("Fingerprint")
        if stated is not None and parse_fingerprint(stated) != key.fingerprint:
            raise FormatError("public key file damaged or edited: its Fingerprint line does not match the key it holds")
        return key

    @classmethod
    def load(cls, path: str | Path) -> PublicKey:
        text = read_text_file(path, "public key file")
        try:
            return cls.from_text(text)
        except CryptoError as exc:
            raise with_path(exc, path) from None

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        target = Path(path)
        write_new_file(target, self.to_text(), private=False, overwrite=overwrite)
        return target


# ----------------------------------------------------------------------------------------------------------
# Private keys
# ----------------------------------------------------------------------------------------------------------


class PrivateKey:
    """A key pair's private half, in memory. Create with :meth:`generate` or :meth:`load`.

    Stored on disk only encrypted (:meth:`save`). ``share.Recipient*`` and ``sign`` use its parts.
    """

    __slots__ = ("kind", "name", "public", "_x25519", "_ed25519", "_rsa")

    def __init__(
        self,
        kind: str,
        name: str,
        *,
        x25519: X25519PrivateKey | None = None,
        ed25519: Ed25519PrivateKey | None = None,
        rsa_key: rsa.RSAPrivateKey | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self._x25519 = x25519
        self._ed25519 = ed25519
        self._rsa = rsa_key
        if kind == KIND_X25519_ED25519 and x25519 is not None and ed25519 is not None:
            raw = _raw_public(x25519.public_key()) + _raw_public(ed25519.public_key())
        elif kind == KIND_RSA_3072 and rsa_key is not None:
            raw = rsa_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        else:
            raise UnsupportedParameterError(f"a {kind} private key needs its parts")
        self.public = PublicKey(kind, raw, name)

    def __repr__(self) -> str:
        return f"PrivateKey({self.kind}, {self.name!r}, {self.public.fingerprint_text})"

    @classmethod
    def generate(cls, kind: str = KIND_X25519_ED25519, name: str = "workbench") -> PrivateKey:
        """A new random key pair of ``kind`` (RSA-3072 generation takes up to a few seconds)."""
        check_key_name(name)
        if kind == KIND_X25519_ED25519:
            return cls(kind, name, x25519=X25519PrivateKey.generate(), ed25519=Ed25519PrivateKey.generate())
        if kind == KIND_RSA_3072:
            return cls(kind, name, rsa_key=rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS))
        raise UnsupportedParameterError(f"unknown key type {kind!r}; choose one of {', '.join(KINDS)}")

    @property
    def fingerprint(self) -> bytes:
        return self.public.fingerprint

    @property
    def x25519(self) -> X25519PrivateKey:
        if self._x25519 is None:
            raise UnsupportedParameterError(f"{self.kind} keys have no X25519 part")
        return self._x25519

    @property
    def rsa(self) -> rsa.RSAPrivateKey:
        if self._rsa is None:
            raise UnsupportedParameterError(f"{self.kind} keys have no RSA part")
        return self._rsa

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (Ed25519, or RSA-PSS-SHA256 for RSA keys)."""
        if self._ed25519 is not None:
            return self._ed25519.sign(message)
        return self.rsa.sign(message, _PSS, hashes.SHA256())

    def _material(self) -> bytearray:
        if self.kind == KIND_X25519_ED25519:
            return bytearray(_raw_private(self.x25519) + _raw_private(self._ed25519))  # type: ignore[arg-type]
        return bytearray(
            self.rsa.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    @classmethod
    def _from_material(cls, kind: str, name: str, material: bytes) -> PrivateKey:
        try:
            if kind == KIND_X25519_ED25519:
                if len(material) != 64:
                    raise ValueError("wrong length")
                return cls(
                    kind,
                    name,
                    x25519=X25519PrivateKey.from_private_bytes(material[:32]),
                    ed25519=Ed25519PrivateKey.from_private_bytes(material[32:]),
                )
            if kind == KIND_RSA_3072:
                key = serialization.load_der_private_key(material, password=None)
                if not isinstance(key, rsa.RSAPrivateKey):
                    raise ValueError("not an RSA key")
                return cls(kind, name, rsa_key=key)
        except ValueError as exc:
            raise FormatError(f"private key file damaged: the key material is not valid ({exc})") from None
        raise UnsupportedParameterError(f"unknown key type {kind!r}; this workbench knows {', '.join(KINDS)}")

    def to_text(self, passphrase: str | bytes, *, kdf: KdfParams | None = None) -> str:
        """The private key file's text, the key material encrypted under ``passphrase``.

        ``kdf`` defaults to the tuned parameters (about 0.5 s to unlock); tests pass cheap ones.
        """
        material = self._material()
        try:
            body = stream.encrypt_bytes(material, [stream.Passphrase(passphrase, kdf=kdf)], chunk_size=1024)
        finally:
            wipe(material)
        headers = [
            ("Version", str(KEY_FILE_VERSION)),
            ("Type", self.kind),
            ("Name", self.name),
            ("Fingerprint", self.public.fingerprint_text),
        ]
        return armor("PRIVATE KEY", headers, body)

    @classmethod
    def from_text(cls, text: str, passphrase: str | bytes, *, floor: KdfParams | None = None) -> PrivateKey:
        """Decrypt a private key file's text.

        Raises
        ------
        WrongPassphraseError
            The passphrase does not open the key.
        FormatError
            Not a private key file (a public key file gets a hint), or its lines were edited.
        """
        headers, body = dearmor(text, "PRIVATE KEY", "private key file")
        kind = headers.get("Type", "")
        material = bytearray(stream.decrypt_bytes(body, stream.Passphrase(passphrase, floor=floor)))
        try:
            key = cls._from_material(kind, headers.get("Name", ""), bytes(material))
        finally:
            wipe(material)
        stated = headers.get("Fingerprint")
        if stated is None or parse_fingerprint(stated) != key.fingerprint:
            raise FormatError("private key file damaged or edited: its Fingerprint line does not match the key")
        return key

    @classmethod
    def load(cls, path: str | Path, passphrase: str | bytes, *, floor: KdfParams | None = None) -> PrivateKey:
        text = read_text_file(path, "private key file")
        if "-----BEGIN PRIVACY WORKBENCH PUBLIC KEY-----" in text:
            raise FormatError(f"{path} is a public key file; give the private key file (usually ending in .key)")
        try:
            return cls.from_text(text, passphrase, floor=floor)
        except CryptoError as exc:
            raise with_path(exc, path) from None

    def save(
        self, path: str | Path, passphrase: str | bytes, *, kdf: KdfParams | None = None, overwrite: bool = False
    ) -> Path:
        """Write the encrypted private key file with mode 0600 (refusing to overwrite unless asked)."""
        target = Path(path)
        write_new_file(target, self.to_text(passphrase, kdf=kdf), private=True, overwrite=overwrite)
        return target


def _raw_public(key: X25519PublicKey | Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _raw_private(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


@dataclass(frozen=True, slots=True)
class KeyPairFiles:
    """Where :func:`generate_key_pair` wrote a key pair, and its fingerprint."""

    public_path: Path
    private_path: Path
    public_key: PublicKey

    @property
    def fingerprint_text(self) -> str:
        return self.public_key.fingerprint_text


def generate_key_pair(
    out_dir: str | Path,
    passphrase: str | bytes,
    *,
    name: str = "workbench",
    kind: str = KIND_X25519_ED25519,
    kdf: KdfParams | None = None,
) -> KeyPairFiles:
    """Generate a key pair and write ``NAME.pub`` and ``NAME.key`` (encrypted, mode 0600) into ``out_dir``.

    Refuses to overwrite an existing key file: a lost private key cannot be recovered, so never replace one
    by accident.
    """
    check_key_name(name)
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CryptoError(f"could not create the key folder {folder}: {exc.strerror or exc}") from None
    file_stem = name.replace(" ", "_")
    public_path = folder / f"{file_stem}{PUBLIC_SUFFIX}"
    private_path = folder / f"{file_stem}{PRIVATE_SUFFIX}"
    for p in (public_path, private_path):
        if p.exists():
            raise stream.OutputExistsError(
                f"{p} already exists; choose another --name or folder (an existing key is never replaced)"
            )
    key = PrivateKey.generate(kind, name)
    key.save(private_path, passphrase, kdf=kdf)
    try:
        key.public.save(public_path)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    return KeyPairFiles(public_path, private_path, key.public)
