"""The Train page end to end on a tiny tabular task: plan, budget, two runs at once, live plots, cancel."""

from __future__ import annotations

import pytest

pytest.importorskip("opacus", reason="training needs torch and opacus")

from tests.support.qt import wait_for_job  # noqa: E402
from workbench.core.demo import clinic_intake_csv_text  # noqa: E402
from workbench.ui.qt_main_window import QtMainWindow  # noqa: E402
from workbench.ui.qt_train_page import epsilon_to_slider, slider_to_epsilon  # noqa: E402


@pytest.fixture
def window(qtbot, project, tmp_path):  # noqa: ANN001, ANN201
    w = QtMainWindow(project)
    qtbot.addWidget(w)
    w.show()
    f = tmp_path / "clinic.csv"
    f.write_text(clinic_intake_csv_text(rows=300), encoding="utf-8")
    wait_for_job(qtbot, w.runner, w.data_page.load_file(f))
    w.nav.setCurrentRow(w._page_names.index("Train"))  # the page plans only while it is shown
    yield w
    w.runner.begin_shutdown()
    w.runner.cancel_all()
    w.runner.wait_all(30)


def test_slider_scale_is_logarithmic() -> None:
    assert slider_to_epsilon(0) == 0.1 and slider_to_epsilon(1000) == 50
    assert slider_to_epsilon(epsilon_to_slider(3.0)) == 3.0
    assert slider_to_epsilon(500) == pytest.approx(2.2, rel=0.05)


def test_plan_budget_and_a_dp_run(qtbot, window) -> None:  # noqa: ANN001
    page = window.train_page
    assert page.label_box.currentText() == "follow_up", "the label role picks the label column"
    page.epochs_spin.setValue(2)
    page.batch_spin.setValue(30)
    page.eps_slider.setValue(epsilon_to_slider(2.0))
    qtbot.waitUntil(lambda: "noise multiplier" in page.plan_label.text(), timeout=10_000)
    assert "RDP accountant" in page.plan_label.text() and "δ = 1e-04" in page.plan_label.text()
    assert "Only 18 optimizer steps" in page.plan_label.text(), "too few steps to learn: said before training"
    page.plan_plot.getPlotItem().getViewBox().updateAutoRange()
    top = page.plan_plot.getPlotItem().getViewBox().viewRange()[1][1]
    assert top >= 2.0, "the predicted curve (up to ε = 2) is in view"
    page.batch_spin.setValue(4)
    qtbot.waitUntil(lambda: "136 steps" in page.plan_label.text(), timeout=10_000)
    assert "optimizer steps" not in page.plan_label.text()
    page.batch_spin.setValue(30)
    qtbot.waitUntil(lambda: "18 steps" in page.plan_label.text(), timeout=10_000)
    assert "not set" in page.budget_label.text()
    # No budget set: the ledger refuses the run before its first step.
    wait_for_job(qtbot, window.runner, page.start_training())
    assert "budget" in page.message.text().lower()
    page.set_total_budget(3.0)
    job = page.start_training()
    wait_for_job(qtbot, window.runner, job, timeout=120_000)
    run = page.live_runs()[job]
    assert run.final and run.final["status"] == "succeeded"
    row = page.runs_table.rowCount() - 1
    assert "RDP" in page.runs_table.item(row, 3).text() and "δ" in page.runs_table.item(row, 3).text()
    loss_curve, acc_curve, eps_curve = run.items[:3]
    raw_loss = run.items[4]
    assert list(raw_loss.getData()[1]) == pytest.approx(run.metrics.snapshot().losses), "every step's loss is drawn"
    smooth = list(loss_curve.getData()[1])
    assert len(smooth) == len(xs_steps := raw_loss.getData()[0]) and smooth[0] == raw_loss.getData()[1][0]
    assert xs_steps[-1] == run.final["steps"]
    xs, ys = eps_curve.getData()
    assert len(xs) == run.final["steps"] and ys[-1] == pytest.approx(run.final["epsilon_spent"])
    assert "committed 2" in page.budget_label.text() or "committed 1.9" in page.budget_label.text()


def test_a_plan_for_older_settings_never_overwrites_the_page(qtbot, window) -> None:  # noqa: ANN001
    page = window.train_page
    page.eps_slider.setValue(epsilon_to_slider(4.0))  # requests a plan (debounced, then computed in a job)
    page.private_check.setChecked(False)  # before it arrives
    assert "no privacy guarantee" in page.plan_label.text()
    qtbot.wait(300)  # past the debounce: the old request's job has started (or was dropped)
    qtbot.waitUntil(lambda: window.runner.running_count(include_background=True) == 0, timeout=30_000)
    qtbot.wait(50)
    assert "no privacy guarantee" in page.plan_label.text(), "the stale plan was dropped"
    assert not page.plan_target.isVisible()


def test_two_runs_at_once_and_cancel_one(qtbot, window) -> None:  # noqa: ANN001
    page = window.train_page
    page.set_total_budget(20.0)
    page.epochs_spin.setValue(30)
    page.batch_spin.setValue(20)
    first = page.start_training()
    page.private_check.setChecked(False)
    page.epochs_spin.setValue(1)
    second = page.start_training()
    qtbot.waitUntil(lambda: bool(page.live_runs()[first].metrics.snapshot().steps), timeout=60_000)
    window.runner.cancel(first)
    qtbot.waitUntil(
        lambda: page.live_runs()[first].final is not None and page.live_runs()[second].final is not None,
        timeout=120_000,
    )
    row_first = 0
    assert page.runs_table.item(row_first, 2).text().startswith("cancelled; ε spent")
    assert page.live_runs()[second].final["private"] is False
    runs = {r.status for r in page._run_store.runs(window.data_page.dataset.fingerprint)}
    assert {"cancelled", "succeeded"} <= runs


def test_recipe_settings_reach_the_run_and_bad_ones_are_refused(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    from tests.support.models import make_tiny_text_model

    page = window.train_page
    page.set_total_budget(20.0)
    page.task_box.setCurrentIndex(page.task_box.findData("text"))
    page.text_box.setCurrentText("note")
    assert page.encoder_box.isEnabled() and page.recipe_box.isEnabled()
    assert page.batch_spin.value() == 256, "the text recipe's measured batch is offered"
    assert page.physical_spin.value() == 128, "and computed 128 rows at a time (memory)"
    page.batch_spin.setValue(100)
    page.task_box.setCurrentIndex(page.task_box.findData("tabular"))
    assert page.batch_spin.value() == 100, "a batch the analyst chose is kept"
    page.task_box.setCurrentIndex(page.task_box.findData("text"))

    # A malformed or unsafe δ: said on the page (plan and start), nothing starts.
    page.delta_edit.setText("one in a million")
    page.delta_edit.editingFinished.emit()
    assert "δ must be a number" in page.plan_label.text()
    assert page.start_training() is None and "δ must be a number" in page.message.text()
    page.delta_edit.setText("0.5")
    page.delta_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: "not below 1/n" in page.plan_label.text(), timeout=10_000)

    # A folder that is not a model is refused with the reason; a real local encoder folder is offered and chosen.
    assert not page.set_encoder_folder(str(tmp_path))
    assert "not a Hugging Face model folder" in page.message.text()
    model = make_tiny_text_model(tmp_path / "tiny-bert", ["worse", "stable", "patient", "pain"])
    assert page.set_encoder_folder(str(model))
    page.delta_edit.setText("1e-6")
    page.delta_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: "δ = 1e-06" in page.plan_label.text(), timeout=10_000)
    page.recipe_box.setCurrentIndex(page.recipe_box.findData("head"))
    page.length_spin.setValue(24)
    page.lr_spin.setValue(0.01)
    page.clip_spin.setValue(0.5)
    page.physical_spin.setValue(8)
    page.epochs_spin.setValue(1)
    page.batch_spin.setValue(32)
    config = page.build_config()
    assert config.text.model_path == str(model) and config.text.recipe == "head" and config.text.max_length == 24
    assert (config.learning_rate, config.max_grad_norm, config.delta) == (0.01, 0.5, 1e-6)
    assert config.max_physical_batch_size == 8
    job = page.start_training()
    wait_for_job(qtbot, window.runner, job, timeout=120_000)
    final = page.live_runs()[job].final
    assert final["status"] == "succeeded" and final["recipe"] == "head only"
    assert final["delta"] == 1e-6 and final["max_grad_norm"] == 0.5


def test_closing_the_window_mid_training_records_the_run_as_cancelled_with_its_spend(qtbot, window) -> None:  # noqa: ANN001
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.dp.runs import RunStore
    from workbench.core.project.store import Project

    page = window.train_page
    page.set_total_budget(20.0)
    page.epochs_spin.setValue(100)  # far longer than the test waits
    page.batch_spin.setValue(20)
    page.eps_slider.setValue(epsilon_to_slider(5.0))
    job = page.start_training()
    qtbot.waitUntil(lambda: len(page.live_runs()[job].metrics.snapshot().steps) >= 3, timeout=60_000)
    folder = window.project.folder
    fingerprint = window.data_page.dataset.fingerprint
    assert window.close()
    assert window.runner.running_count() == 0

    project = Project.open(folder)
    try:
        (run,) = RunStore(project).runs(fingerprint)
        summary = PrivacyLedger(project).summary(fingerprint)
    finally:
        project.close()
    assert run.status == "cancelled" and run.steps >= 3
    assert run.epsilon is not None and 0 < run.epsilon < 5.0, "the spend of the steps taken, not the reservation"
    assert summary.committed_epsilon == pytest.approx(run.epsilon)
    assert summary.reserved_epsilon == 0, "the rest of the reservation is released"


def test_asking_for_a_gpu_that_is_not_there_is_said_on_the_page(qtbot, window) -> None:  # noqa: ANN001
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    page = window.train_page
    page.set_total_budget(5.0)
    page.device = "cuda"
    assert page.build_config().device == "cuda"
    wait_for_job(qtbot, window.runner, page.start_training())
    assert "no CUDA GPU is available" in page.message.text()
    assert "remaining 5" in page.budget_label.text(), "nothing was reserved or spent"


def test_the_loss_moving_average_extends_without_recomputing() -> None:
    from workbench.core.dp.runs import RunMetrics
    from workbench.ui.qt_train_page import _LiveRun

    run = _LiveRun(1, "r", RunMetrics(), "#000")
    assert run.smooth([1.0, 0.0]) == pytest.approx([1.0, 0.9])
    first = run.smoothed
    assert run.smooth([1.0, 0.0, 0.0]) == pytest.approx([1.0, 0.9, 0.81]) and run.smoothed is first


def test_the_budget_box_says_when_the_same_data_is_spent_in_another_project(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.project.store import Project

    page = window.train_page
    fingerprint = page._dataset.fingerprint
    with Project.create(tmp_path / "other") as other:  # the same file, in a second project of this computer
        ledger = PrivacyLedger(other)
        ledger.set_total(fingerprint, 5.0)
        ledger.commit(ledger.reserve(fingerprint, 1.5, 1e-6), 1.5, 1e-6)
    page.set_total_budget(4.0)
    qtbot.waitUntil(lambda: "other project(s) of this computer" in page.budget_label.text(), timeout=10_000)
    assert "remaining 2.5" in page.budget_label.text()


def test_the_batch_follows_the_data_and_a_bad_plan_is_called_out_before_training(qtbot, window) -> None:  # noqa: ANN001
    from workbench.core.train.advice import suggest_batch_size

    page = window.train_page
    page.eps_slider.setValue(epsilon_to_slider(3.0))
    chosen = suggest_batch_size("tabular", 270, 3, private=True, target_epsilon=3.0, delta=1e-4)
    assert chosen < 64, "270 training rows at the measured batch of 64 would take only 15 steps"
    qtbot.waitUntil(lambda: page.batch_spin.value() == chosen, timeout=10_000)
    qtbot.waitUntil(lambda: "chosen for 270 rows" in page.plan_label.text(), timeout=10_000)
    assert "learning rate 0.01 (the recipe's measured rate)" in page.plan_label.text()
    # A learning rate far above the one measured for the recipe under DP: said before training.
    page.lr_spin.setValue(0.5)
    qtbot.waitUntil(lambda: "more than twice the rate" in page.plan_label.text(), timeout=10_000)
    assert "Unlikely to beat the majority baseline" in page.plan_label.text()
    # A batch the analyst typed is kept, whatever the data.
    page.batch_spin.setValue(48)
    qtbot.waitUntil(lambda: "batch 48," in page.plan_label.text(), timeout=10_000)
    assert page.batch_spin.value() == 48
