"""Dataset values never reach the log file, whatever the command does with them (a privacy tool's log is a
leakage channel)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CANARIES = ("CANARY-Zebulon", "canary.person@example.org", "555-0199-CANARY")


def test_cli_runs_at_debug_level_log_no_values(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = dict(os.environ, WORKBENCH_HOME=str(home), WORKBENCH_LOG_LEVEL="DEBUG")
    good = tmp_path / "people.csv"
    good.write_text(f"name,email,phone\n{CANARIES[0]},{CANARIES[1]},{CANARIES[2]}\nBob,bob@example.org,555-0100\n")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(f"name,email\n{CANARIES[0]},{CANARIES[1]},{CANARIES[2]}\n")
    badjson = tmp_path / "bad.jsonl"
    badjson.write_text('{"name": "' + CANARIES[0] + '"}\n{"name": ' + CANARIES[1] + "}\n")

    def wb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "workbench.cli", *args], env=env, capture_output=True, text=True, timeout=120
        )

    proj = tmp_path / "proj"
    assert wb("project", "init", str(proj)).returncode == 0
    assert wb("info", str(good)).returncode == 0
    assert wb("add", str(good), "--project", str(proj), "--role", "phone=direct_identifier").returncode == 0
    assert wb("info", str(ragged)).returncode == 2
    assert wb("info", str(badjson)).returncode == 2
    logs = list((home / "logs").glob("workbench.log*"))
    assert logs, "the CLI wrote no log file"
    text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)
    assert "people.csv" in text or "info" in text, "the log should say what happened"
    for canary in CANARIES:
        assert canary not in text
    db = (proj / "workbench.sqlite").read_bytes()
    for canary in CANARIES:
        assert canary.encode() not in db, "the project store keeps metadata only"
