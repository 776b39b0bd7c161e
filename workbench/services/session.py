"""An open project, unlocked when it is encrypted: the one object every use case works on.

:func:`workbench.services.opening.open_session` opens one. A :class:`ProjectSession` then answers the questions
every use case asks: where a derived file goes (the vault, under an opaque name, or the project's ``data/``
folder), how a dataset named on a command line is found, and how a dataset is read (decrypted into memory, or from
its file, checked against its fingerprint).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from workbench.core.data.dataset import Dataset, LoadOptions
from workbench.core.errors import DatasetError, ProjectError
from workbench.core.jobs import CancelToken, JobGenerator, Progress, drive
from workbench.core.project.secure_data import VAULT_PREFIX
from workbench.core.project.secure_data import is_vault_path as is_vault_location
from workbench.core.project.store import DatasetRecord, Project
from workbench.services.secrets import ANONYMIZATION_SECRET, FILE_NAMES_SECRET

if TYPE_CHECKING:
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.pii.keys import AnonymizationKeys


@dataclass
class ProjectSession:
    """An open project and, when it is encrypted, its unlocked vault. Close it (or use ``with``) when done."""

    project: Project
    vault: ProjectVault | None = None
    notes: list[str] = field(default_factory=list)
    """What opening did that the user should hear about (for example an interrupted encryption finished)."""

    # ---- state ----------------------------------------------------------------------------------------------

    @property
    def encrypted(self) -> bool:
        return self.vault is not None

    @property
    def folder(self) -> Path:
        return self.project.folder

    def close(self) -> None:
        """Close the store and forget the vault keys."""
        self.project.close()
        if self.vault is not None:
            self.vault.lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def unlocked_vault(self) -> ProjectVault:
        vault = self.vault
        if vault is None:
            raise ProjectError(f"the project {self.project.name!r} is not encrypted")
        if not vault.is_unlocked:
            from workbench.core.crypto.primitives import VaultLockedError

            raise VaultLockedError("the project is locked: unlock it with the project passphrase first")
        return vault

    # ---- secrets and vault files ------------------------------------------------------------------------------

    def secret(self, name: str) -> bytes:
        """A named project secret (see :mod:`workbench.services.secrets`), created on first use."""
        return self.unlocked_vault().secret(name)

    def anonymization_keys(self) -> AnonymizationKeys | None:
        """The keys of the keyed operators, from the vault's secret; ``None`` for an unencrypted project."""
        if self.vault is None:
            return None
        from workbench.core.pii.keys import AnonymizationKeys

        return AnonymizationKeys.derive(self.secret(ANONYMIZATION_SECRET))

    def vault_name(self, kind: str, identity: str) -> str:
        """The opaque, stable file name in ``encrypted/`` for what ``kind``/``identity`` names.

        An HMAC under a vault secret: the name says nothing about the file (not the dataset's name, not its
        fingerprint), and the same content gets the same name, so an interrupted import or migration that is run
        again finds the copy it made.
        """
        key = self.secret(FILE_NAMES_SECRET)
        return hmac.new(key, f"{kind}\x00{identity}".encode(), hashlib.sha256).hexdigest()[:40]

    def vault_sha256(self, name: str) -> str:
        """SHA-256 of a vault file's plaintext, decrypted chunk by chunk in memory (to check a copy just made)."""
        digest = hashlib.sha256()
        for chunk in self.unlocked_vault().iter_chunks(name):
            digest.update(chunk)
        return digest.hexdigest()

    def store_bytes(self, kind: str, identity: str, data: bytes) -> str:
        """Encrypt ``data`` into the vault (never in clear on disk); returns its location ``vault:NAME``."""
        vault = self.unlocked_vault()
        name = self.vault_name(kind, identity)
        if not vault.path_of(name).exists():
            vault.write_bytes(name, data)
        return VAULT_PREFIX + name

    def read_bytes(self, location: str) -> bytes:
        """The bytes at a stored location: decrypted into memory for ``vault:NAME``, else read from the file."""
        if is_vault_location(location):
            return self.unlocked_vault().open_bytes(location[len(VAULT_PREFIX) :])
        try:
            return Path(location).read_bytes()
        except OSError as exc:
            raise ProjectError(f"{location}: cannot be read ({exc.strerror or type(exc).__name__})") from None

    def export_job(
        self,
        location: str,
        target: Path,
        *,
        overwrite: bool,
        token: CancelToken,
        expected_sha256: str | None = None,
    ) -> JobGenerator[Path]:
        """Write the bytes at a stored location to ``target``, all or nothing: decrypted from the vault by the
        streaming format, or copied from a plain file (checked against ``expected_sha256`` when given)."""
        if is_vault_location(location):
            vault = self.unlocked_vault()
            yield from vault.export_file_job(location[len(VAULT_PREFIX) :], target, token=token, overwrite=overwrite)
            return target
        from workbench.core.crypto import stream

        data = self.read_bytes(location)
        if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
            raise DatasetError(location, "the file no longer has the bytes registered; it was not exported")
        with stream.atomic_output(target, overwrite=overwrite, sensitive=True) as f:  # plaintext: no name until done
            f.write(data)
        return target

    # ---- datasets ---------------------------------------------------------------------------------------------

    def resolve_dataset(self, ref: str | int) -> DatasetRecord:
        """The dataset a user named: its id, its exact name, or a fingerprint prefix of at least 8 characters.

        Raises
        ------
        ProjectError
            Nothing matches, or a name matches several datasets (their ids are listed so the user can pick one).
        """
        text = str(ref).strip()
        records = self.project.datasets()
        if text.isdigit():
            by_id = [r for r in records if r.id == int(text)]
            if by_id:
                return by_id[0]
        named = [r for r in records if r.name == text]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            ids = ", ".join(f"{r.id} (added {r.added_at[:19]})" for r in named)
            raise ProjectError(
                f"{len(named)} datasets are named {text!r} in this project: give the id instead, one of {ids} "
                "(see: workbench datasets --project DIR)"
            )
        if len(text) >= 8:
            prefixed = [r for r in records if r.fingerprint.startswith(text.lower())]
            if len(prefixed) == 1:
                return prefixed[0]
        raise ProjectError(
            f"this project has no dataset {text!r} (give its id or name; see: workbench datasets --project "
            f"{self.folder})"
        )

    def load_dataset_job(
        self, record: DatasetRecord, token: CancelToken | None = None, options: LoadOptions | None = None
    ) -> JobGenerator[Dataset]:
        """Load a registered dataset: decrypted into memory from the vault, or parsed from its file.

        A file that no longer has the bytes the project registered is refused: the privacy budget, the roles and
        the lineage belong to those bytes.
        """
        token = token if token is not None else CancelToken()
        from workbench.core.data.misreads import recorded_header

        opts = options or LoadOptions(
            format=record.format,
            encoding=record.encoding,
            delimiter=record.delimiter,
            header=recorded_header(record.columns),  # a --no-header load is repeated, not asked again
        )
        if is_vault_location(record.path):
            vault = self.unlocked_vault()
            yield Progress("decrypt", 0, None, "", "decrypting into memory")
            data = vault.open_bytes(record.path[len(VAULT_PREFIX) :])
            token.raise_if_cancelled()
            from workbench.core.data.load import load_dataset_bytes_job

            ds = yield from load_dataset_bytes_job(data, record.name, opts, token)
            return replace(ds, path=record.path)
        from workbench.core.data.load import load_dataset_job

        ds = yield from load_dataset_job(record.path, opts, token)
        if ds.fingerprint != record.fingerprint:
            raise DatasetError(
                record.path,
                f"the file no longer has the bytes registered as dataset {record.id} (its SHA-256 changed): add it "
                "again as a new dataset if the change is intended",
            )
        return ds

    def load_dataset(self, record: DatasetRecord) -> Dataset:
        """Synchronous :meth:`load_dataset_job`."""
        return drive(self.load_dataset_job(record))
