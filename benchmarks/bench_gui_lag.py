"""How responsive the window stays while a big dataset loads, and how cheap scrolling and sorting a million rows is.

A QTimer probe fires every 5 ms in the GUI thread; its lateness is the event-loop lag a user would feel. The probe
runs while the main window loads the 1M-row CSV through the real job runner and data page, then while it sorts the
table by a column. Time to first rows = from the load request to the preview model being shown.

Reproduce (generates the CSV into benchmarks/out/ on the first run)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_lag.py [--rows 1000000] [--json]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-bench-"))

HERE = Path(__file__).resolve().parent


def ensure_csv(rows: int) -> Path:
    out = HERE / "out" / f"big_{rows}.csv"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(HERE / "make_big_csv.py"), "--rows", str(rows), "--out", str(out)],
            check=True,
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    csv_path = ensure_csv(args.rows)

    from lag_probe import LagProbe, percentile, print_results
    from PySide6.QtCore import QObject, Qt, Slot
    from PySide6.QtWidgets import QApplication

    from workbench.core.project.store import Project
    from workbench.ui.qt_main_window import QtMainWindow

    app = QApplication.instance() or QApplication([])
    project = Project.create(Path(tempfile.mkdtemp(prefix="wb-bench-proj-")) / "p")
    window = QtMainWindow(project)
    window.resize(1280, 820)
    window.show()
    app.processEvents()

    class Probe(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.lags: list[float] = []
            self.recording = False
            self.first_rows_at: float | None = None
            self.lag = LagProbe(self.on_lag)

        def on_lag(self, ms: float) -> None:
            if self.recording:
                self.lags.append(ms)

        @Slot(int, object)
        def on_progress(self, job_id: int, progress: object) -> None:
            if self.first_rows_at is None and getattr(progress, "payload", None) is not None:
                self.first_rows_at = time.perf_counter()

    probe = Probe()
    window.runner.sig_job_progress.connect(probe.on_progress)
    probe.lag.start()

    def run_until_idle(timeout_s: float) -> None:
        deadline = time.perf_counter() + timeout_s
        while window.runner.running_count() and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.001)
        for _ in range(20):
            app.processEvents()

    # 1. load
    probe.lag.restart()
    probe.recording = True
    t0 = time.perf_counter()
    window.data_page.load_file(csv_path)
    run_until_idle(600)
    t_load = time.perf_counter() - t0
    probe.recording = False
    load_lags = probe.lags[:]
    ds = window.data_page.dataset
    if ds is None:
        print("load failed: " + window.data_page.banner.text(), file=sys.stderr)
        return 1
    first_rows = (probe.first_rows_at - t0) if probe.first_rows_at else float("nan")

    # 2. scrolling: jump to random places and repaint the viewport synchronously. The Anonymize page's background
    # warm-up (spaCy, the analyzer, column detection) starts 1.5 s after the load; these repaints make no input
    # events, so it does not wait for them: the scroll and sort figures include it when it overlaps (reported).
    warming = window.pii_page._detection
    warm_at_scroll = warming.running
    view = window.data_page.table_view
    bar = view.verticalScrollBar()
    rnd = random.Random(0)
    paints: list[float] = []
    for _ in range(300):
        bar.setValue(rnd.randrange(0, max(1, bar.maximum())))
        s = time.perf_counter()
        view.viewport().repaint()
        paints.append((time.perf_counter() - s) * 1000)
    # and a smooth scroll: 500 steps of one page
    smooth: list[float] = []
    bar.setValue(bar.maximum() // 2)
    for _ in range(500):
        bar.setValue(bar.value() + bar.pageStep())
        s = time.perf_counter()
        view.viewport().repaint()
        smooth.append((time.perf_counter() - s) * 1000)

    # 3. sort by a text column as a job while probing lag
    warm_at_sort = warming.running
    app.processEvents()
    probe.lags.clear()
    probe.lag.restart()  # the scroll loop above blocked the loop on purpose: start afresh
    probe.recording = True
    s = time.perf_counter()
    # a column of a million distinct strings: the hardest sort in the file
    col = ds.column_names.index("email") if "email" in ds.column_names else 1
    view.sortByColumn(col, Qt.SortOrder.AscendingOrder)
    run_until_idle(300)
    t_sort = time.perf_counter() - s
    probe.recording = False
    sort_lags = probe.lags[:]

    results = {
        "rows": ds.num_rows,
        "file_mb": round(ds.size_bytes / 1e6, 1),
        "load_seconds": round(t_load, 2),
        "time_to_first_rows_ms": round(first_rows * 1000, 1),
        "load_lag_p99_ms": round(percentile(load_lags, 99), 1),
        "load_lag_max_ms": round(max(load_lags, default=0.0), 1),
        "load_lag_samples": len(load_lags),
        "scroll_jump_paint_p50_ms": round(statistics.median(paints), 2),
        "scroll_jump_paint_p99_ms": round(percentile(paints, 99), 2),
        "scroll_page_paint_p99_ms": round(percentile(smooth, 99), 2),
        "sort_seconds": round(t_sort, 2),
        "sort_lag_p99_ms": round(percentile(sort_lags, 99), 1),
        "sort_lag_max_ms": round(max(sort_lags, default=0.0), 1),
        "analyzer_warm_up_running_at_scroll_start": warm_at_scroll,
        "analyzer_warm_up_running_at_sort_start": warm_at_sort,
        "analyzer_warm_up_done_at_end": warming.last_result is not None,
    }
    window.close()
    print_results(
        results,
        args.json,
        f"QT_QPA_PLATFORM=offscreen {sys.executable} benchmarks/bench_gui_lag.py --rows {args.rows}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
