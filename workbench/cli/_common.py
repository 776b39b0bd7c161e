"""What every group of ``workbench`` commands shares: the user-error type, the progress driver, the table
printer, the load options, passphrases, opening a project and naming a dataset.

This module imports nothing from ``workbench.cli`` (the command modules import it, never each other), and
nothing heavy at its top: pyarrow, torch and the rest are imported inside the functions that need them, so
``workbench --help`` stays fast (``tests/core/test_architecture.py``).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.core.errors import WorkbenchError

PROG = "workbench"
PASSPHRASE_ENV = "WORKBENCH_PASSPHRASE"
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


class UsageError(WorkbenchError):
    """A problem with the command line itself (exit 2, like every other :class:`WorkbenchError`)."""


# --- output -----------------------------------------------------------------------------------------------------


def print_error(message: str) -> None:
    """One ``workbench: error: ...`` line on stderr; control characters in it (a file or column name with an
    escape sequence or a newline) are shown escaped, so the message stays one line and cannot drive the terminal."""
    from workbench.core.safe_io import escape_for_terminal

    print(f"{PROG}: error: {escape_for_terminal(message)}", file=sys.stderr)


def say(text: object = "") -> None:
    """Print one line on stdout, control characters escaped (names come from files and their headers).

    When the reader of stdout has gone (``workbench info FILE | head -1``) the command ends quietly with exit
    status 0: what it was asked to print was no longer wanted, and a closed pipe is not an error of the input.
    """
    from workbench.core.safe_io import escape_for_terminal

    try:
        print(escape_for_terminal(text))
    except BrokenPipeError:
        stdout_closed()


def print_json(value: Any, **dumps_options: Any) -> None:
    """Print ``value`` as one JSON line on stdout (``json.dumps`` escapes control characters); a closed stdout
    ends quietly like :func:`say`."""
    import json

    try:
        print(json.dumps(value, **dumps_options))
    except BrokenPipeError:
        stdout_closed()


def stdout_closed() -> None:
    """The reader of stdout went away: point stdout at /dev/null (so the final flush cannot fail again) and end
    the command quietly with exit status 0 (:class:`SystemExit` passes ``main``'s handlers)."""
    _discard_stdout()
    raise SystemExit(0)


def _discard_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _flush_stdout_at_exit() -> None:
    """Output still buffered when the command ends is flushed here; a reader that went away (``| head``) is not
    an error (without this Python reports the BrokenPipeError while shutting down and exits 120)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
    except (OSError, ValueError):
        pass


atexit.register(_flush_stdout_at_exit)


def _progress_printer(enabled: bool) -> Any:
    """A progress callback that redraws one line on a terminal's stderr; silent otherwise."""
    if not enabled or not sys.stderr.isatty():
        return None

    def show(progress: Any) -> None:
        frac = progress.fraction
        text = f"{progress.phase} {frac * 100:5.1f}%" if frac is not None else progress.phase
        print(f"\r{text:<40}", end="", file=sys.stderr, flush=True)

    return show


def drive_with_progress(gen: Any, show: bool = True) -> Any:
    """Run a core job generator to its end, redrawing one progress line on a terminal's stderr (shared by every
    room's commands); silent when ``show`` is false or stderr is not a terminal."""
    from workbench.core.jobs import drive

    printer = _progress_printer(show)
    try:
        return drive(gen, printer)
    finally:
        if printer is not None:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows as aligned plain-text columns under a dashed header (shared by every room's commands); cells
    are escaped for the terminal (column names come from the file), a closed stdout ends quietly (:func:`say`)."""
    from workbench.core.safe_io import escape_for_terminal

    cells = [[escape_for_terminal(h) for h in headers]] + [[escape_for_terminal(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    try:
        for n, row in enumerate(cells):
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
            if n == 0:
                print("  ".join("-" * w for w in widths))
    except BrokenPipeError:
        stdout_closed()


# --- load options -----------------------------------------------------------------------------------------------


def add_load_options(p: argparse.ArgumentParser) -> None:
    """``--format`` (one of the loader registry's formats), ``--encoding``, ``--delimiter``, ``--header`` /
    ``--no-header`` and ``--accept-unclosed-quote``."""
    from workbench.core.data.loaders import available_formats  # the registry names modules; imports no loader

    if "--format" in p._option_string_actions:  # already added (by dataset_source_options): once per parser
        return
    p.add_argument("--format", choices=list(available_formats()), help="skip format detection")
    p.add_argument("--encoding", help="skip encoding detection (e.g. utf-8, utf-16, gb18030, latin-1)")
    p.add_argument("--delimiter", help="skip delimiter detection: one character, or tab/comma/semicolon/pipe")
    header = p.add_mutually_exclusive_group()
    header.add_argument(
        "--header",
        dest="header",
        action="store_const",
        const=True,
        default=None,
        help="the first row is column names, even when it looks like data (CSV/TSV)",
    )
    header.add_argument(
        "--no-header",
        dest="header",
        action="store_const",
        const=False,
        help="the first row is data: name the columns column_1, column_2, ... (CSV/TSV)",
    )
    p.add_argument(
        "--accept-unclosed-quote",
        action="store_true",
        help="load a CSV whose last quote is never closed (the rest of the file becomes one value)",
    )


def parse_delimiter(text: str | None) -> str | None:
    """The ``--delimiter`` value: one character, or a name (tab, comma, semicolon, pipe)."""
    if text is None:
        return None
    value = _DELIMITER_NAMES.get(text.lower(), text)
    if len(value) != 1:
        raise UsageError(f"--delimiter must be one character or one of: {', '.join(_DELIMITER_NAMES)}")
    return value


def load_options(args: argparse.Namespace) -> Any:
    """The :class:`~workbench.core.data.dataset.LoadOptions` given by a command's load options."""
    from workbench.core.data.dataset import LoadOptions

    return LoadOptions(
        format=getattr(args, "format", None),
        encoding=getattr(args, "encoding", None),
        delimiter=parse_delimiter(getattr(args, "delimiter", None)),
        header=getattr(args, "header", None),
        accept_unclosed_quote=bool(getattr(args, "accept_unclosed_quote", False)),
    )


def _record_options(record: Any, args: argparse.Namespace) -> Any:
    """The options to reload a project's dataset with: what the project recorded (a dataset registered with
    ``--no-header`` has columns ``column_1`` ...), and the analyst's answers to the loader's questions
    (``--header``/``--no-header``, ``--accept-unclosed-quote``, ``--encoding``) when given."""
    from workbench.core.data.dataset import LoadOptions
    from workbench.core.data.misreads import recorded_header

    header = getattr(args, "header", None)
    return LoadOptions(
        format=record.format,
        encoding=getattr(args, "encoding", None) or record.encoding,
        delimiter=record.delimiter,
        header=recorded_header(record.columns) if header is None else header,
        accept_unclosed_quote=bool(getattr(args, "accept_unclosed_quote", False)),
    )


def load_file(path: str, args: argparse.Namespace) -> Any:
    """Load the dataset file ``path`` with the command's load options (progress unless ``--json``)."""
    from workbench.core.data.load import load_dataset_job
    from workbench.core.jobs import CancelToken

    options = load_options(args)
    return drive_with_progress(load_dataset_job(path, options, CancelToken()), not getattr(args, "json", False))


# --- passphrases and key derivation -----------------------------------------------------------------------------


def read_passphrase(what: str, *, confirm: bool) -> str:
    """The passphrase from ``$WORKBENCH_PASSPHRASE`` or a terminal prompt; never read from a pipe."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        if not value:
            raise WorkbenchError(f"{PASSPHRASE_ENV} is set but empty; set it to the passphrase or unset it")
        return value
    if not sys.stdin.isatty():
        raise WorkbenchError(
            f"no passphrase: set {PASSPHRASE_ENV} or run the command in a terminal to be asked for the {what}"
        )
    import getpass

    first = getpass.getpass(f"{what}: ")
    if not first:
        raise WorkbenchError("the passphrase is empty")
    if confirm and getpass.getpass(f"{what} (again): ") != first:
        raise WorkbenchError("the two passphrases differ; nothing was written")
    return first


def parse_kdf(spec: str | None) -> Any:
    """The key-derivation parameters of a ``--kdf SPEC`` option (``None``: tuned on this machine)."""
    if spec is None:
        return None
    from workbench.core.crypto import kdf

    return kdf.parse_spec(spec)


# --- projects and datasets --------------------------------------------------------------------------------------


def open_session_cli(folder: str | Path) -> Any:
    """The project in ``folder``, unlocked with the passphrase from the environment or a prompt when it is
    encrypted (every command that reads or changes a project opens it here)."""
    from workbench.services.opening import open_session

    session = open_session(
        folder, lambda: read_passphrase(f"passphrase of the project {Path(folder).name}", confirm=False)
    )
    from workbench.core.safe_io import escape_for_terminal

    for note in session.notes:
        print(f"{PROG}: note: {escape_for_terminal(note)}", file=sys.stderr)
    return session


def dataset_source_options(p: argparse.ArgumentParser, what: str = "dataset file") -> None:
    """A dataset given as a file path, or as one of a project's datasets with ``--dataset NAME|ID``."""
    p.add_argument("path", nargs="?", help=f"{what} (or name a project's dataset with --dataset and --project)")
    p.add_argument(
        "--dataset",
        metavar="NAME|ID",
        help="a dataset of the project given with --project: its id or name (see: workbench datasets)",
    )
    add_load_options(p)  # every command that reads a file can answer the loader's questions (--header, ...)


def resolve_dataset_input(args: argparse.Namespace, session: Any) -> tuple[Any, Any]:
    """The dataset a command works on, and the project's record of it (``None`` when the project does not know
    it or there is no project): from ``--dataset`` (decrypted into memory in an encrypted project) or a file."""
    show = not getattr(args, "json", False)
    if getattr(args, "dataset", None):
        if session is None:
            raise UsageError("--dataset names one of a project's datasets: add --project DIR")
        if args.path:
            raise UsageError("give either a file path or --dataset, not both")
        record = session.resolve_dataset(args.dataset)
        return drive_with_progress(
            session.load_dataset_job(record, options=_record_options(record, args)), show
        ), record
    if not args.path:
        raise UsageError("name the dataset: a file path, or --dataset NAME|ID with --project DIR")
    if session is not None and not Path(args.path).exists():
        raise UsageError(
            f"{args.path}: no such file; a dataset stored in the project is named with --dataset NAME|ID "
            "(see: workbench datasets --project DIR)"
        )
    ds = load_file(args.path, args)
    record = session.project.dataset_by_fingerprint(ds.fingerprint) if session is not None else None
    return ds, record


def parse_roles(pairs: Sequence[str]) -> dict[str, str]:
    """``--role COLUMN=ROLE`` options as a column -> role value mapping."""
    from workbench.core.data.dataset import ColumnRole

    roles: dict[str, str] = {}
    for pair in pairs:
        column, sep, role = pair.rpartition("=")
        if not sep or not column:
            raise UsageError(f"--role expects COLUMN=ROLE, got {pair!r}")
        try:
            roles[column] = ColumnRole.parse(role).value
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return roles
