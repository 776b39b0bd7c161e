"""A real federation on 127.0.0.1 (slow: one shared 3-site, 2-round SecAgg+ run with DP, about 2 minutes)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_every_round_is_reported_once_as_an_immutable_snapshot(secagg_run):
    result = secagg_run.result
    assert result.rounds == 2 and result.sites == 3 and result.secure_aggregation and result.private
    rounds = [p for p in secagg_run.progress if p.phase == "federating"]
    assert [p.payload.round for p in rounds] == [1, 2]
    assert [p.payload.sites_answered for p in rounds] == [3, 2]  # site-2 went silent in round 2
    assert [p.payload.dropped for p in rounds] == [("site-3",), ("site-2",)]
    assert "dropped out: site-2" in rounds[1].message
    with pytest.raises(dataclasses.FrozenInstanceError):
        rounds[0].payload.round = 5
    assert 0.0 <= result.val_accuracy <= 1.0
    assert [rnd.val_accuracy for rnd in result.history] == [p.payload.val_accuracy for p in rounds]
    assert result.accountant == "rdp" and 0 < result.delta < 1 / 100


def test_a_site_dropping_out_after_key_sharing_leaves_the_round_complete(secagg_run):
    import json

    host = secagg_run.workdir / "federation" / "host" / "events.jsonl"
    events = [json.loads(line) for line in host.read_text().splitlines()]
    # round 1: site-3's masked update never came (it failed); the two others (>= the reconstruction threshold 2)
    # were aggregated, the dropped site's mask removed from shares; it still answered the evaluation
    assert (events[0]["round"], events[0]["fit_sites"], events[0]["evaluate_sites"]) == (1, 2, 3)
    assert events[0]["trained"] == ["site-1", "site-2"] and events[0]["dropped"] == ["site-3"]
    site3 = secagg_run.workdir / "federation" / "site-2"
    assert not (site3 / "update-round-1.npz").exists() and (site3 / "update-round-2.npz").exists()


def test_a_silent_site_is_left_behind_after_the_reply_timeout(secagg_run):
    import json

    from tests.federate.conftest import SILENT_TIMEOUT

    host = secagg_run.workdir / "federation" / "host" / "events.jsonl"
    events = [json.loads(line) for line in host.read_text().splitlines()]
    # round 2: site-2 hung after key sharing; the host waited SILENT_TIMEOUT for its masked update, went on with
    # site-1 and site-3 (SecAgg+ removed site-2's mask from their shares), did not ask the silent site to evaluate
    # and left it out of any later round
    last = events[1]
    assert (last["round"], last["fit_sites"], last["evaluate_sites"]) == (2, 2, 2)
    assert last["trained"] == ["site-1", "site-3"] and last["evaluated"] == ["site-1", "site-3"]
    assert last["dropped"] == ["site-2"] and last["left_out"] == ["site-2"] and "error" not in last
    assert last["seconds"] >= SILENT_TIMEOUT  # the wait was bounded: never forever
    assert secagg_run.result.rounds == 2
    site2 = secagg_run.workdir / "federation" / "site-1"
    assert (site2 / "update-round-1.npz").exists() and not (site2 / "update-round-2.npz").exists()


def test_site_ledgers_are_charged_exactly_what_their_accountants_report(secagg_run, monkeypatch):
    import json

    from workbench.core.dp.accountant import epsilon_for
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.project.store import Project

    monkeypatch.setenv("WORKBENCH_HOME", secagg_run.home)
    result = secagg_run.result
    steps = []
    for i in range(3):
        name = f"site-{i + 1}"
        report = json.loads((secagg_run.workdir / "federation" / f"site-{i}" / "privacy.json").read_text())
        assert report["round"] == (1 if name == "site-2" else 2)  # site-2 went silent before training round 2
        # one accountant over both rounds: the same epsilon as a fresh accountant over all the site's steps
        recomputed = epsilon_for(report["noise_multiplier"], report["sample_rate"], report["steps"], report["delta"])
        assert math.isclose(report["epsilon"], recomputed, rel_tol=1e-9)
        assert 0.0 < report["epsilon"] <= 2.0 + 1e-9  # the noise is planned for both rounds
        assert result.site_epsilons[name] == report["epsilon"]
        steps.append(report["steps"])
        with Project.open(secagg_run.workdir / f"{name}-project") as project:
            fingerprint = project.datasets()[0].fingerprint
            summary = PrivacyLedger(project).summary(fingerprint, with_rdp=False)
            trained = [e for e in project.audit_log(200) if e.action == "federation.trained"]
        assert len(trained) == 1 and trained[0].detail["epsilon_charged"] == report["epsilon"]  # in the site's log
        assert summary.reserved_epsilon == 0.0
        assert summary.committed_epsilon == pytest.approx(report["epsilon"], rel=1e-12, abs=1e-12)
        assert summary.committed_delta == pytest.approx(report["delta"])
    # site-1 trained both rounds; site-2 (silent in round 2) and site-3 (dropped in round 1) one each
    assert steps[1] < steps[0] and steps[2] < steps[0]
    assert max(result.site_epsilons["site-2"], result.site_epsilons["site-3"]) < result.site_epsilons["site-1"]


def test_secagg_aggregate_equals_plain_fedavg_of_the_site_updates(secagg_run):
    host = secagg_run.workdir / "federation" / "host"
    for rnd in (1, 2):
        updates, weights = [], []
        for i in range(3):
            path = secagg_run.workdir / "federation" / f"site-{i}" / f"update-round-{rnd}.npz"
            if not path.exists():  # site-3 dropped out of round 1
                continue
            with np.load(path) as f:
                weights.append(float(f["num_examples"]))
                updates.append([f[f"arr_{k}"] for k in range(len(f.files) - 1)])
        with np.load(host / f"global-round-{rnd}.npz") as f:
            aggregate = [f[f"arr_{k}"] for k in range(len(f.files))]
        total = sum(weights)
        fedavg = [sum(w * u[k] for w, u in zip(weights, updates, strict=True)) / total for k in range(len(aggregate))]
        worst = max(float(np.max(np.abs(a - b))) for a, b in zip(aggregate, fedavg, strict=True))
        # SecAgg+ quantizes each weighted update to 2**22 levels over [-8, 8] (about 4e-6 a level): the error of
        # the mean stays within a few levels; different updates differ by far more.
        assert worst < 5e-5, worst
        spread = max(float(np.max(np.abs(updates[0][k] - updates[1][k]))) for k in range(len(aggregate)))
        assert spread > 100 * worst


def test_no_flower_process_is_left(secagg_run):
    import psutil

    from workbench.core.federate.daemons import flower_processes

    assert flower_processes(secagg_run.workdir / "federation" / "flwr-home") == []
    names = ("flower-superlink", "flower-supernode", "flwr-serverapp", "flwr-clientapp", "flower-superexec")
    mine = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or ())
        if any(n in cmd for n in names) and str(secagg_run.workdir) in cmd:
            mine.append(cmd)
    assert mine == []
