"""Issue 12 through the command: an anonymized copy charges the original's budget, in any project of the machine;
a project whose store was emptied is refused with one line, exit 2."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tests.support.cli import run_workbench


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "WORKBENCH_HOME": str(home)}


def test_an_anonymized_copy_charges_the_original_in_another_project(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    raw = tmp_path / "raw.csv"
    raw.write_text("name,age,label\n" + "".join(f"Person {i},{20 + i},{'ab'[i % 2]}\n" for i in range(30)))
    policy, copy = tmp_path / "policy.json", tmp_path / "copy.csv"
    done = run_workbench("policy-template", str(raw), "--out", str(policy), env=env)
    assert done.returncode == 0, done.stderr
    done = run_workbench("anonymize", str(raw), "--policy", str(policy), "--out", str(copy), env=env)
    assert done.returncode == 0, done.stderr
    assert copy.read_bytes() != raw.read_bytes()

    assert run_workbench("project", "init", str(tmp_path / "p"), env=env).returncode == 0
    done = run_workbench("budget", str(copy), "--project", str(tmp_path / "p"), "--set", "3", "--json", env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    original = hashlib.sha256(raw.read_bytes()).hexdigest()
    assert out["charged_to"] == original and out["fingerprint"] == original and out["total"] == 3.0
    done = run_workbench("budget", str(copy), "--project", str(tmp_path / "p"), env=env)
    assert "charges the budget of the dataset it was derived from" in done.stdout


def test_an_emptied_store_is_refused_with_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    folder = tmp_path / "p"
    assert run_workbench("project", "init", str(folder), env=env).returncode == 0
    (folder / "workbench.sqlite").write_bytes(b"")
    done = run_workbench("datasets", "--project", str(folder), env=env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "emptied or replaced" in done.stderr and "Traceback" not in done.stderr
