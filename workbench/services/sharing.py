"""Key pairs, sharing with other sites and signatures: the use cases behind the Keys and sharing page and the
`workbench keygen / share / open / sign / verify / fingerprint / encrypt / decrypt` commands.

Where keys live. The command line writes a key pair wherever ``--out DIR`` says; the window keeps the analyst's
key pairs in :func:`keys_folder` (``<user data folder>/keys``: ``NAME.pub`` next to ``NAME.key``, the private key
encrypted under its passphrase, mode 0600) and imported public keys of other sites in its ``sites/`` subfolder. A
private key is never on disk unencrypted: it is decrypted into memory inside the job that needs it.

Sharing a dataset or model of a project encrypts its bytes for the recipients' public keys (``docs/crypto-format.md``
§2.3); from an encrypted project the plaintext is decrypted into memory only and checked against the registered
fingerprint; the share is audited (recipients' fingerprints, never a value). What was shared with us goes straight
into an encrypted project's vault (never in clear on disk), registered as a dataset when it is one.

``cryptography`` is imported inside the functions, so the window and the command can import this module cheaply.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.errors import DatasetError, ProjectError, WorkbenchError
from workbench.core.jobs import CancelToken, JobGenerator, Progress, drive
from workbench.core.paths import user_data_dir
from workbench.services.session import VAULT_PREFIX, ProjectSession, is_vault_location

if TYPE_CHECKING:
    from workbench.core.crypto.kdf import KdfParams
    from workbench.core.crypto.keys import KeyPairFiles, PrivateKey, PublicKey
    from workbench.core.crypto.sign import Signature, Verified
    from workbench.core.crypto.stream import StreamHeader, StreamSummary
    from workbench.core.project.store import DatasetRecord, Project

KEYS_FOLDER_NAME = "keys"
SITES_FOLDER_NAME = "sites"
SHARED_SUFFIX = ".pwb"
SIGNATURE_SUFFIX = ".sig"  # the same as workbench.core.crypto.sign.SIGNATURE_SUFFIX (a test checks)


@contextlib.contextmanager
def os_errors(what: str) -> Iterator[None]:
    """An OS error the core did not translate becomes one line naming the file (never a traceback)."""
    try:
        yield
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else f"{what}: "
        raise WorkbenchError(f"{where}{exc.strerror or type(exc).__name__}") from None


# ---- folders and listings ------------------------------------------------------------------------------------


def keys_folder(create: bool = True) -> Path:
    """The window's folder of the analyst's key pairs: ``<user data folder>/keys`` (mode 0700 when created)."""
    folder = user_data_dir(create=create) / KEYS_FOLDER_NAME
    if create:
        with os_errors(str(folder)):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def sites_folder(keys_dir: Path | None = None, create: bool = True) -> Path:
    """Where imported public keys of other sites are kept: ``<keys folder>/sites``."""
    folder = (keys_dir if keys_dir is not None else keys_folder(create)) / SITES_FOLDER_NAME
    if create:
        with os_errors(str(folder)):
            folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key file as a list shows it: its name, type and fingerprint, or why it cannot be read."""

    name: str
    kind: str
    fingerprint_text: str
    public_path: Path
    private_path: Path | None = None
    problem: str = ""

    @property
    def usable(self) -> bool:
        return not self.problem

    def label(self) -> str:
        if self.problem:
            return f"{self.public_path.name}: {self.problem}"
        return f"{self.name or '(unnamed)'} · {self.kind} · {self.fingerprint_text}"


def _key_info(public_path: Path, private_path: Path | None) -> KeyInfo:
    from workbench.core.crypto.primitives import CryptoError

    if not public_path.is_file():
        return KeyInfo(public_path.stem, "", "", public_path, private_path, problem="its .pub file is missing")
    try:
        key = read_public_key(public_path)
    except CryptoError as exc:
        problem = str(exc).replace(f"{public_path}: ", "")
        return KeyInfo(public_path.stem, "", "", public_path, private_path, problem=problem)
    return KeyInfo(key.name, key.kind, key.fingerprint_text, public_path, private_path)


def list_key_pairs(folder: Path | None = None) -> list[KeyInfo]:
    """The key pairs in ``folder`` (default :func:`keys_folder`): each ``NAME.key`` with its ``NAME.pub``."""
    folder = folder if folder is not None else keys_folder()
    if not folder.is_dir():
        return []
    return [_key_info(p.with_suffix(".pub"), p) for p in sorted(folder.glob("*.key"))]


def list_site_keys(folder: Path | None = None) -> list[KeyInfo]:
    """The other sites' public keys imported into ``folder`` (default ``<keys folder>/sites``)."""
    folder = folder if folder is not None else sites_folder()
    if not folder.is_dir():
        return []
    return [_key_info(p, None) for p in sorted(folder.glob("*.pub"))]


# ---- key pairs and public keys ---------------------------------------------------------------------------------


def create_key_pair_job(
    folder: str | Path,
    name: str,
    passphrase: str,
    *,
    rsa: bool = False,
    kdf: KdfParams | None = None,
    token: CancelToken | None = None,
) -> JobGenerator[KeyPairFiles]:
    """Make a key pair: ``folder/NAME.pub`` and ``folder/NAME.key`` (encrypted under ``passphrase``, mode 0600).

    ``kdf``: the passphrase's Argon2id parameters (``None``: tuned to about 0.5 s; tests pass the floor). An
    existing key is never replaced: a lost private key cannot be recovered.
    """
    from workbench.core.crypto import keys

    token = token if token is not None else CancelToken()
    keys.check_key_name(name)
    if not passphrase:
        raise WorkbenchError("give a passphrase to protect the private key")
    kind = keys.KIND_RSA_3072 if rsa else keys.KIND_X25519_ED25519
    yield Progress("keygen", 0, None, "", f"making a {kind} key pair and encrypting its private key")
    token.raise_if_cancelled()
    return keys.generate_key_pair(folder, passphrase, name=name, kind=kind, kdf=kdf)


def create_key_pair(
    folder: str | Path, name: str, passphrase: str, *, rsa: bool = False, kdf: KdfParams | None = None
) -> KeyPairFiles:
    """Synchronous :func:`create_key_pair_job`."""
    return drive(create_key_pair_job(folder, name, passphrase, rsa=rsa, kdf=kdf))


def check_key_name(name: str) -> str:
    """``name`` if it can name a key (and its files), else a teaching error."""
    from workbench.core.crypto import keys

    return keys.check_key_name(name)


def read_public_key(path: str | Path) -> PublicKey:
    """Load a public key file (its Fingerprint line is checked against the key)."""
    from workbench.core.crypto.keys import PublicKey

    return PublicKey.load(path)


def load_private_key(path: str | Path, passphrase: str, *, floor: KdfParams | None = None) -> PrivateKey:
    """Decrypt a private key file into memory (a wrong passphrase: ``WrongPassphraseError``)."""
    from workbench.core.crypto.keys import PrivateKey

    return PrivateKey.load(path, passphrase, floor=floor)


def import_public_key(path: str | Path, folder: Path | None = None) -> KeyInfo:
    """Copy another site's public key into ``folder`` (default ``<keys folder>/sites``) as ``NAME.pub``.

    The caller shows the fingerprint to be compared over another channel before trusting the key. The same key
    imported again is not duplicated; another key under a name already taken is refused.
    """
    key = read_public_key(path)
    folder = folder if folder is not None else sites_folder()
    for known in list_site_keys(folder):
        if known.usable and known.fingerprint_text == key.fingerprint_text:
            return known
    stem = (key.name or Path(path).stem).replace(" ", "_")
    target = folder / f"{stem}.pub"
    if target.exists():
        raise WorkbenchError(
            f"another public key is already imported as {stem!r} ({target}); a key with the same name but another "
            "fingerprint is not replaced: check which one is right, remove the other file, then import again"
        )
    with os_errors(str(target)):
        key.save(target)
    return KeyInfo(key.name, key.kind, key.fingerprint_text, target)


# ---- sharing ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShareResult:
    """A file written for other sites' public keys."""

    output: Path
    plaintext_bytes: int
    recipients: tuple[PublicKey, ...]
    what: str = ""

    def describe(self) -> str:
        names = ", ".join(f"{r.name or '(unnamed)'} ({r.fingerprint_text})" for r in self.recipients)
        return f"shared {self.what or 'the file'} ({self.plaintext_bytes:,} bytes) into {self.output} for {names}"


def _check_recipients(recipients: Sequence[PublicKey]) -> None:
    if not recipients:
        raise WorkbenchError("choose at least one recipient public key to share with")


def share_file_job(
    src: str | Path,
    out: str | Path,
    recipients: Sequence[PublicKey],
    *,
    overwrite: bool = False,
    token: CancelToken | None = None,
) -> JobGenerator[ShareResult]:
    """Encrypt the file ``src`` into ``out`` for each recipient's public key (all or nothing)."""
    from workbench.core.crypto import share

    _check_recipients(recipients)
    summary = yield from share.share_file_job(src, out, recipients, overwrite=overwrite, token=token)
    return ShareResult(Path(out), summary.plaintext_bytes, tuple(recipients), str(src))


def share_file(
    src: str | Path, out: str | Path, recipients: Sequence[PublicKey], *, overwrite: bool = False
) -> ShareResult:
    """Synchronous :func:`share_file_job`."""
    return drive(share_file_job(src, out, recipients, overwrite=overwrite))


def _share_bytes_job(
    data: bytes, out: Path, recipients: Sequence[PublicKey], overwrite: bool, token: CancelToken
) -> JobGenerator[StreamSummary]:
    """Encrypt bytes held in memory for the recipients into ``out`` (a temporary file until complete)."""
    from workbench.core.crypto import share, stream

    if out.exists() and not overwrite:
        raise stream.OutputExistsError(f"{out} already exists; choose another output path or allow overwriting it")
    wrappers = [share.Recipient(r) for r in recipients]
    with stream.os_errors("write", out), stream.atomic_output(out, overwrite=overwrite) as f:
        return (yield from stream.encrypt_stream_job(stream.BytesReader(data), f, wrappers, token=token))


def _share_location_job(
    session: ProjectSession,
    location: str,
    expected_sha256: str | None,
    out: Path,
    recipients: Sequence[PublicKey],
    overwrite: bool,
    token: CancelToken,
) -> JobGenerator[int]:
    """Share the bytes at a project location (the vault's are decrypted into memory only); returns their size."""
    from workbench.core.crypto import share

    if not is_vault_location(location):
        if expected_sha256 is not None:
            yield Progress("check", 0, None, "", "checking the file against the project's fingerprint")
            from workbench.core.data.fingerprint import sha256_file_job

            with os_errors(location):
                digest = yield from sha256_file_job(location, token)
            if digest != expected_sha256:
                raise DatasetError(location, "the file no longer has the bytes registered; it was not shared")
        summary = yield from share.share_file_job(location, out, recipients, overwrite=overwrite, token=token)
        return summary.plaintext_bytes
    yield Progress("decrypt", 0, None, "", "decrypting into memory")
    data = session.read_bytes(location)
    if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise DatasetError(location, "the vault copy does not have the bytes registered; it was not shared")
    token.raise_if_cancelled()
    summary = yield from _share_bytes_job(data, out, recipients, overwrite, token)
    return summary.plaintext_bytes


def share_dataset_job(
    session: ProjectSession,
    record: DatasetRecord,
    out: str | Path,
    recipients: Sequence[PublicKey],
    *,
    overwrite: bool = False,
    token: CancelToken | None = None,
) -> JobGenerator[ShareResult]:
    """Encrypt a dataset of the project for the recipients into ``out``; the share is audited."""
    token = token if token is not None else CancelToken()
    _check_recipients(recipients)
    target = Path(out).expanduser()
    size = yield from _share_location_job(
        session, record.path, record.fingerprint, target, recipients, overwrite, token
    )
    session.project.audit(
        "dataset.shared",
        dataset_id=record.id,
        fingerprint=record.fingerprint,
        path=str(target.resolve()),
        recipients=[r.fingerprint_text for r in recipients],
    )
    return ShareResult(target, size, tuple(recipients), f"dataset {record.name}")


def share_model_job(
    session: ProjectSession,
    run_id: int,
    out: str | Path,
    recipients: Sequence[PublicKey],
    *,
    overwrite: bool = False,
    token: CancelToken | None = None,
) -> JobGenerator[ShareResult]:
    """Encrypt the model a training run kept for the recipients into ``out``; the share is audited."""
    from workbench.core.dp.runs import RunStore

    token = token if token is not None else CancelToken()
    _check_recipients(recipients)
    run = RunStore(session.project, recover=False).get(run_id)
    if not run.model_path:
        raise ProjectError(f"run {run_id} kept no model (only finished runs that saved one can be shared)")
    target = Path(out).expanduser()
    size = yield from _share_location_job(session, run.model_path, None, target, recipients, overwrite, token)
    session.project.audit(
        "model.shared", run_id=run_id, path=str(target.resolve()), recipients=[r.fingerprint_text for r in recipients]
    )
    return ShareResult(target, size, tuple(recipients), f"the model of run {run_id}")


@dataclass(frozen=True, slots=True)
class Shareable:
    """Something of a project that can be shared: a dataset (by id) or a training run's model (by run id)."""

    kind: str  # "dataset" or "model"
    ref: int
    label: str
    suggested_name: str
    """A file name for the shared copy (the recipient's opened copy is named after it, without ``.pwb``)."""


def shareable_items(project: Project) -> list[Shareable]:
    """The project's datasets, then the models its training runs kept, as a chooser lists them."""
    from workbench.core.dp.runs import RunStore

    items = [
        Shareable("dataset", r.id, f"dataset {r.name} (id {r.id}, {r.rows:,} rows)", r.name + SHARED_SUFFIX)
        for r in project.datasets()
    ]
    for run in RunStore(project, recover=False).runs():
        if run.model_path:
            kind = f"ε = {run.epsilon:.2f}" if run.epsilon is not None else "not private"
            label = f"model of run {run.id} ({run.task} on {run.dataset_name}, {kind})"
            items.append(Shareable("model", run.id, label, f"run-{run.id}.pt{SHARED_SUFFIX}"))
    return items


def share_item_job(
    session: ProjectSession,
    item: Shareable,
    out: str | Path,
    recipients: Sequence[PublicKey],
    *,
    overwrite: bool = False,
    token: CancelToken | None = None,
) -> JobGenerator[ShareResult]:
    """Share a dataset or a model of the project (:func:`share_dataset_job`, :func:`share_model_job`)."""
    if item.kind == "dataset":
        record = session.project.get_dataset(item.ref)
        return (yield from share_dataset_job(session, record, out, recipients, overwrite=overwrite, token=token))
    if item.kind == "model":
        return (yield from share_model_job(session, item.ref, out, recipients, overwrite=overwrite, token=token))
    raise WorkbenchError(f"cannot share a {item.kind!r}")


# ---- opening what was shared with us ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenedShare:
    """A shared file opened with our private key: where its plaintext now is."""

    source: Path
    plaintext_bytes: int
    output: Path | None = None  # the plaintext file written (a plain project, or the command line)
    vault_location: str = ""  # ``vault:NAME`` when it went into an encrypted project's vault
    dataset: DatasetRecord | None = None  # the dataset registered from it, when it is one

    def describe(self) -> str:
        if self.output is not None:
            size = f"{self.plaintext_bytes:,} bytes, all chunks authenticated"
            return f"opened {self.source.name} ({size}) into {self.output}"
        if self.dataset is not None:
            return (
                f"opened {self.source.name} ({self.plaintext_bytes:,} bytes) into the encrypted project as dataset "
                f"{self.dataset.name} (id {self.dataset.id}; open it on the Data page)"
            )
        name = self.vault_location.removeprefix(VAULT_PREFIX)
        return f"opened {self.source.name} ({self.plaintext_bytes:,} bytes) into the encrypted project as {name}"


def read_shared_header(path: str | Path) -> StreamHeader:
    """The header of an encrypted file: who can open it (no key needed). Errors name the file."""
    from workbench.core.crypto import stream
    from workbench.core.crypto.primitives import CryptoError

    try:
        return stream.read_header(path)
    except CryptoError as exc:
        raise exc if str(path) in str(exc) else with_path(exc, path) from None


def check_shared_with_keys(path: str | Path, header: StreamHeader) -> None:
    """Refuse a file that was not shared with public keys, saying how it can be opened instead."""
    if not header.recipient_fingerprints():
        raise WorkbenchError(f"{path} was not shared with public keys (it can be opened by: {header.describe_slots()})")


def open_shared_job(
    src: str | Path,
    private_key: PrivateKey,
    *,
    out: str | Path | None = None,
    session: ProjectSession | None = None,
    overwrite: bool = False,
    token: CancelToken | None = None,
) -> JobGenerator[OpenedShare]:
    """Decrypt a file shared with ``private_key``'s owner.

    With ``out``: into that file, all or nothing. Without it, into ``session``'s vault (an encrypted project):
    decrypted into memory only, encrypted into the vault under an opaque name, and registered as a dataset when
    it loads as one (named after the shared file without ``.pwb``).
    """
    from workbench.core.crypto import share

    token = token if token is not None else CancelToken()
    source = Path(src)
    if out is not None:
        summary = yield from share.open_shared_file_job(source, out, private_key, overwrite=overwrite, token=token)
        return OpenedShare(source, summary.plaintext_bytes, output=Path(out))
    if session is None or not session.encrypted:
        raise WorkbenchError("choose where to write the opened file (only an encrypted project keeps it inside)")
    yield Progress("decrypt", 0, None, "", "decrypting into memory")
    data = share.open_shared_bytes(source, private_key)
    token.raise_if_cancelled()
    return (yield from _store_opened_job(session, source, data, private_key.public.fingerprint_text, token))


def _store_opened_job(
    session: ProjectSession, source: Path, data: bytes, key: str, token: CancelToken
) -> JobGenerator[OpenedShare]:
    from workbench.core.data.load import load_dataset_bytes_job
    from workbench.core.project.registration import register_loaded

    name = source.name.removesuffix(SHARED_SUFFIX) or source.name
    digest = hashlib.sha256(data).hexdigest()
    yield Progress("store", 0, None, "", "encrypting into the project")
    location = session.store_bytes("shared", digest, data)
    record = None
    try:
        ds = yield from load_dataset_bytes_job(data, name, token=token)
    except DatasetError:
        ds = None  # not a table (a model, a report): kept in the vault as a file
    if ds is not None:
        record = register_loaded(session.project, replace(ds, path=location))
    session.project.audit(
        "shared.opened",
        source=source.name,
        key=key,  # the fingerprint of the private key used (key use, issue 18)
        sha256=digest,
        location=location,
        dataset_id=record.id if record is not None else None,
    )
    return OpenedShare(source, len(data), vault_location=location, dataset=record)


# ---- signatures -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignResult:
    """A detached signature written next to (or away from) the file it signs."""

    file: Path
    signature_path: Path
    signer_name: str
    signer_fingerprint_text: str

    def describe(self) -> str:
        return (
            f"signed {self.file.name}: the signature is {self.signature_path} (signer {self.signer_name}, "
            f"{self.signer_fingerprint_text})"
        )


def default_signature_path(file: str | Path) -> Path:
    return Path(str(file) + SIGNATURE_SUFFIX)


def sign_file_job(
    file: str | Path,
    private_key: PrivateKey,
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    token: CancelToken | None = None,
) -> JobGenerator[SignResult]:
    """Hash ``file``, sign it and write the detached signature to ``out`` (default ``FILE.sig``)."""
    from workbench.core.crypto import keys, sign

    target = Path(out) if out is not None else default_signature_path(file)
    signature = yield from sign.sign_file_job(file, private_key, token=token)
    keys.write_new_file(target, signature.to_text(), private=False, overwrite=overwrite)
    return SignResult(Path(file), target, private_key.name, private_key.public.fingerprint_text)


def sign_file(
    file: str | Path, private_key: PrivateKey, *, out: str | Path | None = None, overwrite: bool = False
) -> SignResult:
    """Synchronous :func:`sign_file_job`."""
    return drive(sign_file_job(file, private_key, out=out, overwrite=overwrite))


def read_signature(path: str | Path) -> Signature:
    """Load a detached signature file."""
    from workbench.core.crypto import sign

    return sign.load_signature(path)


def verify_file_job(
    file: str | Path, signature: Signature, public_key: PublicKey, *, token: CancelToken | None = None
) -> JobGenerator[Verified]:
    """Check ``file`` against ``signature`` and the signer's ``public_key``; raises ``SignatureError`` naming the
    first check that failed (another signer, an edited signature, a modified file)."""
    from workbench.core.crypto import sign

    return (yield from sign.verify_file_job(file, signature, public_key, token=token))


def verify_file(file: str | Path, signature_path: str | Path, public_key: PublicKey) -> Verified:
    """Synchronous :func:`verify_file_job` reading the signature from ``signature_path``."""
    return drive(verify_file_job(file, read_signature(signature_path), public_key))


# ---- passphrase-encrypted files ---------------------------------------------------------------------------------


def encrypt_with_passphrase_job(
    src: str | Path,
    out: str | Path,
    passphrase: str,
    *,
    kdf: KdfParams | None = None,
    overwrite: bool = False,
    token: CancelToken | None = None,
) -> JobGenerator[StreamSummary]:
    """Encrypt a file under a passphrase (streaming AES-256-GCM, Argon2id)."""
    from workbench.core.crypto import stream

    key = stream.Passphrase(passphrase, kdf=kdf)
    return (yield from stream.encrypt_file_job(src, out, [key], overwrite=overwrite, token=token))


def decrypt_with_passphrase_job(
    src: str | Path, out: str | Path, passphrase: str, *, overwrite: bool = False, token: CancelToken | None = None
) -> JobGenerator[StreamSummary]:
    """Decrypt a passphrase-encrypted file; ``out`` appears only after every chunk authenticated."""
    from workbench.core.crypto import stream

    key = stream.Passphrase(passphrase)
    return (yield from stream.decrypt_file_job(src, out, key, overwrite=overwrite, token=token))


def with_path(exc: Exception, path: str | Path) -> Exception:
    """A crypto error with the file's name in front of its message (same type and attributes)."""
    from workbench.core.crypto.keys import with_path as _with_path
    from workbench.core.crypto.primitives import CryptoError

    return _with_path(exc, path) if isinstance(exc, CryptoError) else exc
