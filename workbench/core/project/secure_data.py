"""How the project store names a file kept in the vault of an encrypted project: ``vault:NAME``.

The files themselves are written and read by the use cases (:mod:`workbench.services`): a dataset imported into
an encrypted project is encrypted into ``encrypted/NAME`` under an opaque name and decrypted into memory only.
"""

from __future__ import annotations

VAULT_PREFIX = "vault:"


def is_vault_path(path: str | None) -> bool:
    """Whether a stored location (a dataset's path, a run's model path) names a file in the vault."""
    return bool(path) and str(path).startswith(VAULT_PREFIX)
