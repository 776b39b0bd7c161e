"""The workbench's log file: where it lives, what a line looks like, and how errors reach it.

Rule: **never log dataset values.** Not a cell, not a row, not a note's text, not an example shown in a column
summary, not a value inside an f-string "for context". In a privacy tool the log file is a leakage channel: it
outlives the session, it is attached to support tickets and it is not covered by the project's encryption. Log
what happened and to which object: file names, dataset ids, column names, row counts, byte offsets, timings,
exception types. Use ``%s`` arguments (``log.info("loaded %s rows from %s", n, path)``) rather than f-strings,
so that a reviewer can see at a glance which values go in.

:func:`configure_logging` installs a size-rotating file handler on the root logger, writing to
``user_log_dir()/workbench.log`` (about 2 MB per file, 5 old files kept). The ``workbench`` loggers log at the
requested level; third-party libraries are held at ``WARNING`` or above, because some of them (text analyzers,
data frame libraries) log the data they are working on at ``INFO``/``DEBUG``.

:func:`log_exception` writes an exception's type and traceback frames. Its message is written only for a
:class:`~workbench.core.errors.WorkbenchError`, whose messages are value-free by project rule: other
exceptions (``ValueError("invalid literal for int(): '123-45-6789'")``) often quote the data that caused them.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from workbench.core.errors import WorkbenchError
from workbench.core.paths import user_log_dir

LOG_FILE_NAME = "workbench.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUP_COUNT = 5
LOG_FORMAT = "%(asctime)s %(levelname)-8s [%(threadName)s] %(name)s: %(message)s"
WORKBENCH_LOGGER = "workbench"
THIRD_PARTY_MIN_LEVEL = logging.WARNING

_HANDLER_MARK = "_workbench_handler"  # attribute set on the handlers this module owns: "file" or "console"
_config_lock = threading.Lock()

log = logging.getLogger(__name__)


def _parse_level(level: str | int) -> int:
    """Turn ``"info"``, ``"INFO"`` or ``logging.INFO`` into the numeric level; raise ValueError otherwise."""
    if isinstance(level, int):
        return level
    numeric = logging.getLevelName(level.strip().upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}; choose one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return numeric


def configure_logging(level: str | int = "INFO", console: bool = False) -> Path:
    """Send log records to the rotating log file (and optionally to stderr).

    Idempotent: calling it again changes the level and the console switch but never adds a second handler. If
    the log folder changed since the last call (``WORKBENCH_HOME`` was set differently), the old file handler
    is closed and replaced.

    Parameters
    ----------
    level:
        Level for the ``workbench`` loggers, as a name or a number. Third-party loggers stay at ``WARNING`` or
        above (see the module docstring for why).
    console:
        Also write records to ``sys.stderr`` (for the CLI's ``--verbose``). ``False`` removes a console
        handler that an earlier call installed.

    Returns
    -------
    Path
        The log file in use (the usual one when no file could be used at all).

    When the log folder cannot be written, records go to a private folder in the temporary folder (or nowhere):
    :func:`log_fallback_note` then holds one line to show the user. It never raises for that.
    """
    global _fallback_note
    numeric = _parse_level(level)
    log_path, _fallback_note = _usable_log_path()
    formatter = logging.Formatter(LOG_FORMAT)
    root = logging.getLogger()
    stale: list[logging.Handler] = []
    with _config_lock:
        file_handler: logging.Handler | None = None
        console_handler: logging.Handler | None = None
        for handler in list(root.handlers):
            kind = getattr(handler, _HANDLER_MARK, None)
            if kind == "file" and file_handler is None and _handler_path(handler) == log_path:
                file_handler = handler
            elif kind == "console" and console and console_handler is None:
                console_handler = handler
            elif kind is not None:
                root.removeHandler(handler)
                stale.append(handler)
        if file_handler is None and log_path is not None:
            file_handler = _QuietRotatingFileHandler(
                log_path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
            )
            setattr(file_handler, _HANDLER_MARK, "file")
            file_handler.setFormatter(formatter)
            root.addHandler(file_handler)
        if console and console_handler is None:
            console_handler = logging.StreamHandler(sys.stderr)
            setattr(console_handler, _HANDLER_MARK, "console")
            console_handler.setFormatter(formatter)
            root.addHandler(console_handler)
        root.setLevel(max(numeric, THIRD_PARTY_MIN_LEVEL))
        logging.getLogger(WORKBENCH_LOGGER).setLevel(numeric)
    # Closing flushes to disk: done outside the lock (never call out while holding a lock).
    for handler in stale:
        handler.close()
    return log_path if log_path is not None else user_log_dir() / LOG_FILE_NAME


def log_fallback_note() -> str | None:
    """One line for the user when the last :func:`configure_logging` could not use the log folder (say it once,
    then carry on: an unwritable log folder must not stop a batch job); ``None`` when all is well."""
    return _fallback_note


_fallback_note: str | None = None


class _QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler that, when writing fails later (disk full, file removed), says so once on stderr
    instead of printing Python's "--- Logging error ---" traceback for every record."""

    _reported = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if not self._reported:
            self._reported = True
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(f"privacy workbench: the log file {self.baseFilename} cannot be written; "
                                 "log records of this run are dropped\n")  # fmt: skip


def _writable(path: Path) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError:
        return False
    return True


def _usable_log_path() -> tuple[Path | None, str | None]:
    """The log file to use, and a note when it is not the usual one: the user's log folder, else a private folder in
    the temporary folder, else none (no file logging)."""
    preferred = user_log_dir() / LOG_FILE_NAME
    if _writable(preferred):
        return preferred, None
    import os
    import tempfile

    uid = os.getuid() if hasattr(os, "getuid") else 0
    fallback = Path(tempfile.gettempdir()) / f"privacy-workbench-logs-{uid}" / LOG_FILE_NAME
    with contextlib.suppress(OSError):
        fallback.parent.mkdir(mode=0o700, exist_ok=True)
    if fallback.parent.is_dir() and not fallback.parent.is_symlink() and _writable(fallback):
        return fallback, f"the log folder {preferred.parent} cannot be written; logs go to {fallback.parent}"
    return None, f"the log folder {preferred.parent} cannot be written; this run keeps no log file"


def shutdown_logging() -> None:
    """Remove and close the handlers :func:`configure_logging` installed (at exit, and between tests)."""
    root = logging.getLogger()
    with _config_lock:
        ours = [h for h in root.handlers if getattr(h, _HANDLER_MARK, None) is not None]
        for handler in ours:
            root.removeHandler(handler)
    for handler in ours:
        handler.close()


def _handler_path(handler: logging.Handler) -> Path | None:
    filename = getattr(handler, "baseFilename", None)
    return Path(filename) if filename else None


def _describe(exc: BaseException, include_message: bool) -> str:
    """``Type: message`` for value-free messages, ``Type (message not logged)`` for the others."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if name.startswith("builtins."):
        name = name.removeprefix("builtins.")
    if include_message or isinstance(exc, WorkbenchError):
        message = str(exc)
        return f"{name}: {message}" if message else name
    return f"{name} (message not logged: it may contain data values)"


def format_exception_safely(exc: BaseException, *, include_message: bool = False) -> str:
    """Format an exception and its causes like a traceback, without messages that may hold data.

    Frames (file, line, function and the source line) are code, not data, and are always included. Locals are
    never included.

    Parameters
    ----------
    exc:
        The exception to describe.
    include_message:
        Also write the messages of exceptions that are not :class:`WorkbenchError`. Only for callers that know
        the message is value-free.
    """
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of the following:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "During handling of the above exception, another occurred:"
        else:
            current = None
    parts: list[str] = []
    # Oldest first, as Python prints chained tracebacks; a link sits after the older exception it explains.
    for item, link in reversed(chain):
        frames = traceback.extract_tb(item.__traceback__)
        if frames:
            parts.append("Traceback (most recent call last):\n" + "".join(frames.format()).rstrip("\n"))
        parts.append(_describe(item, include_message))
        if link:
            parts.append(f"\n{link}\n")
    return "\n".join(parts)


def log_exception(
    exc: BaseException,
    *,
    logger: logging.Logger | None = None,
    message: str = "unhandled error",
    include_message: bool = False,
) -> None:
    """Log an exception at ERROR level: type, value-free message and traceback frames.

    Parameters
    ----------
    exc:
        The exception.
    logger:
        Where to log; the ``workbench.errors`` logger by default.
    message:
        Short, value-free description of what was being done.
    include_message:
        See :func:`format_exception_safely`.
    """
    target = logger if logger is not None else logging.getLogger("workbench.errors")
    target.error("%s\n%s", message, format_exception_safely(exc, include_message=include_message))


def excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:  # pragma: no cover - exercised through sys.excepthook in the app
    """A ``sys.excepthook``: log the exception safely, then let Python print it to stderr as usual."""
    if not issubclass(exc_type, KeyboardInterrupt):
        if exc.__traceback__ is None and tb is not None:
            exc = exc.with_traceback(tb)
        log_exception(exc, message="uncaught exception")
    sys.__excepthook__(exc_type, exc, tb)


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:  # pragma: no cover - see excepthook
    if args.exc_value is not None and not issubclass(args.exc_type, SystemExit):
        thread = args.thread.name if args.thread is not None else "?"
        log_exception(args.exc_value, message=f"uncaught exception in thread {thread}")
    threading.__excepthook__(args)
