"""The host's Flower ServerApp (legacy stack, so that SecAgg+ is available).

``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(...))`` when the plan asks for secure aggregation (the default),
plain ``DefaultWorkflow()`` otherwise; FedAvg weighted by each site's training rows. The host writes one JSON line
per round to ``events-file`` (run config): the aggregated validation loss and accuracy (a row-weighted mean of the
sites' local figures), how many sites answered, and the round's duration. With ``record-updates`` (tests) it also
keeps the aggregated model of each round beside that file.
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

from workbench.core.federate.plan import FederationPlan


def weighted_accuracy(metrics: list[tuple[int, Metrics]]) -> Metrics:
    rows = sum(n for n, _ in metrics)
    if not rows:
        return {}
    return {"accuracy": sum(n * float(m.get("accuracy", 0.0)) for n, m in metrics) / rows}


class RecordingFedAvg(FedAvg):
    """FedAvg that writes each round's aggregated figures (never a site's own) to the host's events file."""

    def __init__(self, events: Path, record_updates: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events = events
        self.record_updates = record_updates
        self.round_started = time.monotonic()
        self.fit_sites: dict[int, int] = {}

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any) -> Any:
        self.round_started = time.monotonic()
        return super().configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(
        self, server_round: int, results: list[tuple[ClientProxy, Any]], failures: list[Any]
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        params, metrics = super().aggregate_fit(server_round, results, failures)
        self.fit_sites[server_round] = len(results)
        if params is not None and self.record_updates:
            import numpy as np

            np.savez(self.events.parent / f"global-round-{server_round}.npz", *parameters_to_ndarrays(params))
        return params, metrics

    def aggregate_evaluate(
        self, server_round: int, results: list[tuple[ClientProxy, Any]], failures: list[Any]
    ) -> tuple[float | None, dict[str, Scalar]]:
        loss, metrics = super().aggregate_evaluate(server_round, results, failures)
        event = {
            "round": server_round,
            "val_loss": loss,
            "val_accuracy": metrics.get("accuracy"),
            "fit_sites": self.fit_sites.get(server_round, 0),
            "evaluate_sites": len(results),
            "failures": len(failures),
            "seconds": time.monotonic() - self.round_started,
        }
        with self.events.open("a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")
        return loss, metrics


class QuickPollGrid(Grid):
    """Flower's grid, pulling replies every ``interval`` seconds instead of its fixed 3 s.

    The host waits for every site's reply in each of SecAgg+'s four stages and in the evaluation, i.e. five waits a
    round; on one machine (or a LAN) replies arrive within a second, and a 3 s poll added up to half of a round.
    Everything else is Flower's own grid, through its public methods.
    """

    def __init__(self, grid: Grid, interval: float = 0.2) -> None:
        self._grid = grid
        self._interval = interval

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
    strategy = RecordingFedAvg(
        events,
        bool(context.run_config.get("record-updates", False)),
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
            )
        )
    else:
        workflow = DefaultWorkflow()
    workflow(QuickPollGrid(grid), legacy)
