"""Atomic file writes: a reader sees the old file or the complete new one, never half a file.

One helper for every file the workbench writes in place (anonymized copies, encrypted and decrypted files, key
files, settings, the recent-projects list, the demo dataset, vault headers)::

    with atomic_write(path, overwrite=False) as f:   # a binary file object
        f.write(data)

    atomic_write_text(path, json.dumps(obj), mode=0o600)

How it works: the data goes to a new hidden file in the target's own folder (``.NAME.<random hex>.partial``,
created with ``O_CREAT | O_EXCL`` and ``mode``, so nobody else's file is ever reused and the final rename never
crosses file systems). When the block ends without an exception the file is flushed, fsynced and moved into
place; then the folder is fsynced where folders can be (best effort). On *any* exception, including
``KeyboardInterrupt`` and ``GeneratorExit`` (a job generator closed early), the temporary file is removed and
the exception propagates; an existing target is left as it was.

``overwrite=True`` replaces the target with ``os.replace`` (on Windows retried briefly while another process has
the target open, which lasts milliseconds). ``overwrite=False`` never replaces anything: the file is published
with a hard link, which fails if the target exists, so a file that appears meanwhile is not clobbered; the
helper then raises :class:`FileExistsError` (callers turn it into their own error). On file systems without hard
links (FAT, some network shares) it checks once more and renames: a small race there, none on Windows, where a
rename never replaces an existing file.

``mode`` is passed to ``os.open``, so the process umask can only make it stricter. Errors are the ``OSError``
subclasses the system reports; this module has no error type of its own.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

PARTIAL_SUFFIX = ".partial"
"""Temporary files end with this; anything left with it after a crash is safe to delete."""

_WINDOWS = os.name == "nt"
_REPLACE_ATTEMPTS = 5
"""Windows: os.replace fails while another process has the target open; it is retried this often."""
_MAX_NAME_BYTES = 200
"""The part of the target's name kept in the temporary name (file names are limited to 255 bytes)."""

StrPath = str | os.PathLike[str]


@overload
def atomic_write(
    path: StrPath, *, overwrite: bool, mode: int = ..., binary: Literal[True] = ...
) -> AbstractContextManager[BinaryIO]: ...
@overload
def atomic_write(
    path: StrPath,
    *,
    overwrite: bool,
    mode: int = ...,
    binary: Literal[False],
    encoding: str = ...,
    newline: str | None = ...,
) -> AbstractContextManager[TextIO]: ...
@overload
def atomic_write(
    path: StrPath,
    *,
    overwrite: bool,
    mode: int = ...,
    binary: bool,
    encoding: str = ...,
    newline: str | None = ...,
) -> AbstractContextManager[IO[Any]]: ...
def atomic_write(
    path: StrPath,
    *,
    overwrite: bool,
    mode: int = 0o600,
    binary: bool = True,
    encoding: str = "utf-8",
    newline: str | None = None,
) -> AbstractContextManager[IO[Any]]:
    """A context manager giving a file that becomes ``path`` only if the block finishes without an exception.

    Parameters
    ----------
    path:
        The file to write. Its folder must exist.
    overwrite:
        Replace an existing ``path``; ``False`` refuses it, without a race (see the module docstring).
    mode:
        Permissions of the new file (before the umask); the default keeps it private to the user.
    binary:
        Yield a binary file object (default) or, with ``False``, a text one.
    encoding, newline:
        For text files, as for :func:`open`.

    Raises
    ------
    FileExistsError
        ``overwrite`` is false and ``path`` exists when the file is published (nothing was changed).
    OSError
        The temporary file cannot be created, written or moved into place (nothing was changed).
    """
    return _atomic_write(Path(path), overwrite, mode, binary, encoding, newline)


def atomic_write_bytes(path: StrPath, data: bytes, *, overwrite: bool = True, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, overwrite=overwrite, mode=mode) as f:
        f.write(data)


def atomic_write_text(
    path: StrPath,
    text: str,
    *,
    overwrite: bool = True,
    mode: int = 0o600,
    encoding: str = "utf-8",
    newline: str | None = None,
) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, overwrite=overwrite, mode=mode, binary=False, encoding=encoding, newline=newline) as f:
        f.write(text)


@contextlib.contextmanager
def _atomic_write(
    target: Path, overwrite: bool, mode: int, binary: bool, encoding: str, newline: str | None
) -> Iterator[IO[Any]]:
    fd, tmp = _create_temp(target, mode)
    try:
        handle: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        _remove(tmp)
        raise
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, target, overwrite)
    except BaseException:
        _remove(tmp)
        raise
    _sync_folder(target.parent)


def _create_temp(target: Path, mode: int) -> tuple[int, Path]:
    """A new, empty, hidden file next to ``target``: ``(fd, path)``; never an existing file or a link."""
    name = target.name
    while len(os.fsencode(name)) > _MAX_NAME_BYTES:
        name = name[:-1]
    # O_BINARY: on Windows a descriptor is otherwise in text mode and would turn "\n" into "\r\n" below Python.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(16):
        tmp = target.with_name(f".{name}.{secrets.token_hex(8)}{PARTIAL_SUFFIX}")
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:  # 64 random bits taken: practically never
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", str(target.parent))


def _publish(tmp: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        _replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
    except OSError:
        # No hard links here (FAT, some network shares). Windows' rename refuses an existing target; elsewhere
        # rename replaces, so check first (a small race on those file systems only).
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
        os.rename(tmp, target)
        return
    _remove(tmp)


def _replace(tmp: Path, target: Path) -> None:
    for attempt in range(_REPLACE_ATTEMPTS):
        try:
            os.replace(tmp, target)
            return
        except PermissionError:
            # Windows refuses while another process has the target open (an antivirus scan, a second window
            # reading it); that lasts milliseconds. Elsewhere a PermissionError is final.
            if not _WINDOWS or attempt == _REPLACE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _sync_folder(folder: Path) -> None:
    """Make the rename durable where folders can be fsynced (not on Windows); failures are ignored."""
    if _WINDOWS:
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
