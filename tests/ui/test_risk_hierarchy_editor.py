"""The Risk page's hierarchy editor (issue 17): opened for the chosen quasi-identifier, its preview follows the
builder and its parameters, a bad parameter is said in the dialog, the export writes an ARX CSV, and "Use for this
page" makes the page's preview, columns table and generalization use the edited hierarchy."""

from __future__ import annotations

from pathlib import Path

from tests.ui.test_risk_page import _page, _run
from workbench.core.risk.hierarchy import read_arx_csv
from workbench.ui.qt_risk_hierarchy import QtHierarchyEditor


def test_edit_preview_export_and_use_for_the_generalization(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page(qtbot, window, tmp_path)
    page.columns.setCurrentCell(page.columns.columns().index("follow_up"), 0)
    assert page.edit_hierarchy() is None and "Choose a quasi-identifier" in page.message_text()
    page.columns.setCurrentCell(page.columns.columns().index("age"), 0)
    editor = page.edit_hierarchy()
    assert isinstance(editor, QtHierarchyEditor) and editor.isVisible()
    qtbot.addWidget(editor)
    # starts from the built hierarchy: ages 20..69, intervals of 5 doubling
    assert editor.kind_combo.currentData() == "intervals" and editor.widths_edit.text().startswith("5,10")
    editor.widths_edit.setText("10,20")
    assert editor.preview.rowCount() == 50 and editor.preview.columnCount() == 4
    assert editor.preview.item(0, 1).text() == "[20, 30[" and editor.preview.item(49, 2).text() == "[60, 80["
    assert editor.summary.text().startswith("50 distinct values, 4 levels")
    editor.widths_edit.setText("10,15")  # not a multiple
    assert editor.error.isVisible() and "multiple of the one before" in editor.error.text()
    assert not editor.use_button.isEnabled() and editor.preview.rowCount() == 0
    editor.kind_combo.setCurrentIndex(editor.kind_combo.findData("ordered"))
    assert not editor.widths_edit.isVisible() and editor.groups_edit.isVisible()
    editor.groups_edit.setText("25")
    assert not editor.error.isVisible() and editor.preview.item(0, 1).text() == "20-44"
    editor.kind_combo.setCurrentIndex(editor.kind_combo.findData("intervals"))
    editor.widths_edit.setText("25,50")
    assert editor.use_button.isEnabled() and editor.hierarchy is not None and editor.hierarchy.height == 4

    out = tmp_path / "hierarchy_age.csv"
    assert editor.export_to(out) and read_arx_csv(out) == editor.hierarchy
    editor.use_button.click()
    assert not editor.isVisible()
    age_row = page.columns.columns().index("age")
    assert page.columns.item(age_row, 2).text() == "edited: intervals 25,50"
    again = page.edit_hierarchy()  # reopened, it starts from the edited choice
    assert again is not None and again.widths_edit.text() == "25,50"
    again.reject()

    page.form.k_spin.setValue(10)
    page.form.suppression_spin.setValue(0.0)
    _run(qtbot, window, page, page.generalize())
    outcome = page.outcome
    assert outcome is not None and outcome["risk_after"]["k"] >= 10
    # the edited hierarchy (value, [25-wide[, [50-wide[, *) is the one searched: age's level is one of its 4
    level = outcome["levels"]["age"]
    assert f"Levels: age {level} of 3, sex " in page.result.text()  # built, it would be "of 5" (5, 10, 20, 40)
    assert page.columns.item(age_row, 2).text() == "edited: intervals 25,50"
