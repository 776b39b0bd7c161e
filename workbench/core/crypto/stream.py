"""The streaming file format: chunked AES-256-GCM with a versioned header and wrapped per-file data keys.

Every encrypted file the workbench writes (CLI ``encrypt``/``share``, the project vault, private key files) is in
this format; ``docs/crypto-format.md`` describes it byte by byte. In short::

    header  = magic | version | flags | header length | chunk size | nonce prefix | file id | key slots
              | HMAC-SHA256(header key, everything before) | CRC-32(everything before)
    chunk i = AES-256-GCM(payload key, nonce = prefix | i, aad = SHA-256(header) | i | final?) = ciphertext | tag

* A random 256-bit **data key** per file; the payload and header keys are derived from it with HKDF. The data key
  is stored only wrapped, in one or more **key slots**: by a passphrase (Argon2id/scrypt, :class:`Passphrase`), by
  a symmetric key such as a vault's master key (:class:`SecretKey`), or for recipients' public keys
  (``workbench.core.crypto.share``).
* Chunks are ``chunk_size`` bytes of plaintext (1 MiB by default), the last one shorter (or empty for an empty
  file). Binding the header digest, the chunk index and a final-chunk flag into each chunk's associated data makes
  truncation, reordering, chunk swapping between files and bit flips fail with an :class:`IntegrityError` that
  names what failed ("chunk 3 ... failed authentication", "file is truncated: the final chunk is missing",
  "header damaged ...").
* Memory is bounded: three chunk-sized buffers, whatever the file size.
* Long work is a job generator (``*_job``) yielding :class:`~workbench.core.jobs.Progress` and polling a
  :class:`~workbench.core.jobs.CancelToken`; each has a synchronous wrapper of the same name without ``_job``.
* Decrypting to a file writes a temporary file (mode 0600) in the destination folder and renames it only after
  the last chunk authenticated; on any failure or cancellation the temporary file is removed, so no partial
  plaintext is left behind under any name. (Its blocks may survive on disk: secure deletion is not possible from
  user space, see the threat model.) Decrypting to memory (:func:`decrypt_bytes`, :func:`iter_decrypt`) writes
  nothing to disk.

Layout: the format's bytes (header, key-slot table, chunk nonces and associated data) are
:mod:`~workbench.core.crypto.stream_format`; who may open a file (the wrapper protocols, :class:`Passphrase`,
:class:`SecretKey`, the per-file keys) is :mod:`~workbench.core.crypto.stream_keys`; encrypting and decrypting
chunk by chunk (streams, jobs, files, memory) is :mod:`~workbench.core.crypto.stream_io`. This module is the public
face: import from here.
"""

from __future__ import annotations

import os  # noqa: F401 - tests patch stream.os.fsync (atomic_output's disk-full path)

from workbench.core.crypto.primitives import (
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    AuthenticationError,
    CryptoError,
    FormatError,
    IntegrityError,
    NotARecipientError,
    UnsupportedParameterError,
    WrongPassphraseError,
)
from workbench.core.crypto.stream_format import (
    CHUNK_SIZE,
    FILE_ID_SIZE,
    FORMAT_VERSION,
    KEY_ID_SIZE,
    MAGIC,
    MAX_CHUNK_SIZE,
    MAX_CHUNKS,
    MAX_HEADER_SIZE,
    MIN_CHUNK_SIZE,
    NONCE_PREFIX_SIZE,
    SLOT_AAD_PREFIX,
    SLOT_NAMES,
    SLOT_PASSPHRASE,
    SLOT_RSA_OAEP,
    SLOT_SECRET_KEY,
    SLOT_X25519,
    KeySlot,
    Readable,
    StreamHeader,
    Writable,
    os_errors,
    read_header,
    slot_aad,
)
from workbench.core.crypto.stream_io import (
    BytesReader,
    OutputExistsError,
    StreamSummary,
    atomic_output,
    decrypt_bytes,
    decrypt_file,
    decrypt_file_job,
    decrypt_stream_job,
    encrypt_bytes,
    encrypt_file,
    encrypt_file_job,
    encrypt_stream_job,
    iter_decrypt,
)
from workbench.core.crypto.stream_keys import KeyUnwrapper, KeyWrapper, Passphrase, SecretKey

__all__ = [
    "CHUNK_SIZE",
    "FILE_ID_SIZE",
    "FORMAT_VERSION",
    "KEY_ID_SIZE",
    "KEY_SIZE",
    "MAGIC",
    "MAX_CHUNKS",
    "MAX_CHUNK_SIZE",
    "MAX_HEADER_SIZE",
    "MIN_CHUNK_SIZE",
    "NONCE_PREFIX_SIZE",
    "NONCE_SIZE",
    "SLOT_AAD_PREFIX",
    "SLOT_NAMES",
    "SLOT_PASSPHRASE",
    "SLOT_RSA_OAEP",
    "SLOT_SECRET_KEY",
    "SLOT_X25519",
    "TAG_SIZE",
    "AuthenticationError",
    "BytesReader",
    "CryptoError",
    "FormatError",
    "IntegrityError",
    "KeySlot",
    "KeyUnwrapper",
    "KeyWrapper",
    "NotARecipientError",
    "OutputExistsError",
    "Passphrase",
    "Readable",
    "SecretKey",
    "StreamHeader",
    "StreamSummary",
    "UnsupportedParameterError",
    "Writable",
    "WrongPassphraseError",
    "atomic_output",
    "decrypt_bytes",
    "decrypt_file",
    "decrypt_file_job",
    "decrypt_stream_job",
    "encrypt_bytes",
    "encrypt_file",
    "encrypt_file_job",
    "encrypt_stream_job",
    "iter_decrypt",
    "os_errors",
    "read_header",
    "slot_aad",
]
