"""Keys for the keyed operators: keyed hash, consistent pseudonyms and reversible encryption.

One master secret per project gives three independent 32-byte keys through HKDF-SHA256 with distinct ``info``
labels, so a leaked hash key says nothing about the encryption key and the other way round. Storing the master
secret is not this module's job (the project's encrypted secret store keeps it): every function that needs keys
takes an :class:`AnonymizationKeys` as a parameter, and nothing here writes a key anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from workbench.core.errors import WorkbenchError

KEY_BYTES = 32
MIN_MASTER_SECRET_BYTES = 32
_INFO_HMAC = b"privacy-workbench/pii/keyed-hash/v1"
_INFO_PSEUDONYM = b"privacy-workbench/pii/pseudonym/v1"
_INFO_AES = b"privacy-workbench/pii/aes-256-gcm/v1"


class AnonymizationKeyError(WorkbenchError):
    """The keys are missing, too short or malformed."""


@dataclass(frozen=True, slots=True, repr=False)
class AnonymizationKeys:
    """The three secret keys of a project's anonymization.

    Attributes
    ----------
    hmac_key:
        Key of the ``keyed_hash`` operator (HMAC-SHA256).
    pseudonym_key:
        Seeds the consistent pseudonyms and the per-entity date shifts.
    aes_key:
        AES-256-GCM key of the reversible ``encrypt`` operator.
    """

    hmac_key: bytes
    pseudonym_key: bytes
    aes_key: bytes

    def __post_init__(self) -> None:
        for name in ("hmac_key", "pseudonym_key", "aes_key"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != KEY_BYTES:
                raise AnonymizationKeyError(
                    f"{name} must be exactly {KEY_BYTES} bytes; derive the keys with AnonymizationKeys.derive"
                )

    @classmethod
    def derive(cls, master_secret: bytes) -> AnonymizationKeys:
        """Derive the three keys from a project's master secret (HKDF-SHA256, one ``info`` label per key).

        Parameters
        ----------
        master_secret:
            At least 32 random bytes, kept by the caller (the project's secret store).

        Raises
        ------
        AnonymizationKeyError
            If the secret is not bytes or shorter than 32 bytes.
        """
        if not isinstance(master_secret, bytes | bytearray):
            raise AnonymizationKeyError("the master secret must be bytes")
        if len(master_secret) < MIN_MASTER_SECRET_BYTES:
            raise AnonymizationKeyError(
                f"the master secret has {len(master_secret)} bytes; it needs at least {MIN_MASTER_SECRET_BYTES} "
                "random bytes (for example from os.urandom(32))"
            )
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        def expand(info: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(bytes(master_secret))

        return cls(hmac_key=expand(_INFO_HMAC), pseudonym_key=expand(_INFO_PSEUDONYM), aes_key=expand(_INFO_AES))

    @classmethod
    def generate(cls) -> AnonymizationKeys:
        """Fresh random keys (for tests and one-off runs: pseudonyms will differ from every other run)."""
        return cls(hmac_key=os.urandom(KEY_BYTES), pseudonym_key=os.urandom(KEY_BYTES), aes_key=os.urandom(KEY_BYTES))

    @property
    def key_id(self) -> str:
        """A short public identifier of these keys (16 hex digits), safe to record in lineage and logs.

        It is an HMAC of a fixed label under each key, so it reveals nothing about the keys, and two runs with
        the same project secret show the same id.
        """
        digest = hashlib.sha256()
        for key in (self.hmac_key, self.pseudonym_key, self.aes_key):
            digest.update(hmac.new(key, b"privacy-workbench/pii/key-id", hashlib.sha256).digest())
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:
        return f"AnonymizationKeys(key_id={self.key_id!r})"
