"""The project vault: an encrypted project folder unlocked with one passphrase.

Layout inside the project folder::

    vault.json              KDF parameters, the wrapped master key, a key-check value (no secrets in clear)
    encrypted/NAME          datasets, exports, checkpoints: streaming format, data key wrapped by the vault key
    encrypted/.secrets/     named secrets (e.g. the anonymization master secret), same format

Key hierarchy::

    passphrase --Argon2id(params in vault.json)--> key-encryption key (KEK)
    KEK --AES-256-GCM--> master key (random, 256 bits; wrapped copy in vault.json)
    master key --HKDF--> vault file key (id = vault id) --wraps--> each file's random data key

Temporary files a killed write left in the vault's folders (ciphertext only) are removed when the project is
opened (:meth:`ProjectVault.sweep_partials`).

Changing the passphrase re-wraps only the master key: no file is re-encrypted, and other processes that have the
vault unlocked keep working. (So someone holding an *old* copy of ``vault.json`` and the *old* passphrase can
still recover the master key: changing the passphrase does not revoke a leaked one. Re-encrypting into a new
vault does; see ``docs/crypto-format.md``.)

Keys live in memory only while unlocked (:meth:`ProjectVault.lock` zeroes them, best effort) and decrypted data is
returned as bytes (:meth:`ProjectVault.open_bytes`) or chunks, never written to a temporary file. Auto-lock after
idle time is the GUI's job, helped by :meth:`ProjectVault.touch` and :attr:`ProjectVault.idle_seconds`.

Thread safety: one ``threading.Lock`` guards the keys. An operation takes a private copy of the file key when it
starts, so :meth:`lock` from the GUI thread never breaks a job running in a worker; the job finishes with its copy
and wipes it.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from workbench.core.atomic import atomic_write_text, sweep_partials, sweep_stale_partials
from workbench.core.crypto import kdf as kdf_mod
from workbench.core.crypto import stream
from workbench.core.crypto.kdf import KdfParams
from workbench.core.crypto.primitives import (
    KEY_SIZE,
    NONCE_SIZE,
    AesGcm,
    AuthenticationError,
    CryptoError,
    FormatError,
    IntegrityError,
    UnsupportedParameterError,
    VaultLockedError,
    WrongPassphraseError,
    hkdf_sha256,
    random_bytes,
    wipe,
)
from workbench.core.jobs import CancelToken, JobGenerator, drive

VAULT_FILE: Final = "vault.json"
ENCRYPTED_DIR: Final = "encrypted"
SECRETS_DIR: Final = ".secrets"
SECRET_SUFFIX: Final = ".secret"
VAULT_FORMAT: Final = "privacy-workbench-vault"
VAULT_VERSION: Final = 1
VAULT_ID_SIZE: Final = stream.KEY_ID_SIZE

_WRAP_AAD_PREFIX: Final = b"privacy-workbench vault v1 master key\x00"
_INFO_FILE_KEY: Final = b"privacy-workbench vault v1 file key"
_INFO_KEY_CHECK: Final = b"privacy-workbench vault v1 key check"
_SECRET_PREFIX: Final = b"privacy-workbench vault secret v1\x00"
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+=-]{0,199}$")
_SECRET_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _wrap_aad(header: dict[str, Any]) -> bytes:
    bound = {k: header[k] for k in ("format", "version", "vault_id", "kdf")}
    return _WRAP_AAD_PREFIX + json.dumps(bound, sort_keys=True, separators=(",", ":")).encode("ascii")


def _key_check(master_key: bytes | bytearray) -> str:
    return hmac.new(bytes(master_key), _INFO_KEY_CHECK, sha256).digest()[:16].hex()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _check_name(name: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.match(name) or name.endswith(".partial"):
        raise UnsupportedParameterError(
            f"{what} {name!r} is not usable: use letters, digits, spaces and . _ + = - (no folders, not starting "
            "with a dot), e.g. 'intake-2026.csv'"
        )
    return name


class ProjectVault:
    """An encrypted project folder. Create with :meth:`create` (unlocked) or :meth:`open` (locked).

    Example
    -------
    >>> vault = ProjectVault.open(project.folder)          # doctest: +SKIP
    >>> vault.unlock(passphrase)                           # WrongPassphraseError("wrong passphrase ...")
    >>> path = vault.encrypt_file_into("intake.csv", "intake.csv")
    >>> data = vault.open_bytes("intake.csv")              # plaintext in memory only
    >>> key = vault.secret("anonymization-master")         # 32 random bytes, stable across sessions
    >>> vault.lock()
    """

    def __init__(self, folder: Path, header: dict[str, Any]) -> None:
        self._folder = folder
        self._header = header
        self._lock = threading.Lock()
        self._master: bytearray | None = None
        self._file_key: bytearray | None = None
        self._last_activity = time.monotonic()
        try:
            self._vault_id = bytes.fromhex(header["vault_id"])
            self._kdf = kdf_mod.from_json(header["kdf"])
        except (KeyError, TypeError, ValueError, FormatError):
            raise FormatError(f"{self.header_path} is damaged: missing or malformed fields") from None
        if len(self._vault_id) != VAULT_ID_SIZE:
            raise FormatError(f"{self.header_path} is damaged: malformed vault id")

    # --- creating and opening -------------------------------------------------------------------------

    @staticmethod
    def exists(folder: str | Path) -> bool:
        """Whether ``folder`` holds a vault (``vault.json``)."""
        return (Path(folder) / VAULT_FILE).is_file()

    @classmethod
    def create(cls, folder: str | Path, passphrase: str | bytes, *, kdf: KdfParams | None = None) -> ProjectVault:
        """Make ``folder`` (a project folder; created if missing) an encrypted project; returns it unlocked.

        Parameters
        ----------
        passphrase:
            The project passphrase. It cannot be recovered: losing it loses the data.
        kdf:
            KDF parameters; default tuned to about 0.5 s here. Tests pass ``kdf.minimum_params()``.

        Raises
        ------
        CryptoError
            The folder already has a vault, or cannot be written.
        """
        path = Path(folder).expanduser().resolve()
        params = kdf.with_new_salt() if kdf is not None else kdf_mod.default_params()
        params.check_bounds()
        master = bytearray(random_bytes(KEY_SIZE))
        try:
            header = cls._new_header(random_bytes(VAULT_ID_SIZE).hex(), params, master, passphrase)
            header["created"] = header["passphrase_changed"]
            try:
                path.mkdir(parents=True, exist_ok=True)
                (path / ENCRYPTED_DIR).mkdir(exist_ok=True)
                # Atomic and never over an existing header: a kill leaves no vault or a whole one.
                atomic_write_text(path / VAULT_FILE, json.dumps(header, indent=2), overwrite=False)
            except FileExistsError:
                raise CryptoError(f"{path} already has a vault ({VAULT_FILE}); open it instead") from None
            except OSError as exc:
                raise CryptoError(f"could not create a vault in {path}: {exc.strerror or exc}") from None
            vault = cls(path, header)
            vault._set_keys(master)
            return vault
        finally:
            wipe(master)

    @classmethod
    def open(cls, folder: str | Path) -> ProjectVault:
        """Open the vault of ``folder``, locked.

        Raises
        ------
        CryptoError
            No vault there, or ``vault.json`` is unreadable or damaged.
        """
        path = Path(folder).expanduser().resolve()
        header_path = path / VAULT_FILE
        try:
            text = header_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CryptoError(f"{path} is not an encrypted project (no {VAULT_FILE})") from None
        except OSError as exc:
            raise CryptoError(f"could not read {header_path}: {exc.strerror or exc}") from None
        try:
            header = json.loads(text)
        except ValueError:
            raise FormatError(f"{header_path} is damaged (not valid JSON); restore it from a backup") from None
        if not isinstance(header, dict) or header.get("format") != VAULT_FORMAT:
            raise FormatError(f"{header_path} is not a Privacy Workbench vault header")
        version = header.get("version")
        if not isinstance(version, int) or version > VAULT_VERSION:
            raise UnsupportedParameterError(
                f"{header_path} has version {version!r}, newer than this workbench reads: update the workbench"
            )
        return cls(path, header)

    @staticmethod
    def _new_header(vault_id: str, params: KdfParams, master: bytearray, passphrase: str | bytes) -> dict[str, Any]:
        header: dict[str, Any] = {
            "format": VAULT_FORMAT,
            "version": VAULT_VERSION,
            "vault_id": vault_id,
            "kdf": params.to_json(),
        }
        kek = kdf_mod.derive_key(passphrase, params)
        nonce = random_bytes(NONCE_SIZE)
        wrapped = AesGcm(kek).encrypt(nonce, bytes(master), _wrap_aad(header))
        header["master_key"] = {"nonce": nonce.hex(), "wrapped": wrapped.hex()}
        header["key_check"] = _key_check(master)
        header["passphrase_changed"] = _now()
        return header

    def _unwrap_master(self, passphrase: str | bytes) -> bytearray:
        kek = kdf_mod.derive_key(passphrase, self._kdf)  # raises WeakParametersError below the floor
        try:
            nonce = bytes.fromhex(self._header["master_key"]["nonce"])
            wrapped = bytes.fromhex(self._header["master_key"]["wrapped"])
            check = self._header["key_check"]
        except (KeyError, TypeError, ValueError):
            raise FormatError(f"{self.header_path} is damaged: missing or malformed master key fields") from None
        try:
            master = bytearray(AesGcm(kek).decrypt(nonce, wrapped, _wrap_aad(self._header)))
        except AuthenticationError:
            raise WrongPassphraseError(
                "wrong passphrase: it does not unlock this project (check the keyboard layout and Caps Lock)"
            ) from None
        if not hmac.compare_digest(_key_check(master), str(check)):
            wipe(master)
            raise IntegrityError(f"{self.header_path} is damaged: the key check value does not match", what="header")
        return master

    # --- state ------------------------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return self._folder

    @property
    def header_path(self) -> Path:
        return self._folder / VAULT_FILE

    @property
    def encrypted_dir(self) -> Path:
        return self._folder / ENCRYPTED_DIR

    @property
    def vault_id(self) -> str:
        return self._vault_id.hex()

    @property
    def kdf_description(self) -> str:
        """The KDF and its costs, e.g. ``argon2id m=65536 KiB t=9 p=4`` (for a settings page)."""
        return self._kdf.describe()

    @property
    def is_unlocked(self) -> bool:
        with self._lock:
            return self._file_key is not None

    @property
    def idle_seconds(self) -> float:
        """Seconds since the last :meth:`touch` or vault operation (for the GUI's auto-lock timer)."""
        with self._lock:
            return time.monotonic() - self._last_activity

    def touch(self) -> None:
        """Record user activity, postponing auto-lock."""
        with self._lock:
            self._last_activity = time.monotonic()

    def _set_keys(self, master: bytearray) -> None:
        file_key = bytearray(hkdf_sha256(master, salt=self._vault_id, info=_INFO_FILE_KEY))
        with self._lock:
            old = (self._master, self._file_key)
            self._master = bytearray(master)
            self._file_key = file_key
            self._last_activity = time.monotonic()
        for buf in old:
            wipe(buf)

    def unlock(self, passphrase: str | bytes) -> None:
        """Derive the key from ``passphrase`` and keep the vault keys in memory (about 0.5 s).

        Raises
        ------
        WrongPassphraseError
            "wrong passphrase: ..." when it does not unlock the vault.
        WeakParametersError
            ``vault.json`` asks for KDF parameters below the floor (it was tampered with).
        """
        master = self._unwrap_master(passphrase)
        try:
            self._set_keys(master)
        finally:
            wipe(master)

    def lock(self) -> None:
        """Forget the keys (zeroed, best effort). Jobs already running finish with their own copy."""
        with self._lock:
            old = (self._master, self._file_key)
            self._master = None
            self._file_key = None
        for buf in old:
            wipe(buf)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.lock()

    def __repr__(self) -> str:
        state = "unlocked" if self.is_unlocked else "locked"
        return f"<ProjectVault {str(self._folder)!r} ({state})>"

    def _key(self) -> stream.SecretKey:
        """A private copy of the vault file key for one operation (the caller wipes it)."""
        with self._lock:
            if self._file_key is None:
                raise VaultLockedError("the project is locked: unlock it with the project passphrase first")
            self._last_activity = time.monotonic()
            return stream.SecretKey(self._vault_id, self._file_key)

    def change_passphrase(self, old: str | bytes, new: str | bytes, *, kdf: KdfParams | None = None) -> None:
        """Re-wrap the master key under ``new`` (fresh salt and parameters); no data is re-encrypted.

        Works whether or not the vault is unlocked; afterwards ``old`` no longer unlocks it. ``vault.json`` is
        replaced atomically, so a crash leaves either the old or the new passphrase working.

        Raises
        ------
        WrongPassphraseError
            ``old`` is wrong.
        """
        master = self._unwrap_master(old)
        try:
            params = kdf.with_new_salt() if kdf is not None else kdf_mod.default_params()
            header = self._new_header(self.vault_id, params, master, new)
            header["created"] = self._header.get("created", header["passphrase_changed"])
            self._write_header(header)
            self._header = header
            self._kdf = params
        finally:
            wipe(master)

    def _write_header(self, header: dict[str, Any]) -> None:
        try:
            atomic_write_text(self.header_path, json.dumps(header, indent=2), overwrite=True)
        except OSError as exc:
            raise CryptoError(f"could not write {self.header_path}: {exc.strerror or exc}") from None

    # --- files ------------------------------------------------------------------------------------------

    def path_of(self, name: str) -> Path:
        """Where the encrypted file ``name`` lives (``encrypted/NAME``)."""
        return self.encrypted_dir / _check_name(name, _NAME_RE, "file name")

    def sweep_partials(self) -> list[Path]:
        """Remove the ciphertext temporary files (``.NAME.<hex>.partial``) that killed writes left in
        ``encrypted/``, ``encrypted/.secrets/`` and next to ``vault.json``; returns them. Only files of that exact
        pattern, last modified before this process started and held by no living writer
        (:func:`workbench.core.atomic.sweep_stale_partials`); anything else is left alone. Never raises."""
        removed = sweep_partials(self.header_path)
        for folder in (self.encrypted_dir, self.secrets_dir):
            removed += sweep_stale_partials(folder)
        return removed

    def names(self) -> list[str]:
        """Names of the encrypted files in the vault, sorted (secrets and temporary files excluded)."""
        if not self.encrypted_dir.is_dir():
            return []
        return sorted(p.name for p in self.encrypted_dir.iterdir() if p.is_file() and not p.name.startswith("."))

    def encrypt_file_into_job(
        self, src_path: str | Path, dest_name: str, *, token: CancelToken | None = None, overwrite: bool = False
    ) -> JobGenerator[Path]:
        """Encrypt a plaintext file into ``encrypted/dest_name``; yields progress, returns the new path.

        The source file is left as it is: deleting it securely is not possible from here (see the docs).
        """
        dst = self.path_of(dest_name)
        with stream.os_errors("create", self.encrypted_dir):
            self.encrypted_dir.mkdir(exist_ok=True)
        key = self._key()
        try:
            yield from stream.encrypt_file_job(src_path, dst, [key], token=token, overwrite=overwrite)
        finally:
            key.wipe()
        self.touch()
        return dst

    def encrypt_file_into(self, src_path: str | Path, dest_name: str, *, overwrite: bool = False) -> Path:
        """Synchronous :meth:`encrypt_file_into_job`."""
        return drive(self.encrypt_file_into_job(src_path, dest_name, overwrite=overwrite))

    def write_bytes(self, dest_name: str, data: bytes | bytearray | memoryview, *, overwrite: bool = False) -> Path:
        """Encrypt bytes from memory into ``encrypted/dest_name`` (derived data, exports, checkpoints)."""
        dst = self.path_of(dest_name)
        with stream.os_errors("create", self.encrypted_dir):
            self.encrypted_dir.mkdir(exist_ok=True)
        key = self._key()
        try:
            if dst.exists() and not overwrite:
                raise stream.OutputExistsError(f"{dst} already exists in the vault; choose another name")
            with stream.atomic_output(dst, overwrite=overwrite) as f:
                drive(stream.encrypt_stream_job(stream.BytesReader(data), f, [key]))
        finally:
            key.wipe()
        return dst

    def _existing(self, name: str) -> Path:
        path = self.path_of(name)
        if not path.is_file():
            raise CryptoError(f"no file named {name!r} in this project's vault ({self.encrypted_dir})")
        return path

    def open_bytes(self, name: str) -> bytes:
        """Decrypt ``encrypted/name`` into memory (never to disk); returns only once the whole file authenticated."""
        path = self._existing(name)
        key = self._key()
        try:
            return stream.decrypt_bytes(path, key)
        finally:
            key.wipe()

    def iter_chunks(self, name: str) -> Iterator[bytes]:
        """Decrypt ``encrypted/name`` chunk by chunk in memory (see ``stream.iter_decrypt`` for the caveat)."""
        path = self._existing(name)
        key = self._key()
        try:
            yield from stream.iter_decrypt(path, key)
        finally:
            key.wipe()

    def export_file_job(
        self, name: str, dst: str | Path, *, token: CancelToken | None = None, overwrite: bool = False
    ) -> JobGenerator[stream.StreamSummary]:
        """Decrypt ``encrypted/name`` to a plaintext file outside the vault, at the user's explicit request."""
        path = self._existing(name)
        key = self._key()
        try:
            return (yield from stream.decrypt_file_job(path, dst, key, token=token, overwrite=overwrite))
        finally:
            key.wipe()

    def remove(self, name: str) -> None:
        """Delete ``encrypted/name`` (ciphertext only; nothing secret remains once the vault key is gone)."""
        path = self._existing(name)
        try:
            path.unlink()
        except OSError as exc:
            raise CryptoError(f"could not remove {path}: {exc.strerror or exc}") from None

    # --- secrets ----------------------------------------------------------------------------------------

    @property
    def secrets_dir(self) -> Path:
        return self.encrypted_dir / SECRETS_DIR

    def secret_names(self) -> list[str]:
        if not self.secrets_dir.is_dir():
            return []
        return sorted(p.name[: -len(SECRET_SUFFIX)] for p in self.secrets_dir.glob(f"*{SECRET_SUFFIX}"))

    def secret(self, name: str, create: bool = True, nbytes: int = 32) -> bytes:
        """A named secret of the project (e.g. ``"anonymization-master"``), stored encrypted in the vault.

        The first call with ``create=True`` makes ``nbytes`` random bytes and stores them; later calls (in any
        process) return the same bytes. Two processes creating the same secret at once agree on one value: the
        file is published with an atomic create-if-absent. ``nbytes`` matters only on creation.

        Raises
        ------
        VaultLockedError
            The vault is locked.
        CryptoError
            ``create`` is false and there is no such secret, or the secret file is damaged or was renamed.
        """
        _check_name(name, _SECRET_NAME_RE, "secret name")
        if not 16 <= nbytes <= 1024:
            raise UnsupportedParameterError(f"a secret has 16 to 1024 bytes, not {nbytes}")
        path = self.secrets_dir / f"{name}{SECRET_SUFFIX}"
        key = self._key()
        try:
            if not path.exists():
                if not create:
                    raise CryptoError(f"this project's vault has no secret named {name!r}")
                with stream.os_errors("create", self.secrets_dir):
                    self.secrets_dir.mkdir(parents=True, exist_ok=True)
                value = random_bytes(nbytes)
                payload = _SECRET_PREFIX + name.encode("ascii") + b"\x00" + value
                try:
                    with stream.atomic_output(path, overwrite=False) as f:
                        drive(stream.encrypt_stream_job(stream.BytesReader(payload), f, [key], chunk_size=4096))
                    return value
                except stream.OutputExistsError:
                    pass  # another process created it first: use theirs
            plain = stream.decrypt_bytes(path, key)
            prefix = _SECRET_PREFIX + name.encode("ascii") + b"\x00"
            if not plain.startswith(prefix):
                raise IntegrityError(
                    f"the secret file {path.name} holds a different secret (it was renamed or replaced)", what="name"
                )
            return plain[len(prefix) :]
        finally:
            key.wipe()
