"""The navigation as a workflow (issue 14): each step's state for the dataset shown, from the Qt-free
:func:`workbench.services.workflow.workflow_state`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.qt import wait_for_job
from workbench.core.demo import clinic_intake_csv_text
from workbench.services.workflow import ATTENTION, DONE, NOT_STARTED, STEPS, workflow_state
from workbench.ui.qt_main_window import QtMainWindow


def _states(window: QtMainWindow) -> dict[str, str | None]:
    return {name: window.nav.state_of(name) for name in ("Data", "Anonymize", "Train")}


def test_without_a_dataset_nothing_is_started(project: Any) -> None:
    assert {s: v.state for s, v in workflow_state(None, None).items()} == dict.fromkeys(STEPS, NOT_STARTED)
    assert workflow_state(project, None)["data"].reason.startswith("Load a dataset")
    unsaved = workflow_state(project, "0" * 64)
    assert unsaved["data"].state == ATTENTION and unsaved["train"].state == NOT_STARTED


def test_the_navigation_follows_the_dataset_through_the_steps(qtbot: Any, window: QtMainWindow, tmp_path: Path) -> None:
    from workbench.core.dp.runs import RunStore

    assert _states(window) == dict.fromkeys(("Data", "Anonymize", "Train"), NOT_STARTED)
    source = tmp_path / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=40), encoding="utf-8")
    wait_for_job(qtbot, window.runner, window.data_page.load_file(source))
    ds = window.data_page.dataset
    assert ds is not None
    states = _states(window)
    assert states["Data"] == DONE, "loaded, with a role for every column"
    assert states["Anonymize"] == ATTENTION, "names and notes are not anonymized yet"
    assert states["Train"] == NOT_STARTED
    assert "not anonymized" in window.nav.item(1).toolTip()

    project = window.project
    parent = project.dataset_by_fingerprint(ds.fingerprint)
    child = project.register_dataset(
        "clinic.anonymized.csv", tmp_path / "out.csv", "f" * 64, "csv", "utf-8", ",", parent.rows,
        parent.size_bytes, parent.schema, dict(parent.roles),
    )  # fmt: skip
    project.add_lineage(child.id, parent.id, "anonymize", {"policy": "test"})
    runs = RunStore(project)
    run_id = runs.create(
        fingerprint=ds.fingerprint, dataset_name=parent.name, task="tabular", private=True, config={}, seed=1,
        target_epsilon=1.0, noise_multiplier=1.0, sample_rate=0.1, delta=1e-5, accountant="rdp",
    )  # fmt: skip
    window.refresh_workflow()
    assert _states(window)["Anonymize"] == DONE and _states(window)["Train"] == NOT_STARTED, "a run under way"
    runs.finish(run_id, "failed", steps=0, epsilon=None, delta=None, error="stopped")
    window.refresh_workflow()
    assert _states(window)["Train"] == ATTENTION
    second = runs.create(
        fingerprint=ds.fingerprint, dataset_name=parent.name, task="tabular", private=True, config={}, seed=2,
        target_epsilon=1.0, noise_multiplier=1.0, sample_rate=0.1, delta=1e-5, accountant="rdp",
    )  # fmt: skip
    runs.finish(second, "succeeded", steps=3, epsilon=0.5, delta=1e-5)
    window.refresh_workflow()
    assert _states(window) == {"Data": DONE, "Anonymize": DONE, "Train": DONE}
    assert workflow_state(project, "f" * 64)["anonymize"].reason == "This dataset is an anonymized output."


def test_the_risk_step_follows_the_measured_k_and_generalization(project: Any, tmp_path: Path) -> None:
    from workbench.core.data.load import load_dataset
    from workbench.core.jobs import drive
    from workbench.services.datasets import add_dataset_job
    from workbench.services.risk import risk_report
    from workbench.services.session import ProjectSession

    source = tmp_path / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=60), encoding="utf-8")
    session = ProjectSession(project)
    drive(add_dataset_job(session, source))
    ds = load_dataset(source)
    record = project.dataset_by_fingerprint(ds.fingerprint)
    project.set_roles(record.id, {c: "other" for c in ds.column_names})
    assert workflow_state(project, ds.fingerprint)["risk"].reason.startswith("Mark quasi-identifiers")
    project.set_roles(record.id, {c: "other" for c in ds.column_names} | {"zip": "quasi_identifier"})
    assert workflow_state(project, ds.fingerprint)["risk"].state == NOT_STARTED
    report = risk_report(session, ds, qi=["date_of_birth", "sex", "zip"])  # nearly every record unique
    state = workflow_state(project, ds.fingerprint)["risk"]
    assert report.measures.k < 5 and state.state == ATTENTION
    assert f"k = {report.measures.k} on 3 quasi-identifier(s)" in state.reason
    risk_report(session, ds, qi=["sex"])  # a few classes of many records each
    assert workflow_state(project, ds.fingerprint)["risk"].state == DONE
    record = project.dataset_by_fingerprint(ds.fingerprint)
    child = project.register_dataset(
        "clinic.generalized.csv", tmp_path / "g.csv", "e" * 64, "csv", "utf-8", ",", record.rows,
        record.size_bytes, record.schema, dict(record.roles),
    )  # fmt: skip
    project.add_lineage(child.id, record.id, "generalize", {"k": 5})
    assert workflow_state(project, ds.fingerprint)["risk"].reason.startswith("Generalized 1 time(s)")
    assert workflow_state(project, "e" * 64)["risk"].reason == "This dataset is a generalized output."


def test_the_pages_come_in_workflow_order(window: QtMainWindow) -> None:
    assert window._page_names == [
        "Data", "Anonymize", "Risk", "Train", "Federation", "Keys and sharing", "Report", "Audit log",
    ]  # fmt: skip
    steps = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert steps[:4] == ["Data", "Anonymize", "Risk", "Train"]
