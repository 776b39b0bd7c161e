"""The PII commands as a user runs them: exit codes, one-line errors, JSON output, files written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core.demo import write_clinic_intake_csv
from workbench.core.project.store import Project


def workbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=180
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pii-cli")
    write_clinic_intake_csv(path / "clinic.csv", rows=25, seed=4)
    return path


def test_scan_json(folder: Path) -> None:
    proc = workbench("scan", "clinic.csv", "--json", "--sample", "10", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    kinds = {c["column"]: (c["kind"], c["entity_type"]) for c in out["columns"]}
    assert kinds["email"] == ("entity", "EMAIL_ADDRESS") and kinds["note"] == ("free_text", None)
    assert out["free_text"]["note"]["texts"] == 25 and out["free_text"]["note"]["entity_counts"]["PERSON"] > 10
    assert all(0.0 <= c["confidence"] <= 1.0 for c in out["columns"])


def test_template_then_anonymize_into_a_project(folder: Path) -> None:
    proc = workbench("policy-template", "clinic.csv", "--out", "policy.json", "--sample", "10", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    policy = json.loads((folder / "policy.json").read_text(encoding="utf-8"))
    assert policy["columns"]["note"] == {"treatment": "free_text"}
    Project.create(folder / "project").close()
    proc = workbench(
        "anonymize", "clinic.csv", "--policy", "policy.json", "--out", "clinic.anon.parquet", "--json",
        "--project", "project", cwd=folder,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["rows"] == 25 and out["format"] == "parquet" and out["entity_counts"]["PERSON"] >= 25
    assert (folder / "clinic.anon.parquet").is_file()
    with Project.open(folder / "project") as project:
        child = project.get_dataset(out["dataset_id"])
        (lineage,) = project.lineage(child.id)
        assert lineage.parent_dataset_id == out["parent_id"] and lineage.operation == "anonymize"
        assert lineage.detail["policy_id"] == out["policy_id"] and lineage.detail["rows"] == 25
        assert project.latest_policy(out["parent_id"]) is not None
    # never over the input, one line, exit 2
    proc = workbench("anonymize", "clinic.csv", "--policy", "policy.json", "--out", "clinic.csv", "--force", cwd=folder)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "original dataset" in proc.stderr


def test_bad_policy_and_missing_keys_are_one_line_errors(folder: Path) -> None:
    (folder / "bad.json").write_text(json.dumps({"schema_version": 1, "entities": {"PERSON": {"operator": "mask2"}}}))
    proc = workbench("anonymize", "clinic.csv", "--policy", "bad.json", "--out", "x.csv", cwd=folder)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "workbench: error: bad.json: entity PERSON: unknown operator 'mask2'; choose one of: keep, redact, replace, "
        "mask, keyed_hash, encrypt, pseudonym, generalize"
    )
    keyed = {"schema_version": 1, "columns": {"name": {"treatment": "entity", "entity_type": "PERSON",
                                                       "operator": {"operator": "pseudonym"}}}}  # fmt: skip
    (folder / "keyed.json").write_text(json.dumps(keyed))
    proc = workbench("anonymize", "clinic.csv", "--policy", "keyed.json", "--out", "k.csv", cwd=folder)
    assert proc.returncode == 2 and "--key-file" in proc.stderr and proc.stderr.count("\n") == 1
    (folder / "short.key").write_bytes(b"0123456789")
    proc = workbench(
        "anonymize", "clinic.csv", "--policy", "keyed.json", "--out", "k.csv", "--key-file", "short.key", cwd=folder
    )
    assert proc.returncode == 2 and "at least 32 random bytes" in proc.stderr
    (folder / "good.key").write_bytes(bytes(range(40)))
    runs = []
    for name in ("k1.csv", "k2.csv"):
        proc = workbench(
            "anonymize", "clinic.csv", "--policy", "keyed.json", "--out", name, "--key-file", "good.key", cwd=folder
        )
        assert proc.returncode == 0, proc.stderr
        runs.append((folder / name).read_text(encoding="utf-8"))
    assert runs[0] == runs[1]  # consistent pseudonyms across runs
    original_names = {line.split(",")[1] for line in (folder / "clinic.csv").read_text().splitlines()[1:]}
    pseudonymized = {line.split(",")[1] for line in runs[0].splitlines()[1:]}
    assert original_names and not original_names & pseudonymized


def test_keys_come_from_the_encrypted_project(folder: Path, tmp_path: Path) -> None:
    import os

    keyed = {"schema_version": 1, "columns": {"name": {"treatment": "entity", "entity_type": "PERSON",
                                                       "operator": {"operator": "keyed_hash"}}}}  # fmt: skip
    (folder / "hash.json").write_text(json.dumps(keyed))
    plain = tmp_path / "plain"
    assert workbench("project", "init", str(plain), cwd=folder).returncode == 0
    proc = workbench("anonymize", "clinic.csv", "--policy", "hash.json", "--out", str(tmp_path / "a.csv"),
                     "--project", str(plain), cwd=folder)  # fmt: skip
    assert proc.returncode == 2 and "encrypted project" in proc.stderr and proc.stderr.count("\n") == 1
    secure = tmp_path / "secure"
    env = dict(os.environ, WORKBENCH_PASSPHRASE="a passphrase for the test")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                              cwd=folder, timeout=180, env=env, stdin=subprocess.DEVNULL)  # fmt: skip

    assert run("project", "init", str(secure)).returncode == 0
    assert run("project", "encrypt", str(secure)).returncode == 0
    refused = run("anonymize", "clinic.csv", "--policy", "hash.json", "--out", str(tmp_path / "h0.csv"),
                  "--project", str(secure))  # fmt: skip
    assert refused.returncode == 2 and "--plaintext" in refused.stderr, "writing in clear needs saying so"
    outs = []
    for name in ("h1.csv", "h2.csv"):
        proc = run("anonymize", "clinic.csv", "--policy", "hash.json", "--out", str(tmp_path / name),
                   "--project", str(secure), "--plaintext")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outs.append((tmp_path / name).read_text(encoding="utf-8"))
    assert outs[0] == outs[1], "the same project secret gives the same tokens in every run"
    assert (secure / "encrypted" / ".secrets").is_dir()


def test_pii_eval_json_and_spans(folder: Path) -> None:
    gold = [
        {"full_text": "Anna Berg called 555-123-4567.", "spans": [
            {"entity_type": "PERSON", "start_position": 0, "end_position": 9},
            {"entity_type": "PHONE_NUMBER", "start_position": 17, "end_position": 29}]},
        {"full_text": "Nothing to see.", "spans": []},
    ]  # fmt: skip
    (folder / "gold.json").write_text(json.dumps(gold), encoding="utf-8")
    proc = workbench("pii-eval", "gold.json", "--json", "--spans", "spans.jsonl", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["texts"] == 2 and out["any_type"]["recall"] == 1.0 and out["any_type"]["gold"] == 2
    lines = (folder / "spans.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and {"PERSON", "PHONE_NUMBER"} <= {s["entity_type"] for s in json.loads(lines[0])["spans"]}
    proc = workbench("pii-eval", "missing.json", cwd=folder)
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_policy_template_never_keeps_a_direct_identifier(folder: Path) -> None:
    proc = workbench("policy-template", "clinic.csv", "--out", "safe.json", "--sample", "10", "--json", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    columns = json.loads((folder / "safe.json").read_text(encoding="utf-8"))["columns"]
    # No project, so no keys: the direct identifiers are dropped, and the file says why.
    for column in ("record_id", "name", "phone", "email", "national_id"):
        assert columns[column]["treatment"] == "drop", column
        assert columns[column]["role"] == "direct_identifier" and "dropped" in columns[column]["reason"]
    assert columns["zip"]["treatment"] == "entity" and "generalized" in columns["zip"]["reason"]
    assert json.loads(proc.stdout)["treatments"]["record_id"]["treatment"] == "drop"
