"""The host's strategy in-process (fast): who trained, who dropped out, a silent site left out of later rounds, and a
round with fewer sites than SecAgg+'s threshold stopping the federation with a clear error."""

from __future__ import annotations

import json

import pytest


def _strategy(tmp_path, min_fit=2):
    from flwr.common import ndarrays_to_parameters

    from tests.federate.conftest import tiny_table
    from workbench.core.federate.local import build_model, get_weights
    from workbench.core.federate.server_app import RecordingFedAvg, weighted_accuracy
    from workbench.services.federation import make_plan

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=2, epsilon=None, hidden=(4,))
    weights = get_weights(build_model(plan))
    strategy = RecordingFedAvg(
        tmp_path / "events.jsonl",
        False,
        min_fit,
        35.0,
        fraction_fit=1.0,
        fraction_evaluate=1.0,
        min_fit_clients=3,
        min_evaluate_clients=3,
        min_available_clients=3,
        initial_parameters=ndarrays_to_parameters(weights),
        evaluate_metrics_aggregation_fn=weighted_accuracy,
    )
    return strategy, weights


def _manager():
    from flwr.server.client_manager import SimpleClientManager
    from flwr.server.client_proxy import ClientProxy

    class Node(ClientProxy):
        def __init__(self, node_id: int) -> None:
            super().__init__(str(node_id))
            self.node_id = node_id

        def get_properties(self, *a, **k):  # pragma: no cover - never called by the strategy
            raise NotImplementedError

        get_parameters = fit = evaluate = reconnect = get_properties

    manager = SimpleClientManager()
    nodes = {i: Node(i) for i in (11, 12, 13)}
    for node in nodes.values():
        manager.register(node)
    return manager, nodes


def _fit_res(weights, rows=100):
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters

    return FitRes(Status(Code.OK, ""), ndarrays_to_parameters(weights), rows, {})


def _eval_res(site, accuracy, rows=30):
    from flwr.common import Code, EvaluateRes, Status

    return EvaluateRes(Status(Code.OK, ""), 0.5, rows, {"accuracy": accuracy, "site": site})


def test_a_silent_site_is_named_and_left_out_of_later_rounds(tmp_path):
    from flwr.common import ndarrays_to_parameters

    strategy, weights = _strategy(tmp_path)
    manager, nodes = _manager()
    params = ndarrays_to_parameters(weights)
    asked = strategy.configure_fit(1, params, manager)
    assert sorted(p.node_id for p, _ in asked) == [11, 12, 13]
    # node 12 (site-b) answers nothing in round 1: no update, no evaluation
    strategy.aggregate_fit(1, [(nodes[11], _fit_res(weights)), (nodes[13], _fit_res(weights))], [])
    # no update and no error reply: silent, so not even asked to evaluate (its SuperNode is stuck)
    assert sorted(p.node_id for p, _ in strategy.configure_evaluate(1, params, manager)) == [11, 13]
    loss, metrics = strategy.aggregate_evaluate(
        1, [(nodes[11], _eval_res("site-a", 0.8)), (nodes[13], _eval_res("site-c", 0.6, rows=10))], []
    )
    assert metrics["accuracy"] == pytest.approx((0.8 * 30 + 0.6 * 10) / 40)
    event = json.loads((tmp_path / "events.jsonl").read_text().splitlines()[0])
    assert event["trained"] == ["site-a", "site-c"] and event["evaluated"] == ["site-a", "site-c"]
    assert event["left_out"] == ["node 12"] and event["fit_sites"] == 2 and "error" not in event
    # round 2: the silent node is not asked again (its SuperNode is stuck behind the hung ClientApp)
    assert sorted(p.node_id for p, _ in strategy.configure_fit(2, params, manager)) == [11, 13]
    assert sorted(p.node_id for p, _ in strategy.configure_evaluate(2, params, manager)) == [11, 13]


def test_a_site_that_fails_but_answers_the_evaluation_stays_in(tmp_path):
    from flwr.common import ndarrays_to_parameters

    strategy, weights = _strategy(tmp_path)
    manager, nodes = _manager()
    params = ndarrays_to_parameters(weights)
    strategy.configure_fit(1, params, manager)
    # node 13 failed loudly (an error reply): it is still asked to evaluate, and stays in
    strategy.aggregate_fit(1, [(nodes[11], _fit_res(weights)), (nodes[12], _fit_res(weights))], [RuntimeError("x")])
    assert len(strategy.configure_evaluate(1, params, manager)) == 3
    strategy.aggregate_evaluate(1, [(n, _eval_res(f"s{i}", 0.7)) for i, n in nodes.items()], [])
    event = json.loads((tmp_path / "events.jsonl").read_text())
    assert event["dropped"] == ["s13"] and event["left_out"] == []
    assert len(strategy.configure_fit(2, params, manager)) == 3


def test_too_few_updates_stop_the_federation_with_a_clear_message(tmp_path):
    from flwr.common import ndarrays_to_parameters

    from workbench.core.federate.server_app import RoundFailed

    strategy, weights = _strategy(tmp_path, min_fit=2)
    manager, nodes = _manager()
    strategy.configure_fit(1, ndarrays_to_parameters(weights), manager)
    strategy.aggregate_fit(1, [(nodes[11], _fit_res(weights))], [])
    with pytest.raises(RoundFailed, match="round 1: only 1 site\\(s\\) delivered an update within the reply timeout"):
        strategy.aggregate_evaluate(1, [(nodes[11], _eval_res("site-a", 0.8))], [])
    event = json.loads((tmp_path / "events.jsonl").read_text())
    assert "fewer than the 2 the round needs" in event["error"] and "35 s" in event["error"]


def test_the_grid_bounds_a_wait_that_names_no_timeout():
    import time

    from workbench.core.federate.server_app import QuickPollGrid

    class NeverAnswers:
        def push_messages(self, messages):
            return ["m1", "m2"]

        def pull_messages(self, ids):
            return []

    grid = QuickPollGrid(NeverAnswers(), interval=0.05, default_timeout=0.3)  # type: ignore[arg-type]
    started = time.monotonic()
    assert list(grid.send_and_receive([])) == []
    assert 0.3 <= time.monotonic() - started < 2.0
