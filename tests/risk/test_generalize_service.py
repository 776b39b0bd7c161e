"""The generalization use case in projects: into the vault of an encrypted project (named as the analyst finds it,
no value in clear), the copy keeps the original's roles, hierarchies from a folder win over built ones; and the
compliance report's risk section measures before and after and says what the generalization did."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.planted import CANARY_NAME, PASSPHRASE, canary_csv, files_holding, plaintext_outside_vault
from workbench.core.data.load import load_dataset
from workbench.core.errors import WorkbenchError
from workbench.core.jobs import drive
from workbench.core.project.registration import register_loaded
from workbench.core.project.store import Project
from workbench.core.risk.hierarchy import Hierarchy, write_arx_csv
from workbench.services.risk import generalize, suggest_hierarchies

ROLES = {"age": "quasi_identifier", "sex": "quasi_identifier", "follow_up": "sensitive", "name": "direct_identifier"}


def _plain_project(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "proj"
    with Project.create(folder) as project:
        data = canary_csv(folder / "data" / "people.csv", rows=120)
        record = register_loaded(project, load_dataset(data), path=data)
        project.set_roles(record.id, ROLES)
    return folder, data


def test_generalize_in_an_encrypted_project_goes_to_the_vault(tmp_path: Path, fast_kdf) -> None:  # noqa: ANN001
    from workbench.services.encryption import encrypt_project_job

    folder, _data = _plain_project(tmp_path)
    session, _report = drive(encrypt_project_job(Project.open(folder), PASSPHRASE, kdf=fast_kdf))
    with session:
        record = session.project.datasets()[0]
        ds = session.load_dataset(record)
        hierarchies, _what = suggest_hierarchies(ds, ["age", "sex"])
        outcome = generalize(session, ds, qi=["age", "sex"], hierarchies=hierarchies, k=10, sensitive="follow_up",
                             l=2, max_suppression=0.05)  # fmt: skip
        assert outcome.location is not None and outcome.location.startswith("vault:")
        assert outcome.output_name is not None and "vault:" not in outcome.output_name
        assert outcome.output_name.endswith("in the encrypted project as people.generalized.csv")
        new = next(r for r in session.project.datasets() if r.id == outcome.dataset_id)
        assert dict(new.roles)["age"] == "quasi_identifier" and dict(new.roles)["follow_up"] == "sensitive"
        copy = session.load_dataset(new)
        assert copy.num_rows == 120 and outcome.risk_after is not None and outcome.risk_after.k >= 10
        assert outcome.risk_after.measures.sensitive[0].distinct_l >= 2
        assert outcome.risk_before is not None and outcome.risk_before.k == 2
        entry = [e for e in session.project.audit_log(50) if e.action == "dataset.generalized"][-1]
        assert entry.detail["target"] == {"k": 10, "max_suppression": 0.05, "l": 2, "l_variant": "distinct"}
        with pytest.raises(WorkbenchError, match="in clear"):
            generalize(session, ds, qi=["age"], hierarchies=hierarchies, k=2, out=tmp_path / "x.csv")
    assert files_holding([folder]) == [] and plaintext_outside_vault(folder) == []
    assert CANARY_NAME not in (outcome.output_name or "")


def test_hierarchies_from_a_folder_win_over_built_ones(tmp_path: Path) -> None:
    _folder, data = _plain_project(tmp_path)
    ds = load_dataset(data)
    folder = tmp_path / "h"
    folder.mkdir()
    write_arx_csv(Hierarchy("sex", (("F", "person"), ("M", "person"))), folder / "hierarchy_sex.csv")
    hierarchies, what = suggest_hierarchies(ds, ["age", "sex", "record_id"], folder)
    assert hierarchies["sex"].rows == (("F", "person"), ("M", "person")) and what["sex"] == "ARX hierarchy from h"
    assert what["age"].startswith("intervals of") and hierarchies["age"].mapping(1)["37"] == "[35, 40["
    assert what["record_id"] == "masking 5 characters from the right"  # R0000..R0119: one length
    (folder / "hierarchy_age.csv").write_text("37;x\n38;y;z\n", encoding="utf-8")
    with pytest.raises(WorkbenchError, match="hierarchy of 'age' cannot be read"):
        suggest_hierarchies(ds, ["age"], folder)


def test_the_report_measures_before_and_after_a_generalization(tmp_path: Path) -> None:
    from workbench.services.opening import open_session
    from workbench.services.report import build_report, render_html

    folder, data = _plain_project(tmp_path)
    with open_session(folder) as session:
        record = session.project.datasets()[0]
        ds = session.load_dataset(record)
        hierarchies, _what = suggest_hierarchies(ds, ["age", "sex"])
        outcome = generalize(session, ds, qi=["age", "sex"], hierarchies=hierarchies, k=10, metric="loss",
                             out=tmp_path / "people.generalized.csv")  # fmt: skip
        content = build_report(session, record.id)
        html = render_html(content)
    risk = content.facts["risk"]
    assert risk["before"]["k"] == 2 and risk["after"]["k"] == outcome.risk_after.k >= 10  # type: ignore[union-attr]
    assert risk["after_operation"] == "generalize" and risk["after"]["dataset"] == "people.generalized.csv"
    g = risk["generalization"]
    assert g["metric"] == "loss" and g["levels"] == outcome.search.as_dict()["levels"]
    assert g["target"]["k"] == 10 and g["suppressed_records"] == outcome.search.suppressed_records
    assert risk["before"]["sensitive"][0]["column"] == "follow_up"
    assert "The copy is a generalization to k = 10" in html and "after (generalize, newest copy)" in html
    assert "Sensitive columns" in html and CANARY_NAME not in html
