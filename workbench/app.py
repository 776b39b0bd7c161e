"""The ``privacy-workbench`` entry point: opens the main window, optionally on a project folder.

``--self-test`` runs the installation self-test (:mod:`workbench.services.selftest` plus :func:`window_check`,
offscreen, so it needs no display) and ``--version`` prints the version and provenance.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

_STARTED = time.monotonic()


def _display_problem() -> str | None:
    """Why no window can be shown here, or None. Checked before Qt, whose own message misleads."""
    if not sys.platform.startswith("linux"):
        return None
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in {
        "offscreen",
        "minimal",
        "vnc",
        "eglfs",
        "linuxfb",
    }:
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display found (DISPLAY and WAYLAND_DISPLAY are not set)"


def install_excepthook(window: object) -> None:
    """Turn an exception escaping a slot into a log entry and a notification instead of a console traceback.

    The exception's message is not logged or shown: it might quote data. Its type and frames are logged.
    """
    import logging
    import traceback

    log = logging.getLogger("workbench.app")

    def hook(exc_type: type[BaseException], exc: BaseException, tb: object) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)  # type: ignore[arg-type]
            return
        log.error(
            "unhandled %s in the GUI (message withheld)\n%s",
            exc_type.__name__,
            "".join(traceback.format_tb(tb)),
        )  # type: ignore[arg-type]
        notify = getattr(window, "notify", None)
        if notify is not None:
            notify("error", f"Unexpected internal error ({exc_type.__name__}). The details are in the log file.")

    sys.excepthook = hook


def window_check(folder: Path) -> str:
    """Self-test check: open the main window offscreen (no project), let it paint, grab it, save the image."""
    if not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before the QApplication exists; no display needed
    from PySide6.QtWidgets import QApplication

    from workbench.ui.qt_main_window import QtMainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QtMainWindow(None)
    try:
        window.resize(1100, 720)
        window.show()
        for _ in range(5):
            app.processEvents()
        image = window.grab().toImage()
        path = folder / "window.png"
        if image.isNull() or not image.save(str(path)):
            raise RuntimeError("the window could not be grabbed")
        colours = {image.pixel(x, y) for x in range(0, image.width(), 23) for y in range(0, image.height(), 23)}
        if len(colours) < 3:
            raise RuntimeError(f"the grabbed window is blank ({len(colours)} colours)")
        platform = QApplication.platformName()
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
    return f"{image.width()}x{image.height()} grabbed on Qt platform '{platform}', {len(colours)} colours sampled"


def self_test(with_federation: bool) -> int:
    """``--self-test``: one line per check on stdout, exit status 1 when any check failed."""
    from workbench.services import selftest

    checks = [*selftest.CORE_CHECKS, selftest.Check("window", window_check)]
    if with_federation:
        checks.append(selftest.FEDERATION_CHECK)
    results = selftest.run_selftest(checks, lambda result: print(result.line(), flush=True))
    line, status = selftest.summary(results)
    print(line)
    return status


def _log_first_paint(window: object) -> None:
    """Log when the window first painted, in seconds since this module was imported (the cold-start figure)."""
    import logging

    from PySide6.QtCore import QEvent, QObject

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint:
                watched.removeEventFilter(self)
                logging.getLogger("workbench.app").info(
                    "first paint %.2f s after start (unix time %.3f)", time.monotonic() - _STARTED, time.time()
                )
            return False

    probe = FirstPaint(window)  # type: ignore[arg-type]
    window.installEventFilter(probe)  # type: ignore[attr-defined]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="privacy-workbench", description="Open the Privacy Workbench window.")
    parser.add_argument("project", nargs="?", help="project folder to open (created if --create is given)")
    parser.add_argument("--create", action="store_true", help="create the project folder if it is not a project")
    parser.add_argument("--load", metavar="FILE", help="load this dataset into the project once the window is up")
    parser.add_argument("--self-test", action="store_true", help="check this installation (offline) and exit")
    parser.add_argument(
        "--with-federation", action="store_true", help="with --self-test: also run a loopback federation round"
    )
    parser.add_argument("--version", action="store_true", help="show version and provenance and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = _parse_args(argv)
    if args.version:
        from workbench._build_info import version_text

        print(version_text("privacy-workbench"))
        return 0
    if args.self_test:
        return self_test(args.with_federation)

    problem = _display_problem()
    if problem:
        print(
            f"privacy-workbench: {problem}. Run it on a virtual screen (xvfb-run -a privacy-workbench "
            f"{args.project or 'PROJECT'}) or use the headless command: workbench --help",
            file=sys.stderr,
        )
        return 2

    from workbench.core.errors import WorkbenchError
    from workbench.core.logging_setup import configure_logging, log_fallback_note

    log_file = configure_logging(os.environ.get("WORKBENCH_LOG_LEVEL", "INFO"))
    log_note = log_fallback_note()
    if log_note:
        print(f"privacy-workbench: note: {log_note}", file=sys.stderr)
    project = None
    encrypted = False
    if args.project:
        from workbench.core.crypto.vault import ProjectVault
        from workbench.core.project.store import Project

        encrypted = ProjectVault.exists(args.project)
        try:
            if not encrypted:  # an encrypted project is opened by the window, once it has the passphrase
                project = Project.open_or_create(args.project) if args.create else Project.open(args.project)
        except WorkbenchError as exc:
            print(f"privacy-workbench: {exc}", file=sys.stderr)
            return 2

    from PySide6.QtWidgets import QApplication

    from workbench.ui.qt_main_window import QtMainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Privacy Workbench")
    try:
        window = QtMainWindow(project)
    except WorkbenchError as exc:  # e.g. a bad WORKBENCH_* setting: one line, as for a bad project
        print(f"privacy-workbench: {exc}", file=sys.stderr)
        return 2
    install_excepthook(window)
    _log_first_paint(window)
    window.show()
    if log_note:
        window.notify("warning", f"Note: {log_note}.")
    if encrypted:
        window.open_project(args.project)
    if args.load:
        window.load_dropped([args.load])
    import logging

    logging.getLogger("workbench").info("window shown; log file %s", log_file)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
