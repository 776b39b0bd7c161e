"""The Federation page (issue 15): the form and its refusals, a refusal of the use case said on the page, round
snapshots of the job type drawn on the plots and in the log, the result card, the 1366x768 fit, and Cancel of a
real run tearing every Flower process down."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.qt import wait_for_job
from workbench.core.jobs import Progress, drive
from workbench.services.datasets import add_dataset_job
from workbench.services.session import ProjectSession
from workbench.ui.qt_federation_page import PAGE_NAME, QtFederationPage, install


def _csv(path: Path) -> Path:
    """A learnable yes/no table (no real data) with a column holding one value only."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from tests.federate.conftest import tiny_table

    table = tiny_table(300)
    table = table.append_column("kind", pa.array(["clinic"] * table.num_rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(table, path)
    return path


def _page(window, tmp_path: Path) -> QtFederationPage:  # noqa: ANN001
    session = ProjectSession(window.project)
    drive(add_dataset_job(session, _csv(tmp_path / "sites.csv")))
    page = install(window)
    window.show_page(PAGE_NAME)
    assert page.isVisible() and page.form.dataset_combo.count() == 1
    return page


def _round_snapshots():
    """Snapshots exactly as the job yields them (the use case's own builder), for a 3-round run with a drop-out."""
    from tests.federate.conftest import tiny_table
    from workbench.services.federation import FederationResult, FederationRound, _round_progress, make_plan

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=3, epsilon=2.0, delta=1e-4)
    rounds = [
        FederationRound(1, 0.66, 0.61, 3, 21.5, (("site-1", 0.9), ("site-2", 0.9), ("site-3", 0.9)), 3, ()),
        FederationRound(2, 0.58, 0.72, 3, 19.0, (("site-1", 1.4), ("site-2", 1.4), ("site-3", 0.9)), 2, ("site-3",)),
        FederationRound(3, 0.52, 0.78, 3, 18.2, (("site-1", 2.0), ("site-2", 2.0), ("site-3", 1.5)), 3, ()),
    ]
    snapshots = [_round_progress(plan, r) for r in rounds]
    result = FederationResult(
        rounds=3,
        sites=3,
        secure_aggregation=True,
        private=True,
        val_accuracy=0.78,
        val_loss=0.52,
        site_epsilons={"site-1": 2.0, "site-2": 2.0, "site-3": 1.5},
        delta=1e-4,
        accountant="rdp",
        seconds=64.0,
        history=tuple(rounds),
        site_rows={"site-1": 80, "site-2": 80, "site-3": 80},
        plan=plan,
    )
    return snapshots, result


def test_form_lists_the_columns_and_refuses_what_cannot_run(window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page(window, tmp_path)
    form = page.form
    columns = [form.label_combo.itemText(i) for i in range(form.label_combo.count())]
    assert columns == ["x1", "x2", "colour", "outcome", "kind"]
    assert form.split_combo.itemText(0) == "at random (seeded)" and form.split_combo.count() == 6
    assert not form.text_combo.isVisibleTo(page)  # the text column is asked for the text task only
    form.task_combo.setCurrentIndex(form.task_combo.findData("text"))
    assert form.text_combo.isVisibleTo(page)
    form.label_combo.setCurrentText("outcome")
    form.text_combo.setCurrentText("outcome")
    assert page.start() is None and "Choose the text column (not the label)" in page.message_text()
    form.text_combo.setCurrentText("colour")
    request = form.request()
    assert not isinstance(request, str) and (request.task, request.text) == ("text", "colour")
    form.task_combo.setCurrentIndex(form.task_combo.findData("tabular"))
    form.label_combo.setCurrentText("outcome")
    form.sites_spin.setValue(2)
    assert page.start() is None and not page.busy
    assert page.message.property("level") == "error" and "SecAgg+ needs at least 3 sites" in page.message_text()
    form.sites_spin.setValue(3)
    form.split_combo.setCurrentIndex(form.split_combo.findData("outcome"))
    assert page.start() is None and "cannot be split by the label 'outcome'" in page.message_text()
    form.split_combo.setCurrentIndex(0)
    form.dp_check.setChecked(False)
    assert not form.epsilon_spin.isEnabled()
    request = form.request()
    assert not isinstance(request, str)
    assert (request.sites, request.label, request.by, request.epsilon, request.secure_aggregation, request.text) == (
        3,
        "outcome",
        None,
        None,
        True,
        None,
    )


def test_a_refusal_of_the_use_case_is_said_on_the_page(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page(window, tmp_path)
    page.form.label_combo.setCurrentText("kind")  # one value only: the plan refuses it before any process starts
    job = page.start()
    assert job is not None and page.busy and not page.start_button.isEnabled()
    wait_for_job(qtbot, window.runner, job)
    assert not page.busy and page.start_button.isEnabled() and not page.progress_box.isVisible()
    assert page.message.property("level") == "error"
    assert "The federation did not complete" in page.message_text() and "fewer than two classes" in page.message_text()
    assert "clinic" not in page.message_text() and page.result is None


def test_round_snapshots_draw_the_plots_the_log_and_the_result_card(window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page(window, tmp_path)
    page._rounds = 3
    snapshots, result = _round_snapshots()
    page.show_snapshot(Progress("starting", 0, 3, "rounds", "starting a SuperLink and 3 SuperNodes"))
    for snap in snapshots[:2]:
        page.show_snapshot(snap)
    assert page.plots.accuracy_points() == [(1.0, 0.61), (2.0, 0.72)]
    assert page.plots.epsilon_points("site-3") == [(1.0, 0.9), (2.0, 0.9)]
    log = page.round_log.toPlainText().splitlines()
    assert log[1].startswith("Round 2/3: accuracy 0.720, 19.0 s, 2 site(s) trained; dropped out: site-3")
    assert page.message.property("level") == "warning" and "site-3 dropped out" in page.message_text()
    assert page.progress.toolTip() == snapshots[1].message and page.progress.value() == 666  # int(2/3 * 1000)
    shown = page.progress.format()  # the message, elided to the bar's width
    assert shown == snapshots[1].message or snapshots[1].message.startswith(shown.removesuffix("…"))
    page.show_result(result)  # the third round arrives with the result only: drawn from its history
    assert [p[0] for p in page.plots.accuracy_points()] == [1.0, 2.0, 3.0]
    assert len(page.round_log.toPlainText().splitlines()) == 3
    card = page.result_card.text()
    assert "site-1 2.000, site-2 2.000, site-3 1.500 (δ 1e-04, RDP accountant)" in card
    assert "SecAgg+ (3 shares, threshold 2)" in card and "Validation accuracy: 0.780" in card
    assert "Took: 64.0 s (rounds: 22, 19, 18 s)" in card and "Sample-level DP at each site" in card
    assert page.plots.epsilon_title() == "ε spent per site (RDP, δ 1e-04)"  # every ε names its accountant and δ
    window.resize(1366, 768)
    window.show_page(PAGE_NAME)
    assert page.minimumSizeHint().height() <= page.height() and page.minimumSizeHint().width() <= page.width()
    assert window.frameGeometry().height() <= 768 or window.height() <= 768


@pytest.mark.slow
def test_cancel_of_a_real_run_stops_every_flower_process(qtbot, window, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # the demonstration's temporary folder lands here
    page = _page(window, tmp_path)
    page.form.label_combo.setCurrentText("outcome")
    page.form.dp_check.setChecked(False)
    job = page.start()
    assert job is not None
    qtbot.waitUntil(lambda: len(_flower_processes_under(scratch)) >= 4, timeout=90_000)  # SuperLink + 3 SuperNodes
    page.cancel_button.click()
    wait_for_job(qtbot, window.runner, job, timeout=60_000)
    assert "Cancelled: every Flower process was stopped" in page.message_text() and not page.busy
    assert _flower_processes_under(scratch) == []
    assert list(scratch.iterdir()) == []  # the sites' parts (rows in clear) are gone with the temporary folder


def _flower_processes_under(folder: Path) -> list[str]:
    """Live processes whose FLWR_HOME lies under ``folder`` (every daemon and helper of the page's federation)."""
    import contextlib

    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error, OSError):
            home = proc.environ().get("FLWR_HOME", "")
            if home.startswith(str(folder)):
                found.append(" ".join(proc.info["cmdline"] or ()))
    return found


def test_label_and_text_follow_the_project_roles_and_datasets_read_as_on_the_data_page(
    window, tmp_path: Path  # noqa: ANN001
) -> None:
    from workbench.core.demo import clinic_intake_csv_text

    source = tmp_path / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=30), encoding="utf-8")
    session = ProjectSession(window.project)
    drive(add_dataset_job(session, source))
    record = window.project.datasets()[0]
    window.project.set_roles(record.id, {**dict(record.roles), "follow_up": "label", "note": "free_text"})
    page = install(window)
    window.show_page(PAGE_NAME)
    form = page.form
    assert form.dataset_combo.currentText() == "clinic.csv (original)"
    assert form.label_combo.currentText() == "follow_up"  # not the first column
    assert form.text_combo.currentText() == "note"
