"""The host's Flower ServerApp (legacy stack, so that SecAgg+ is available).

``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(...))`` when the plan asks for secure aggregation (the default),
plain ``DefaultWorkflow()`` otherwise; FedAvg weighted by each site's training rows. The host writes one JSON line
per round to ``events-file`` (run config): the aggregated validation loss and accuracy (a row-weighted mean of the
sites' local figures), which sites delivered an update and which answered, and the round's duration. With
``record-updates`` (tests) it also keeps the aggregated model of each round beside that file.

``reply-timeout`` (run config, seconds; 0 = none) bounds every wait for the sites' replies (each SecAgg+ stage, the
evaluation): a site that goes silent is dropped from that stage. The round still completes when at least the
reconstruction threshold of sites delivered (SecAgg+ removes the silent site's mask from the others' shares);
otherwise the host writes an ``error`` event naming the round and stops.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flwr.app import Context, Message
from flwr.common import Metrics, Parameters, Scalar, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server import Grid, LegacyContext, ServerApp, ServerConfig
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

from workbench.core.federate.plan import FederationError, FederationPlan


def weighted_accuracy(metrics: list[tuple[int, Metrics]]) -> Metrics:
    rows = sum(n for n, _ in metrics)
    if not rows:
        return {}
    return {"accuracy": sum(n * float(m.get("accuracy", 0.0)) for n, m in metrics) / rows}


class RoundFailed(FederationError):
    """Too few sites answered in a round: the federation stops (the message says who and why)."""


class RecordingFedAvg(FedAvg):
    """FedAvg that writes each round's aggregated figures (never a site's own) to the host's events file, with
    which sites delivered an update and which answered the evaluation; a round whose update came from fewer than
    ``min_fit`` sites stops the federation with an ``error`` event."""

    def __init__(self, events: Path, record_updates: bool, min_fit: int, timeout: float | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events = events
        self.record_updates = record_updates
        self.min_fit = min_fit
        self.timeout = timeout
        self.round_started = time.monotonic()
        self.fit_nodes: dict[int, list[int]] = {}
        self.fit_failures: dict[int, int] = {}
        self.site_of_node: dict[int, str] = {}  # learnt from the sites' evaluation replies
        self.asked: set[int] = set()
        self.left_out: set[int] = set()  # silent nodes: not asked again

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any) -> Any:
        self.round_started = time.monotonic()
        chosen = [
            c
            for c in super().configure_fit(server_round, parameters, client_manager)
            if c[0].node_id not in self.left_out
        ]
        self.asked = {proxy.node_id for proxy, _ in chosen}
        return chosen

    def configure_evaluate(self, server_round: int, parameters: Parameters, client_manager: Any) -> Any:
        missing = self.asked - set(self.fit_nodes.get(server_round, self.asked))  # no aggregate: nothing known
        if missing and not self.fit_failures.get(server_round, 0):
            # no update and no error reply within the timeout: silent, not a failure; its SuperNode is stuck behind
            # the hung ClientApp (it takes one message at a time), so asking it to evaluate would only wait again
            self.left_out |= missing
        chosen = super().configure_evaluate(server_round, parameters, client_manager)
        return [c for c in chosen if c[0].node_id not in self.left_out]

    def aggregate_fit(
        self, server_round: int, results: list[tuple[ClientProxy, Any]], failures: list[Any]
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        params, metrics = super().aggregate_fit(server_round, results, failures)
        self.fit_nodes[server_round] = [proxy.node_id for proxy, _ in results]
        self.fit_failures[server_round] = len(failures)
        if params is not None and self.record_updates:
            import numpy as np

            np.savez(self.events.parent / f"global-round-{server_round}.npz", *parameters_to_ndarrays(params))
        return params, metrics

    def _write(self, event: dict[str, Any]) -> None:
        with self.events.open("a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")

    def aggregate_evaluate(
        self, server_round: int, results: list[tuple[ClientProxy, Any]], failures: list[Any]
    ) -> tuple[float | None, dict[str, Scalar]]:
        loss, metrics = super().aggregate_evaluate(server_round, results, failures)
        for proxy, res in results:
            if "site" in res.metrics:
                self.site_of_node[proxy.node_id] = str(res.metrics["site"])
        fitted = self.fit_nodes.get(server_round, [])
        # A SuperNode whose ClientApp hangs takes no further message, so a site that neither delivered an update
        # nor answered the evaluation would cost every later stage a full timeout: it is left out from now on.
        silent = self.asked - set(fitted) - {proxy.node_id for proxy, _ in results}
        self.left_out |= silent
        known = sorted(set(self.site_of_node.values()))
        trained = sorted(self.site_of_node.get(n, f"node {n}") for n in fitted)
        evaluated = sorted(str(res.metrics.get("site", "?")) for _, res in results)
        event: dict[str, Any] = {
            "round": server_round,
            "val_loss": loss,
            "val_accuracy": metrics.get("accuracy"),
            "fit_sites": len(fitted),
            "evaluate_sites": len(results),
            "failures": len(failures),
            "trained": trained,
            "evaluated": evaluated,
            "dropped": [name for name in known if name not in trained],
            "left_out": sorted(self.site_of_node.get(n, f"node {n}") for n in self.left_out),
            "seconds": time.monotonic() - self.round_started,
        }
        if len(fitted) < self.min_fit:
            wait = f" within the reply timeout of {self.timeout:g} s" if self.timeout else ""
            event["error"] = (
                f"round {server_round}: only {len(fitted)} site(s) delivered an update{wait}, fewer than the "
                f"{self.min_fit} the round needs; the federation stops (sites that answered the evaluation: "
                f"{', '.join(evaluated) or 'none'})"
            )
            self._write(event)
            raise RoundFailed(event["error"])
        self._write(event)
        return loss, metrics


class QuickPollGrid(Grid):
    """Flower's grid, pulling replies every ``interval`` seconds instead of its fixed 3 s.

    The host waits for every site's reply in each of SecAgg+'s four stages and in the evaluation, i.e. five waits a
    round; on one machine (or a LAN) replies arrive within a second, and a 3 s poll added up to half of a round.
    Flower's default fit and evaluate workflows wait without a time limit; ``default_timeout`` bounds every wait
    that does not name its own, so that a site that goes silent is left behind instead of waited for forever.
    Everything else is Flower's own grid, through its public methods.
    """

    def __init__(self, grid: Grid, interval: float = 0.2, default_timeout: float | None = None) -> None:
        self._grid = grid
        self._interval = interval
        self._default_timeout = default_timeout

    def set_run(self, run: Any) -> None:
        self._grid.set_run(run)

    @property
    def run(self) -> Any:
        return self._grid.run

    def create_message(self, *args: Any, **kwargs: Any) -> Message:
        return self._grid.create_message(*args, **kwargs)

    def get_node_ids(self) -> Iterable[int]:
        return self._grid.get_node_ids()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self._grid.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self._grid.pull_messages(message_ids)

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        timeout = timeout if timeout is not None else self._default_timeout
        pending = set(self.push_messages(messages))
        end = time.time() + (timeout or 0.0)
        replies: list[Message] = []
        while timeout is None or time.time() < end:
            got = list(self.pull_messages(pending))
            replies.extend(got)
            pending.difference_update(m.metadata.reply_to_message_id for m in got)
            if not pending:
                break
            time.sleep(self._interval)
        return replies


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    from workbench.core.federate.local import build_model, get_weights

    plan = FederationPlan.from_json(str(context.run_config["plan"]))
    sites = int(context.run_config["min-sites"])
    events = Path(str(context.run_config["events-file"]))
    timeout = float(str(context.run_config.get("reply-timeout", 0.0))) or None
    strategy = RecordingFedAvg(
        events,
        bool(context.run_config.get("record-updates", False)),
        plan.reconstruction_threshold if plan.secure_aggregation else 1,
        timeout,
        fraction_fit=1.0,
        fraction_evaluate=1.0,
        min_fit_clients=sites,
        min_evaluate_clients=sites,
        min_available_clients=sites,
        initial_parameters=ndarrays_to_parameters(get_weights(build_model(plan))),
        on_fit_config_fn=lambda r: {"server-round": r},
        on_evaluate_config_fn=lambda r: {"server-round": r},
        evaluate_metrics_aggregation_fn=weighted_accuracy,
    )
    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=plan.rounds), strategy=strategy)
    if plan.secure_aggregation:
        workflow = DefaultWorkflow(
            fit_workflow=SecAggPlusWorkflow(
                num_shares=plan.num_shares,
                reconstruction_threshold=plan.reconstruction_threshold,
                max_weight=plan.max_weight,
                clipping_range=plan.clipping_range,
                quantization_range=plan.quantization_range,
                timeout=timeout,  # per stage: a silent site is treated as dropped after this long
            )
        )
    else:
        workflow = DefaultWorkflow()
    workflow(QuickPollGrid(grid, default_timeout=timeout), legacy)
