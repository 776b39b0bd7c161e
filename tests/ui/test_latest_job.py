"""Newest request wins: stale results are dropped whatever order threads finish in; requests are debounced."""

from __future__ import annotations

from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.ui.qt_jobs import QtJobRunner
from workbench.ui.qt_latest_job import QtLatestJob


def slow_value(value: int, delay: float, ignore_cancel: bool = False):  # noqa: ANN201
    def factory(token: CancelToken) -> JobGenerator[int]:
        yield Progress("work")
        if ignore_cancel:
            import time

            time.sleep(delay)
        elif token.wait(delay):
            token.raise_if_cancelled()
        return value

    return factory


def test_newest_wins_even_if_an_older_job_finishes_later(qtbot) -> None:  # noqa: ANN001
    runner = QtJobRunner()
    latest = QtLatestJob(runner, "preview", debounce_ms=0)
    results: list[tuple[int, object]] = []
    latest.sig_result.connect(lambda n, r: results.append((n, r)))
    latest.request(slow_value(1, 0.4, ignore_cancel=True), immediate=True)  # slow and deaf to cancel
    qtbot.wait(20)
    n2 = latest.request(slow_value(2, 0.01), immediate=True)
    qtbot.waitUntil(lambda: runner.running_count() == 0 and not QtJobRunner.live_threads(), timeout=5000)
    qtbot.wait(20)
    assert results == [(n2, 2)]
    assert latest.dropped_count == 1


def test_debounce_starts_only_the_last_of_a_burst(qtbot) -> None:  # noqa: ANN001
    runner = QtJobRunner()
    latest = QtLatestJob(runner, "preview", debounce_ms=80)
    results: list[object] = []
    latest.sig_result.connect(lambda n, r: results.append(r))
    for value in range(10):
        latest.request(slow_value(value, 0.0))
    with qtbot.waitSignal(latest.sig_result, timeout=3000):
        pass
    qtbot.waitUntil(lambda: not QtJobRunner.live_threads(), timeout=3000)
    assert results == [9]
    assert latest.started_count == 1


def test_a_newer_request_cancels_the_running_one(qtbot) -> None:  # noqa: ANN001
    runner = QtJobRunner()
    latest = QtLatestJob(runner, "preview", debounce_ms=0)
    cancelled: list[int] = []
    runner.sig_job_cancelled.connect(cancelled.append)
    latest.request(slow_value(1, 5.0), immediate=True)
    qtbot.wait(30)
    latest.request(slow_value(2, 0.0), immediate=True)
    qtbot.waitUntil(lambda: not QtJobRunner.live_threads(), timeout=3000)
    assert len(cancelled) == 1
