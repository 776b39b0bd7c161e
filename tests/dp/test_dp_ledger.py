"""The privacy ledger: refusals, commits, stale reservations, and the invariant under threads and processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from workbench.core.dp.ledger import BudgetExceeded, LedgerError, PrivacyLedger
from workbench.core.dp.runs import RunMetrics, RunStore
from workbench.core.project.store import Project

FP = "f" * 64
TOL = 1e-9


def test_reserve_commit_release_and_summary(project: Project) -> None:
    ledger = PrivacyLedger(project)
    with pytest.raises(BudgetExceeded, match="no privacy budget yet"):
        ledger.reserve(FP, 1.0, 1e-5)
    ledger.set_total(FP, 5.0)
    a = ledger.reserve(FP, 2.0, 1e-5)
    b = ledger.reserve(FP, 3.0, 1e-5)
    with pytest.raises(BudgetExceeded, match=r"remaining ε = 0"):
        ledger.reserve(FP, 0.1, 1e-5)
    s = ledger.summary(FP)
    assert (s.committed_epsilon, s.reserved_epsilon, s.remaining_epsilon, s.active) == (0.0, 5.0, 0.0, 2)
    ledger.commit(a, 1.5, 1e-5, accountant="rdp", noise_multiplier=1.0, sample_rate=0.1, steps=20)
    ledger.release(b)
    s = ledger.summary(FP)
    assert s.committed_epsilon == 1.5 and s.reserved_epsilon == 0.0 and s.remaining_epsilon == 3.5
    assert s.committed_delta == 1e-5 and s.runs == 1
    assert s.rdp_epsilon is not None and s.rdp_epsilon <= 1.5
    with pytest.raises(LedgerError, match="already committed"):
        ledger.commit(a, 1.0, 1e-5)
    c = ledger.reserve(FP, 1.0, 1e-5)
    # A job that overspends its reservation: the true value is committed (never min(spent, reserved)), said in the
    # entry's note and the audit log.
    entry = ledger.commit(c, 1.5, 1e-5)
    assert entry.spent_epsilon == 1.5 and entry.note is not None and "overspent" in entry.note
    assert ledger.summary(FP).committed_epsilon == 3.0 and not ledger.summary(FP).overspent
    with pytest.raises(LedgerError, match="already committed or reserved"):
        ledger.set_total(FP, 2.0)
    assert [e.state for e in ledger.entries(FP)] == ["committed", "released", "committed"]
    actions = [e.action for e in project.audit_log()]
    assert "privacy_budget.reserved" in actions and "privacy_budget.committed" in actions
    assert "privacy_budget.overspent" in actions


def test_overspend_beyond_the_total_marks_the_budget_overspent(project) -> None:  # noqa: ANN001
    ledger = PrivacyLedger(project)
    ledger.set_total(FP, 2.0)
    r = ledger.reserve(FP, 2.0, 1e-5)
    ledger.commit(r, 2.5, 1e-5)
    summary = ledger.summary(FP)
    assert summary.committed_epsilon == 2.5 and summary.overspent and summary.as_dict()["overspent"] is True
    assert summary.remaining_epsilon == 0.0
    with pytest.raises(LedgerError):
        ledger.reserve(FP, 0.1, 1e-6)


def _check_invariant(ledger: PrivacyLedger, total: float) -> None:
    s = ledger.summary(FP)
    assert s.committed_epsilon + s.reserved_epsilon <= total + TOL, s


WORKER = textwrap.dedent(
    """
    import json, random, sys
    from workbench.core.dp.ledger import BudgetExceeded, PrivacyLedger
    from workbench.core.project.store import Project
    folder, seed, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    made = 0
    with Project.open(folder) as project:
        ledger = PrivacyLedger(project)
        held = []
        for _ in range(ops):
            if held and rng.random() < 0.5:
                r = held.pop(rng.randrange(len(held)))
                if rng.random() < 0.5:
                    ledger.commit(r, rng.uniform(0, 0.1 * r.epsilon), r.delta)
                else:
                    ledger.release(r)
            else:
                try:
                    held.append(ledger.reserve("F" * 0 + "f" * 64, rng.uniform(0.05, 1.5), 1e-6))
                    made += 1
                except BudgetExceeded:
                    pass
        for r in held:
            ledger.release(r)
    print(json.dumps({"made": made}))
    """
)


def test_invariant_under_threads_and_two_processes(project: Project, tmp_path: Path) -> None:
    total = 12.0
    ledger = PrivacyLedger(project)
    ledger.set_total(FP, total)
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(project.folder), str(seed), "150"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    made = [0] * 6
    errors: list[BaseException] = []
    stop = threading.Event()

    def work(i: int) -> None:
        rng = random.Random(100 + i)
        # Half the threads share the project's connection, half have their own (as a second window would).
        own = Project.open(project.folder) if i % 2 else None
        mine = PrivacyLedger(own) if own else ledger
        held = []
        try:
            ops = 0
            # Keep going while the other processes run, so threads and processes really interleave.
            while ops < 150 or (ops < 3000 and any(p.poll() is None for p in procs)):
                ops += 1
                if held and rng.random() < 0.5:
                    r = held.pop(rng.randrange(len(held)))
                    if rng.random() < 0.5:
                        mine.commit(r, rng.uniform(0, 0.1 * r.epsilon), r.delta)
                    else:
                        mine.release(r)
                else:
                    try:
                        held.append(mine.reserve(FP, rng.uniform(0.05, 1.5), 1e-6))
                        made[i] += 1
                    except BudgetExceeded:
                        pass
            for r in held:
                mine.release(r)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            if own:
                own.close()

    def monitor() -> None:
        while not stop.is_set():  # a reader in yet another thread sees the invariant at every moment
            try:
                _check_invariant(ledger, total)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    watcher = threading.Thread(target=monitor)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    outs = [p.communicate(timeout=120) for p in procs]
    stop.set()
    watcher.join(10)
    assert not errors, errors[:3]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    made_total = sum(made) + sum(json.loads(out)["made"] for out, _ in outs)
    entries = ledger.entries(FP)
    assert len(entries) == made_total, "every reservation is recorded, none lost"
    assert all(e.state in ("committed", "released") for e in entries)
    s = ledger.summary(FP)
    assert s.reserved_epsilon == 0.0 and s.committed_epsilon <= total + TOL
    assert made_total > 20
    assert made_total > 200 and s.committed_epsilon > 0.5 * total, "the stress must fill the budget"


KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.dp.runs import RunStore
    from workbench.core.project.store import Project
    project = Project.open(sys.argv[1])
    store = RunStore(project)
    run_id = store.create(fingerprint="f" * 64, dataset_name="d", task="tabular", private=True, config={}, seed=0,
                          target_epsilon=2.0, noise_multiplier=1.0, sample_rate=0.1, delta=1e-5, accountant="rdp")
    PrivacyLedger(project).reserve("f" * 64, 2.0, 1e-5, run_id)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL to simulate a dead process")
def test_reservation_of_a_killed_process_counts_in_full_on_reopen(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    with Project.create(folder) as p:
        PrivacyLedger(p).set_total(FP, 5.0)
    script = tmp_path / "killed.py"
    script.write_text(KILLED, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script), str(folder)], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with Project.open(folder) as p:
        ledger = PrivacyLedger(p)
        assert len(ledger.recovered) == 1
        s = ledger.summary(FP)
        assert (s.committed_epsilon, s.reserved_epsilon, s.remaining_epsilon) == (2.0, 0.0, 3.0)
        assert "counted as spent in full" in (s.entries[0].note or "")
        store = RunStore(p)
        run = store.runs(FP)[0]
        assert run.status == "failed" and "privacy reservation counts as spent" in (run.error or "")
        assert PrivacyLedger(p).recovered == ()  # once only


def test_own_live_reservation_is_not_stale(project: Project) -> None:
    ledger = PrivacyLedger(project)
    ledger.set_total(FP, 5.0)
    ledger.reserve(FP, 1.0, 1e-5)
    assert PrivacyLedger(project).recovered == ()
    assert os.getpid() > 0


def test_run_metrics_snapshots_are_immutable_and_consistent() -> None:
    metrics = RunMetrics()
    metrics.configure(run_id=1, target_epsilon=3.0, delta=1e-5, accountant="rdp", total_steps=2000)
    seen: list[int] = []

    def writer() -> None:
        for i in range(2000):
            metrics.append_step(i + 1, 1.0 / (i + 1), i * 1e-3, 10.0)
            if i % 200 == 199:
                metrics.append_epoch(i // 200 + 1, 0.5)
        metrics.mark_finished()

    t = threading.Thread(target=writer)
    t.start()
    while t.is_alive():
        snap = metrics.snapshot()
        assert len(snap.steps) == len(snap.losses) == len(snap.epsilons) == len(snap.throughput)
        assert len(snap.epochs) == len(snap.val_accuracy)
        seen.append(len(snap.steps))
    t.join()
    final = metrics.snapshot()
    assert final.finished and len(final.steps) == 2000 and final.epochs[-1] == 10
    assert metrics.snapshot() is final, "an unchanged store returns the same snapshot"
    assert seen == sorted(seen)
    assert isinstance(final.steps, tuple) and final.accountant == "rdp" and final.target_epsilon == 3.0
