"""`workbench generalize` (subprocess) and the use case in a project: a new dataset with lineage, never over the
original."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support.cli import run_workbench
from workbench.core.risk.hierarchy import Hierarchy, interval_hierarchy, masking_hierarchy, write_arx_csv


def wb(*args: str) -> subprocess.CompletedProcess[str]:
    return run_workbench(*args, timeout=180)


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(5)
    n = 300
    table = pd.DataFrame(
        {
            "age": rng.integers(18, 70, n),
            "zip": rng.choice(["10115", "10117", "10119", "10243", "10245"], n),
            "sex": rng.choice(["F", "M"], n),
            "diagnosis": rng.choice(["flu", "cold", "asthma"], n),
        }
    )
    csv = tmp_path / "patients.csv"
    table.to_csv(csv, index=False)
    folder = tmp_path / "hierarchies"
    folder.mkdir()
    write_arx_csv(interval_hierarchy("age", table["age"], [5, 10, 20]), folder / "hierarchy_age.csv")
    write_arx_csv(masking_hierarchy("zip", table["zip"]), folder / "hierarchy_zip.csv")
    write_arx_csv(Hierarchy("sex", (("F", "*"), ("M", "*"))), folder / "hierarchy_sex.csv")
    return csv, folder


def test_generalize_json_and_output(data: tuple[Path, Path], tmp_path: Path) -> None:
    csv, folder = data
    out = tmp_path / "out.csv"
    args = ["--qi", "age,zip,sex", "--hierarchies", str(folder), "--k", "5", "--max-suppression", "0.05"]
    proc = wb("generalize", str(csv), *args, "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert list(result["levels"]) == ["age", "zip", "sex"]  # in the order given
    assert result["suppressed_records"] <= result["suppression_limit"] == 15
    assert result["risk_after"]["k"] >= 5 and result["metric"] == "entropy"
    assert result["nodes_checked"] <= result["lattice_size"] == 5 * 7 * 2
    written = pd.read_csv(out, dtype=str)
    assert len(written) == 300 and (written == "*").all(axis=1).sum() == 0  # diagnosis is kept
    assert (written["age"] == "*").sum() >= result["suppressed_records"]
    sizes = written[written["zip"] != "*"].groupby(["age", "zip", "sex"]).size()
    assert sizes.min() >= 5
    proc = wb("generalize", str(csv), *args, "--out", str(csv))
    assert proc.returncode == 2 and "original" in proc.stderr


def test_generalize_impossible_and_missing_hierarchy(data: tuple[Path, Path]) -> None:
    csv, folder = data
    proc = wb("generalize", str(csv), "--qi", "age,zip", "--hierarchies", str(folder), "--k", "301", "--dry-run")
    assert proc.returncode == 2 and "no generalization satisfies 301-anonymity" in proc.stderr
    proc = wb("generalize", str(csv), "--qi", "age,diagnosis", "--hierarchies", str(folder), "--k", "2", "--dry-run")
    assert proc.returncode == 2 and "no hierarchy for 'diagnosis'" in proc.stderr


def test_generalize_in_a_project_registers_with_lineage(data: tuple[Path, Path], tmp_path: Path) -> None:
    from workbench.core.data.load import load_dataset
    from workbench.core.risk.hierarchy import read_arx_folder
    from workbench.services.opening import open_session
    from workbench.services.risk import generalize

    csv, folder = data
    proj = tmp_path / "proj"
    assert wb("project", "init", str(proj)).returncode == 0
    ds = load_dataset(csv)
    original = csv.read_bytes()
    with open_session(proj, lambda: "") as session:
        outcome = generalize(
            session, ds, qi=["age", "zip"], hierarchies=read_arx_folder(folder, ["age", "zip"]), k=3,
            max_suppression=0.02, out=tmp_path / "gen.csv",
        )  # fmt: skip
        assert outcome.dataset_id is not None and outcome.parent_id is not None
        (lineage,) = session.project.lineage(outcome.dataset_id)
        assert lineage.operation == "generalize" and lineage.parent_dataset_id == outcome.parent_id
        assert lineage.detail["levels"] == dict(zip(["age", "zip"], outcome.search.levels or (), strict=True))
    assert csv.read_bytes() == original  # the original is untouched
    assert (tmp_path / "gen.csv").is_file()


def test_generalize_loss_metric_with_l_and_t(data: tuple[Path, Path]) -> None:
    """`--metric loss` with `--l`/`--t` of `--sensitive`: the JSON names the metric and the target, and the same
    search run in-process gives the same optimum."""
    from workbench.core.data.load import load_dataset
    from workbench.core.risk.criteria import Target
    from workbench.core.risk.hierarchy import read_arx_folder
    from workbench.core.risk.lattice import Lattice
    from workbench.core.risk.search import search

    csv, folder = data
    args = ["--qi", "age,zip,sex", "--hierarchies", str(folder), "--k", "3", "--max-suppression", "0.05"]
    extra = ["--sensitive", "diagnosis", "--l", "2", "--l-variant", "entropy", "--t", "0.3", "--metric", "loss"]
    proc = wb("generalize", str(csv), *args, *extra, "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["metric"] == "loss" and result["location"] is None
    assert result["target"] == {"k": 3, "max_suppression": 0.05, "l": 2, "l_variant": "entropy", "t": 0.3}
    after = result["risk_after"]["sensitive_measures"][0]
    assert after["column"] == "diagnosis" and after["distinct_l"] >= 2 and result["risk_after"]["k"] >= 3
    ds = load_dataset(csv)
    qis = ["age", "zip", "sex"]
    lattice = Lattice.build(ds.table, read_arx_folder(folder, qis), qis, sensitive="diagnosis")
    same = search(lattice, Target(k=3, max_suppression=0.05, l=2, l_variant="entropy", t=0.3), "loss")
    assert (
        list(result["levels"].values()) == list(same.levels or ())
        and result["information_loss"] == same.information_loss
    )
    proc = wb("generalize", str(csv), *args, "--l", "2", "--dry-run")
    assert proc.returncode == 2 and "--l and --t need --sensitive COLUMN" in proc.stderr


def test_without_a_hierarchy_folder_each_hierarchy_is_built_from_the_values_as_on_the_risk_page(
    data: tuple[Path, Path],
) -> None:
    from workbench.core.data.load import load_dataset
    from workbench.services.risk import generalize, suggest_hierarchies

    csv, _folder = data
    done = wb("generalize", str(csv), "--qi", "age,zip,sex", "--k", "5", "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    ds = load_dataset(csv)
    hierarchies, what = suggest_hierarchies(ds, ["age", "zip", "sex"])
    assert out["hierarchies"] == what  # each column says which hierarchy it got
    same = generalize(None, ds, qi=["age", "zip", "sex"], hierarchies=hierarchies, k=5, apply=False).as_dict()
    assert out["levels"] == same["levels"] and out["information_loss"] == same["information_loss"]
    text = wb("generalize", str(csv), "--qi", "age,zip,sex", "--k", "5", "--dry-run")
    assert text.returncode == 0 and f"hierarchy of zip: {what['zip']}" in text.stdout
