"""Federated DP training, once, for the window and ``workbench federate``: sites train a shared model on Flower
without their rows leaving them (issue 15).

:func:`federate_sites_job` runs a federation on this machine for sites that are projects with a dataset each:
every site's dataset is checked against the plan before anything starts (a missing label is refused there), each
site's privacy ledger reserves the site's epsilon before the first round, the SuperLink and one SuperNode per site
run as separate process groups on 127.0.0.1, and when the run ends, however it ends, every process is torn down and
each ledger is charged what the site's accountant reports (in full when a round started and left no report).

:func:`federate_simulate_job` is the demonstration: it splits one dataset into N parts (seeded at random, or by a
column), registers each part as the dataset of a temporary site project and runs :func:`federate_sites_job`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.core.errors import WorkbenchError
from workbench.core.federate.plan import FederationError, FederationPlan, check_site_table, schema_from_table
from workbench.core.jobs import CancelToken, JobGenerator, Progress

R = TypeVar("R")

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.core.data.dataset import Dataset
    from workbench.core.dp.ledger import PrivacyLedger, Reservation
    from workbench.services.session import ProjectSession

log = logging.getLogger(__name__)

PRIVACY_FILE = "privacy.json"
STARTED_FILE = "started-round"
DEFAULT_REPLY_TIMEOUT = 180.0
"""Seconds the host waits for the sites' replies in each stage of a round before it goes on without a silent site
(a stage includes one local epoch of DP-SGD; on 2 busy cores one took up to ~25 s here)."""


@dataclass(frozen=True, slots=True)
class SiteInput:
    """A site of a federation on this machine: its project, its dataset and its own cap on epsilon."""

    name: str
    session: ProjectSession
    dataset: Dataset
    max_epsilon: float | None = None


@dataclass(frozen=True, slots=True)
class FederationRound:
    """One finished round, as the host and the demonstration see it."""

    round: int
    val_loss: float | None
    val_accuracy: float | None
    sites_answered: int
    seconds: float
    site_epsilons: tuple[tuple[str, float | None], ...] = ()
    sites_trained: int = 0
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FederationResult:
    """What a federation produced; ``site_epsilons`` are what each site's accountant reports (and its ledger was
    charged), ``None`` for a run without DP."""

    rounds: int
    sites: int
    secure_aggregation: bool
    private: bool
    val_accuracy: float | None
    val_loss: float | None
    site_epsilons: dict[str, float | None]
    delta: float | None
    accountant: str | None
    seconds: float
    history: tuple[FederationRound, ...]
    site_rows: dict[str, int] = field(default_factory=dict)
    plan: FederationPlan | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "sites": self.sites,
            "secure_aggregation": self.secure_aggregation,
            "private": self.private,
            "val_accuracy": self.val_accuracy,
            "val_loss": self.val_loss,
            "site_epsilons": self.site_epsilons,
            "delta": self.delta,
            "accountant": self.accountant,
            "seconds": round(self.seconds, 2),
            "site_rows": self.site_rows,
            "seconds_per_round": [round(r.seconds, 2) for r in self.history],
            "val_accuracy_per_round": [r.val_accuracy for r in self.history],
        }


def make_plan(
    table: pa.Table,
    *,
    task: str,
    label: str,
    rounds: int,
    epsilon: float | None,
    secure_aggregation: bool = True,
    excluded: tuple[str, ...] = (),
    text: str | None = None,
    **options: Any,
) -> FederationPlan:
    """The plan for ``table``'s schema (``epsilon=None``: without DP, for comparison only). The tabular task uses
    every usable column but ``excluded``; the text task the column ``text``, embedded at each site by the frozen
    local encoder, with a DP-trained head."""
    if task not in ("tabular", "text"):
        raise FederationError(f"federated training supports the tabular and text tasks ({task!r} asked)")
    if rounds < 1:
        raise FederationError("a federation needs at least one round")
    if task == "text":
        classes, features, extra = _text_schema(table, label, text)
        options["extra"] = {**options.get("extra", {}), **extra}
    else:
        classes, features = schema_from_table(table, label, excluded)
    return FederationPlan(
        task=task,
        label=label,
        classes=classes,
        features=features,
        rounds=int(rounds),
        secure_aggregation=secure_aggregation,
        private=epsilon is not None,
        epsilon=float(epsilon) if epsilon is not None else 0.0,
        **options,
    )


def _text_schema(
    table: pa.Table, label: str, text: str | None
) -> tuple[tuple[str, ...], tuple[Any, ...], dict[str, Any]]:
    from workbench.core.federate.plan import FeatureSpec
    from workbench.core.federate.text_features import DEFAULT_ENCODER, encoder_path, encoder_width

    if not text:
        raise FederationError("the text task needs the text column (--text COLUMN)")
    if text not in table.column_names:
        raise FederationError(f"the dataset has no column {text!r} to use as the text")
    if text == label:
        raise FederationError("the text column cannot be the label")
    if label not in table.column_names:
        raise FederationError(f"the dataset has no column {label!r} to use as the label")
    classes = tuple(sorted({str(v) for v in table[label].drop_null().to_pylist()}))
    if len(classes) < 2:
        raise FederationError(f"the label column {label!r} has fewer than two classes")
    path = encoder_path(None)
    return classes, (FeatureSpec(text, "text", dims=encoder_width(path)),), {"encoder": DEFAULT_ENCODER}


def split_table(table: pa.Table, sites: int, *, by: str | None = None, seed: int = 0) -> list[pa.Table]:
    """``sites`` disjoint parts of ``table``: at random (seeded, near-equal sizes), or by the values of column
    ``by`` (each value to one site, values dealt round-robin in sorted order)."""
    import numpy as np

    if sites < 2:
        raise FederationError("a federation needs at least two sites")
    if by is None:
        order = np.random.default_rng(seed).permutation(table.num_rows)
        return [table.take(np.sort(part)) for part in np.array_split(order, sites)]
    if by not in table.column_names:
        raise FederationError(f"the dataset has no column {by!r} to split the sites by")
    values = [str(v) for v in table[by].to_pylist()]
    distinct = sorted(set(values))
    if len(distinct) < sites:
        raise FederationError(f"column {by!r} has {len(distinct)} values, fewer than {sites} sites")
    site_of = {v: i % sites for i, v in enumerate(distinct)}
    return [table.take([r for r, v in enumerate(values) if site_of[v] == s]) for s in range(sites)]


# ---- a federation of sites on this machine ----------------------------------------------------------------------


def site_epsilon(plan: FederationPlan, site: SiteInput) -> float:
    """The epsilon a site spends: the plan's, or less when the site set a lower cap."""
    return min(plan.epsilon, site.max_epsilon) if site.max_epsilon is not None else plan.epsilon


def check_sites(plan: FederationPlan, sites: list[SiteInput]) -> dict[str, int]:
    """Every site's dataset checked against the plan before anything starts; the training rows of each site."""
    from workbench.core.dp.accountant import PlanningError, check_delta
    from workbench.core.federate.site_data import train_rows

    if len(sites) < 2:
        raise FederationError("a federation needs at least two sites")
    if plan.secure_aggregation and len(sites) < plan.num_shares:
        raise FederationError(f"SecAgg+ with {plan.num_shares} shares needs at least {plan.num_shares} sites")
    names = [s.name for s in sites]
    if len(set(names)) != len(names):
        raise FederationError("two sites have the same name")
    rows: dict[str, int] = {}
    for site in sites:
        if site.session.encrypted:
            raise FederationError(
                f"{site.name}: an encrypted project cannot join yet (its rows would be handed to Flower's ClientApp "
                "in clear); use an unencrypted copy on a protected machine"
            )
        check_site_table(plan, site.dataset.table, site.name)
        rows[site.name] = train_rows(plan, site.dataset.table, site.name)
        if plan.private:
            try:
                check_delta(plan.delta, rows[site.name])
            except PlanningError as exc:
                raise FederationError(f"{site.name}: {exc}") from None
        if rows[site.name] > plan.max_weight:
            raise FederationError(
                f"{site.name} trains on {rows[site.name]} rows, more than SecAgg+'s max_weight {plan.max_weight:g}"
            )
    return rows


@contextlib.contextmanager
def _workdir(folder: Path | None, prefix: str) -> Iterator[Path]:
    """``folder`` (kept), or a temporary folder removed afterwards (it holds the sites' rows)."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    temp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield temp
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _reserve(
    plan: FederationPlan, sites: list[SiteInput], set_budgets: bool
) -> list[tuple[PrivacyLedger, Reservation]]:
    """Each site's ledger reserves its epsilon before the first round (all or none)."""
    from workbench.core.dp.ledger import PrivacyLedger

    held: list[tuple[PrivacyLedger, Reservation]] = []
    try:
        for site in sites:
            ledger = PrivacyLedger(site.session.project)
            fingerprint = site.dataset.fingerprint
            if set_budgets and ledger.summary(fingerprint, with_rdp=False).total_epsilon is None:
                ledger.set_total(fingerprint, site_epsilon(plan, site))
            note = f"federated training, {plan.rounds} rounds, label {plan.label}"
            held.append((ledger, ledger.reserve(fingerprint, site_epsilon(plan, site), plan.delta, note=note)))
    except BaseException:
        for ledger, reservation in held:
            ledger.release(reservation, note="the federation did not start")
        raise
    return held


def _read_report(site_dir: Path) -> tuple[dict[str, Any] | None, int]:
    """The site's last privacy report and the last round it started training (0: none)."""
    report = None
    with contextlib.suppress(OSError, ValueError):
        report = json.loads((site_dir / PRIVACY_FILE).read_text(encoding="utf-8"))
    started = 0
    with contextlib.suppress(OSError, ValueError):
        started = int((site_dir / STARTED_FILE).read_text(encoding="utf-8").strip())
    return report, started


def _charge(ledger: PrivacyLedger, reservation: Reservation, site_dir: Path) -> float:
    """Charge the site's ledger what its accountant reports; in full if a round started and left no report."""
    report, started = _read_report(site_dir)
    if report is not None and int(report["round"]) >= started and report.get("epsilon") is not None:
        ledger.commit(
            reservation,
            float(report["epsilon"]),
            float(report["delta"]),
            accountant=report["accountant"],
            noise_multiplier=report["noise_multiplier"],
            sample_rate=report["sample_rate"],
            steps=int(report["steps"]),
            note=f"federated training, {report['round']} round(s)",
        )
        return float(report["epsilon"])
    if started:
        ledger.commit(
            reservation, reservation.epsilon, reservation.delta, note="a round started and left no report: in full"
        )
        return reservation.epsilon
    ledger.release(reservation, note="the federation ended before this site trained")
    return 0.0


def _audit_site(ledger: PrivacyLedger, plan: FederationPlan, site: str, epsilon: float | None) -> None:
    """The site's audit log records its part in the federation (issue 18); never masks the run's own outcome."""
    try:
        ledger.project.audit(
            "federation.trained",
            site=site,
            task=plan.task,
            secure_aggregation=plan.secure_aggregation,
            epsilon_charged=epsilon,
            delta=plan.delta,
            accountant=plan.accountant,
        )
    except WorkbenchError as exc:
        log.warning("the federation could not be written to %s's audit log: %s", site, type(exc).__name__)


def _round_of(event: dict[str, Any], nodes: list[Any]) -> FederationRound:
    epsilons = []
    for node in nodes:
        report, _ = _read_report(node.site_dir)
        epsilons.append((node.name, None if report is None else report.get("epsilon")))
    return FederationRound(
        round=int(event["round"]),
        val_loss=event.get("val_loss"),
        val_accuracy=event.get("val_accuracy"),
        sites_answered=int(event.get("evaluate_sites", 0)),
        seconds=float(event.get("seconds", 0.0)),
        site_epsilons=tuple(epsilons),
        sites_trained=int(event.get("fit_sites", 0)),
        dropped=tuple(str(n) for n in event.get("dropped", ())),
    )


def _round_progress(plan: FederationPlan, rnd: FederationRound) -> Progress:
    acc = "n/a" if rnd.val_accuracy is None else f"{rnd.val_accuracy:.3f}"
    eps = ", ".join(f"{n} {e:.3g}" for n, e in rnd.site_epsilons if e is not None)
    message = f"round {rnd.round}/{plan.rounds}: validation accuracy {acc}, {rnd.seconds:.1f} s"
    if rnd.dropped:
        message += f"; dropped out: {', '.join(rnd.dropped)}"
    if eps:
        message += f"; site epsilon {eps} ({plan.accountant.upper()}, delta {plan.delta:g})"
    return Progress("federating", rnd.round, plan.rounds, "rounds", message, payload=rnd)


def _run_protocol(
    plan: FederationPlan,
    work: Path,
    nodes: list[Any],
    token: CancelToken,
    record_updates: bool,
    timeout: float,
    reply_timeout: float,
) -> JobGenerator[tuple[FederationRound, ...]]:
    """Start the daemons, submit the run, report each round; every process is torn down on the way out."""
    from workbench.core.federate.daemons import LocalFederation, write_app

    events = work / "host" / "events.jsonl"
    events.parent.mkdir(parents=True, exist_ok=True)
    app = write_app(
        work / "app",
        plan,
        sites=len(nodes),
        events=events,
        record_updates=record_updates,
        reply_timeout=reply_timeout,
    )
    yield Progress("starting", 0, plan.rounds, "rounds", f"starting a SuperLink and {len(nodes)} SuperNodes")
    history: list[FederationRound] = []
    with LocalFederation(work, nodes) as federation:
        run = federation.run_app(app)
        yield from follow_rounds(
            run,
            lambda seen: federation.read_events(events, seen),
            lambda event: _round_of(event, nodes),
            lambda r: _round_progress(plan, r),
            history,
            token,
            timeout,
        )
    check_all_rounds(history, plan, run, work)
    return tuple(history)


def follow_rounds(
    run: Any,
    read_events: Callable[[int], Any],
    to_round: Callable[[dict[str, Any]], R],
    to_progress: Callable[[R], Progress],
    history: list[R],
    token: CancelToken,
    timeout: float,
) -> JobGenerator[None]:
    """Follow a submitted Flower run (``flwr run`` as ``run``) until it ends: each round event the ServerApp writes
    becomes a round appended to ``history`` (kept by the caller: what was seen counts even after a failure) and a
    progress snapshot; an error event, or no end within ``timeout`` seconds, raises :class:`FederationError`."""
    deadline = time.monotonic() + timeout
    while True:
        token.raise_if_cancelled()
        finished = run.poll() is not None
        for event in list(read_events(len(history))):
            if "error" in event:
                raise FederationError(str(event["error"]))
            history.append(to_round(event))
            yield to_progress(history[-1])
        if finished:
            return
        if time.monotonic() > deadline:
            raise FederationError(f"the federation did not finish within {timeout:g} s")
        token.wait(0.5)


def check_all_rounds(history: list[Any], plan: FederationPlan, run: Any, work: Path) -> None:
    """Raise when the run ended before its last round (with flwr's exit code and where Flower's logs are)."""
    if len(history) < plan.rounds:
        raise FederationError(
            f"the federation stopped after {len(history)} of {plan.rounds} rounds (flwr run exit code "
            f"{run.returncode}); Flower's logs: {work / 'logs'}"
        )


def federate_sites_job(
    plan: FederationPlan,
    sites: list[SiteInput],
    token: CancelToken | None = None,
    *,
    workdir: Path | None = None,
    set_budgets: bool = False,
    record_updates: bool = False,
    timeout: float = 3600.0,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
) -> JobGenerator[FederationResult]:
    """Run ``plan`` with ``sites`` on 127.0.0.1; each site's ledger reserves first and is charged at the end.

    ``set_budgets`` gives a site without a budget one equal to its epsilon (temporary demonstration projects).
    ``record_updates`` (tests) keeps each site's update in its folder and the host's aggregate beside its events.
    ``reply_timeout`` bounds each wait for the sites' replies: a silent site is left behind after it (the round
    completes with the others when they reach the reconstruction threshold, else a clear error).
    """
    from workbench.core.federate.daemons import SiteNode

    token = token if token is not None else CancelToken()
    started = time.monotonic()
    rows = check_sites(plan, sites)  # refusals come before any process or reservation
    token.raise_if_cancelled()
    with _workdir(workdir, "workbench-federation-") as work:
        nodes = []
        for i, site in enumerate(sites):
            site_dir = work / f"site-{i}"
            site_dir.mkdir(parents=True, exist_ok=True)
            _write_rows(site.dataset.table, site_dir / "rows.parquet")
            nodes.append(SiteNode(site.name, site_dir, site_epsilon(plan, site)))
        held = _reserve(plan, sites, set_budgets) if plan.private else []
        epsilons: dict[str, float | None] = {site.name: None for site in sites}
        try:
            history = yield from _run_protocol(plan, work, nodes, token, record_updates, timeout, reply_timeout)
        finally:
            for (ledger, reservation), node in zip(held, nodes, strict=False):
                epsilons[node.name] = _charge(ledger, reservation, node.site_dir)
                _audit_site(ledger, plan, node.name, epsilons[node.name])
    last = history[-1]
    return FederationResult(
        rounds=len(history),
        sites=len(sites),
        secure_aggregation=plan.secure_aggregation,
        private=plan.private,
        val_accuracy=last.val_accuracy,
        val_loss=last.val_loss,
        site_epsilons=epsilons,
        delta=plan.delta if plan.private else None,
        accountant=plan.accountant if plan.private else None,
        seconds=time.monotonic() - started,
        history=history,
        site_rows=rows,
        plan=plan,
    )


def _write_rows(table: pa.Table, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path)


# ---- the demonstration ------------------------------------------------------------------------------------------


def _site_projects(work: Path, parts: list[pa.Table], token: CancelToken) -> JobGenerator[list[SiteInput]]:
    """One temporary project per part, the part registered as its dataset."""
    from workbench.core.project.store import Project
    from workbench.services.datasets import add_dataset_job
    from workbench.services.session import ProjectSession

    sites: list[SiteInput] = []
    try:
        for i, part in enumerate(parts):
            token.raise_if_cancelled()
            folder = work / f"site-{i + 1}-project"
            session = ProjectSession(Project.create(folder))
            part_file = work / f"site-{i + 1}.parquet"
            _write_rows(part, part_file)
            added = yield from add_dataset_job(session, part_file, token=token)
            sites.append(SiteInput(f"site-{i + 1}", session, added.dataset))
    except BaseException:
        for site in sites:
            site.session.close()
        raise
    return sites


def federate_simulate_job(
    dataset: Dataset,
    sites: int,
    task: str,
    label: str,
    rounds: int = 3,
    epsilon: float | None = 3.0,
    secagg: bool = True,
    token: CancelToken | None = None,
    *,
    by: str | None = None,
    seed: int = 0,
    delta: float | None = None,
    workdir: Path | None = None,
    record_updates: bool = False,
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
    **options: Any,
) -> JobGenerator[FederationResult]:
    """Split ``dataset`` into ``sites`` parts, make each the dataset of a temporary site project, and run the
    whole protocol as separate processes on 127.0.0.1 (``epsilon=None``: without DP, for comparison only)."""
    from workbench.core.dp.accountant import default_delta
    from workbench.core.federate.site_data import train_rows
    from workbench.services.training import excluded_columns

    token = token if token is not None else CancelToken()
    excluded = excluded_columns(dataset.suggested_roles(), label=label)
    plan = make_plan(
        dataset.table,
        task=task,
        label=label,
        rounds=rounds,
        epsilon=epsilon,
        secure_aggregation=secagg,
        excluded=excluded,
        seed=seed,
        **options,
    )
    parts = split_table(dataset.table, sites, by=by, seed=seed)
    sizes = [train_rows(plan, part, f"site-{i + 1}") for i, part in enumerate(parts)]
    # SecAgg+ scales each update by its rows / max_weight before quantizing: the largest site's rows is the
    # tightest bound that never overflows (a larger one wastes quantization levels).
    plan = replace(plan, max_weight=float(max(sizes)))
    if plan.private:
        plan = replace(plan, delta=delta if delta is not None else default_delta(min(sizes)))
    # what every site is told before it trains (the page shows it while the federation runs)
    yield Progress("plan", 0, None, "", "the plan every site sees", payload=plan)
    yield Progress("preparing", 0, None, "", f"registering {sites} site projects")
    with _workdir(workdir, "workbench-federation-demo-") as work:
        site_inputs = yield from _site_projects(work, parts, token)
        try:
            return (
                yield from federate_sites_job(
                    plan,
                    site_inputs,
                    token,
                    workdir=work / "federation",
                    set_budgets=True,
                    record_updates=record_updates,
                    reply_timeout=reply_timeout,
                )
            )
        finally:
            for site in site_inputs:
                site.session.close()
