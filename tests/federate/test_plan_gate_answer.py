"""The join job's gate answered from another thread (the window's): the worker waits in ``decide`` until ``answer``,
the first answer counts, and a cancelled token ends the wait (fast, in-process)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.federate.conftest import tiny_table


def _plan():
    from workbench.services.federation import make_plan

    return make_plan(tiny_table(), task="tabular", label="outcome", rounds=2, epsilon=2.0, delta=1e-3)


def _decide_in_thread(gate, plan):
    got: list[object] = []

    def run():
        try:
            got.append(gate.decide(plan))
        except BaseException as exc:  # noqa: BLE001 - the test reads what the worker saw
            got.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, got


@pytest.mark.parametrize("accepted", [True, False])
def test_the_worker_waits_for_the_answer_given_from_another_thread(accepted):
    from workbench.services.federation_remote import PlanGate

    gate, plan = PlanGate(), _plan()
    thread, got = _decide_in_thread(gate, plan)
    time.sleep(0.3)
    assert thread.is_alive() and got == [] and not gate.answered  # still waiting for the analyst
    assert gate.plan is plan
    assert gate.answer(accepted) is True
    thread.join(5)
    assert got == [accepted]
    assert gate.answer(not accepted) is False  # the first answer counts


def test_a_cancelled_token_ends_the_wait():
    from workbench.core.jobs import CancelToken, JobCancelled
    from workbench.services.federation_remote import PlanGate

    token = CancelToken()
    gate = PlanGate(token)
    thread, got = _decide_in_thread(gate, _plan())
    time.sleep(0.2)
    token.cancel()
    thread.join(5)
    assert not thread.is_alive() and len(got) == 1 and isinstance(got[0], JobCancelled)


def test_the_gate_is_the_join_use_cases_accept(tmp_path):
    """Through the use case's own check-ask-reserve step: the reservation is made only after the answer."""
    import json

    from tests.federate.conftest import tiny_dataset
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.jobs import drive
    from workbench.core.project.store import Project
    from workbench.services.federation_remote import PlanGate, _accept_plan

    plan = _plan()
    with Project.create(tmp_path / "site") as project:
        ledger = PrivacyLedger(project)
        good = tiny_dataset(tmp_path / "g", tiny_table(160, seed=9))
        ledger.set_total(good.fingerprint, 5.0)
        gate = PlanGate()
        threading.Timer(0.3, gate.answer, args=(True,)).start()
        held = drive(_accept_plan(plan, 7, good, "hospital", None, gate.decide, ledger, tmp_path))
        assert held is not None and held.epsilon == 2.0
        assert json.loads((tmp_path / "decision.json").read_text())["accepted"] is True
        ledger.release(held, note="test")
