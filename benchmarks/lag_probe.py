"""The event-loop lag probe the GUI benchmarks share: a precise QTimer firing every few milliseconds in the GUI
thread; how late each tick comes is the lag a user would feel. Import after a QApplication exists."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Slot


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile by nearest rank (nan for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def print_results(results: dict[str, Any], as_json: bool, reproduce: str) -> None:
    """One JSON line, or an aligned table followed by the command that reproduces it."""
    if as_json:
        print(json.dumps(results))
        return
    width = max(len(k) for k in results)
    for k, v in results.items():
        print(f"{k:<{width}}  {v}")
    print(f"\nreproduce: {reproduce}")


class LagProbe(QObject):
    """Calls ``on_lag(ms)`` on every tick with how late it came (never negative)."""

    def __init__(self, on_lag: Callable[[float], None], interval_ms: int = 5) -> None:
        super().__init__()
        self._on_lag = on_lag
        self._interval = float(interval_ms)
        self.clock = QElapsedTimer()
        self.clock.start()
        self.last = self.clock.nsecsElapsed()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)

    def start(self) -> None:
        self.restart()
        self.timer.start()

    def restart(self) -> None:
        """Measure from now (after the benchmark itself blocked the loop on purpose)."""
        self.last = self.clock.nsecsElapsed()

    @Slot()
    def tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self._on_lag(max(0.0, (now - self.last) / 1e6 - self._interval))
        self.last = now
