"""Background work paced by the user's activity (workbench.core.pacing)."""

from __future__ import annotations

import threading
import time

import pytest

from workbench.core.errors import JobCancelled
from workbench.core.jobs import CancelToken
from workbench.core.pacing import ActivityClock, Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_clock_reports_time_since_the_last_input() -> None:
    t = FakeTime()
    clock = ActivityClock(now=t)
    assert clock.idle_for() == float("inf")
    clock.touch()
    t.now += 2.5
    assert clock.idle_for() == pytest.approx(2.5)


def test_pacer_without_clock_never_waits() -> None:
    pacer = Pacer(None)
    started = time.monotonic()
    pacer.pace(CancelToken())
    assert time.monotonic() - started < 0.05
    assert pacer.waited_s < 0.05


def test_pacer_waits_while_the_user_is_active_and_goes_once_idle() -> None:
    clock = ActivityClock()
    pacer = Pacer(clock, quiet_s=0.2, poll_s=0.01)
    stop = threading.Event()

    def busy_user() -> None:  # an input event every 20 ms for 0.4 s
        end = time.monotonic() + 0.4
        while time.monotonic() < end and not stop.is_set():
            clock.touch()
            time.sleep(0.02)

    user = threading.Thread(target=busy_user)
    user.start()
    time.sleep(0.05)
    started = time.monotonic()
    pacer.pace(CancelToken())
    elapsed = time.monotonic() - started
    stop.set()
    user.join()
    # it went only after the user stopped (at ~0.4 s from the start) and then stayed quiet for 0.2 s
    assert elapsed >= 0.5, elapsed
    assert clock.idle_for() >= 0.2
    assert pacer.waited_s == pytest.approx(elapsed, abs=0.05)


def test_hurry_releases_a_waiting_pace_at_once() -> None:
    clock = ActivityClock()
    pacer = Pacer(clock, quiet_s=60.0, poll_s=0.01)
    clock.touch()
    done = threading.Event()

    def worker() -> None:
        pacer.pace(CancelToken())
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert not done.wait(0.2)  # the user was active a moment ago: it waits
    pacer.hurry()
    assert done.wait(2.0)
    thread.join()
    assert pacer.urgent
    clock.touch()
    started = time.monotonic()
    pacer.pace(CancelToken())  # urgent from now on
    assert time.monotonic() - started < 0.05


def test_cancelling_a_waiting_pace_raises() -> None:
    clock = ActivityClock()
    pacer = Pacer(clock, quiet_s=60.0, poll_s=0.01)
    clock.touch()
    token = CancelToken()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            pacer.pace(token)
        except JobCancelled as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(0.1)
    token.cancel()
    thread.join(2.0)
    assert not thread.is_alive()
    assert len(errors) == 1


def test_pacer_waits_for_the_gui_thread_to_catch_up_after_a_long_step() -> None:
    """Right after a long step the GUI thread may not have handled the input queued meanwhile: an old heartbeat
    means "not known to be idle", even when the last stamp is old."""
    clock = ActivityClock()
    clock.touch()
    clock.beat()
    time.sleep(0.25)  # a step that held the interpreter: no beat, no stamp since
    pacer = Pacer(clock, quiet_s=0.1, poll_s=0.01)
    assert clock.idle_for() >= 0.1 and clock.beat_age() >= 0.15
    done = threading.Event()

    def worker() -> None:
        pacer.pace(CancelToken())
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert not done.wait(0.2)  # the user looks idle, but the GUI thread has not been heard from
    clock.beat()  # the GUI thread runs again (and found no input to handle)
    assert done.wait(2.0)
    thread.join()


def test_a_clock_without_heartbeat_counts_input_only() -> None:
    clock = ActivityClock()
    assert clock.beat_age() == 0.0
    pacer = Pacer(clock, quiet_s=0.05, poll_s=0.01)
    started = time.monotonic()
    pacer.pace(CancelToken())  # no input ever: idle
    assert time.monotonic() - started < 0.5
