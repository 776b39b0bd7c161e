"""The GUI entry point without a screen, and the excepthook."""

from __future__ import annotations

import os
import subprocess
import sys


def test_no_display_says_so_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}}
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.app", "somewhere"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no display" in lines[0] and "xvfb-run" in lines[0] and "workbench --help" in lines[0]
    assert "xcb" not in proc.stderr


def test_bad_project_folder_is_one_line(tmp_path) -> None:  # noqa: ANN001
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.app", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "missing" in proc.stderr


def test_excepthook_notifies_without_the_message(qtbot, caplog) -> None:  # noqa: ANN001
    from workbench.app import install_excepthook

    notes: list[tuple[str, str]] = []

    class Window:
        def notify(self, level: str, text: str) -> None:
            notes.append((level, text))

    old = sys.excepthook
    try:
        install_excepthook(Window())
        secret = "PATIENT-" + "4711"
        try:
            raise ValueError(secret)
        except ValueError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        sys.excepthook = old
    assert notes and notes[0][0] == "error" and "ValueError" in notes[0][1]
    assert "PATIENT-4711" not in notes[0][1] and "PATIENT-4711" not in caplog.text
