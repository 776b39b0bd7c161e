"""A joining site trains only a plan it accepted (fast, in-process): the ClientApp's plan gate and the site's side of
it (check, ask, reserve, decide)."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest

from tests.federate.conftest import tiny_dataset, tiny_table


def _gate_call(site_dir, run_id=7, gate=True, timeout=5.0):
    from workbench.core.federate.client_app import plan_gate
    from workbench.services.federation import make_plan

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=1, epsilon=2.0, delta=1e-3)
    msg = SimpleNamespace(metadata=SimpleNamespace(run_id=run_id))
    ctxt = SimpleNamespace(
        node_config={"site-dir": str(site_dir), "gate": gate, "gate-timeout": timeout},
        run_config={"plan": plan.to_json()},
    )
    return plan_gate(msg, ctxt, lambda m, c: "trained")  # type: ignore[arg-type]


def _decide_later(site_dir, decision, delay=0.3):
    def write():
        import time

        time.sleep(delay)
        (site_dir / "decision.json").write_text(json.dumps(decision))

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_without_the_gate_a_message_passes(tmp_path):
    assert _gate_call(tmp_path, gate=False) == "trained"
    assert not (tmp_path / "plan-offered.json").exists()


def test_the_plan_is_offered_and_the_round_waits_for_the_site(tmp_path):
    thread = _decide_later(tmp_path, {"run_id": 7, "accepted": True})
    assert _gate_call(tmp_path) == "trained"
    thread.join()
    offer = json.loads((tmp_path / "plan-offered.json").read_text())
    assert offer["run_id"] == 7 and json.loads(offer["plan"])["label"] == "outcome"
    assert _gate_call(tmp_path) == "trained"  # later messages of the accepted run pass at once


def test_a_refusal_another_run_and_no_answer_are_error_replies(tmp_path):
    from workbench.core.federate.plan import FederationError

    (tmp_path / "decision.json").write_text(json.dumps({"run_id": 7, "accepted": False, "reason": "no label"}))
    with pytest.raises(FederationError, match="refused the host's plan: no label"):
        _gate_call(tmp_path)
    with pytest.raises(FederationError, match="joined another run"):
        _gate_call(tmp_path, run_id=8)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(FederationError, match="did not accept the host's plan in time"):
        _gate_call(other, timeout=0.3)


def test_the_site_refuses_a_plan_its_dataset_cannot_take_and_reserves_nothing(tmp_path):
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.federate.plan import FederationError
    from workbench.core.jobs import drive
    from workbench.core.project.store import Project
    from workbench.services.federation import make_plan
    from workbench.services.federation_remote import _accept_plan

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=1, epsilon=2.0, delta=1e-3)
    with Project.create(tmp_path / "site") as project:
        ledger = PrivacyLedger(project)
        lacking = tiny_dataset(tmp_path / "d", tiny_table(160).drop_columns(["outcome"]))
        ledger.set_total(lacking.fingerprint, 5.0)
        with pytest.raises(FederationError, match="no column 'outcome'"):
            drive(_accept_plan(plan, 7, lacking, "hospital", None, lambda p: True, ledger, tmp_path))
        decision = json.loads((tmp_path / "decision.json").read_text())
        assert decision["accepted"] is False and "no column 'outcome'" in decision["reason"]
        assert ledger.summary(lacking.fingerprint, with_rdp=False).reserved_epsilon == 0.0
        good = tiny_dataset(tmp_path / "g", tiny_table(160, seed=9))
        ledger.set_total(good.fingerprint, 5.0)
        with pytest.raises(FederationError, match="did not accept"):
            drive(_accept_plan(plan, 7, good, "hospital", None, lambda p: False, ledger, tmp_path))
        held = drive(_accept_plan(plan, 7, good, "hospital", 1.5, lambda p: True, ledger, tmp_path))
        assert held is not None and held.epsilon == 1.5  # the site's own cap, below the plan's 2
        assert json.loads((tmp_path / "decision.json").read_text())["accepted"] is True
        ledger.release(held, note="test")
