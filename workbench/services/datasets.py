"""Adding a dataset to a project and exporting one.

In an encrypted project a dataset is imported: a copy is encrypted into the vault under an opaque name, checked
against the fingerprint of the bytes that were loaded, and only that copy is registered; the analyst's file is left
where it was (the workbench cannot erase it securely). In a plain project the dataset is registered by its path.

Exporting writes a dataset outside the project. From an encrypted project that is a decryption, so it needs an
explicit ``in_clear=True`` (the window asks, the command needs ``--plaintext``), and it is recorded in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from workbench.core.data.dataset import Dataset, LoadOptions
from workbench.core.errors import DatasetError, ProjectError
from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.core.project.registration import register_loaded
from workbench.core.project.store import DatasetRecord
from workbench.services.session import VAULT_PREFIX, ProjectSession, is_vault_location

IN_CLEAR_REFUSAL = (
    "this project is encrypted: exporting writes {what} in clear outside the vault. Confirm that this is intended "
    "(command line: add --plaintext; the export is recorded in the project's audit log)"
)


@dataclass(frozen=True, slots=True)
class AddedDataset:
    """A dataset added to a project: the record the project keeps and the loaded data."""

    record: DatasetRecord
    dataset: Dataset

    @property
    def encrypted(self) -> bool:
        return is_vault_location(self.record.path)


def _check_roles(ds: Dataset, roles: Mapping[str, str] | None) -> None:
    unknown = sorted(set(roles or {}) - set(ds.column_names))
    if unknown:
        raise ProjectError(f"roles name columns that {ds.name} does not have: {', '.join(unknown)}")


def import_into_vault_job(
    session: ProjectSession, path: str | Path, options: LoadOptions, token: CancelToken
) -> JobGenerator[Dataset]:
    """Load a plaintext file and encrypt a checked copy into the vault; returns the dataset at ``vault:NAME``."""
    from workbench.core.data.load import load_dataset_job

    vault = session.vault
    assert vault is not None
    ds = yield from load_dataset_job(path, options, token)
    name = session.vault_name("dataset", ds.fingerprint)
    if not vault.path_of(name).exists():
        yield Progress("encrypt", 0, None, "", "encrypting a copy into the project")
        yield from vault.encrypt_file_into_job(path, name, token=token)
        yield Progress("verify", 0, None, "", "checking the encrypted copy")
        if session.vault_sha256(name) != ds.fingerprint:
            vault.remove(name)
            raise DatasetError(path, "the file changed while it was being encrypted into the project; add it again")
    return replace(ds, path=VAULT_PREFIX + name)


def add_dataset_job(
    session: ProjectSession,
    path: str | Path,
    options: LoadOptions | None = None,
    roles: Mapping[str, str] | None = None,
    token: CancelToken | None = None,
) -> JobGenerator[AddedDataset]:
    """Load a file and register it in the project (the same bytes are the same dataset: it keeps its id and roles).

    ``roles`` (column -> role) are the analyst's explicit choices, applied on top of the saved or suggested ones.
    """
    from workbench.core.data.load import load_dataset_job

    token = token if token is not None else CancelToken()
    options = options or LoadOptions()
    if session.encrypted:
        ds = yield from import_into_vault_job(session, path, options, token)
    else:
        ds = yield from load_dataset_job(path, options, token)
    _check_roles(ds, roles)
    token.raise_if_cancelled()
    record = register_loaded(session.project, ds, roles=dict(roles or {}))
    return AddedDataset(record, ds)


def register_shown_dataset(session: ProjectSession, ds: Dataset) -> DatasetRecord:
    """The project's record of a dataset already loaded (by the window), registering it when it is new."""
    record = session.project.dataset_by_fingerprint(ds.fingerprint)
    return record if record is not None else register_loaded(session.project, ds)


def export_dataset_job(
    session: ProjectSession,
    record: DatasetRecord,
    out: str | Path,
    *,
    in_clear: bool = False,
    overwrite: bool = False,
    token: CancelToken | None = None,
) -> JobGenerator[Path]:
    """Write a dataset's bytes to ``out`` (all or nothing) and record the export in the audit log.

    Raises
    ------
    ProjectError
        An encrypted project without ``in_clear``, or ``out`` exists without ``overwrite``.
    """
    token = token if token is not None else CancelToken()
    target = Path(out).expanduser()
    if session.encrypted and not in_clear:
        raise ProjectError(IN_CLEAR_REFUSAL.format(what=f"dataset {record.id}"))
    if target.exists() and not overwrite:
        raise ProjectError(f"{target} already exists; choose another path or allow replacing it")
    yield from session.export_job(
        record.path, target, overwrite=overwrite, token=token, expected_sha256=record.fingerprint
    )
    session.project.audit(
        "dataset.exported",
        dataset_id=record.id,
        fingerprint=record.fingerprint,
        path=str(target.resolve()),
        in_clear=True,
        from_vault=is_vault_location(record.path),
    )
    return target
