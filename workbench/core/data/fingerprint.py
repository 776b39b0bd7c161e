"""Content fingerprints: the SHA-256 of a file's bytes, computed as a cancellable job with progress.

The fingerprint identifies a dataset by content, not by name: two files with the same bytes have the same
fingerprint wherever they live, and any change to a byte changes it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Generator
from pathlib import Path

from workbench.core.jobs import CancelToken, Progress, Throttle

PHASE = "fingerprint"


def sha256_file_job(
    path: str | Path, token: CancelToken | None = None, chunk: int = 1 << 20
) -> Generator[Progress, None, str]:
    """Hash a file with SHA-256 in ``chunk``-sized reads, yielding progress in bytes.

    Parameters
    ----------
    path:
        The file to hash.
    token:
        Polled between chunks; when set the job raises :class:`~workbench.core.errors.JobCancelled`.
    chunk:
        Bytes per read. One buffer of this size is reused, so memory stays flat for any file size.

    Yields
    ------
    Progress
        ``phase="fingerprint"``, ``done``/``total`` in bytes, at most every ~50 ms plus a final one.

    Returns
    -------
    str
        The lower-case hex digest.
    """
    digest = hashlib.sha256()
    throttle = Throttle()
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    done = 0
    with open(path, "rb", buffering=0) as fh:
        total = os.fstat(fh.fileno()).st_size
        yield Progress(PHASE, 0, total, "bytes", "computing the file fingerprint")
        while True:
            if token is not None:
                token.raise_if_cancelled()
            n = fh.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
            done += n
            if throttle.ready():
                yield Progress(PHASE, done, total, "bytes", "computing the file fingerprint")
    yield Progress(PHASE, done, max(total, done), "bytes", "computing the file fingerprint")
    return digest.hexdigest()
