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
    assert all(p.payload.sites_answered == 3 for p in rounds)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rounds[0].payload.round = 5
    assert 0.0 <= result.val_accuracy <= 1.0
    assert [rnd.val_accuracy for rnd in result.history] == [p.payload.val_accuracy for p in rounds]
    assert result.accountant == "rdp" and 0 < result.delta < 1 / 100


def test_a_site_dropping_out_after_key_sharing_leaves_the_round_complete(secagg_run):
    import json

    host = secagg_run.workdir / "federation" / "host" / "events.jsonl"
    events = [json.loads(line) for line in host.read_text().splitlines()]
    # round 1: site-3's masked update never came; the two others (>= the reconstruction threshold 2) were
    # aggregated, the dropped site's mask removed from shares; round 2: all three again
    assert [(e["round"], e["fit_sites"], e["evaluate_sites"]) for e in events] == [(1, 2, 3), (2, 3, 3)]
    site3 = secagg_run.workdir / "federation" / "site-2"
    assert not (site3 / "update-round-1.npz").exists() and (site3 / "update-round-2.npz").exists()


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
        assert report["round"] == 2
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
    assert steps[2] < steps[0] and steps[2] < steps[1]  # site-3 trained in round 2 only: fewer steps, less epsilon
    assert result.site_epsilons["site-3"] < min(result.site_epsilons["site-1"], result.site_epsilons["site-2"])


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
