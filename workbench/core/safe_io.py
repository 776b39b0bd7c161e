"""Bounded reads of small inputs and checked output paths: what stands between a hostile path and the process.

Every small input (a policy, a key, a signature, a settings file, a key file) is read with
:func:`read_small_file`: the path is ``stat``-ed first and a folder, a device (``/dev/zero``, ``/dev/urandom``)
or a socket is refused before anything is opened; a regular file is refused above its size limit and at most
``limit + 1`` bytes are ever read; a pipe (``--key-file <(...)`` keeps a secret off the disk; a named FIFO) is
opened non-blocking and read until its end, its size limit or a deadline, whichever comes first, so a FIFO that
nobody writes to cannot hang the command. :func:`load_small_json` adds a bound on nesting (checked before the
parser could hit Python's recursion limit) and turns over-long integer literals into a one-line error.

:func:`check_output_path` is the rule for every output: only a regular file is ever replaced (a device, a FIFO, a
folder or a socket never, whatever ``--force`` says), never one of the command's own inputs, never under
``/proc`` or ``/sys``, and never in a folder that does not exist (no silent ``mkdir``) or that cannot be written.

:func:`escape_for_terminal` shows control characters (escape sequences, newlines) in names escaped, so a column
or file name can neither drive the terminal nor split a one-line message.

Every refusal is a :class:`~workbench.core.errors.WorkbenchError` with one line naming the path (escaped).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import stat
import time
from collections.abc import Iterable, Mapping
from itertools import accumulate
from pathlib import Path
from typing import Any, Final

from workbench.core.errors import WorkbenchError

#: The deepest nesting of JSON arrays/objects accepted in small JSON files (policies, settings).
MAX_JSON_DEPTH: Final = 100
#: Environment variable overriding the default wait for a pipe's writer (seconds).
PIPE_TIMEOUT_ENV: Final = "WORKBENCH_PIPE_TIMEOUT_S"
#: Folders whose files are kernel interfaces, never outputs.
_KERNEL_FOLDERS: Final = ("/proc", "/sys")

_STRING_RE: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET_RE: Final = re.compile(r"[\[\]{}]")
_DEPTH_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}


class InputRefusedError(WorkbenchError):
    """A small input is not a readable regular file or pipe, is too large, or did not arrive in time."""


class OutputRefusedError(WorkbenchError):
    """An output path may not be written: not a regular file, an input of the command, or an unusable folder."""


# ---- names ----------------------------------------------------------------------------------------------------


def escape_for_terminal(text: object) -> str:
    """``text`` with control and other non-printable characters escaped as Python does (``\\x1b``, ``\\n``)."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in s)


def _kind(mode: int) -> str | None:
    """What a non-regular, non-FIFO file is, in words; ``None`` for a regular file or a pipe."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
        return None
    return "not a regular file"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


# ---- inputs ---------------------------------------------------------------------------------------------------


def check_input_file(path: str | Path, *, what: str) -> os.stat_result:
    """``stat`` ``path`` and refuse anything but a regular file (a folder, device, FIFO or socket), one line."""
    name = escape_for_terminal(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputRefusedError(f"{name}: no such file (the {what})") from None
    except OSError as exc:
        raise InputRefusedError(f"{name}: cannot read the {what} ({_os_reason(exc)})") from None
    if stat.S_ISREG(st.st_mode):
        return st
    kind = "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else _kind(st.st_mode)
    raise InputRefusedError(f"{name} is {kind}, not a regular file; give a file as the {what}")


def pipe_timeout() -> float:
    """The default wait for a pipe's writer: 5 s, or ``$WORKBENCH_PIPE_TIMEOUT_S``."""
    try:
        return max(0.05, float(os.environ.get(PIPE_TIMEOUT_ENV, "5")))
    except ValueError:
        return 5.0


def read_small_file(path: str | Path, *, what: str, limit: int, timeout_s: float | None = None) -> bytes:
    """The bytes of a small input: a regular file or a pipe, at most ``limit`` bytes, within ``timeout_s``.

    Raises
    ------
    InputRefusedError
        Missing, unreadable, a folder/device/socket (refused before opening), over ``limit`` bytes, or a pipe
        that did not reach its end within ``timeout_s`` (default :func:`pipe_timeout`).
    """
    name = escape_for_terminal(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputRefusedError(f"{name}: no such file (the {what})") from None
    except OSError as exc:
        raise InputRefusedError(f"{name}: cannot read the {what} ({_os_reason(exc)})") from None
    kind = _kind(st.st_mode)
    if kind is not None:
        raise InputRefusedError(f"{name} is {kind}, not a {what}; give a file (or a pipe)")
    too_large = f"{name} is too large to be a {what} (more than {limit:,} bytes)"
    if stat.S_ISREG(st.st_mode) and st.st_size > limit:
        raise InputRefusedError(too_large)
    fifo = stat.S_ISFIFO(st.st_mode)
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_NONBLOCK if fifo else 0))
    except OSError as exc:
        raise InputRefusedError(f"{name}: cannot read the {what} ({_os_reason(exc)})") from None
    try:
        if fifo:
            data = _read_pipe(fd, limit, pipe_timeout() if timeout_s is None else timeout_s, name, what)
        else:
            data = _read_regular(fd, limit)
    except OSError as exc:
        raise InputRefusedError(f"{name}: cannot read the {what} ({_os_reason(exc)})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputRefusedError(too_large)
    return data


def _read_regular(fd: int, limit: int) -> bytes:
    parts: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_pipe(fd: int, limit: int, timeout_s: float, name: str, what: str) -> bytes:
    """Read a non-blocking pipe to its end; refuse on the deadline. A FIFO without a writer never signals, so
    it times out rather than being taken for an empty file."""
    deadline = time.monotonic() + timeout_s
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(max(1, int(left * 1000))):
            if time.monotonic() >= deadline:
                raise InputRefusedError(
                    f"{name}: nothing (or not all) of the {what} arrived through the pipe within {timeout_s:g} s"
                )
            continue
        try:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 16))
        except BlockingIOError:
            continue
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def read_small_text(path: str | Path, *, what: str, limit: int, timeout_s: float | None = None) -> str:
    """:func:`read_small_file` decoded as UTF-8 (a leading BOM dropped); undecodable bytes are one line."""
    data = read_small_file(path, what=what, limit=limit, timeout_s=timeout_s)
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputRefusedError(
            f"{escape_for_terminal(path)}: the {what} is not UTF-8 text (byte offset {exc.start})"
        ) from None


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (brackets inside strings do not count)."""
    brackets = _BRACKET_RE.findall(_STRING_RE.sub("", text))
    if not brackets:
        return 0
    return max(0, max(accumulate(_DEPTH_STEP[b] for b in brackets)))


def parse_json(text: str, *, source: str, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` with one-line errors: too deep (checked first), an over-long number, invalid JSON."""
    if text.count("[") + text.count("{") > max_depth and json_depth(text) > max_depth:
        raise InputRefusedError(f"{source}: the {what} nests arrays or objects more than {max_depth} levels deep")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputRefusedError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except ValueError:  # int conversion: more digits than Python's limit
        raise InputRefusedError(f"{source}: the {what} holds a number with too many digits") from None
    except RecursionError:  # belt and braces: the depth check above should make this unreachable
        raise InputRefusedError(f"{source}: the {what} nests arrays or objects too deeply") from None


def load_small_json(path: str | Path, *, what: str, limit: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A small JSON file read with :func:`read_small_text` and parsed with :func:`parse_json`."""
    text = read_small_text(path, what=what, limit=limit)
    return parse_json(text, source=escape_for_terminal(path), what=what, max_depth=max_depth)


# ---- outputs --------------------------------------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(
    path: str | Path,
    *,
    force: bool,
    protected: Iterable[str | Path] | Mapping[str | Path, str] = (),
    parents: bool = False,
) -> Path:
    """Refuse an output path that must not be written; return it as a :class:`Path`.

    Refused, whatever ``force`` says: an existing target that is not a regular file (device, FIFO, folder,
    socket); the same file as any of ``protected`` (the command's inputs, policy, keys; a mapping names each
    one's role in the message, e.g. ``{"in.csv": "the original dataset"}``); a target under
    ``/proc`` or ``/sys``; a folder that cannot be written. An existing regular file is refused without
    ``force``. A missing folder is refused unless ``parents`` (then it is created).
    """
    target = Path(path)
    name = escape_for_terminal(path)
    resolved = Path(os.path.abspath(target))
    with contextlib.suppress(OSError, RuntimeError):
        resolved = target.resolve()
    if any(str(resolved) == k or str(resolved).startswith(k + "/") for k in _KERNEL_FOLDERS):
        raise OutputRefusedError(f"{name} is under {str(resolved)[:5].rstrip('/')}, a kernel interface; choose a "
                                 "file in an ordinary folder")  # fmt: skip
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputRefusedError(f"{name}: cannot use this output path ({_os_reason(exc)})") from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            kind = "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else _kind(st.st_mode)
            raise OutputRefusedError(f"{name} is {kind}; only a regular file is ever replaced: choose a file path")
        roles = protected.items() if isinstance(protected, Mapping) else ((p, "also an input") for p in protected)
        for other, role in roles:
            if _same_file(target, Path(other)):
                raise OutputRefusedError(
                    f"{name} is {role} of this command ({escape_for_terminal(other)}); it is never written over: "
                    "choose another output"
                )
        if not force:
            raise OutputRefusedError(f"{name} already exists; choose another output path or add --force to replace it")
    folder = resolved.parent
    if not folder.is_dir():
        if folder.exists():
            raise OutputRefusedError(f"{name}: {escape_for_terminal(folder)} is not a folder")
        if not parents:
            raise OutputRefusedError(
                f"{name}: the folder {escape_for_terminal(folder)} does not exist; create it first"
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputRefusedError(f"{name}: cannot create the folder ({_os_reason(exc)})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputRefusedError(f"{name}: the folder {escape_for_terminal(folder)} cannot be written")
    return target
