"""Keys for the Anonymize page's keyed operators (``keyed_hash``, ``pseudonym``, ``encrypt``).

With an unlocked vault the keys are derived from its ``anonymization-master`` secret (once per vault); otherwise
the preview uses temporary keys, kept in memory for the page's lifetime and never written anywhere, and applying a
policy that needs keys is refused. Also: the policy the page starts from for a dataset (saved, or from its roles).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.data.dataset import ColumnRole, Dataset
    from workbench.core.pii.keys import AnonymizationKeys
    from workbench.core.pii.policy import Policy
    from workbench.core.project.store import Project

log = logging.getLogger("workbench.ui.pii")


class PageKeys:
    """The project's keys when its vault is unlocked, temporary ones for the preview otherwise."""

    def __init__(self) -> None:
        self._temporary: AnonymizationKeys | None = None
        self._derived: tuple[ProjectVault, AnonymizationKeys] | None = None

    def forget_derived(self) -> None:
        """The vault changed: derive the project's keys again when next asked."""
        self._derived = None

    def project_keys(self, project: Project | None, vault: ProjectVault | None) -> AnonymizationKeys | None:
        """Keys derived from the unlocked vault's secret, or ``None`` (no vault, or locked). Raises
        :class:`WorkbenchError` when the secret cannot be read."""
        from workbench.services.session import ProjectSession

        if vault is None or not vault.is_unlocked or project is None:
            return None
        if self._derived is not None and self._derived[0] is vault:
            return self._derived[1]
        keys = ProjectSession(project, vault).anonymization_keys()
        assert keys is not None
        self._derived = (vault, keys)
        return keys

    def preview_keys(self, project: Project | None, vault: ProjectVault | None) -> AnonymizationKeys:
        """The project's keys, or the page's temporary ones."""
        from workbench.core.pii.keys import AnonymizationKeys

        try:
            keys = self.project_keys(project, vault)
        except WorkbenchError as exc:
            log.warning("project keys unavailable for the preview: %s", type(exc).__name__)
            keys = None
        if keys is not None:
            return keys
        if self._temporary is None:
            self._temporary = AnonymizationKeys.generate()
        return self._temporary


def uses_temporary_keys(vault: ProjectVault | None) -> bool:
    return vault is None or not vault.is_unlocked


def keyless_refusal(policy: Policy, columns: Sequence[str]) -> str:
    """Why ``policy`` cannot be applied without the project's key (it uses keyed operators on ``columns``)."""
    from workbench.core.pii.operators import get_operator

    needing = sorted({c.operator for c in policy.operators_in_use(columns) if get_operator(c.operator).needs_keys})
    return (
        f"Not applied: the policy uses {', '.join(needing)}, which need the project's secret key. The preview "
        "used a temporary key that is not kept. Encrypt the project (so the key is stored safely) or choose "
        "operators without keys (replace, mask, redact, generalize)."
    )


def saved_policy(project: Project | None, ds: Dataset) -> Policy | None:
    """The newest policy saved in ``project`` for ``ds``, if it fits the dataset's columns (raises WorkbenchError
    when the saved policy cannot be read)."""
    from workbench.core.pii.policy import load_latest_policy

    if project is None:
        return None
    record = project.dataset_by_fingerprint(ds.fingerprint)
    policy = load_latest_policy(project, record.id) if record is not None else None
    if policy is None or any(c not in ds.column_names for c, _ in policy.columns):
        return None
    return policy


def policy_from_roles(ds: Dataset, roles: Mapping[str, ColumnRole], *, keyed: bool) -> Policy:
    """A provisional policy until column detection is done, from the columns' roles: direct identifiers never kept
    (keyed pseudonym in an encrypted project, else dropped), free text analysed, sensitive flagged."""
    from workbench.core.pii.policy import policy_template

    return policy_template((), name=f"{ds.name} policy", roles=roles, keys=keyed)
