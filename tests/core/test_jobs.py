"""Cancel tokens, progress snapshots and the job registry."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from workbench.core.errors import JobCancelled
from workbench.core.jobs import CancelToken, JobGenerator, JobRegistry, JobState, Progress, drive


def counting_job(n: int, token: CancelToken) -> JobGenerator[int]:
    total = 0
    for i in range(n):
        token.raise_if_cancelled()
        total += i
        yield Progress("count", done=i + 1, total=n)
    return total


def test_progress_is_immutable_and_fraction_is_clamped() -> None:
    p = Progress("parse", done=5, total=10)
    assert p.fraction == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.done = 6  # type: ignore[misc]
    assert Progress("x", done=20, total=10).fraction == 1.0
    assert Progress("x", done=1).fraction is None


def test_drive_returns_the_generator_result_and_reports_progress() -> None:
    seen: list[float] = []
    result = drive(counting_job(5, CancelToken()), lambda p: seen.append(p.done))
    assert result == 10
    assert seen == [1, 2, 3, 4, 5]


def test_cancel_token_stops_a_job() -> None:
    token = CancelToken()
    gen = counting_job(100, token)
    next(gen)
    token.cancel()
    with pytest.raises(JobCancelled):
        next(gen)


def test_registry_lifecycle_and_cancel() -> None:
    reg = JobRegistry()
    job_id, token = reg.create("Load demo.csv", kind="load")
    assert reg.snapshot(job_id).state is JobState.PENDING  # type: ignore[union-attr]
    reg.start(job_id)
    reg.report(job_id, Progress("parse", 1, 4))
    snap = reg.snapshot(job_id)
    assert snap is not None and snap.state is JobState.RUNNING and snap.progress == Progress("parse", 1, 4)
    assert [s.job_id for s in reg.active()] == [job_id]
    assert reg.cancel(job_id) is True
    assert token.cancelled
    reg.finish(job_id, JobState.CANCELLED)
    assert reg.cancel(job_id) is False  # finished jobs cannot be cancelled again
    assert reg.active() == []
    # progress after the end is ignored: a late report from a worker must not resurrect the job
    reg.report(job_id, Progress("parse", 2, 4))
    assert reg.snapshot(job_id).progress == Progress("parse", 1, 4)  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        reg.finish(job_id, JobState.RUNNING)


def test_registry_prunes_old_finished_jobs_only() -> None:
    reg = JobRegistry(keep_finished=3)
    running, _ = reg.create("long")
    reg.start(running)
    for i in range(10):
        jid, _ = reg.create(f"j{i}")
        reg.start(jid)
        reg.finish(jid, JobState.SUCCEEDED)
    titles = [s.title for s in reg.snapshots()]
    assert titles == ["long", "j7", "j8", "j9"]


def test_registry_from_many_threads() -> None:
    reg = JobRegistry(keep_finished=10_000)

    def worker() -> None:
        for _ in range(200):
            jid, token = reg.create("t")
            reg.start(jid)
            reg.report(jid, Progress("p", 1, 2))
            reg.finish(jid, JobState.CANCELLED if token.cancelled else JobState.SUCCEEDED)

    def canceller() -> None:
        for _ in range(500):
            reg.cancel_all()

    threads = [threading.Thread(target=worker) for _ in range(6)] + [threading.Thread(target=canceller)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    snaps = reg.snapshots()
    assert len(snaps) == 1200
    assert len({s.job_id for s in snaps}) == 1200
    assert all(s.state.finished for s in snaps)


def test_eta_needs_progress() -> None:
    reg = JobRegistry()
    jid, _ = reg.create("x")
    reg.start(jid)
    assert reg.snapshot(jid).eta_seconds is None  # type: ignore[union-attr]
    reg.report(jid, Progress("p", 50, 100))
    eta = reg.snapshot(jid).eta_seconds  # type: ignore[union-attr]
    assert eta is not None and eta >= 0
