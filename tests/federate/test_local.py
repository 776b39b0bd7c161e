"""A site's local round in-process (fast): the accountant carried across rounds, the numpy evaluation."""

from __future__ import annotations

import math

from tests.federate.conftest import tiny_table


def _plan_and_data(**options):
    from workbench.core.federate.site_data import encode_site
    from workbench.services.federation import make_plan

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=2, epsilon=2.0, delta=1e-3, **options)
    return plan, encode_site(plan, tiny_table())


def test_two_rounds_spend_what_one_accountant_over_all_steps_reports():
    from workbench.core.dp.accountant import epsilon_for
    from workbench.core.federate.local import build_model, get_weights, site_noise, train_round

    plan, data = _plan_and_data(hidden=(8,), batch_size=32)
    sigma, q = site_noise(plan, data.train_rows, plan.epsilon)
    weights, history = get_weights(build_model(plan)), ()
    epsilons = []
    for rnd in (1, 2):
        out = train_round(plan, data, weights, history=history, noise_multiplier=sigma, seed=rnd)
        weights, history = out.weights, out.history
        epsilons.append(out.epsilon)
    steps = sum(h[2] for h in history)
    assert steps == 2 * math.ceil(data.train_rows / plan.batch_size)  # one local epoch of Poisson batches a round
    assert math.isclose(epsilons[1], epsilon_for(sigma, q, steps, plan.delta), rel_tol=1e-9)
    assert epsilons[0] < epsilons[1] <= plan.epsilon + 1e-9  # cumulative, within the plan over both rounds


def test_numpy_evaluation_equals_the_torch_model():
    import torch

    from workbench.core.federate.local import build_model, evaluate, get_weights

    plan, data = _plan_and_data(hidden=(8, 4))
    model = build_model(plan)
    with torch.no_grad():
        logits = model(torch.from_numpy(data.x_val))
        y = torch.from_numpy(data.y_val)
        loss = float(torch.nn.functional.cross_entropy(logits, y))
        accuracy = float((logits.argmax(-1) == y).double().mean())
    got = evaluate(plan, data, get_weights(model))
    assert math.isclose(got[0], loss, rel_tol=1e-5) and got[1] == accuracy
