"""Datasets of an encrypted project: imported into the project's vault, read back into memory only.

In an encrypted project the analyst's file is copied into the vault (``encrypted/``, streaming AES-256-GCM) and
the project records the copy as ``vault:NAME``; from then on the dataset is decrypted into memory and parsed from
there (:func:`~workbench.core.data.load.load_dataset_bytes`), never written to disk in clear. The original file is
left where it was: the workbench cannot delete it securely, and says so.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.data.dataset import Dataset, LoadOptions
from workbench.core.errors import DatasetError
from workbench.core.jobs import CancelToken, JobGenerator, Progress

if TYPE_CHECKING:
    from workbench.core.crypto.vault import ProjectVault

VAULT_PREFIX = "vault:"


def is_vault_path(path: str) -> bool:
    return path.startswith(VAULT_PREFIX)


def stored_name(dataset_name: str, fingerprint: str) -> str:
    """The name of a dataset's encrypted copy: its fingerprint prefix and a file-system-safe form of its name."""
    safe = re.sub(r"[^A-Za-z0-9._+=-]+", "_", dataset_name).strip("._") or "dataset"
    return f"{fingerprint[:16]}-{safe}"[:200]


def import_into_vault(
    vault: ProjectVault, path: str | Path, options: LoadOptions, token: CancelToken | None = None
) -> JobGenerator[Dataset]:
    """Load a plaintext file, encrypt a copy into the vault and check the copy; returns the dataset, whose ``path``
    is the copy's ``vault:NAME``.

    The copy is decrypted and hashed once more after encryption: if the file changed between the load and the
    copy, the copy is removed and the import fails, so the project never holds data other than what was shown.
    """
    from workbench.core.data.load import load_dataset

    token = token if token is not None else CancelToken()
    ds = yield from load_dataset(path, options, token)
    name = stored_name(ds.name, ds.fingerprint)
    if not vault.path_of(name).exists():
        yield Progress("encrypt", 0, None, "", "encrypting a copy into the project")
        yield from vault.encrypt_file_into_job(path, name, token=token)
        yield Progress("verify", 0, None, "", "checking the encrypted copy")
        copy = vault.open_bytes(name)
        if hashlib.sha256(copy).hexdigest() != ds.fingerprint:
            vault.remove(name)
            raise DatasetError(path, "the file changed while it was being encrypted into the project; import it again")
        del copy
    return replace(ds, path=VAULT_PREFIX + name)


def load_from_vault(
    vault: ProjectVault, record_path: str, display_name: str, options: LoadOptions, token: CancelToken | None = None
) -> JobGenerator[Dataset]:
    """Decrypt a dataset's copy into memory and parse it there; returns it with ``path`` = ``record_path``."""
    from workbench.core.data.load import load_dataset_bytes

    if not is_vault_path(record_path):
        raise ValueError(f"not a vault path: {record_path!r}")
    token = token if token is not None else CancelToken()
    yield Progress("decrypt", 0, None, "", "decrypting into memory")
    data = vault.open_bytes(record_path[len(VAULT_PREFIX) :])
    token.raise_if_cancelled()
    ds = yield from load_dataset_bytes(data, display_name, options, token)
    return replace(ds, path=record_path)
