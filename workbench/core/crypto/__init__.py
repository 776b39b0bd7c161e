"""The crypto room: encryption at rest, key management, sharing and signatures (Qt-free).

Modules, from the bottom up:

* :mod:`~workbench.core.crypto.primitives`: AES-GCM, HKDF, wiping, and the room's errors.
* :mod:`~workbench.core.crypto.kdf`: Argon2id / scrypt with a floor (downgrade protection) and tuning.
* :mod:`~workbench.core.crypto.stream`: the streaming file format (chunked AES-256-GCM, key slots).
* :mod:`~workbench.core.crypto.keys`: key pairs (X25519 + Ed25519, or RSA-3072), fingerprints, key files.
* :mod:`~workbench.core.crypto.share`: files shared with other sites' public keys.
* :mod:`~workbench.core.crypto.sign`: detached signatures of files and reports.
* :mod:`~workbench.core.crypto.vault`: the encrypted project folder (:class:`ProjectVault`).

The format is documented in ``docs/crypto-format.md``. Importing this package imports ``cryptography``; the CLI
imports it only inside its crypto commands.
"""

from __future__ import annotations

from workbench.core.crypto.keys import PrivateKey, PublicKey, format_fingerprint, generate_key_pair
from workbench.core.crypto.primitives import (
    AuthenticationError,
    CryptoError,
    FormatError,
    IntegrityError,
    NotARecipientError,
    SignatureError,
    UnsupportedParameterError,
    VaultLockedError,
    WeakParametersError,
    WrongPassphraseError,
)
from workbench.core.crypto.share import Recipient, RecipientKey, open_shared_file, share_file
from workbench.core.crypto.sign import Verified, sign_file, verify_file
from workbench.core.crypto.stream import (
    CHUNK_SIZE,
    OutputExistsError,
    Passphrase,
    SecretKey,
    decrypt_bytes,
    decrypt_file,
    decrypt_file_job,
    encrypt_bytes,
    encrypt_file,
    encrypt_file_job,
    iter_decrypt,
    read_header,
)
from workbench.core.crypto.vault import ProjectVault

__all__ = [
    "CHUNK_SIZE",
    "AuthenticationError",
    "CryptoError",
    "FormatError",
    "IntegrityError",
    "NotARecipientError",
    "OutputExistsError",
    "Passphrase",
    "PrivateKey",
    "ProjectVault",
    "PublicKey",
    "Recipient",
    "RecipientKey",
    "SecretKey",
    "SignatureError",
    "UnsupportedParameterError",
    "VaultLockedError",
    "Verified",
    "WeakParametersError",
    "WrongPassphraseError",
    "decrypt_bytes",
    "decrypt_file",
    "decrypt_file_job",
    "encrypt_bytes",
    "encrypt_file",
    "encrypt_file_job",
    "format_fingerprint",
    "generate_key_pair",
    "iter_decrypt",
    "open_shared_file",
    "read_header",
    "share_file",
    "sign_file",
    "verify_file",
]
