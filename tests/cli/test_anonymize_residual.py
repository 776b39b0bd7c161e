"""`workbench anonymize` says what it replaced, what it kept and what remained (issue 13)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from workbench.core.demo import write_clinic_intake_csv


def _policy(path: Path, threshold: float) -> Path:
    path.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "threshold": threshold,
                "entities": {"TITLE": {"operator": "keep"}},
                "columns": {"note": "free_text", "record_id": "drop", "name": "drop"},
            }
        ),
        encoding="utf-8",
    )
    return path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", "anonymize", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
    )


def test_counts_kept_and_residue_in_json_and_text(tmp_path: Path) -> None:
    write_clinic_intake_csv(tmp_path / "clinic.csv", rows=40, seed=21)
    _policy(tmp_path / "loose.json", 0.95)
    proc = _run("clinic.csv", "--policy", "loose.json", "--out", "loose.csv", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    residual = out["residual"]
    assert residual["residue_counts"]["PHONE_NUMBER"] > 0, "a threshold of 0.95 lets the notes' phones through"
    assert residual["cells_checked"] == 40 and residual["sampled"] is False and residual["threshold"] == 0.3
    assert "TITLE" not in out["entity_counts"]
    _policy(tmp_path / "strict.json", 0.4)
    proc = _run("clinic.csv", "--policy", "strict.json", "--out", "strict.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.split()[:3] == ["entity", "type", "replaced"])
    assert header.split()[-1] == "kept"
    title = next(line for line in lines if line.startswith("TITLE"))
    assert title.split()[1] == "0" and int(title.split()[2].replace(",", "")) > 0  # kept, not replaced
    assert any(line.startswith("residual check at threshold 0.3: all 40 text cells checked") for line in lines)
