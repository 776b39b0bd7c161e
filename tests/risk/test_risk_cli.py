"""`workbench risk` as a user runs it (subprocess), and the use case behind it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.risk.conftest import ADULT
from tests.support.cli import run_workbench

ROWS = [
    ("zip", "age", "sex", "diagnosis"),
    ("10115", "30", "F", "flu"),
    ("10115", "30", "F", "cold"),
    ("10115", "30", "F", "flu"),
    ("10117", "40", "M", "flu"),
    ("10117", "40", "M", "hiv"),
    ("10119", "50", "F", "cold"),
]


def wb(*args: str) -> subprocess.CompletedProcess[str]:
    return run_workbench(*args, timeout=180)


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    path = tmp_path / "small.csv"
    path.write_text("\n".join(",".join(r) for r in ROWS) + "\n", encoding="utf-8")
    return path


def test_risk_json_on_a_file(small_csv: Path) -> None:
    proc = wb(
        "risk", str(small_csv), "--qi", "zip,age,sex", "--sensitive", "diagnosis", "--population-size", "60", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["k"] == 1 and out["equivalence_classes"] == 3 and out["records"] == 6
    assert out["quasi_identifiers"] == ["zip", "age", "sex"] and out["roles_from"] == "arguments"
    assert out["class_size_histogram"] == [
        {"size": 1, "classes": 1},
        {"size": 2, "classes": 1},
        {"size": 3, "classes": 1},
    ]
    assert out["sample"]["average_prosecutor_risk"] == pytest.approx(0.5)
    assert out["sample"]["sample_uniqueness"] == pytest.approx(1 / 6)
    assert out["population"]["population_size"] == 60 and out["population"]["sampling_fraction"] == pytest.approx(0.1)
    (diag,) = out["sensitive_measures"]
    assert diag["column"] == "diagnosis" and diag["distinct_l"] == 1 and diag["recursive_c"] is None
    assert out["worst_classes"][0] == {"size": 1, "classes": 1, "records": 1}
    # Sizes and counts only: no value of the table is in the output unless --examples.
    assert "10119" not in proc.stdout and "flu" not in proc.stdout and out["examples"] == []


def test_risk_examples_only_when_asked(small_csv: Path) -> None:
    proc = wb("risk", str(small_csv), "--qi", "zip,age,sex", "--examples", "--json")
    assert proc.returncode == 0, proc.stderr
    examples = json.loads(proc.stdout)["examples"]
    assert examples[0]["size"] == 1
    assert examples[0]["values"] == {"zip": 10119, "age": 50, "sex": "F"}  # the one class of size 1


def test_risk_text_and_errors(small_csv: Path) -> None:
    proc = wb("risk", str(small_csv), "--qi", "zip,age")
    assert proc.returncode == 0, proc.stderr
    assert "k = 1" in proc.stdout and "sample uniqueness" in proc.stdout
    proc = wb("risk", str(small_csv), "--qi", "zip,nope")
    assert proc.returncode == 2 and "no such column: nope" in proc.stderr
    proc = wb("risk", str(small_csv), "--qi", "zip", "--population-size", "3")
    assert proc.returncode == 2 and "smaller than the dataset" in proc.stderr


def test_risk_uses_the_project_roles(small_csv: Path, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    assert wb("project", "init", str(proj)).returncode == 0
    roles = ["--role", "zip=quasi_identifier", "--role", "age=quasi_identifier", "--role", "sex=other"]
    proc = wb("add", str(small_csv), "--project", str(proj), *roles, "--role", "diagnosis=sensitive")
    assert proc.returncode == 0, proc.stderr
    proc = wb("risk", "--dataset", "small.csv", "--project", str(proj), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["roles_from"] == "roles" and out["quasi_identifiers"] == ["zip", "age"]
    assert out["sensitive"] == ["diagnosis"] and out["sensitive_measures"][0]["distinct_l"] == 1


def test_service_report_equals_arx_on_adult(adult: Any) -> None:
    """The use case on ARX's data read by the project's loader gives ARX's numbers too."""
    from workbench.core.data.dataset import LoadOptions
    from workbench.core.data.load import load_dataset
    from workbench.services.risk import risk_report

    ds = load_dataset(str(ADULT), LoadOptions(delimiter=";"))
    report = risk_report(None, ds, qi=ds.column_names, sensitive=[])
    out = report.as_dict()
    assert abs(out["sample"]["average_prosecutor_risk"] - 0.6465751607983555) <= 1e-12
    assert abs(out["sample"]["sample_uniqueness"] - 0.5142895033485844) <= 1e-12
    json.dumps(out, allow_nan=False)  # strict JSON
