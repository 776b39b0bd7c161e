"""The ``privacy-workbench`` entry point: opens the main window, optionally on a project folder."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys


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


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    parser = argparse.ArgumentParser(prog="privacy-workbench", description="Open the Privacy Workbench window.")
    parser.add_argument("project", nargs="?", help="project folder to open (created if --create is given)")
    parser.add_argument("--create", action="store_true", help="create the project folder if it is not a project")
    parser.add_argument("--load", metavar="FILE", help="load this dataset into the project once the window is up")
    args = parser.parse_args(argv)

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
