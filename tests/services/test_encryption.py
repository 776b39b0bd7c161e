"""Encrypting a project that already holds data: everything it owns moves into the vault, nothing is lost, and a
kill at any step leaves every dataset readable (in plain or in the vault); the next run finishes the job."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_workbench
from tests.support.planted import (
    CANARY_NAME,
    FAST_KDF_SPEC,
    PASSPHRASE,
    canary_csv,
    files_holding,
    plaintext_outside_vault,
)
from workbench.core.data.load import load_dataset
from workbench.core.dp.runs import RunStore
from workbench.core.jobs import drive
from workbench.core.project.registration import register_loaded
from workbench.core.project.store import Project
from workbench.services.encryption import encrypt_project_job, plan_encryption
from workbench.services.opening import open_session


def _populated_project(tmp_path: Path) -> tuple[Path, Path]:
    """A plain project with two datasets inside it, one outside, a model checkpoint, a stray output and a
    partial file; returns (project folder, the outside file)."""
    folder = tmp_path / "proj"
    with Project.create(folder) as project:
        inside = canary_csv(folder / "data" / "intake.csv")
        second = canary_csv(folder / "data" / "more" / "intake-b.csv", rows=90)
        outside = canary_csv(tmp_path / "elsewhere" / "outside.csv", rows=60)
        for path in (inside, second, outside):
            register_loaded(project, load_dataset(path), path=path)
        model = folder / "data" / "models" / "run-1.pt"
        model.parent.mkdir(parents=True)
        model.write_bytes(b"checkpoint " + CANARY_NAME.encode())
        runs = RunStore(project)
        run_id = runs.create(
            fingerprint="f" * 64, dataset_name="intake.csv", task="tabular", private=False, config={}, seed=0,
            target_epsilon=None, noise_multiplier=None, sample_rate=None, delta=None, accountant=None,
        )  # fmt: skip
        runs.finish(run_id, "succeeded", steps=1, epsilon=None, delta=None, model_path=str(model))
        (folder / "data" / "intake.anonymized.csv").write_text(f"name\n{CANARY_NAME}\n", encoding="utf-8")
        (folder / "data" / ".intake.anonymized.csv.1234.partial").write_text(CANARY_NAME, encoding="utf-8")
    return folder, outside


def test_plan_then_encrypt_moves_everything_the_project_owns(tmp_path: Path, fast_kdf) -> None:  # noqa: ANN001
    folder, outside = _populated_project(tmp_path)
    with Project.open(folder) as project:
        plan = plan_encryption(project)
        fingerprints = {r.id: r.fingerprint for r in project.datasets()}
    kinds = sorted(m.kind for m in plan.moves)
    assert kinds == ["dataset", "dataset", "file", "model"]
    assert plan.in_clear == (str(outside),) and len(plan.partials) == 1
    assert any("still in clear" in line for line in plan.lines())

    session, report = drive(encrypt_project_job(Project.open(folder), PASSPHRASE, kdf=fast_kdf))
    with session:
        assert report.in_clear == (str(outside),)
        assert files_holding([folder]) == [], "a planted value is still readable in the project folder"
        assert plaintext_outside_vault(folder) == []
        for record in session.project.datasets():
            ds = session.load_dataset(record)  # decrypted into memory, or read from the outside file
            assert ds.fingerprint == fingerprints[record.id]
        run = RunStore(session.project).runs()[0]
        assert run.model_path.startswith("vault:")
        assert session.read_bytes(run.model_path) == b"checkpoint " + CANARY_NAME.encode()
        names = [p.name for p in (folder / "encrypted").iterdir() if p.is_file() and p.name != ".ledger-record"]
        assert (folder / "encrypted" / ".ledger-record").is_file(), "the ledger record is sealed in the vault folder"
        assert names and all(len(n) == 40 and all(c in "0123456789abcdef" for c in n) for n in names), names
        actions = [e.action for e in session.project.audit_log(200)]
        assert "project.encrypted" in actions and actions.count("dataset.relocated") == 2
    assert outside.is_file(), "a file registered outside the project is not touched"
    assert Project.store_is_encrypted(folder)
    with pytest.raises(Exception, match="encrypted project"):
        Project.open(folder)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_workbench(*args, env=env)


@pytest.mark.slow
def test_kills_at_seeded_points_lose_nothing(tmp_path: Path) -> None:
    """Count the crash points of one encryption, then SIGKILL a fresh copy at seeded points among them; after each
    kill the next `project encrypt` finishes the job and every dataset reads back with the passphrase."""
    import shutil

    template, _outside = _populated_project(tmp_path / "template")
    env = dict(os.environ, WORKBENCH_PASSPHRASE=PASSPHRASE)
    trace = tmp_path / "trace.txt"
    counted = tmp_path / "counted"
    shutil.copytree(template, counted)
    encrypt = ("project", "encrypt")
    proc = _cli(*encrypt, str(counted), "--kdf", FAST_KDF_SPEC, env={**env, "WORKBENCH_FAULT_TRACE": str(trace)})
    assert proc.returncode == 0, proc.stderr
    points = trace.read_text().splitlines()
    assert len(points) >= 10, points
    with Project.open(template) as project:
        expected = {r.name: r.fingerprint for r in project.datasets()}
    chosen = sorted(random.Random(20261202).sample(range(1, len(points) + 1), 6))
    for kill_at in chosen:
        copy = tmp_path / f"kill-{kill_at}"
        shutil.copytree(template, copy)
        killed = _cli(*encrypt, str(copy), "--kdf", FAST_KDF_SPEC, env={**env, "WORKBENCH_FAULT_KILL_AT": str(kill_at)})
        assert killed.returncode == -9, (kill_at, points[kill_at - 1], killed.stderr)
        resumed = _cli(*encrypt, str(copy), "--kdf", FAST_KDF_SPEC, env=env)
        # Killed after the last file moved, there is nothing left to finish: "already encrypted" (exit 2).
        assert resumed.returncode == 0 or "already encrypted" in resumed.stderr, (points[kill_at - 1], resumed.stderr)
        with open_session(copy, PASSPHRASE) as session:
            found = {r.name: session.load_dataset(r).fingerprint for r in session.project.datasets()}
        assert found == expected, f"after a kill at {points[kill_at - 1]}"
        assert files_holding([copy]) == [], f"plaintext left after a kill at {points[kill_at - 1]}"
        listed = json.loads(_cli("datasets", "--project", str(copy), "--json", env=env).stdout)
        assert len(listed) == len(expected)
