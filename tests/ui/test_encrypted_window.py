"""An encrypted project through the window: encrypt a project holding data, load, train, anonymize, export; then
nothing planted is readable in the project folder (store, WAL and SHM included), the log folder or the temporary
folder, and no model or dataset file lies outside the vault. And the window and the command record the same
project state for the same use case."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opacus", reason="training needs torch and opacus")

from tests.support.planted import (  # noqa: E402
    PASSPHRASE,
    canary_csv,
    files_holding,
    plaintext_outside_vault,
)
from tests.support.qt import wait_for_job  # noqa: E402
from workbench.core.paths import user_data_dir  # noqa: E402
from workbench.ui.qt_main_window import QtMainWindow  # noqa: E402
from workbench.ui.qt_train_page import epsilon_to_slider  # noqa: E402


def _show(window: QtMainWindow, page: str) -> None:
    window.nav.setCurrentRow(window._page_names.index(page))


@pytest.mark.slow
def test_encrypted_project_keeps_nothing_in_clear_through_the_window(
    qtbot, window, tmp_path, monkeypatch  # noqa: ANN001
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    folder = window.project.folder
    inside = canary_csv(folder / "data" / "intake.csv")
    wait_for_job(qtbot, window.runner, window.data_page.load_file(inside))
    wait_for_job(qtbot, window.runner, window.flows.encrypt_project(PASSPHRASE))
    assert window.vault_ctl.state == "unlocked" and not inside.exists()

    second = canary_csv(tmp_path / "incoming" / "second.csv", rows=150)
    wait_for_job(qtbot, window.runner, window.data_page.load_file(second))
    second.unlink()
    record_id = window.data_page.record_id
    assert window.project.get_dataset(record_id).path.startswith("vault:")

    _show(window, "Train")
    page = window.train_page
    page.task_box.setCurrentIndex(page.task_box.findData("tabular"))
    page.epochs_spin.setValue(1)
    page.batch_spin.setValue(32)
    page.eps_slider.setValue(epsilon_to_slider(2.0))
    page.set_total_budget(10.0)
    job = page.start_training()
    wait_for_job(qtbot, window.runner, job, timeout=180_000)
    final = page.live_runs()[job].final
    assert final["status"] == "succeeded" and final["model_path"].startswith("vault:"), final
    assert "name" not in final["columns_used"] and "note" not in final["columns_used"]

    _show(window, "Anonymize")
    pii = window.pii_page
    qtbot.waitUntil(lambda: pii.detections() is not None, timeout=60_000)
    job = pii.apply("csv")
    wait_for_job(qtbot, window.runner, job, timeout=120_000)
    assert pii.last_output["location"].startswith("vault:")

    exported = tmp_path / "exported"
    exported.mkdir()
    wait_for_job(qtbot, window.runner, window.flows.export_model(final["run_id"], exported / "m.pt", in_clear=True))
    wait_for_job(qtbot, window.runner, window.flows.export_dataset(record_id, exported / "d.csv", in_clear=True))
    assert (exported / "d.csv").is_file() and (exported / "m.pt").is_file()

    assert files_holding([folder, user_data_dir() / "logs", tmp]) == []
    assert plaintext_outside_vault(folder) == []
    actions = [e.action for e in window.project.audit_log(500)]
    assert "project.encrypted" in actions and actions.count("model.exported") == 1
    assert actions.count("dataset.exported") == 1


# ---- the same use case through both front ends ------------------------------------------------------------------

# Timestamps, timings, and how many texts the analyzer ran on rather than found in its cache (the window's preview
# has warmed it): facts about the run, not about the project's state.
_VOLATILE = {"ts", "elapsed_s", "seconds", "records_per_second", "rows_per_second", "texts_analysed"}


def _state(folder: Path) -> dict[str, Any]:
    """The project's audit entries and lineage rows without timestamps, timings and file locations."""
    from workbench.core.project.store import Project

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in _VOLATILE and k != "path"}
        return value

    with Project.open(folder) as project:
        audit = [(e.action, clean(dict(e.detail))) for e in reversed(project.audit_log(500))]
        rows = {r.id: r for d in project.datasets() for r in project.lineage(d.id)}  # a row names two datasets
        lineage = [
            (r.child_dataset_id, r.parent_dataset_id, r.operation, clean(dict(r.detail)))
            for _, r in sorted(rows.items())
        ]
    return {"audit": audit, "lineage": lineage}


@pytest.mark.slow
def test_window_and_command_record_the_same_state(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    from workbench.core.pii.operators import OperatorConfig
    from workbench.core.pii.policy import ColumnPolicy, ColumnTreatment, Policy

    policy = (
        Policy(name="parity")
        .with_column("name", ColumnPolicy(ColumnTreatment.ENTITY, "PERSON"))
        .with_column("record_id", ColumnPolicy(ColumnTreatment.DROP))
        .with_column("note", ColumnPolicy(ColumnTreatment.FREE_TEXT))
        .with_entity_operator("PERSON", OperatorConfig.create("redact"))
    )
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(policy.to_json(), encoding="utf-8")

    # The command line, in a project of its own.
    cli_project = tmp_path / "cli-project"
    cli_source = canary_csv(tmp_path / "cli-data" / "intake.csv", rows=40)
    env = dict(os.environ)
    for args in (
        ("project", "init", str(cli_project)),
        ("add", str(cli_source), "--project", str(cli_project)),
        ("anonymize", "--dataset", "intake.csv", "--project", str(cli_project), "--policy", str(policy_file),
         "--workers", "1"),
    ):  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, timeout=180, env=env
        )
        assert proc.returncode == 0, proc.stderr

    # The window, on the fixture's empty project.
    source = canary_csv(tmp_path / "gui-data" / "intake.csv", rows=40)
    wait_for_job(qtbot, window.runner, window.data_page.load_file(source))
    _show(window, "Anonymize")
    pii = window.pii_page
    qtbot.waitUntil(lambda: pii.detections() is not None, timeout=60_000)
    pii.set_policy(policy)
    wait_for_job(qtbot, window.runner, pii.apply("csv"), timeout=120_000)
    gui_folder = window.project.folder
    window.runner.wait_all(30)

    cli_state, gui_state = _state(cli_project), _state(gui_folder)
    assert [a for a, _ in gui_state["audit"]] == [a for a, _ in cli_state["audit"]]
    assert gui_state["audit"] == cli_state["audit"]
    assert len(gui_state["lineage"]) == len(cli_state["lineage"]) == 1
    gui_row, cli_row = gui_state["lineage"][0], cli_state["lineage"][0]
    assert gui_row[:3] == cli_row[:3]
    differing = {k: (gui_row[3].get(k), cli_row[3].get(k)) for k in gui_row[3].keys() | cli_row[3].keys()
                 if gui_row[3].get(k) != cli_row[3].get(k)}  # fmt: skip
    assert differing == {}


def test_opening_an_encrypted_project_asks_again_after_a_wrong_passphrase(
    qtbot, window, tmp_path, monkeypatch  # noqa: ANN001
) -> None:
    from workbench.core.crypto import kdf
    from workbench.core.jobs import drive
    from workbench.core.project.store import Project
    from workbench.services.encryption import encrypt_project_job

    session, _ = drive(encrypt_project_job(Project.create(tmp_path / "locked"), PASSPHRASE, kdf=kdf.minimum_params()))
    session.close()
    asked: list[str | None] = []
    monkeypatch.setattr(window.flows, "ask_passphrase_and_open", lambda folder, problem=None: asked.append(problem))
    wait_for_job(qtbot, window.runner, window.flows.unlock_and_open(tmp_path / "locked", "not it", interactive=True))
    assert len(asked) == 1 and "wrong passphrase" in (asked[0] or ""), "the dialog comes back with the reason"
    assert window.project is not None and window.project.folder != tmp_path / "locked"
    wait_for_job(qtbot, window.runner, window.flows.unlock_and_open(tmp_path / "locked", PASSPHRASE, interactive=True))
    assert window.project.folder == (tmp_path / "locked").resolve() and window.vault_ctl.state == "unlocked"
    assert window.project.encrypted and len(asked) == 1
