"""The names of an encrypted project's secrets, kept in its vault (``encrypted/.secrets/``), one constant each.

Every use case that needs one asks :meth:`ProjectSession.secret` with one of these names, so the window and the
command always use the same secret for the same purpose.
"""

from typing import Final

ANONYMIZATION_SECRET: Final = "anonymization-master"
"""Master secret of the keyed anonymization operators (keyed hash, pseudonyms, reversible encryption)."""

STORE_KEY_SECRET: Final = "project-store-key"
"""Raw 256-bit SQLCipher key of the project store (``workbench.sqlite``)."""

FILE_NAMES_SECRET: Final = "vault-file-names"
"""HMAC key that turns what a vault file holds (a fingerprint, a run id) into its opaque file name."""

AUDIT_SIGNING_SECRET: Final = "audit-signing"
"""Seed of the Ed25519 key that signs the head of the audit chain (:mod:`workbench.services.audit`)."""
