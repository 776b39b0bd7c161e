"""The Train page's feedback (issue 14): a plan text that is never stale, a budget box that shows every running
job's reservation, unique run names, labelled plots with the legend outside the curves and visible single points,
a runs table of at least 5 rows, and a result card that compares a run with its baselines and says where its model
is."""

from __future__ import annotations

import pytest

pytest.importorskip("opacus", reason="training needs torch and opacus")

from tests.support.qt import wait_for_job  # noqa: E402
from tests.ui.test_train_page import window  # noqa: E402, F401  (the fixture: the demo CSV on the Train page)
from workbench.core.dp.runs import RunMetrics  # noqa: E402
from workbench.ui.qt_train_page import UPDATING, epsilon_to_slider  # noqa: E402
from workbench.ui.qt_train_plots import LiveRun, QtTrainPlots, configure_plots  # noqa: E402
from workbench.ui.qt_train_result import model_location  # noqa: E402


def test_the_plan_text_says_updating_and_never_shows_figures_of_older_settings(qtbot, window) -> None:  # noqa: ANN001, F811
    page = window.train_page
    page.epochs_spin.setValue(2)
    page.batch_spin.setValue(30)
    page.eps_slider.setValue(epsilon_to_slider(2.0))
    qtbot.waitUntil(lambda: "18 steps" in page.plan_label.text(), timeout=10_000)
    assert not page.form.plan_dimmed

    shown: list[str] = []
    set_text = page.plan_label.setText
    page.plan_label.setText = lambda text: (shown.append(text), set_text(text))  # every text the page shows
    page.batch_spin.setValue(4)  # a new plan: debounced, then computed in a job
    assert UPDATING in page.plan_label.text() and "18 steps" not in page.plan_label.text()
    assert page.form.plan_dimmed, "the previous curve is greyed while the new plan is computed"
    qtbot.waitUntil(lambda: "136 steps" in page.plan_label.text(), timeout=10_000)
    assert not page.form.plan_dimmed
    figures = [t for t in shown if "noise multiplier" in t]
    assert figures and all("136 steps" in t for t in figures), "only figures for the current settings"


def test_the_budget_box_shows_every_running_jobs_reservation_and_runs_have_unique_names(qtbot, window) -> None:  # noqa: ANN001, F811
    page = window.train_page
    page.set_total_budget(20.0)
    page.epochs_spin.setValue(100)  # far longer than the test waits: cancelled below
    page.batch_spin.setValue(10)
    jobs = []
    for eps in (2.0, 2.0, 1.5):  # two runs with the same settings
        page.eps_slider.setValue(epsilon_to_slider(eps))
        jobs.append(page.start_training())
    qtbot.waitUntil(lambda: "reserved 5.5 by 3 running job(s)" in page.budget_label.text(), timeout=60_000)
    assert all(page.live_runs()[j].final is None for j in jobs), "shown while the three run, not after"

    names = [page.live_runs()[j].label for j in jobs]
    assert len(set(names)) == 3 and all(" · run " in n for n in names), names
    assert names[0].startswith("tabular DP ε=2 · run ") and names[1].startswith("tabular DP ε=2 · run ")
    assert [page.runs_table.item(r, 1).text() for r in range(3)] == names
    qtbot.waitUntil(lambda: page.legend.names == names, timeout=5_000)

    qtbot.waitUntil(lambda: all(page.live_runs()[j].metrics.snapshot().steps for j in jobs), timeout=60_000)
    for job in jobs:
        window.runner.cancel(job)
    qtbot.waitUntil(lambda: all(page.live_runs()[j].final is not None for j in jobs), timeout=60_000)
    qtbot.waitUntil(lambda: "reserved 0 ·" in page.budget_label.text(), timeout=5_000)
    qtbot.waitUntil(lambda: "tighter RDP composition" in page.budget_label.text(), timeout=30_000)
    started = page.budget._budget_job.started_count
    page._refresh_budget()
    assert "tighter RDP composition" in page.budget_label.text(), "kept while the committed spend is the same"
    assert page.budget._budget_job.started_count == started, "and not composed again"


def test_plots_have_labelled_axes_no_legend_over_the_curves_and_visible_single_points(qtbot) -> None:  # noqa: ANN001
    configure_plots()
    plots = QtTrainPlots()
    qtbot.addWidget(plots)
    for plot, x, y in (
        (plots.loss_plot, "optimizer step", "loss"),
        (plots.acc_plot, "epoch", "validation accuracy"),
        (plots.eps_plot, "optimizer step", "ε spent"),
    ):
        item = plot.getPlotItem()
        assert item.getAxis("bottom").labelText == x and item.getAxis("left").labelText == y
        assert item.legend is None, "no legend inside a plot, over the curves"
    metrics = RunMetrics()
    metrics.configure(run_id=7, target_epsilon=2.0, delta=1e-5, accountant="rdp", total_steps=50)
    metrics.append_step(1, 0.7, 0.1, 100.0)
    run = LiveRun(1, "tabular DP ε=2 · run 7", metrics, "#1f77b4")
    plots.draw([run])
    loss, acc, eps = run.items[:3]
    assert loss.opts["symbol"] and eps.opts["symbol"], "a single point is drawn as a symbol"
    assert acc.opts["symbol"], "accuracy points (one per epoch) always have symbols"
    assert plots.eps_plot.getPlotItem().getAxis("left").labelText == "ε spent (RDP, δ = 1e-05)"
    assert plots.legend.names == ["tabular DP ε=2 · run 7"]
    for step in range(2, 6):
        metrics.append_step(step, 0.6, 0.1 * step, 100.0)
    plots.draw([run])
    assert not loss.opts["symbol"] and not eps.opts["symbol"], "a line once there are enough points"

    plain = RunMetrics()
    plain.configure(run_id=8, target_epsilon=None, delta=None, accountant=None, total_steps=50)
    plain.append_step(1, 0.7, 0.0, 100.0)
    other = LiveRun(2, "tabular non-private · run 8", plain, "#d62728")
    plots.draw([run, other])
    other.set_visible(False)
    other.set_visible(True)  # ticked again in the runs table
    assert not other.items[3].isVisible() and not other.items[2].getData()[0], "no ε line for a non-private run"


def test_the_runs_table_shows_five_rows_and_the_page_fits_a_small_screen(qtbot, window) -> None:  # noqa: ANN001, F811
    page = window.train_page
    table = page.runs_table
    assert table.viewport().height() >= 5 * table.verticalHeader().defaultSectionSize()
    assert table.minimumHeight() >= 5 * table.verticalHeader().defaultSectionSize()
    assert page.minimumSizeHint().height() <= 600, "the settings column scrolls; plots and runs stay in view"
    assert page.minimumSizeHint().width() <= 1000
    # A scroll area around the page (the window's, on small screens) asks the height for its width: the least one.
    assert page.heightForWidth(1200) <= 600, "the wrapped result text must not ask for the plots' preferred height"


def test_the_result_card_compares_with_the_baselines_and_says_where_the_model_is(qtbot, window, tmp_path) -> None:  # noqa: ANN001, F811
    from workbench.core.dp.runs import RunStore
    from workbench.core.train.results import compare_result

    page = window.train_page
    page.set_total_budget(20.0)
    page.epochs_spin.setValue(2)
    page.batch_spin.setValue(30)
    page.private_check.setChecked(False)
    plain = page.start_training()
    wait_for_job(qtbot, window.runner, plain, timeout=120_000)
    reference = page.live_runs()[plain].final
    card = page.result_card.text()
    assert compare_result(reference["val_accuracy"], reference["majority_baseline"], private=False) in card
    assert f"Model saved to {reference['model_path']}" in card and page.result_card.export_button.isVisible()

    page.private_check.setChecked(True)
    page.eps_slider.setValue(epsilon_to_slider(1.0))
    job = page.start_training()
    wait_for_job(qtbot, window.runner, job, timeout=120_000)
    final = page.live_runs()[job].final
    store = RunStore(window.project, recover=False)
    expected = compare_result(
        final["val_accuracy"], final["majority_baseline"], private=True, reference=store.get(reference["run_id"])
    )
    assert f"non-private run {reference['run_id']} of the same recipe" in expected
    assert expected in page.result_card.text() and page.live_runs()[job].label in page.result_card.text()
    row = page.runs_table.rowCount() - 1
    assert page.runs_table.item(row, 4).toolTip() == expected

    out = tmp_path / "exported.pt"
    wait_for_job(qtbot, window.runner, page.result_card.export_model(out), timeout=30_000)
    assert out.read_bytes() == (window.project.folder / "data" / "models" / f"run-{final['run_id']}.pt").read_bytes()
    assert f"Model exported to {out}" in page.result_card.text()

    from workbench.core.project.store import Project

    with Project.create(tmp_path / "another") as other:
        window.train_page.set_project(other)
        assert not page.result_card.export_button.isVisible(), "run ids of one project mean nothing in another"
        window.train_page.set_project(window.project)


def test_a_model_in_the_vault_is_named_as_the_analyst_finds_it() -> None:
    text = model_location("vault:1dbb2c", 14)
    assert "encrypted project's vault as the model of run 14" in text and "1dbb" not in text
    assert model_location("/p/data/models/run-3.pt", 3) == "Model saved to /p/data/models/run-3.pt"
    assert model_location(None, 3) == "No model was kept."


def test_a_model_kept_in_the_vault_is_named_and_exported_only_after_asking(
    qtbot,  # noqa: ANN001
    window,  # noqa: ANN001, F811
    tmp_path,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from tests.support.planted import PASSPHRASE
    from workbench.core.crypto import kdf
    from workbench.core.demo import clinic_intake_csv_text
    from workbench.ui import qt_train_result

    window.vault_ctl.kdf_params = kdf.minimum_params()
    qtbot.waitUntil(lambda: not window.runner.registry.active(), timeout=30_000)  # the plan job (encrypting waits)
    wait_for_job(qtbot, window.runner, window.flows.encrypt_project(PASSPHRASE), timeout=60_000)
    assert window.vault_ctl.state == "unlocked"
    data = tmp_path / "again.csv"
    data.write_text(clinic_intake_csv_text(rows=120), encoding="utf-8")
    wait_for_job(qtbot, window.runner, window.data_page.load_file(data))
    window.nav.setCurrentRow(window._page_names.index("Train"))
    page = window.train_page
    page.set_total_budget(10.0)
    page.epochs_spin.setValue(1)
    page.batch_spin.setValue(30)
    job = page.start_training()
    wait_for_job(qtbot, window.runner, job, timeout=120_000)
    final = page.live_runs()[job].final
    assert final["model_path"].startswith("vault:")
    card = page.result_card.text()
    assert f"encrypted project's vault as the model of run {final['run_id']}" in card
    assert final["model_path"][6:12] not in card, "not the vault's opaque file name"
    assert page.result_card.export_button.isVisible()

    out = tmp_path / "model.pt"
    monkeypatch.setattr(qt_train_result.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    monkeypatch.setattr(qt_train_result.QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    page.result_card.export_button.click()
    assert not page.result_card._exports and not out.exists(), "declined: nothing written in clear"
    monkeypatch.setattr(qt_train_result.QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    page.result_card.export_button.click()
    (export_job,) = page.result_card._exports
    wait_for_job(qtbot, window.runner, export_job, timeout=30_000)
    assert out.stat().st_size > 0 and f"Model exported to {out}" in page.result_card.text()
