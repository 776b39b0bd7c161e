"""The Risk page (issue 17): measure a dataset's risk over the roles' quasi-identifiers, generalize it to a target
as a job (before and after side by side, the new dataset named as the Data page lists it), errors said on the page,
Cancel, and the 1366x768 fit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from tests.support.planted import CANARY_NAME, canary_csv
from tests.support.qt import wait_for_job
from workbench.core.jobs import drive
from workbench.services.datasets import add_dataset_job
from workbench.services.session import ProjectSession
from workbench.ui.qt_risk_page import PAGE_NAME, QtRiskPage, install


def _page(qtbot: Any, window: Any, tmp_path: Path, rows: int = 120) -> QtRiskPage:
    session = ProjectSession(window.project)
    drive(add_dataset_job(session, canary_csv(tmp_path / "people.csv", rows=rows)))
    record = window.project.datasets()[0]
    window.project.set_roles(record.id, {"age": "quasi_identifier", "sex": "quasi_identifier",
                                         "follow_up": "sensitive", "name": "direct_identifier"})  # fmt: skip
    page = install(window)
    wait_for_job(qtbot, window.runner, window.data_page.open_record(window.project.datasets()[0]))
    window.show_page(PAGE_NAME)
    assert page.isVisible() and page.dataset_combo.count() == 1
    return page


def _run(qtbot: Any, window: Any, page: QtRiskPage, job: int | None) -> str:
    assert job is not None, page.message_text()
    assert page.busy and not page.generalize_button.isEnabled()
    wait_for_job(qtbot, window.runner, job)
    assert not page.busy and page.generalize_button.isEnabled()
    return page.message_text()


def test_measure_then_generalize_shows_before_and_after(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page(qtbot, window, tmp_path)
    assert page.columns.with_role("quasi_identifier") == ["age", "sex"]
    assert page.columns.with_role("sensitive") == ["follow_up"] and page.form.sensitive() == "follow_up"
    text = _run(qtbot, window, page, page.measure())
    assert "k = 2" in text and page.measures is not None and page.plots is not None
    # 120 rows: ages 20..69 (i % 50) x sex (i % 2): 50 classes of 2 or 3 (age, sex) pairs
    assert page.measures.value("k (smallest class)") == "2" and page.measures.value("Equivalence classes") == "50"
    assert page.measures.isColumnHidden(2)  # no "after" yet
    assert page.plots.series["sizes"]["before"][1:3] == [30.0, 20.0] and "after" not in page.plots.series["sizes"]
    assert page.measures.value("follow_up: distinct l") == "1"
    page.columns.setCurrentCell(page.columns.columns().index("age"), 0)  # the hierarchy age would get
    preview = page.plots.hierarchy
    assert page.plots.currentWidget() is preview and preview.horizontalHeaderItem(1).text() == "level 1"
    assert preview.rowCount() == 50 and preview.item(0, 0).text() == "20" and preview.item(0, 1).text() == "[20, 25["

    page.form.k_spin.setValue(10)
    page.form.suppression_spin.setValue(0.0)
    text = _run(qtbot, window, page, page.generalize())
    assert "Generalized and saved as a new dataset" in text and "Traceback" not in text
    outcome = page.outcome
    assert outcome is not None and outcome["risk_after"]["k"] >= 10 and outcome["suppressed_records"] == 0
    assert int(page.measures.value("k (smallest class)", "After")) >= 10
    assert page.measures.value("k (smallest class)", "Before") == "2" and not page.measures.isColumnHidden(2)
    assert set(page.plots.series["sizes"]) == {"before", "after"}
    assert sum(page.plots.series["risk"]["after"]) == sum(page.plots.series["risk"]["before"])  # both 100 %
    card = page.result.text()
    records = {r.name: r for r in window.project.datasets()}
    assert "people.generalized.csv" in records
    new = records["people.generalized.csv"]
    assert "New dataset: people.generalized.csv (derived by generalize" in card and str(new.path) in card
    assert "Levels: age " in card and "0 records" in card and CANARY_NAME not in card + text
    written = pd.read_csv(new.path, dtype=str)
    assert written.groupby(["age", "sex"]).size().min() >= 10 and len(written) == 120
    assert "described" not in card and "built from the values" not in page.columns.item(0, 2).text()
    assert page.columns.item(page.columns.columns().index("age"), 2).text().startswith("intervals of")
    labels = [window.data_page.dataset_box.itemText(i) for i in range(window.data_page.dataset_box.count())]
    assert any(label.startswith("people.generalized.csv (derived by generalize") for label in labels)


def test_errors_are_said_on_the_page(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page(qtbot, window, tmp_path)
    page.form.k_spin.setValue(121)  # more than the records, nothing may be suppressed
    page.form.suppression_spin.setValue(0.0)
    text = _run(qtbot, window, page, page.generalize())
    assert page.message.property("level") == "error" and text.startswith("The generalization failed: ")
    assert "no generalization satisfies 121-anonymity with at most 0 records suppressed" in text
    assert len(window.project.datasets()) == 1 and page.outcome is None
    page.form.k_spin.setValue(2)
    page.form.l_spin.setValue(2)
    page.form.sensitive_combo.setCurrentIndex(0)  # (none)
    assert page.generalize() is None and "need a sensitive column" in page.message_text()
    for column in ("age", "sex"):
        page.columns.set_role(column, "")
    assert page.measure() is None and "at least one quasi-identifier" in page.message_text()


def test_cancel_stops_the_search_and_writes_nothing(qtbot, window, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import workbench.core.risk.search as search_module

    real = search_module.check_node

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(search_module, "check_node", slow_check)
    page = _page(qtbot, window, tmp_path)
    page.form.k_spin.setValue(3)
    page.form.metric_combo.setCurrentIndex(1)  # the loss metric checks more nodes
    job = page.generalize()
    assert job is not None

    def searching() -> bool:
        snap = window.runner.registry.snapshot(job)
        return snap is not None and snap.progress is not None and snap.progress.phase == "search"

    qtbot.waitUntil(searching, timeout=20_000)
    page.cancel_button.click()
    wait_for_job(qtbot, window.runner, job)
    assert page.message_text() == "Cancelled: nothing was written." and not page.busy
    assert len(window.project.datasets()) == 1 and not (tmp_path / "people.generalized.csv").exists()


def test_the_page_fits_1366x768(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page(qtbot, window, tmp_path)
    _run(qtbot, window, page, page.measure())
    page.show_message("error", "a long message " * 40)
    window.resize(1366, 768)
    qtbot.wait(20)
    assert page.minimumSizeHint().width() <= page.width(), (page.minimumSizeHint(), page.size())
    assert page.minimumSizeHint().height() <= 700


def test_generalize_in_an_encrypted_project_names_the_copy_in_the_vault(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.support.planted import PASSPHRASE, files_holding, plaintext_outside_vault

    folder = window.project.folder
    inside = canary_csv(folder / "data" / "intake.csv", rows=120)
    wait_for_job(qtbot, window.runner, window.data_page.load_file(inside))
    wait_for_job(qtbot, window.runner, window.flows.encrypt_project(PASSPHRASE))
    assert window.vault_ctl.state == "unlocked" and not inside.exists()
    record = window.project.datasets()[0]
    window.project.set_roles(record.id, {"age": "quasi_identifier", "sex": "quasi_identifier"})
    page = install(window)
    window.show_page(PAGE_NAME)
    assert page.columns.with_role("quasi_identifier") == ["age", "sex"]
    page.form.k_spin.setValue(10)
    text = _run(qtbot, window, page, page.generalize())
    assert "in the encrypted project as intake.generalized.csv" in text and "vault:" not in text
    card = page.result.text()
    assert "New dataset: intake.generalized.csv (derived by generalize" in card and "vault:" not in card
    new = next(r for r in window.project.datasets() if r.name == "intake.generalized.csv")
    assert new.path.startswith("vault:") and int(page.measures.value("k (smallest class)", "After")) >= 10
    assert files_holding([folder]) == [] and plaintext_outside_vault(folder) == []
