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

Sensitive plaintext (``sensitive=True``: decrypted files, anonymized copies, exports) must not survive a kill of
any kind, SIGKILL and power loss included, under any name (issue 11). On Linux the file is then created *without
a name*, ``O_TMPFILE`` in the target's folder: a process killed while writing leaves nothing, because the kernel
frees an unnamed file with its last descriptor. On success it gets its name with ``linkat`` (through
``/proc/self/fd``): directly as the target when there is none (with ``overwrite=False`` this refuses an existing
target, as above); when an existing target is replaced, as a hidden ``.NAME.<hex>.partial`` that is at once
renamed over it. That hidden name exists only between the link and the rename (two metadata operations, which a
busy disk's journal can stretch to milliseconds) and holds the *complete* new file; a SIGKILL in that window
leaves it for the next sweep (below): the kill campaign hit it once in 200 kills.

Where ``O_TMPFILE`` is unavailable (not Linux, no ``/proc``, a file
system that refuses it with ``EOPNOTSUPP``, ``EISDIR`` or ``EINVAL``: some network and FUSE file systems, old
kernels) the named temporary file above is used, but what goes into it is *sealed*: encrypted with AES-256-CTR
under a random key that exists only in this process's memory, and decrypted in place only once the block has
finished, just before the file is published. A kill while the data is being written leaves ciphertext nobody can
read under the hidden ``.partial`` name (swept later, below); only a kill during that final in-place decryption
(a fraction of a second per 100 MB) leaves plaintext there, until the sweep.

Stale partials: every write first removes the ``.NAME.<16 hex>.partial`` files a killed earlier write of the
same target left (:func:`sweep_partials`): only names of exactly that pattern, owned by this user, and only when
no living writer holds them. On POSIX a writer holds an exclusive ``flock`` on its temporary file from creation
until it is published, and the sweep removes a file only while holding that lock itself, so a write in progress
is never swept; on Windows a file open in another process cannot be deleted, which protects it the same way.
:func:`sweep_stale_partials` sweeps a whole folder the same way (an encrypted project's vault folder when it is
unlocked), and only files last modified before this process started.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
import stat
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
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
"""Linux: open an unnamed file in a folder (0 where the platform has none)."""
_NO_TMPFILE_ERRNOS = frozenset({errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOTSUP})
"""What a file system or kernel that cannot make unnamed files answers to ``O_TMPFILE``."""
_PROC_FDS = "/proc/self/fd"
_SEALED_BUFFER = 1 << 20
"""Sensitive output without O_TMPFILE: bytes buffered before one encrypted write (and the unsealing step)."""

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

StrPath = str | os.PathLike[str]

_ANY_PARTIAL_RE = re.compile(r"\..+\.[0-9a-f]{16}" + re.escape(PARTIAL_SUFFIX), re.DOTALL)
"""The name of any temporary file of ours (``.NAME.<16 hex>.partial``), whatever its target."""
PROCESS_STARTED = time.time()
"""When this module was first imported (about when the process started): older partials are no write of ours."""


@overload
def atomic_write(
    path: StrPath, *, overwrite: bool, mode: int = ..., binary: Literal[True] = ..., sensitive: bool = ...
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
    sensitive: bool = ...,
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
    sensitive: bool = ...,
) -> AbstractContextManager[IO[Any]]: ...
def atomic_write(
    path: StrPath,
    *,
    overwrite: bool,
    mode: int = 0o600,
    binary: bool = True,
    encoding: str = "utf-8",
    newline: str | None = None,
    sensitive: bool = False,
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
    sensitive:
        The content is plaintext that must not survive a kill under any name: on Linux the file has no name until
        it is published (``O_TMPFILE``); elsewhere a named temporary file whose bytes are encrypted under a
        throw-away key until the block ends (see the module docstring).

    Raises
    ------
    FileExistsError
        ``overwrite`` is false and ``path`` exists when the file is published (nothing was changed).
    OSError
        The temporary file cannot be created, written or moved into place (nothing was changed).
    """
    return _atomic_write(Path(path), overwrite, mode, binary, encoding, newline, sensitive)


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
    target: Path, overwrite: bool, mode: int, binary: bool, encoding: str, newline: str | None, sensitive: bool
) -> Iterator[IO[Any]]:
    sweep_partials(target)
    fd = _open_unnamed(target.parent, mode) if sensitive else None
    tmp: Path | None = None  # None: an unnamed file (O_TMPFILE)
    sealed: _SealedFile | None = None  # sensitive without O_TMPFILE: encrypted until the end
    if fd is None:
        fd, tmp = _create_temp(target, mode, readable=sensitive)
    else:
        _lock(fd)  # nobody else can reach it yet; the lock covers the name it may get for an instant
    try:
        if sensitive and tmp is not None:
            sealed = _SealedFile(fd)
            raw: Any = io.BufferedWriter(sealed, buffer_size=_SEALED_BUFFER)
            handle: IO[Any] = raw if binary else io.TextIOWrapper(raw, encoding=encoding, newline=newline)
        else:
            handle = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        if tmp is not None:
            _remove(tmp)
        raise
    try:
        with handle:
            yield handle
            handle.flush()
            if sealed is not None:
                sealed.unseal()  # the plaintext appears under the hidden name only now, for as long as this takes
            os.fsync(handle.fileno())
            if tmp is None:
                _publish_unnamed(handle.fileno(), target, overwrite)
            elif not _WINDOWS:  # published while its lock is held (Windows cannot rename an open file)
                _publish(tmp, target, overwrite)
        if tmp is not None and _WINDOWS:
            _publish(tmp, target, overwrite)
    except BaseException:
        if tmp is not None:
            _remove(tmp)
        raise
    _sync_folder(target.parent)


def _temp_stem(target: Path) -> str:
    """The part of the target's name that its temporary files carry (shortened to fit the name limit)."""
    name = target.name
    while len(os.fsencode(name)) > _MAX_NAME_BYTES:
        name = name[:-1]
    return name


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{_temp_stem(target)}.{secrets.token_hex(8)}{PARTIAL_SUFFIX}")


def _create_temp(target: Path, mode: int, *, readable: bool = False) -> tuple[int, Path]:
    """A new, empty, hidden file next to ``target``, locked: ``(fd, path)``; never an existing file or a link."""
    # O_BINARY: on Windows a descriptor is otherwise in text mode and would turn "\n" into "\r\n" below Python.
    access = os.O_RDWR if readable else os.O_WRONLY
    flags = access | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(16):
        tmp = _temp_name(target)
        try:
            fd = os.open(tmp, flags, mode)
        except FileExistsError:  # 64 random bits taken: practically never
            continue
        try:
            if _lock(fd) and _still_named(fd, tmp):
                return fd, tmp
        except BaseException:  # an interrupt right after the create: leave no empty temporary file
            os.close(fd)
            _remove(tmp)
            raise
        os.close(fd)  # a sweep took it between the create and the lock (it removed it): take another name
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", str(target.parent))


class _SealedFile(io.RawIOBase):
    """A file whose bytes are written encrypted under a throw-away key (AES-256-CTR, positional, so seeking works)
    until :meth:`unseal` decrypts them in place. The key lives only in this process: a kill before the end leaves
    ciphertext nobody can read. Used for sensitive output where the file cannot be unnamed (no ``O_TMPFILE``)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._key = bytearray(secrets.token_bytes(32))
        self._iv = int.from_bytes(secrets.token_bytes(16), "big")

    def _xor(self, data: bytes | bytearray | memoryview, offset: int) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        block, skip = divmod(offset, 16)
        counter = ((self._iv + block) % (1 << 128)).to_bytes(16, "big")
        cipher = Cipher(algorithms.AES(bytes(self._key)), modes.CTR(counter)).encryptor()
        if skip:
            cipher.update(bytes(skip))
        return cipher.update(bytes(data))

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self._fd, offset, whence)

    def truncate(self, size: int | None = None) -> int:
        size = self.tell() if size is None else size
        os.ftruncate(self._fd, size)
        return size

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        sealed = self._xor(view, self.tell())
        done = 0
        while done < len(sealed):
            done += os.write(self._fd, sealed[done:])
        return len(view)

    def unseal(self) -> None:
        """Decrypt the whole file in place, then forget the key."""
        end = os.lseek(self._fd, 0, os.SEEK_END)
        offset = 0
        while offset < end:
            os.lseek(self._fd, offset, os.SEEK_SET)
            chunk = os.read(self._fd, min(_SEALED_BUFFER, end - offset))
            if not chunk:
                break
            os.lseek(self._fd, offset, os.SEEK_SET)
            plain = self._xor(chunk, offset)
            written = 0
            while written < len(plain):
                written += os.write(self._fd, plain[written:])
            offset += len(chunk)
        os.lseek(self._fd, end, os.SEEK_SET)
        self._key[:] = bytes(len(self._key))

    def close(self) -> None:
        if not self.closed:
            self._key[:] = bytes(len(self._key))
            try:
                os.close(self._fd)
            finally:
                super().close()


def _lock(fd: int) -> bool:
    """Hold an exclusive lock on our temporary file (POSIX), so that no sweep removes it; False if taken."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without locks: nothing to hold, nothing a sweep could take either
        return True
    return True


def _still_named(fd: int, tmp: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.lstat(tmp))
    except OSError:
        return False


def _open_unnamed(folder: Path, mode: int) -> int | None:
    """An unnamed file in ``folder`` (Linux ``O_TMPFILE``), or None where the platform or file system has none."""
    if not _O_TMPFILE or not os.path.isdir(_PROC_FDS):
        return None
    try:
        return os.open(folder, _O_TMPFILE | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        if exc.errno in _NO_TMPFILE_ERRNOS:
            return None
        raise


def _link_unnamed(fd: int, name: Path) -> None:
    """Give the unnamed file ``fd`` the name ``name`` (``linkat`` following ``/proc/self/fd/FD``)."""
    proc = os.open(_PROC_FDS, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.link(str(fd), name, src_dir_fd=proc, follow_symlinks=True)
    finally:
        os.close(proc)


def _publish_unnamed(fd: int, target: Path, overwrite: bool) -> None:
    if not overwrite or not os.path.lexists(target):
        try:
            _link_unnamed(fd, target)  # straight to its name: no hidden name at any moment
            return
        except FileExistsError:
            if not overwrite:
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
            # it appeared meanwhile: replace it as below
    # A hidden name for the instant between the link and the rename (os.replace needs a name). The lock on fd
    # covers it (same file), so no sweep removes it meanwhile; a kill in that instant leaves it to the next sweep.
    attempt: Path | None = None
    try:
        for _ in range(16):
            attempt = _temp_name(target)
            try:
                _link_unnamed(fd, attempt)
            except FileExistsError:
                continue
            break
        else:
            raise FileExistsError(errno.EEXIST, "no unused temporary file name", str(target.parent))
        _replace(attempt, target)
    except BaseException:
        # A KeyboardInterrupt (SIGINT, or SIGTERM through the CLI) can arrive just after the link succeeded: remove
        # the name if it is ours, whether or not this frame saw the link return (kill campaign, point 160).
        if attempt is not None and _still_named(fd, attempt):
            _remove(attempt)
        raise


def sweep_partials(target: StrPath) -> list[Path]:
    """Remove the temporary files that killed earlier writes of ``target`` left next to it; returns them.

    Only hidden files named exactly ``.NAME.<16 hex>.partial`` for this target, regular files owned by this user,
    and only when no writer holds them (see the module docstring); anything else is left alone. Never raises.
    """
    target = Path(target)
    stem = re.escape(f".{_temp_stem(target)}.")
    pattern = re.compile(stem + r"[0-9a-f]{16}" + re.escape(PARTIAL_SUFFIX))
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    removed = []
    for name in names:
        if pattern.fullmatch(name) and _remove_if_stale(target.parent / name):
            removed.append(target.parent / name)
    return removed


def sweep_stale_partials(folder: StrPath, *, modified_before: float | None = None) -> list[Path]:
    """Remove the temporary files that killed writes left in ``folder``, whatever their target; returns them.

    For a folder whose targets are not known in advance (an encrypted project's vault folder, swept when it is
    unlocked). Only hidden files named exactly ``.NAME.<16 hex>.partial``, regular files owned by this user, last
    modified before ``modified_before`` (default :data:`PROCESS_STARTED`, so no write this process began is
    touched), and only when no writer holds them, as in :func:`sweep_partials`. Never raises.
    """
    before = PROCESS_STARTED if modified_before is None else modified_before
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        path = Path(folder) / name
        if _ANY_PARTIAL_RE.fullmatch(name) and _remove_if_stale(path, modified_before=before):
            removed.append(path)
    return removed


def _remove_if_stale(path: Path, *, modified_before: float | None = None) -> bool:
    if fcntl is None:  # Windows: a file another process has open cannot be deleted
        if modified_before is not None:
            with contextlib.suppress(OSError):
                if os.lstat(path).st_mtime >= modified_before:
                    return False
        try:
            os.unlink(path)
        except OSError:
            return False
        return True
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return False
        if modified_before is not None and info.st_mtime >= modified_before:
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: a living writer holds it
        if not os.path.samestat(info, os.lstat(path)):
            return False
        os.unlink(path)  # while holding the lock, so no writer can have taken this name meanwhile
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


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
