"""`workbench selftest`: prove on this machine that the installed workbench works, offline.

    workbench selftest [--with-federation] [--no-window] [--only CHECK ...]

One line per check (PASS/FAIL, seconds, a detail), then a summary; exit status 0 when every check passed, 1
otherwise. The checks are :mod:`workbench.services.selftest`'s plus the window check of the ``privacy-workbench``
entry point (a window opened and grabbed offscreen; skipped with ``--no-window`` where Qt cannot start at all).
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import say

WINDOW = "window"


def _checks(args: argparse.Namespace) -> list[Any]:
    from workbench.services import selftest

    checks = list(selftest.CORE_CHECKS)
    if not args.no_window:
        from workbench.app import window_check  # Qt is imported inside the check, never at this module's top

        checks.append(selftest.Check(WINDOW, window_check))
    if args.with_federation:
        checks.append(selftest.FEDERATION_CHECK)
    return selftest.select_checks(checks, args.only)


def cmd_selftest(args: argparse.Namespace) -> int:
    from workbench.services import selftest

    checks = _checks(args)
    results = selftest.run_selftest(checks, lambda result: say(result.line()))
    line, status = selftest.summary(results)
    say(line)
    return status


def register(sub: Any) -> None:
    """Add ``selftest`` to the `workbench` parser's subparsers object."""
    p = sub.add_parser(
        "selftest",
        help="check that this installation works (offline, built-in data)",
        description="Run every subsystem once on tiny built-in data, offline: CSV loading, PII detection and "
        "anonymization with the bundled spaCy model, one DP-SGD step with the bundled encoder, encryption, "
        "signatures and an offscreen window. Exit status 1 when any check fails.",
    )
    p.add_argument(
        "--with-federation",
        action="store_true",
        help="also run one loopback federation round (Flower daemons on 127.0.0.1; 20-60 s)",
    )
    p.add_argument("--no-window", action="store_true", help="skip the offscreen window check")
    p.add_argument("--only", nargs="+", metavar="CHECK", help="run only these checks (csv pii dp-sgd encrypt ...)")
    p.set_defaults(func=cmd_selftest)
