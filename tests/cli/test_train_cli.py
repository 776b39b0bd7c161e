"""`workbench train` and `workbench budget` as a user runs them (subprocess, tiny settings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_workbench
from workbench.core.demo import write_clinic_intake_csv


def wb(*args: str) -> subprocess.CompletedProcess[str]:
    return run_workbench(*args, timeout=180)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli")
    csv = write_clinic_intake_csv(folder / "clinic.csv", rows=300)
    assert wb("project", "init", str(folder / "proj")).returncode == 0
    return csv, folder / "proj"


def test_train_and_budget_json(setup: tuple[Path, Path]) -> None:
    csv, proj = setup
    proc = wb("train", str(csv), "--task", "tabular", "--label", "follow_up", "--epsilon", "2", "--project", str(proj))
    assert proc.returncode == 2 and "no privacy budget yet" in proc.stderr and "--set" in proc.stderr
    proc = wb("budget", str(csv), "--project", str(proj), "--set", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["remaining"] == 3.0
    proc = wb(
        "train",
        str(csv),
        "--task",
        "tabular",
        "--label",
        "follow_up",
        "--epsilon",
        "2",
        "--epochs",
        "2",
        "--batch-size",
        "30",
        "--project",
        str(proj),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in (
        "epsilon_spent",
        "delta",
        "accountant",
        "noise_multiplier",
        "sample_rate",
        "steps",
        "val_accuracy",
        "majority_baseline",
        "samples_per_second",
        "run_id",
    ):
        assert key in out, key
    assert out["accountant"] == "rdp" and 0 < out["epsilon_spent"] <= 2 and out["steps"] == 18
    assert out["delta"] == 1e-4 and "Ada" not in proc.stdout
    proc = wb("train", str(csv), "--task", "tabular", "--label", "follow_up", "--epsilon", "2", "--project", str(proj))
    assert proc.returncode == 2 and "does not fit" in proc.stderr and "Traceback" not in proc.stderr
    proc = wb("budget", str(csv), "--project", str(proj), "--json")
    budget = json.loads(proc.stdout)
    assert budget["committed"] == pytest.approx(out["epsilon_spent"]) and budget["reserved"] == 0
    assert budget["total"] == 3.0 and budget["remaining"] == pytest.approx(3 - out["epsilon_spent"])
    assert [r["status"] for r in budget["runs"]] == ["failed", "succeeded", "failed"]


def test_train_text_no_dp_with_local_model(setup: tuple[Path, Path], tmp_path: Path) -> None:
    from tests.support.models import make_tiny_text_model

    csv, _ = setup
    model = make_tiny_text_model(tmp_path / "bert", ["patient", "worse", "stable"])
    proc = wb(
        "train",
        str(csv),
        "--task",
        "text",
        "--label",
        "follow_up",
        "--text",
        "note",
        "--no-dp",
        "--epochs",
        "1",
        "--model",
        str(model),
        "--max-length",
        "32",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["epsilon_spent"] is None and out["private"] is False and out["run_id"] is None


def test_help_loads_no_torch() -> None:
    code = "import sys; from workbench.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


def test_plan_only_chooses_the_batch_for_the_data_and_warns_before_training(setup: tuple[Path, Path]) -> None:
    from workbench.core.train.advice import advise

    csv, _proj = setup
    base = ("train", str(csv), "--task", "tabular", "--label", "follow_up", "--plan-only")
    proc = wb(*base, "--epsilon", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)["plan"]
    expected = advise("tabular", 270, 30, epochs=3, private=True, target_epsilon=3.0)
    assert plan["batch_chosen_for_data"] and plan["batch_size"] == expected.batch_size
    assert (plan["steps"], plan["learning_rate"]) == (expected.steps, expected.learning_rate)
    assert plan["accountant"] == "rdp" and plan["delta"] == 1e-4 and "RDP accountant" in plan["summary"]
    # 30 validation rows cannot show a difference: said before anything is trained (and nothing is).
    assert not plan["likely_to_beat_majority"] and any("validation rows" in w for w in plan["warnings"])
    proc = wb(*base, "--epsilon", "0.1", "--batch-size", "16")
    assert proc.returncode == 0, proc.stderr
    assert "expected batch 16," in proc.stdout + proc.stderr
    assert "unlikely to beat the majority baseline" in proc.stdout + proc.stderr
    assert "noise per step" in proc.stdout + proc.stderr
