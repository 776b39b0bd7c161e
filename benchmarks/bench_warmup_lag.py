"""The Anonymize page's background warm-up: how the window feels while it runs, and how soon the first preview comes.

The main window loads a demo clinic CSV (free-text notes, names, phones...) through the real data page. From then
on the page gets ready in the background (spaCy and Presidio loaded, the analyzer built and run once, the columns
detected), each step waiting for the analyst to be idle (``workbench.core.pacing``). Each scenario runs in a fresh
process, so the analyzer really is loaded in it:

* ``baseline``: no warm-up at all; the analyst wheel-scrolls the data table for ``--scroll-s`` seconds (the lag this
  machine has anyway, for comparison).
* ``active``: the analyst scrolls the data table with the mouse wheel (real wheel events, one every 16 ms) for
  ``--scroll-s`` seconds from the load on; the lag probe (a 5 ms timer in the GUI thread, ``lag_probe.py``) and the
  repaint of the table after each wheel step are measured. Then the analyst stops; the warm-up runs; the Anonymize
  page is opened and the first preview timed (from the click to the table filled). ``scrolling_*``: while the
  analyst scrolled (the warm-up gave way); ``idle_warm_up_*``: after, while it ran with nobody at the window.
* ``idle``: nobody touches anything after the load; the lag probe is measured while the warm-up runs (what a timer
  or an animation would suffer), then the first preview is timed as above.
* ``urgent``: the worst case the pacing avoids: the warm-up is hurried at once (as if the page had been opened) and
  runs while the analyst wheel-scrolls the data table.
* ``cold``: the Anonymize page is opened right after the load (no warm-up yet): the first preview as it was
  before the background warm-up.

Goals (issue 14): lag p99 < 50 ms while the analyzer warms up; the first preview within 1 s of opening the page
once the project has been open a few seconds.

Reproduce::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_warmup_lag.py [--rows 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
SCENARIOS = ("baseline", "active", "idle", "urgent", "cold")


def _pump(app: Any, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def _wait(app: Any, condition: Any, timeout_s: float) -> bool:
    end = time.perf_counter() + timeout_s
    while not condition() and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)
    return bool(condition())


def _wheel_scroll(app: Any, view: Any, seconds: float, paints: list[float], stop: Any = None) -> None:
    """Real wheel events on the table's viewport, one every ~16 ms, each followed by a synchronous repaint."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent

    viewport = view.viewport()
    centre = QPointF(viewport.width() / 2, viewport.height() / 2)
    end = time.perf_counter() + seconds
    step = 0
    while time.perf_counter() < end and not (stop and stop()):
        delta = -120 if (step // 40) % 2 == 0 else 120  # 40 notches down, 40 up, ...
        event = QWheelEvent(
            centre, viewport.mapToGlobal(centre), QPoint(0, 0), QPoint(0, delta),
            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
        )  # fmt: skip
        app.sendEvent(viewport, event)
        s = time.perf_counter()
        viewport.repaint()
        paints.append((time.perf_counter() - s) * 1000)
        step += 1
        _pump(app, 0.016)


def _first_preview(app: Any, window: Any) -> dict[str, Any]:
    page = window.pii_page
    started = time.perf_counter()
    window.nav.setCurrentRow(window._page_names.index("Anonymize"))
    ok = _wait(app, lambda: page.last_preview() is not None, 120)
    return {
        "first_preview_ms": round((time.perf_counter() - started) * 1000, 1) if ok else None,
        "first_preview_shown_ms": round(page.preview.last_end_to_end_ms or float("nan"), 1),
        "first_preview_analysis_ms": round(page.last_preview().elapsed_ms, 1) if ok else None,
    }


def run_scenario(scenario: str, rows: int, scroll_s: float) -> dict[str, Any]:
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-bench-"))
    from lag_probe import LagProbe
    from PySide6.QtWidgets import QApplication

    from workbench.core.demo import clinic_intake_csv_text
    from workbench.core.project.store import Project
    from workbench.ui.qt_main_window import QtMainWindow

    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="wb-bench-warm-"))
    source = folder / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=rows), encoding="utf-8")
    window = QtMainWindow(Project.create(folder / "p"))
    window.resize(1366, 768)
    window.show()
    app.processEvents()
    lags: list[float] = []
    recording = [False]
    probe = LagProbe(lambda ms: lags.append(ms) if recording[0] else None)
    probe.start()
    window.data_page.load_file(source)
    if not _wait(app, lambda: window.data_page.dataset is not None and window.runner.running_count() == 0, 120):
        raise SystemExit("the dataset did not load")
    out: dict[str, Any] = {"scenario": scenario, "rows": rows}
    try:
        if scenario == "cold":
            out.update(_first_preview(app, window))
        else:
            _measure_warm_up(app, window, scenario, scroll_s, out, (probe, lags, recording))
    finally:
        window.runner.begin_shutdown()
        window.runner.cancel_all()
        window.runner.wait_all(30)
    return out


def _lag_stats(prefix: str, lags: list[float], paints: list[float]) -> dict[str, Any]:
    from lag_probe import percentile

    out = {
        f"{prefix}_lag_p99_ms": round(percentile(lags, 99), 1),
        f"{prefix}_lag_max_ms": round(max(lags, default=0.0), 1),
        f"{prefix}_lag_samples": len(lags),
    }
    if paints:
        out[f"{prefix}_wheel_repaint_p50_ms"] = round(statistics.median(paints), 2)
        out[f"{prefix}_wheel_repaint_p99_ms"] = round(percentile(paints, 99), 2)
        out[f"{prefix}_wheel_steps"] = len(paints)
    return out


def _measure_warm_up(app: Any, window: Any, scenario: str, scroll_s: float, out: dict[str, Any], lag: Any) -> None:
    probe, lags, recording = lag
    detection = window.pii_page._detection
    view = window.data_page.table_view
    if scenario == "baseline":
        detection.cancel()  # no warm-up at all: the machine's own lag, for comparison
    paints: list[float] = []
    probe.restart()
    recording[0] = True
    started = time.perf_counter()
    if scenario in ("active", "baseline"):
        _wheel_scroll(app, view, scroll_s, paints)
        out["warm_job_started_while_scrolling"] = detection.running
        out.update(_lag_stats("scrolling", lags, paints))
        if scenario == "baseline":
            return
        lags.clear()
        probe.restart()
    elif scenario == "urgent":
        _wait(app, lambda: detection.running, 10)
        detection.hurry()
        _wheel_scroll(app, view, 120, paints, stop=lambda: not detection.running)
        out.update(_lag_stats("scrolling", lags, paints))
    _wait(app, lambda: window.pii_page.detections() is not None, 180)
    recording[0] = False
    result = detection.last_result
    if scenario != "urgent":
        out.update(_lag_stats("idle_warm_up", lags, []))
    out["seconds_from_load_to_ready"] = round(time.perf_counter() - started, 2)
    if result is not None:
        out["warm_up_waited_for_the_user_s"] = round(result.waited_s, 2)
        out["warm_up_steps_s"] = {k: round(v, 2) for k, v in result.seconds.items()}
    _pump(app, 0.5)
    out.update(_first_preview(app, window))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--scroll-s", type=float, default=8.0)
    parser.add_argument("--scenario", choices=SCENARIOS, help="run one scenario in this process (internal)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    if args.scenario:
        print(json.dumps(run_scenario(args.scenario, args.rows, args.scroll_s)))
        return 0
    results = {}
    for scenario in SCENARIOS:
        command = [sys.executable, __file__, "--scenario", scenario, "--rows", str(args.rows)]
        command += ["--scroll-s", str(args.scroll_s)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{scenario}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        results[scenario] = json.loads(done.stdout.strip().splitlines()[-1])
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"load_average_1m": load, **results}))
        return 0
    for scenario, values in results.items():
        print(f"[{scenario}]")
        for key, value in values.items():
            if key != "scenario":
                print(f"  {key:<34} {value}")
    print(f"\nload average (1 min) at the end: {load:.1f}")
    print(f"reproduce: QT_QPA_PLATFORM=offscreen {sys.executable} benchmarks/bench_warmup_lag.py --rows {args.rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
