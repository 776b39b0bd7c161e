"""The site's Flower ClientApp (legacy stack: a :class:`NumPyClient`, so that SecAgg+ can wrap it).

Started by the site's SuperNode, in a fresh process for every message. The node config names the site's folder
(``site-dir``: its rows in ``rows.parquet``, what it writes back) and its own cap on epsilon (``max-epsilon``);
the run config carries the host's plan (``plan``, JSON). Between rounds the site keeps its accountant's history in
``context.state`` (and mirrors its cumulative spend to ``site-dir/privacy.json``, which its ledger is charged
from). Only model weights (masked by SecAgg+ when it is on) and validation loss/accuracy leave the site; fit
returns no metrics, because SecAgg+ forwards metrics in clear.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from flwr.app import ConfigRecord, Context, Message
from flwr.app.message_type import MessageType
from flwr.client import ClientApp, NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp.typing import ClientAppCallable
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key, Stage

from workbench.core.federate.plan import DROP_ENV, SILENT_ENV, FederationError, FederationPlan

STATE_KEY = "workbench-site"
PRIVACY_FILE = "privacy.json"
STARTED_FILE = "started-round"
EVALUATED_FILE = "evaluated.json"
OFFER_FILE = "plan-offered.json"
DECISION_FILE = "decision.json"
GATE_POLL = 0.2


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)  # the site's process reads it; never a half-written file


class SiteClient(NumPyClient):
    """One site: trains on its rows with DP-SGD, evaluates locally."""

    def __init__(self, context: Context) -> None:
        self.ctx = context
        self.plan = FederationPlan.from_json(str(context.run_config["plan"]))
        self.site_dir = Path(str(context.node_config["site-dir"]))
        self.site_name = str(context.node_config.get("site-name", self.site_dir.name))
        cap = float(context.node_config.get("max-epsilon", self.plan.epsilon))
        self.epsilon = min(self.plan.epsilon, cap)
        self.record_updates = bool(context.run_config.get("record-updates", False))
        self._data: Any = None

    def data(self) -> Any:
        """The site's encoded rows, cached in its own folder for this plan: every message runs in a fresh process,
        and a text column's embeddings cost seconds to compute (the cache never leaves the site)."""
        if self._data is None:
            import hashlib

            import numpy as np
            import pyarrow.parquet as pq

            from workbench.core.federate.site_data import SiteArrays, encode_site

            key = hashlib.sha256(self.plan.to_json().encode("utf-8")).hexdigest()[:16]
            cache = self.site_dir / f"encoded-{key}.npz"
            if cache.exists():
                with np.load(cache) as f:
                    self._data = SiteArrays(f["x_train"], f["y_train"], f["x_val"], f["y_val"])
            else:
                self._data = encode_site(self.plan, pq.read_table(self.site_dir / "rows.parquet"), self.site_name)
                tmp = cache.with_suffix(".tmp.npz")
                d = self._data
                np.savez(tmp, x_train=d.x_train, y_train=d.y_train, x_val=d.x_val, y_val=d.y_val)
                os.replace(tmp, cache)
        return self._data

    def _state(self) -> ConfigRecord:
        records = self.ctx.state.config_records
        if STATE_KEY not in records:
            records[STATE_KEY] = ConfigRecord({"sigma": [], "q": [], "steps": [], "rounds": 0})
        return records[STATE_KEY]

    def get_parameters(self, config: dict[str, Any]) -> list[Any]:
        from workbench.core.federate.local import build_model, get_weights

        return get_weights(build_model(self.plan))

    def fit(self, parameters: list[Any], config: dict[str, Any]) -> tuple[list[Any], int, dict[str, Any]]:
        from workbench.core.federate.local import site_noise, train_round

        server_round = int(config.get("server-round", 0))
        data = self.data()
        state: Any = self._state()
        history = tuple(
            (float(s), float(r), int(n)) for s, r, n in zip(state["sigma"], state["q"], state["steps"], strict=True)
        )
        sigma = site_noise(self.plan, data.train_rows, self.epsilon)[0] if self.plan.private else None
        (self.site_dir / STARTED_FILE).write_text(str(server_round), encoding="utf-8")
        seed = self.plan.seed * 1000 + server_round * 17 + int(self.ctx.node_config.get("partition-id", 0))
        out = train_round(self.plan, data, parameters, history=history, noise_multiplier=sigma, seed=seed)
        state["sigma"] = [h[0] for h in out.history]
        state["q"] = [h[1] for h in out.history]
        state["steps"] = [h[2] for h in out.history]
        state["rounds"] = int(str(state["rounds"])) + 1
        _write_json(
            self.site_dir / PRIVACY_FILE,
            {
                "round": server_round,
                "private": self.plan.private,
                "epsilon": out.epsilon,
                "delta": self.plan.delta if self.plan.private else None,
                "accountant": self.plan.accountant if self.plan.private else None,
                "noise_multiplier": sigma,
                "sample_rate": out.sample_rate,
                "steps": sum(h[2] for h in out.history) if self.plan.private else None,
                "history": [list(h) for h in out.history],
                "train_rows": data.train_rows,
                "train_loss": out.loss,
            },
        )
        if self.record_updates:  # tests only: the site keeps its own update, the host never sees it
            import numpy as np

            np.savez(self.site_dir / f"update-round-{server_round}.npz", *out.weights, num_examples=data.train_rows)
        return out.weights, data.train_rows, {}

    def evaluate(self, parameters: list[Any], config: dict[str, Any]) -> tuple[float, int, dict[str, Any]]:
        from workbench.core.federate.local import evaluate

        data = self.data()
        loss, accuracy = evaluate(self.plan, data, parameters)
        server_round = int(config.get("server-round", 0))
        _write_json(self.site_dir / EVALUATED_FILE, {"round": server_round, "loss": loss, "accuracy": accuracy})
        # the site's name travels with its (aggregated) validation figures, so the host can say who answered
        return loss, data.val_rows, {"accuracy": accuracy, "site": self.site_name}


def _fault_for_test(msg: Message, ctxt: Context) -> None:
    """Fault injection for the tests, right after SecAgg+'s key sharing (before the site trains or sends its
    masked update): ``WORKBENCH_FEDERATION_DROP=SITE:ROUND`` makes that site fail in that round,
    ``WORKBENCH_FEDERATION_SILENT=SITE:ROUND`` makes it hang without answering (a stuck machine, a cut cable), until
    the host's reply timeout moves on without it and the teardown kills the process."""
    configs = msg.content.config_records[RECORD_KEY_CONFIGS]
    if configs.get(Key.STAGE) != Stage.COLLECT_MASKED_VECTORS:
        return
    site_here = str(ctxt.node_config.get("site-name"))
    for env, silent in ((DROP_ENV, False), (SILENT_ENV, True)):
        site, _, round_text = os.environ.get(env, "").rpartition(":")
        if site and site == site_here and msg.metadata.group_id == round_text:
            if silent:
                while True:  # never answers; the federation's teardown kills this process
                    time.sleep(60)
            raise FederationError(f"{site} dropped out in round {round_text} after key sharing (test fault)")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def plan_gate(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """A joining site trains only a plan it accepted (node config ``gate``): on the run's first message the plan is
    handed to the site's own process (``plan-offered.json`` in its folder), which checks it against the dataset, asks
    the analyst and reserves the budget, then writes ``decision.json``; until then this message waits (at most
    ``gate-timeout`` s). A refusal, no decision in time, or a message of another run is an error reply."""
    if not ctxt.node_config.get("gate"):
        return call_next(msg, ctxt)
    site_dir = Path(str(ctxt.node_config["site-dir"]))
    run_id = int(msg.metadata.run_id)
    decision = _read_json(site_dir / DECISION_FILE)
    if decision is None:
        offered = _read_json(site_dir / OFFER_FILE)
        if offered is None:
            _write_json(site_dir / OFFER_FILE, {"run_id": run_id, "plan": str(ctxt.run_config["plan"])})
        deadline = time.monotonic() + float(str(ctxt.node_config.get("gate-timeout", 300)))
        while decision is None and time.monotonic() < deadline:
            time.sleep(GATE_POLL)
            decision = _read_json(site_dir / DECISION_FILE)
    if decision is None:
        raise FederationError("the site did not accept the host's plan in time")
    if int(decision.get("run_id", -1)) != run_id:
        raise FederationError("this site joined another run of the host: refused")
    if not decision.get("accepted"):
        raise FederationError(f"the site refused the host's plan: {decision.get('reason', 'no reason given')}")
    return call_next(msg, ctxt)


def secagg_when_configured(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """Flower's ``secaggplus_mod`` for rounds that run SecAgg+; plain training messages pass through (the mod
    raises on a TRAIN message without its configuration, i.e. when the host turned secure aggregation off)."""
    if msg.metadata.message_type == MessageType.TRAIN and RECORD_KEY_CONFIGS not in msg.content.config_records:
        return call_next(msg, ctxt)
    if msg.metadata.message_type == MessageType.TRAIN:
        _fault_for_test(msg, ctxt)
    return secaggplus_mod(msg, ctxt, call_next)


def client_fn(context: Context) -> Any:
    try:
        return SiteClient(context).to_client()
    except (KeyError, ValueError) as exc:
        raise FederationError(f"the site is not configured for this federation: {exc}") from None


app = ClientApp(client_fn=client_fn, mods=[plan_gate, secagg_when_configured])
