"""The QThread job runner: results reach GUI-thread slots, cancellation and errors are reported, nothing leaks."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject, QThread, Slot
from PySide6.QtWidgets import QApplication

from workbench.core.errors import DatasetError
from workbench.core.jobs import CancelToken, JobGenerator, JobState, Progress
from workbench.ui.qt_jobs import QtJobRunner


def steps(n: int, delay: float = 0.0, payload_at: int | None = None):  # noqa: ANN201
    def factory(token: CancelToken) -> JobGenerator[str]:
        for i in range(n):
            token.raise_if_cancelled()
            if delay:
                token.wait(delay)
            yield Progress("step", i + 1, n, payload=("rows",) if i == payload_at else None)
        return f"done {n} in {threading.current_thread().name}"

    return factory


class Recorder(QObject):
    """A GUI-thread receiver: records in which thread each slot ran."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[QThread] = []
        self.progress: list[Progress] = []
        self.results: list[object] = []

    @Slot(int, object)
    def on_progress(self, job_id: int, progress: Progress) -> None:
        self.threads.append(QThread.currentThread())
        self.progress.append(progress)

    @Slot(int, object)
    def on_result(self, job_id: int, result: object) -> None:
        self.threads.append(QThread.currentThread())
        self.results.append(result)


def test_slots_run_on_the_gui_thread(qtbot) -> None:  # noqa: ANN001
    runner = QtJobRunner()
    rec = Recorder()
    runner.sig_job_progress.connect(rec.on_progress)
    runner.sig_job_succeeded.connect(rec.on_result)
    with qtbot.waitSignal(runner.sig_job_ended, timeout=10_000):
        runner.submit("t", steps(5, payload_at=2), interval=0.0)
    gui = QApplication.instance().thread()
    assert rec.results and rec.results[0].startswith("done 5")
    assert "MainThread" not in rec.results[0], "the job itself must run in a worker thread"
    assert rec.threads and all(t is gui for t in rec.threads)
    assert any(p.payload == ("rows",) for p in rec.progress)
    assert runner.registry.snapshots()[0].state is JobState.SUCCEEDED


def test_progress_is_throttled_but_the_first_payload_arrives_at_once(qtbot) -> None:  # noqa: ANN001
    runner = QtJobRunner()
    rec = Recorder()
    runner.sig_job_progress.connect(rec.on_progress)
    with qtbot.waitSignal(runner.sig_job_ended, timeout=10_000):
        runner.submit("t", steps(2000, payload_at=1500), interval=10.0)
    assert len(rec.progress) == 2  # the very first snapshot, then the payload; everything else throttled
    assert rec.progress[1].payload == ("rows",) and rec.progress[1].done == 1501


def test_cancel_reports_cancelled(qtbot) -> None:  # noqa: ANN001
    runner = QtJobRunner()
    cancelled: list[int] = []
    runner.sig_job_cancelled.connect(cancelled.append)
    with qtbot.waitSignal(runner.sig_job_ended, timeout=10_000):
        job = runner.submit("slow", steps(1000, delay=0.01))
        qtbot.wait(50)
        assert runner.cancel(job)
    assert cancelled == [job]
    assert runner.registry.snapshot(job).state is JobState.CANCELLED


def test_user_errors_and_unexpected_errors(qtbot, caplog) -> None:  # noqa: ANN001
    runner = QtJobRunner()
    failures: list[tuple[int, str]] = []
    runner.sig_job_failed.connect(lambda j, m: failures.append((j, m)))

    def bad_file(token: CancelToken) -> JobGenerator[None]:
        yield Progress("x")
        raise DatasetError("/data/x.csv", "the file is empty")

    row = {"name": "SECRET-" + "VALUE-123"}  # built at run time: the source line itself must not match

    def bug(token: CancelToken) -> JobGenerator[None]:
        yield Progress("x")
        raise KeyError(row["name"])

    with qtbot.waitSignal(runner.sig_job_ended, timeout=10_000):
        runner.submit("a", bad_file)
    with qtbot.waitSignal(runner.sig_job_ended, timeout=10_000):
        runner.submit("b", bug)
    assert failures[0][1] == "/data/x.csv: the file is empty"
    assert "KeyError" in failures[1][1] and "SECRET-VALUE-123" not in failures[1][1]
    assert "SECRET-VALUE-123" not in caplog.text, "an unexpected error's message may hold data: never log it"


def test_many_jobs_at_once(qtbot) -> None:  # noqa: ANN001
    runner = QtJobRunner()
    done: list[int] = []
    runner.sig_job_succeeded.connect(lambda j, r: done.append(j))
    ids = [runner.submit(f"j{i}", steps(20, delay=0.001)) for i in range(8)]
    qtbot.waitUntil(lambda: runner.running_count() == 0 and len(done) == 8, timeout=20_000)
    assert sorted(done) == sorted(ids)
    qtbot.waitUntil(lambda: not QtJobRunner.live_threads(), timeout=5_000)


def test_wait_all_times_out_on_a_job_that_ignores_cancel(qtbot) -> None:  # noqa: ANN001
    runner = QtJobRunner()
    release = threading.Event()

    def stubborn(token: CancelToken) -> JobGenerator[None]:
        yield Progress("x")
        release.wait(10)  # does not poll the token

    runner.submit("stubborn", stubborn)
    qtbot.wait(50)
    runner.cancel_all()
    t0 = time.monotonic()
    assert runner.wait_all(0.3) is False
    assert time.monotonic() - t0 < 2
    release.set()
    assert runner.wait_all(10) is True
    qtbot.waitUntil(lambda: not QtJobRunner.live_threads(), timeout=5_000)


@pytest.mark.parametrize("n", [1])
def test_result_of_generator_without_progress(qtbot, n: int) -> None:  # noqa: ANN001
    runner = QtJobRunner()
    results: list[object] = []
    runner.sig_job_succeeded.connect(lambda j, r: results.append(r))

    def quick(token: CancelToken) -> JobGenerator[int]:
        return 42
        yield  # noqa: B901 - a generator that reports no progress

    with qtbot.waitSignal(runner.sig_job_ended, timeout=10_000):
        runner.submit("quick", quick)
    assert results == [42]
