"""Screenshots of every page of the window, at laptop and desktop screen sizes, into docs/screens/.

Creates the demo project (as ``workbench demo --project DIR`` does) in a temporary folder, opens it in the main
window, visits every page once per screen size, waits until the page's jobs (loading, the personal-data
detection and preview, the training plan) have finished, and saves ``<page>-<w>x<h>.png`` with ``QWidget.grab()``.

The window is given the screen's size less ``--chrome`` pixels of height (a title bar and a taskbar), as a
maximised window would have. Run it under Xvfb, with a window manager if one is installed (the script starts
openbox, fluxbox, icewm or xfwm4 when it finds one)::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshots.py

or without any display: ``QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py`` (the same pixels,
from the same grab). It never touches your own workbench settings: ``WORKBENCH_HOME`` points at the temporary
folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = ((1366, 768), (1920, 1080))
WINDOW_MANAGERS = ("openbox", "fluxbox", "icewm", "xfwm4")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screens", help="where the PNGs go")
    parser.add_argument("--rows", type=int, default=400, help="rows of the demo dataset")
    parser.add_argument("--chrome", type=int, default=68, help="height kept for a title bar and a taskbar")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a page's jobs")
    return parser.parse_args(argv)


def _start_window_manager() -> subprocess.Popen[bytes] | None:
    """A window manager on the X display, when there is a display and one is installed."""
    if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen") or not os.environ.get("DISPLAY"):
        return None
    for name in WINDOW_MANAGERS:
        path = shutil.which(name)
        if path:
            print(f"window manager: {name}")
            return subprocess.Popen([path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("no window manager found (apt-get install openbox for title bars); going on without one")
    return None


def _settle(app: object, window: object, timeout: float) -> None:
    """Process events until no job runs (and a little longer, for the last repaints)."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        QApplication.processEvents()
        busy = bool(window.runner.registry.active())  # type: ignore[attr-defined]
        now = time.monotonic()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since > 0.6:
            return
        time.sleep(0.02)
    print(f"  (jobs still running after {timeout:.0f} s: taking the picture anyway)")


def _save(image: object, target: Path, limit: int = 300_000) -> None:
    """Save as PNG at the highest compression; above ``limit`` bytes, with at most 256 colours (a UI has few)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    assert isinstance(image, QImage)
    image.save(str(target), "PNG", 0)
    if target.stat().st_size > limit:
        flags = Qt.ImageConversionFlag.ColorOnly | Qt.ImageConversionFlag.ThresholdDither
        image.convertToFormat(QImage.Format.Format_Indexed8, flags).save(str(target), "PNG", 0)


def _slug(name: str) -> str:
    return name.lower().replace(" and ", "-").replace(" ", "-")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    home = Path(tempfile.mkdtemp(prefix="workbench-screens-"))
    os.environ["WORKBENCH_HOME"] = str(home)  # before any workbench import reads it
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    wm = _start_window_manager()
    try:
        from PySide6.QtWidgets import QApplication

        from workbench.core.demo_project import create_demo_project
        from workbench.ui.qt_main_window import QtMainWindow

        app = QApplication.instance() or QApplication(sys.argv[:1])
        project, record = create_demo_project(home / "demo-project", rows=args.rows)
        print(f"demo project: {project.folder} ({record.rows} rows)")
        window = QtMainWindow(project)
        args.out.mkdir(parents=True, exist_ok=True)
        window.show()
        for width, height in SIZES:
            window.resize(width, height - args.chrome)
            _settle(app, window, args.timeout)
            for name in list(window._page_names):
                window.show_page(name)
                _settle(app, window, args.timeout)
                target = args.out / f"{_slug(name)}-{width}x{height}.png"
                _save(window.grab().toImage(), target)
                print(f"  {target.relative_to(REPO) if target.is_relative_to(REPO) else target}")
        window.confirm_close_with_jobs = lambda count: True  # type: ignore[method-assign]
        window.close()
        return 0
    finally:
        if wm is not None:
            wm.terminate()
            wm.wait(5)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
