"""The loop's per-step epsilon: exactly the accountant's, without recomputing the RDP of a step every time."""

from __future__ import annotations

import pytest

from workbench.core.dp.accountant import epsilon_for
from workbench.core.train.plan import TrainingPlan

pytest.importorskip("opacus", reason="accounting needs opacus")


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_epsilon_after_equals_a_fresh_accountants(accountant: str) -> None:
    plan = TrainingPlan(True, 0.02, 600, accountant, 1e-5, 1.1, 3.0)
    for steps in (1, 7, 150, 256, 257, 600) if accountant == "rdp" else (150,):
        assert plan.epsilon_after(steps) == epsilon_for(1.1, 0.02, steps, 1e-5, accountant)
    assert plan.epsilon_after(0) == 0.0


def test_the_rdp_of_a_step_is_computed_once_per_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    from opacus.accountants.analysis import rdp

    calls = []
    real = rdp.compute_rdp
    monkeypatch.setattr(rdp, "compute_rdp", lambda **kw: calls.append(kw) or real(**kw))
    plan = TrainingPlan(True, 0.0123, 300, "rdp", 1e-5, 0.987, 2.0)  # values no other test caches
    values = [plan.epsilon_after(s) for s in range(1, 301)]
    assert len(calls) == 1 and calls[0]["steps"] == 1
    assert values == sorted(values) and values[-1] == pytest.approx(epsilon_for(0.987, 0.0123, 300, 1e-5))
