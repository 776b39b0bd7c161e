"""The ``workbench`` command: everything the GUI does, headless.

The commands live in one module per group, each adding its subcommands with ``register(subparsers)``:

    datasets   info, demo, demo-data, add, datasets, roles, export
    project    project init | encrypt | passphrase
    pii        scan, policy-template, anonymize, pii-eval
    crypto     encrypt, decrypt, keygen, share, open, sign, verify, fingerprint
    train      train, budget
    risk       risk
    selftest   selftest (an installation's offline self-test)

``workbench --version`` prints the version, the commit it was built from and the privacy libraries' versions
(:mod:`workbench._build_info`).

What they share (the user-error type, progress, tables, load options, passphrases, opening a project, naming a
dataset) is in :mod:`workbench.cli._common`, the only module of this package they import; none imports this
package or a sibling, so there is no import cycle (``tests/cli/test_cli_structure.py``).

Heavy modules (pyarrow, torch, presidio, opacus, cryptography) are imported inside the commands, so
``workbench --help`` starts fast and loads neither Qt nor torch (``tests/core/test_architecture.py``).

Exit codes: 0 success; 2 bad input or a problem the user can fix (one line on stderr naming the file and the
problem); 1 an internal error (one line on stderr; the details go to the log file, never with dataset values);
130 interrupted (SIGINT, Ctrl+C); 143 terminated (SIGTERM, which is handled like SIGINT: it raises
``KeyboardInterrupt`` in the main thread, so every ``finally`` block and the removal of temporary files run before
the exit; ``docs/crypto-format.md`` §2.4).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from workbench.cli import audit, crypto, datasets, federate, pii, project, risk, selftest, train
from workbench.cli._common import PROG, print_error, stdout_closed
from workbench.core.errors import WorkbenchError

__all__ = ["build_parser", "main"]


class _VersionAction(argparse.Action):
    """``--version``: computed only when asked (it reads git or the build record and the libraries' metadata)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from workbench._build_info import version_text

        print(version_text(PROG))
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Privacy Workbench, headless.")
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # The order here is the order of the commands in `workbench --help`.
    datasets.register_inspection(sub)  # info, demo, demo-data
    project.register(sub)  # project init | encrypt | passphrase
    datasets.register(sub)  # add, datasets, roles, export
    pii.register(sub)  # scan, policy-template, anonymize, pii-eval
    crypto.register(sub)  # encrypt, decrypt, keygen, share, open, sign, verify, fingerprint
    train.register(sub)  # train, budget
    audit.register(sub)  # audit-log verify | head | export, report, verify-report
    federate.register(sub)  # federate simulate
    risk.register(sub)  # risk
    selftest.register(sub)  # selftest
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    import signal
    import threading

    terminated: list[int] = []

    def on_sigterm(signum: int, frame: object) -> None:
        terminated.append(signum)
        raise KeyboardInterrupt  # like Ctrl+C: cleanup runs, then exit 143 below

    installed = threading.current_thread() is threading.main_thread()  # only the main thread may set a handler
    previous = signal.signal(signal.SIGTERM, on_sigterm) if installed else None
    try:
        try:
            return _run(args, terminated)
        finally:
            if installed:  # None: a handler not set from Python (the default, for a `workbench` process)
                signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    except KeyboardInterrupt:  # a signal that lands after the command's own handling (kill campaign, point 187)
        return 143 if terminated else 130


def _run(args: argparse.Namespace, terminated: list[int]) -> int:
    """Run the chosen command; its exit code (see the module docstring)."""
    import logging
    import os

    from workbench.core.logging_setup import configure_logging, log_fallback_note

    with contextlib.suppress(OSError):  # an unwritable log folder must not stop a batch job
        configure_logging(os.environ.get("WORKBENCH_LOG_LEVEL", "INFO"))
    note = log_fallback_note()
    if note:  # said once per command, then the command runs as usual
        print(f"{PROG}: note: {note}", file=sys.stderr)
    logging.getLogger("workbench.cli").info("command: %s", args.command)
    try:
        return int(args.func(args))
    except WorkbenchError as exc:  # a UsageError too: a problem the user can fix
        print_error(str(exc))
        return 2
    except KeyboardInterrupt:
        print_error("terminated" if terminated else "interrupted")
        return 143 if terminated else 130
    except BrokenPipeError:  # a plain print to a reader that went away (`workbench ... | head -1`): end quietly
        stdout_closed()
        return 0
    except Exception as exc:  # noqa: BLE001 - one line for the user, the frames for the log
        import traceback

        logging.getLogger("workbench.cli").error(
            "internal error %s (message withheld)\n%s",
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        print_error(f"internal error ({type(exc).__name__}); details are in the log file")
        return 1
