"""The `workbench` command, run as a user would: exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_workbench

CSV = (
    "name,email,zip,diagnosis,note\nAda Lovelace,ada@example.org,02139,J45,Seen by Dr. Babbage\n"
    "Alan Turing,alan@example.org,10001,E11,Call back next week\n"
)


def wb(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=dict(os.environ),
    )


def test_info_json(tmp_path: Path) -> None:
    f = tmp_path / "people.csv"
    f.write_text(CSV, encoding="utf-8")
    proc = wb("info", str(f), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    import hashlib

    assert info["rows"] == 2
    assert info["fingerprint"] == hashlib.sha256(f.read_bytes()).hexdigest()
    cols = {c["name"]: c for c in info["columns"]}
    assert set(cols) == {"name", "email", "zip", "diagnosis", "note"}
    assert cols["email"]["suggested_role"] == "direct_identifier"
    assert cols["zip"]["suggested_role"] == "quasi_identifier"
    assert cols["diagnosis"]["suggested_role"] == "sensitive"
    assert cols["zip"]["missing"] == 0 and cols["zip"]["distinct"] == 2
    assert "examples" not in cols["name"], "values are shown only on request"
    assert "Ada" not in proc.stdout


def test_info_text_and_examples(tmp_path: Path) -> None:
    f = tmp_path / "people.csv"
    f.write_text(CSV, encoding="utf-8")
    proc = wb("info", str(f))
    assert proc.returncode == 0
    assert "fingerprint (SHA-256)" in proc.stdout and "suggested role" in proc.stdout
    proc = wb("info", str(f), "--examples")
    assert "Ada Lovelace" in proc.stdout


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty.csv", b"", "empty"),
        ("binary.bin", bytes(range(256)) * 20, "binary"),
        ("ragged.csv", b"a,b\n1,2\n3,4,5\n", "line 3"),
        ("broken.jsonl", b'{"a": 1}\n{"a": \n', "line 2"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, name: str, content: bytes, needle: str) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    proc = wb("info", str(f))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(f) in lines[0] and needle in lines[0].lower()
    assert "Traceback" not in proc.stderr


def test_directory_and_missing(tmp_path: Path) -> None:
    for target, needle in ((tmp_path, "directory"), (tmp_path / "nope.csv", "nope.csv")):
        proc = wb("info", str(target))
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1 and needle in proc.stderr


def test_usage_errors_exit_2() -> None:
    assert wb("info").returncode == 2
    assert wb("frobnicate").returncode == 2


def test_project_add_roles_datasets(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    assert wb("project", "init", str(proj)).returncode == 0
    f = tmp_path / "people.csv"
    f.write_text(CSV, encoding="utf-8")
    proc = wb("add", str(f), "--project", str(proj), "--role", "note=free_text", "--json")
    assert proc.returncode == 0, proc.stderr
    added = json.loads(proc.stdout)
    assert added["roles"]["note"] == "free_text" and added["roles"]["email"] == "direct_identifier"
    # the same bytes again: the same dataset
    again = json.loads(wb("add", str(f), "--project", str(proj), "--json").stdout)
    assert again["dataset_id"] == added["dataset_id"] and again["roles"]["note"] == "free_text"
    proc = wb("roles", str(added["dataset_id"]), "--project", str(proj), "--role", "zip=other", "--json")
    assert json.loads(proc.stdout)["roles"]["zip"] == "other"
    listed = json.loads(wb("datasets", "--project", str(proj), "--json").stdout)
    assert len(listed) == 1 and listed[0]["roles"]["zip"] == "other"
    bad = wb("roles", str(added["dataset_id"]), "--project", str(proj), "--role", "zip=secretish")
    assert bad.returncode == 2 and "unknown column role" in bad.stderr
    bad = wb("roles", str(added["dataset_id"]), "--project", str(proj), "--role", "nosuch=other")
    assert bad.returncode == 2 and "nosuch" in bad.stderr
    bad = wb("datasets", "--project", str(tmp_path / "not-a-project"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_demo_project(tmp_path: Path) -> None:
    proj = tmp_path / "demo"
    proc = wb("demo", "--project", str(proj), "--rows", "300", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["rows"] == 300
    listed = json.loads(wb("datasets", "--project", str(proj), "--json").stdout)
    roles = listed[0]["roles"]
    assert roles["name"] == "direct_identifier" and roles["note"] == "free_text" and roles["follow_up"] == "label"
    # deterministic: a second demo in another folder has the same fingerprint
    out2 = json.loads(wb("demo", "--project", str(tmp_path / "demo2"), "--rows", "300", "--json").stdout)
    assert out2["fingerprint"] == out["fingerprint"]


def test_encrypted_project_from_the_cli(tmp_path: Path) -> None:
    proj = tmp_path / "secure"
    assert wb("project", "init", str(proj)).returncode == 0
    env_ok = dict(os.environ, WORKBENCH_PASSPHRASE="pass phrase for tests")

    def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return run_workbench(*args, env=env)

    proc = run("project", "encrypt", str(proj), env=env_ok)
    assert proc.returncode == 0, proc.stderr
    f = tmp_path / "people.csv"
    f.write_text(CSV.replace("Ada Lovelace", "Xanthippe Quorndon"), encoding="utf-8")
    no_pass = {k: v for k, v in os.environ.items() if k != "WORKBENCH_PASSPHRASE"}
    proc = run("add", str(f), "--project", str(proj), env=no_pass)
    assert proc.returncode == 2 and "WORKBENCH_PASSPHRASE" in proc.stderr
    proc = run("add", str(f), "--project", str(proj), env=dict(os.environ, WORKBENCH_PASSPHRASE="wrong one"))
    assert proc.returncode == 2 and "wrong passphrase" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = run("add", str(f), "--project", str(proj), "--json", env=env_ok)
    assert proc.returncode == 0, proc.stderr
    # The store itself is encrypted: even listing the datasets needs the passphrase.
    assert run("datasets", "--project", str(proj), "--json", env=no_pass).returncode == 2
    listed = json.loads(run("datasets", "--project", str(proj), "--json", env=env_ok).stdout)
    assert listed[0]["path"].startswith("vault:")
    for p in proj.rglob("*"):
        if p.is_file():
            assert b"Xanthippe" not in p.read_bytes(), f"plaintext in {p}"
