"""The encrypted-token format of the ``encrypt`` operator: ``ENC1.<base64url(nonce|ciphertext|tag)>``.

AES-256-GCM under the project's encryption key, with a fresh nonce for each token (equal values give different
tokens). :func:`decrypt_token` and :func:`decrypt_text` reverse them (the de-anonymize action). ``cryptography``
is imported only when a token is made or read.
"""

from __future__ import annotations

import base64
import os
import re

from workbench.core.errors import WorkbenchError
from workbench.core.pii.keys import AnonymizationKeys


class DecryptionError(WorkbenchError):
    """A token cannot be decrypted (another project's key, or the token was altered)."""


TOKEN_PREFIX = "ENC1."
_TOKEN_RE = re.compile(r"ENC1\.([A-Za-z0-9_-]{38,})")
_AAD = b"privacy-workbench/pii/encrypt/v1"
_NONCE_BYTES = 12


def encrypt_value(text: str, keys: AnonymizationKeys) -> str:
    """AES-256-GCM token of ``text``: ``ENC1.`` + base64url(nonce | ciphertext | tag), without padding."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(keys.aes_key).encrypt(nonce, text.encode("utf-8"), _AAD)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def decrypt_token(token: str, keys: AnonymizationKeys) -> str:
    """The original value of one ``ENC1.`` token.

    Raises
    ------
    DecryptionError
        If the token is malformed, was made with another key, or was altered.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    match = _TOKEN_RE.fullmatch(token.strip())
    if match is None:
        raise DecryptionError(f"not an encryption token: it must start with {TOKEN_PREFIX!r} and be base64url")
    body = match.group(1)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise DecryptionError("the encryption token is damaged (not base64url)") from None
    try:
        plain = AESGCM(keys.aes_key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD)
    except InvalidTag:
        raise DecryptionError("cannot decrypt: the token was made with another project's key or was altered") from None
    return plain.decode("utf-8")


def decrypt_text(text: str, keys: AnonymizationKeys) -> str:
    """``text`` with every ``ENC1.`` token replaced by its original value (the de-anonymize action)."""
    return _TOKEN_RE.sub(lambda m: decrypt_token(m.group(0), keys), text)


def contains_tokens(text: str) -> bool:
    """Whether ``text`` holds at least one encryption token."""
    return bool(_TOKEN_RE.search(text))
