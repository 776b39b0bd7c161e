"""`workbench audit-log` (issue 18): verify names the first broken entry (exit 1), head anchors, export holds no
dataset value."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from tests.support.cli import run_workbench


def test_verify_head_export_and_a_tampered_entry(tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home")}
    folder = tmp_path / "p"
    data = tmp_path / "people.csv"
    canary = "Zebulon Quixworth"
    data.write_text("name,age,label\n" + "".join(f"{canary} {i},{30 + i},{'ab'[i % 2]}\n" for i in range(12)))
    assert run_workbench("project", "init", str(folder), env=env).returncode == 0
    assert run_workbench("add", str(data), "--project", str(folder), env=env).returncode == 0
    assert run_workbench("budget", str(data), "--project", str(folder), "--set", "4", env=env).returncode == 0

    done = run_workbench("audit-log", "verify", "--project", str(folder), env=env)
    assert done.returncode == 0 and "audit log: OK" in done.stdout, done.stdout + done.stderr
    head = json.loads(run_workbench("audit-log", "head", "--project", str(folder), "--json", env=env).stdout)
    assert head["signed"] == "valid" and head["chain_intact"]

    for fmt in ("csv", "json"):
        out = tmp_path / f"log.{fmt}"
        done = run_workbench("audit-log", "export", "--project", str(folder), "--out", str(out), env=env)
        assert done.returncode == 0, done.stderr
        text = out.read_text()
        assert "privacy_budget.set" in text and canary not in text, "the log names actions, never dataset values"

    with sqlite3.connect(folder / "workbench.sqlite") as conn:
        conn.execute("UPDATE audit_log SET action = 'dataset.nothing' WHERE id = 1")
    conn.close()
    done = run_workbench("audit-log", "verify", "--project", str(folder), "--since-head", head["head"], env=env)
    assert done.returncode == 1
    assert "BROKEN at entry 1" in done.stdout and "audit log: NOT OK" in done.stdout
    bad = run_workbench("audit-log", "verify", "--project", str(folder), "--since-head", "12:zz", env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "SEQ:HASH" in bad.stderr


def test_report_and_verify_report_through_the_command(tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home")}
    folder, data = tmp_path / "p", tmp_path / "d.csv"
    data.write_text("age,label\n" + "".join(f"{30 + i},{'ab'[i % 2]}\n" for i in range(12)))
    assert run_workbench("project", "init", str(folder), env=env).returncode == 0
    assert run_workbench("add", str(data), "--project", str(folder), env=env).returncode == 0
    pdf = tmp_path / "r.pdf"
    done = run_workbench("report", "--project", str(folder), "--dataset", "1", "--out", str(pdf), env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.html").is_file() and (tmp_path / "r.manifest.json").is_file()
    done = run_workbench("verify-report", str(pdf), "--project", str(folder), env=env)
    assert done.returncode == 0 and "report: OK" in done.stdout, done.stdout + done.stderr
    again = run_workbench("report", "--project", str(folder), "--dataset", "1", "--out", str(pdf), env=env)
    assert again.returncode == 2 and "already exists" in again.stderr
    pdf.write_bytes(pdf.read_bytes() + b"\n")
    done = run_workbench("verify-report", str(pdf), env=env)
    assert done.returncode == 1 and "report: NOT OK" in done.stdout
