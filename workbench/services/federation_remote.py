"""A federation across machines, once, for ``workbench federate host`` / ``join`` (and later the window): the host
runs a SuperLink and the ServerApp, each site runs a SuperNode against the host's address, trains on its own
dataset and charges its own ledger (issue 15).

Host (:func:`federate_host_job`): the plan comes from a schema dataset (its label's classes and its feature columns
are public schema facts every site must share); the SuperLink binds to the given address and port; the run waits
for ``min_sites`` SuperNodes, then every round is reported as it ends. The host's project gets a
``federation.hosted`` audit entry (plan, rounds, accuracy per round, outcome) however the run ends.

Site (:func:`federate_join_job`): the site's SuperNode dials the host; on the run's first message the ClientApp hands
over the host's plan and waits (:func:`workbench.core.federate.client_app.plan_gate`); the site checks the plan
against its dataset (label, columns, label values, delta against its size, SecAgg+'s max weight), shows it to the
analyst (``accept``), reserves its epsilon (the plan's or its own lower cap) in its ledger and only then lets the
round go on. After the plan's last round it leaves, is charged what its accountant reports and records
``federation.trained`` in its audit log. Only masked updates and validation figures leave the site.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.federate.plan import FederationError, FederationPlan, check_site_table
from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.services.federation import (
    DEFAULT_REPLY_TIMEOUT,
    FederationRound,
    _charge,
    _read_report,
    _workdir,
    _write_rows,
    check_all_rounds,
    follow_rounds,
)

if TYPE_CHECKING:
    from workbench.core.data.dataset import Dataset
    from workbench.core.dp.ledger import PrivacyLedger, Reservation
    from workbench.core.federate.tls import TlsFiles
    from workbench.services.session import ProjectSession


@dataclass(frozen=True, slots=True)
class HostResult:
    """What the host saw: per-round aggregated figures, never a site's own."""

    rounds: int
    secure_aggregation: bool
    val_accuracy: float | None
    history: tuple[FederationRound, ...]
    seconds: float
    address: str

    def to_json(self) -> dict[str, Any]:
        return {
            "role": "host",
            "rounds": self.rounds,
            "secure_aggregation": self.secure_aggregation,
            "val_accuracy": self.val_accuracy,
            "val_accuracy_per_round": [r.val_accuracy for r in self.history],
            "sites_per_round": [r.sites_trained for r in self.history],
            "dropped_per_round": [list(r.dropped) for r in self.history],
            "seconds": round(self.seconds, 2),
            "address": self.address,
        }


@dataclass(frozen=True, slots=True)
class SiteRound:
    """One round as the site saw it: its own validation figures of the new global model and its epsilon so far."""

    round: int
    val_accuracy: float | None
    val_loss: float | None
    epsilon: float | None


@dataclass(frozen=True, slots=True)
class JoinResult:
    """What a site took part in and what it was charged (``epsilon`` None: the plan had no DP)."""

    rounds: int
    plan: FederationPlan
    epsilon: float | None
    delta: float | None
    accountant: str | None
    val_accuracy: float | None
    history: tuple[SiteRound, ...] = field(default=())
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "role": "site",
            "rounds": self.rounds,
            "secure_aggregation": self.plan.secure_aggregation,
            "val_accuracy": self.val_accuracy,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "accountant": self.accountant,
            "seconds": round(self.seconds, 2),
        }


# ---- host -------------------------------------------------------------------------------------------------------


def _audit_host(
    session: ProjectSession | None, plan: FederationPlan, rounds: list[FederationRound], **outcome: Any
) -> None:
    if session is None:
        return
    session.project.audit(
        "federation.hosted",
        task=plan.task,
        label=plan.label,
        columns=list(plan.columns),
        rounds_planned=plan.rounds,
        rounds_completed=len(rounds),
        secure_aggregation=plan.secure_aggregation,
        epsilon_per_site=plan.epsilon if plan.private else None,
        delta=plan.delta if plan.private else None,
        accountant=plan.accountant if plan.private else None,
        val_accuracy_per_round=[r.val_accuracy for r in rounds],
        sites_per_round=[r.sites_trained for r in rounds],
        **outcome,
    )


def federate_host_job(
    plan: FederationPlan,
    *,
    min_sites: int,
    bind: str,
    port: int,
    session: ProjectSession | None = None,
    tls: TlsFiles | None = None,
    token: CancelToken | None = None,
    workdir: Path | None = None,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
    timeout: float = 6 * 3600.0,
) -> JobGenerator[HostResult]:
    """Host ``plan`` on ``bind:port`` until its last round (or an error, a cancel, ``timeout``); see the module."""
    from workbench.core.federate.daemons import write_app
    from workbench.core.federate.remote_daemons import HostLink

    token = token if token is not None else CancelToken()
    if min_sites < 2 or (plan.secure_aggregation and min_sites < plan.num_shares):
        need = plan.num_shares if plan.secure_aggregation else 2
        raise FederationError(
            f"--min-sites must be at least {need}" + (" with SecAgg+" if plan.secure_aggregation else "")
        )
    started = time.monotonic()
    history: list[FederationRound] = []
    address = f"{bind}:{port}"
    outcome: dict[str, Any] = {"outcome": "failed"}
    try:
        with _workdir(workdir, "workbench-federation-host-") as work:
            events = work / "host" / "events.jsonl"
            events.parent.mkdir(parents=True, exist_ok=True)
            app = write_app(
                work / "app", plan, sites=min_sites, events=events, record_updates=False, reply_timeout=reply_timeout
            )
            with HostLink(work, bind=bind, port=port, tls=tls) as link:
                yield Progress(
                    "waiting", 0, plan.rounds, "rounds", f"hosting on {address}; waiting for {min_sites} sites"
                )
                run = link.run_app(app)
                yield from follow_rounds(
                    run,
                    lambda seen: link.read_events(events, seen),
                    _host_round,
                    lambda r: _host_progress(plan, r),
                    history,
                    token,
                    timeout,
                )
            check_all_rounds(history, plan, run, work)
        outcome = {"outcome": "completed"}
    except BaseException as exc:
        outcome = {"outcome": "cancelled" if token.cancelled else "failed", "error": type(exc).__name__}
        raise
    finally:
        _audit_host(session, plan, history, address=address, tls=tls is not None, **outcome)
    last = history[-1]
    return HostResult(
        len(history), plan.secure_aggregation, last.val_accuracy, tuple(history), time.monotonic() - started, address
    )


def _host_round(event: dict[str, Any]) -> FederationRound:
    return FederationRound(
        round=int(event["round"]),
        val_loss=event.get("val_loss"),
        val_accuracy=event.get("val_accuracy"),
        sites_answered=int(event.get("evaluate_sites", 0)),
        seconds=float(event.get("seconds", 0.0)),
        sites_trained=int(event.get("fit_sites", 0)),
        dropped=tuple(str(n) for n in event.get("dropped", ())),
    )


def _host_progress(plan: FederationPlan, rnd: FederationRound) -> Progress:
    acc = "n/a" if rnd.val_accuracy is None else f"{rnd.val_accuracy:.3f}"
    message = (
        f"round {rnd.round}/{plan.rounds}: validation accuracy {acc}, {rnd.sites_trained} site(s) trained, "
        f"{rnd.seconds:.1f} s"
    )
    if rnd.dropped:
        message += f"; dropped out: {', '.join(rnd.dropped)}"
    return Progress("federating", rnd.round, plan.rounds, "rounds", message, payload=rnd)


# ---- site -------------------------------------------------------------------------------------------------------


def check_offered_plan(plan: FederationPlan, dataset: Dataset, site: str, max_epsilon: float | None) -> int:
    """The site's checks of the host's plan before it accepts (a clear refusal otherwise); its training rows."""
    from workbench.core.dp.accountant import PlanningError, check_delta
    from workbench.core.federate.site_data import train_rows

    check_site_table(plan, dataset.table, site)
    rows = train_rows(plan, dataset.table, site)
    if plan.private:
        try:
            check_delta(plan.delta, rows)
        except PlanningError as exc:
            raise FederationError(f"{site}: {exc}") from None
    elif max_epsilon is not None:
        raise FederationError(f"{site}: the host's plan trains WITHOUT differential privacy; this site asks for a cap")
    if plan.secure_aggregation and rows > plan.max_weight:
        raise FederationError(
            f"{site} trains on {rows} rows, more than the plan's SecAgg+ max_weight {plan.max_weight:g}"
        )
    return rows


def host_certificates(folder: Path, bind: str, names: list[str] | None = None) -> tuple[TlsFiles, str]:
    """The TLS files in ``folder`` and the CA's SHA-256 fingerprint; made offline when missing, for ``names``
    (default: ``bind`` unless it is a wildcard, 127.0.0.1 and localhost). The sites are given the CA file and
    compare the fingerprint over a channel they trust."""
    from workbench.core.federate.tls import TlsFiles, ca_fingerprint, make_certificates

    files = TlsFiles.in_folder(folder)
    if not files.exist():
        names = names or ([bind] if bind not in ("0.0.0.0", "::") else []) + ["127.0.0.1", "localhost"]
        files = make_certificates(folder, list(dict.fromkeys(names)))
    return files, ca_fingerprint(files.ca)


class PlanGate:
    """The join job's ``accept`` when the answer comes from another thread (the window): the job's worker waits in
    :meth:`decide` while the analyst reads the plan; :meth:`answer` (any thread) lets it go on. A cancelled job's
    token ends the wait (no answer then counts as a refusal). No lock is held while anything is called back."""

    def __init__(self, token: CancelToken | None = None) -> None:
        self._answered = threading.Event()
        self._lock = threading.Lock()
        self._accepted = False
        self.plan: FederationPlan | None = None
        self.token = token

    def answer(self, accepted: bool) -> bool:
        """The analyst's decision; False when a decision was already given (the first one counts)."""
        with self._lock:
            if self._answered.is_set():
                return False
            self._accepted = accepted
            self._answered.set()
        return True

    @property
    def answered(self) -> bool:
        return self._answered.is_set()

    def decide(self, plan: FederationPlan) -> bool:
        """Wait for :meth:`answer` (raises ``JobCancelled`` when the token is cancelled meanwhile)."""
        self.plan = plan
        while not self._answered.wait(0.1):
            if self.token is not None:
                self.token.raise_if_cancelled()
        with self._lock:
            return self._accepted


def _wait_for_offer(site_dir: Path, token: CancelToken, timeout: float) -> tuple[int, FederationPlan]:
    import json

    from workbench.core.federate.client_app import OFFER_FILE

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        token.raise_if_cancelled()
        with contextlib.suppress(OSError, ValueError):
            offer = json.loads((site_dir / OFFER_FILE).read_text(encoding="utf-8"))
            return int(offer["run_id"]), FederationPlan.from_json(str(offer["plan"]))
        token.wait(0.2)
    raise FederationError(f"no plan came from the host within {timeout:g} s (is the host running and reachable?)")


def _decide(site_dir: Path, run_id: int, accepted: bool, reason: str = "") -> None:
    from workbench.core.federate.client_app import DECISION_FILE, _write_json

    _write_json(site_dir / DECISION_FILE, {"run_id": run_id, "accepted": accepted, "reason": reason})


def _site_rounds(site_dir: Path, seen: int) -> SiteRound | None:
    from workbench.core.federate.client_app import EVALUATED_FILE, _read_json

    evaluated = _read_json(site_dir / EVALUATED_FILE)
    if evaluated is None or int(evaluated.get("round", 0)) <= seen:
        return None
    report, _ = _read_report(site_dir)
    eps = report.get("epsilon") if report is not None else None
    return SiteRound(int(evaluated["round"]), evaluated.get("accuracy"), evaluated.get("loss"), eps)


def federate_join_job(
    session: ProjectSession,
    dataset: Dataset,
    address: str,
    *,
    site_name: str,
    max_epsilon: float | None = None,
    accept: Callable[[FederationPlan], bool] = lambda plan: True,
    ca: Path | None = None,
    token: CancelToken | None = None,
    workdir: Path | None = None,
    timeout: float = 6 * 3600.0,
    plan_timeout: float = 3600.0,
) -> JobGenerator[JoinResult]:
    """Join the federation at ``address`` with ``dataset``; see the module docstring."""
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.federate.daemons import SiteNode
    from workbench.core.federate.remote_daemons import SiteSupernode, split_address

    token = token if token is not None else CancelToken()
    split_address(address)
    if session.encrypted:
        raise FederationError("an encrypted project cannot join yet (its rows would be handed to Flower in clear)")
    ledger = PrivacyLedger(session.project)
    started = time.monotonic()
    with _workdir(workdir, "workbench-federation-site-") as work:
        site_dir = work / "site"
        site_dir.mkdir(parents=True, exist_ok=True)
        _write_rows(dataset.table, site_dir / "rows.parquet")
        cap = max_epsilon if max_epsilon is not None else float("inf")
        node = SiteNode(site_name, site_dir, cap if cap != float("inf") else 1e9)
        held: Reservation | None = None
        plan: FederationPlan | None = None
        history: list[SiteRound] = []
        try:
            with SiteSupernode(work, node, address, ca=ca) as _supernode:
                yield Progress("waiting", 0, None, "", f"connecting to {address}; waiting for the host's plan")
                run_id, plan = _wait_for_offer(site_dir, token, plan_timeout)
                held = yield from _accept_plan(plan, run_id, dataset, site_name, max_epsilon, accept, ledger, site_dir)
                deadline = time.monotonic() + timeout
                while not history or history[-1].round < plan.rounds:  # a round seen late is not waited for
                    token.raise_if_cancelled()
                    got = _site_rounds(site_dir, history[-1].round if history else 0)
                    if got is not None:
                        history.append(got)
                        yield _site_progress(plan, got)
                    elif time.monotonic() > deadline:
                        raise FederationError(f"the federation did not finish within {timeout:g} s")
                    token.wait(0.3)
                _wait_for_last_reply(work / "logs" / "supernode.log", plan.rounds, token)
        finally:
            epsilon = _charge(ledger, held, site_dir) if held is not None else None
            if plan is not None and held is not None:
                from workbench.services.federation import _audit_site

                _audit_site(ledger, plan, site_name, epsilon)
    assert plan is not None
    return JoinResult(
        rounds=history[-1].round if history else 0,
        plan=plan,
        epsilon=epsilon if plan.private else None,
        delta=plan.delta if plan.private else None,
        accountant=plan.accountant if plan.private else None,
        val_accuracy=history[-1].val_accuracy if history else None,
        history=tuple(history),
        seconds=time.monotonic() - started,
    )


def _accept_plan(
    plan: FederationPlan,
    run_id: int,
    dataset: Dataset,
    site: str,
    max_epsilon: float | None,
    accept: Callable[[FederationPlan], bool],
    ledger: PrivacyLedger,
    site_dir: Path,
) -> JobGenerator[Reservation | None]:
    """Check, ask, reserve, then let the ClientApp go on (a refusal is written for it first, then raised)."""
    yield Progress("plan", 0, plan.rounds, "rounds", f"the host's plan: {plan.describe()}", payload=plan)
    try:
        check_offered_plan(plan, dataset, site, max_epsilon)
        if not accept(plan):
            raise FederationError(f"{site} did not accept the host's plan")
        epsilon = min(plan.epsilon, max_epsilon) if max_epsilon is not None else plan.epsilon
        held = (
            ledger.reserve(
                dataset.fingerprint, epsilon, plan.delta, note=f"federated training at a host, {plan.rounds} rounds"
            )
            if plan.private
            else None
        )
    except BaseException as exc:
        _decide(site_dir, run_id, False, str(exc) if isinstance(exc, FederationError) else type(exc).__name__)
        raise
    _decide(site_dir, run_id, True)
    return held


def _wait_for_last_reply(log: Path, rounds: int, token: CancelToken, timeout: float = 60.0) -> None:
    """Wait until the SuperNode has sent the last round's evaluation reply before the site leaves.

    The ClientApp reports the round to the site (``evaluated.json``) before it returns its reply, and Flower's
    SuperNode sends a reply only after the ClientApp process ends; leaving at once would leave the host waiting for
    this site until its reply timeout. Flower 1.42 has no API for "my reply was delivered", so this reads the
    SuperNode's own log (``[RUN r, ROUND n]``, ``Sending: evaluate message``, ``Sent successfully``), and gives up
    after ``timeout`` seconds (the host then treats the site as silent for the evaluation).
    """
    marker = f", ROUND {rounds}]"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        token.raise_if_cancelled()
        with contextlib.suppress(OSError):
            text = log.read_text(encoding="utf-8", errors="replace")
            tail = text[text.rfind(marker) :] if marker in text else ""
            sending = tail.find("Sending: evaluate message")
            if sending >= 0 and "Sent successfully" in tail[sending:]:
                return
        token.wait(0.2)


def _site_progress(plan: FederationPlan, rnd: SiteRound) -> Progress:
    acc = "n/a" if rnd.val_accuracy is None else f"{rnd.val_accuracy:.3f}"
    message = f"round {rnd.round}/{plan.rounds}: this site's validation accuracy {acc}"
    if rnd.epsilon is not None:
        message += f"; epsilon spent {rnd.epsilon:.3g} ({plan.accountant.upper()}, delta {plan.delta:g})"
    return Progress("federating", rnd.round, plan.rounds, "rounds", message, payload=rnd)
