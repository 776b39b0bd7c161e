"""An encrypted project through the command line: encrypt a project holding data, add, train, anonymize, export;
then nothing planted is readable in the project folder (store, WAL and SHM included), the log folder or the
temporary folder, and no model or dataset file lies outside the vault."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.planted import FAST_KDF_SPEC, PASSPHRASE, canary_csv, files_holding, plaintext_outside_vault


@pytest.mark.slow
def test_encrypted_project_keeps_nothing_in_clear_through_the_cli(tmp_path: Path) -> None:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, WORKBENCH_PASSPHRASE=PASSPHRASE, WORKBENCH_HOME=str(home), TMPDIR=str(tmp))

    def wb(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "workbench.cli", *args],
            capture_output=True, text=True, timeout=240, env=env, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.returncode == 0, f"{args}: {proc.stderr}"
        return proc

    project = tmp_path / "proj"
    wb("project", "init", str(project))
    inside = canary_csv(project / "data" / "intake.csv")
    wb("add", str(inside), "--project", str(project))
    out = wb("project", "encrypt", str(project), "--kdf", FAST_KDF_SPEC).stdout
    assert "moved into the vault: 1 dataset" in out and "not secure erasure" in out
    assert not inside.exists()

    second = canary_csv(tmp_path / "incoming" / "second.csv", rows=150)
    wb("add", str(second), "--project", str(project))
    second.unlink()  # the analyst deletes the original: the project's copy is used from now on
    wb("budget", "--dataset", "second.csv", "--project", str(project), "--set", "10")
    trained = json.loads(
        wb(
            "train", "--dataset", "second.csv", "--project", str(project), "--task", "tabular", "--label", "follow_up",
            "--epsilon", "2", "--epochs", "1", "--batch-size", "32", "--json",
        ).stdout
    )  # fmt: skip
    assert trained["model_path"].startswith("vault:") and trained["run_id"] == 1
    assert "name" not in trained["columns_used"] and "note" not in trained["columns_used"]
    assert "record_id" not in trained["columns_used"] and "age" in trained["columns_used"]

    policy = tmp_path / "policy.json"
    wb("policy-template", "--dataset", "second.csv", "--project", str(project), "--out", str(policy))
    anonymized = json.loads(
        wb("anonymize", "--dataset", "second.csv", "--project", str(project), "--policy", str(policy), "--workers", "1",
           "--json").stdout  # fmt: skip
    )
    assert anonymized["location"].startswith("vault:") and anonymized["dataset_id"] == 3

    refused = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "export", "model", "1", "--project", str(project), "--out",
         str(tmp_path / "exported" / "model.pt")],
        capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert refused.returncode == 2 and "--plaintext" in refused.stderr
    (tmp_path / "exported").mkdir()
    exported_model = tmp_path / "exported" / "model.pt"
    wb("export", "model", "1", "--project", str(project), "--out", str(exported_model), "--plaintext")
    wb("export", "dataset", "second.csv", "--project", str(project), "--out", str(tmp_path / "exported" / "d.csv"),
       "--plaintext")  # fmt: skip
    assert (tmp_path / "exported" / "d.csv").read_bytes().count(b"Quillon") > 0

    assert files_holding([project, home, tmp]) == []
    assert plaintext_outside_vault(project) == []
    listed = json.loads(wb("datasets", "--project", str(project), "--json").stdout)
    assert [d["path"][:6] for d in listed] == ["vault:"] * 3
    from workbench.services.opening import open_session

    with open_session(project, PASSPHRASE) as session:
        actions = [e.action for e in session.project.audit_log(500)]
        exported = [e for e in session.project.audit_log(500) if e.action in {"model.exported", "dataset.exported"}]
    assert "project.encrypted" in actions and len(exported) == 2 and all(e.detail["in_clear"] for e in exported)
