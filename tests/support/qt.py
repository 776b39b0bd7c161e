"""Waiting for a job of a :class:`~workbench.ui.qt_jobs.QtJobRunner` in pytest-qt tests."""

from __future__ import annotations

from typing import Any


def wait_for_job(qtbot: Any, runner: Any, job_id: int, timeout: int = 60_000) -> None:
    """Wait until one job has ended and its outcome was delivered (other jobs may come and go meanwhile)."""
    ended: set[int] = set()
    runner.sig_job_ended.connect(ended.add)
    try:
        qtbot.waitUntil(lambda: job_id in ended, timeout=timeout)
    finally:
        runner.sig_job_ended.disconnect(ended.add)
