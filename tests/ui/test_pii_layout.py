"""The Anonymize page's layout (issue 14): entity names on one line, the Treatment column not clipped, and a left
pane that keeps its width while previews come and go."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QSplitter

from workbench.ui.qt_pii_entity_table import COMMON_ENTITIES, QtEntityOperatorTable


def test_entity_names_do_not_wrap(qtbot: Any) -> None:
    table = QtEntityOperatorTable()
    qtbot.addWidget(table)
    table.resize(300, 400)
    table.show_policy(COMMON_ENTITIES, None)
    table.show()
    qtbot.waitExposed(table)
    assert not table.wordWrap()
    assert table.columnWidth(0) >= QFontMetrics(table.font()).horizontalAdvance("PHONE_NUMBER")


def test_the_left_pane_keeps_its_width_and_the_treatment_column_fits(qtbot: Any, project: Any, tmp_path: Any) -> None:
    pytest.importorskip("presidio_analyzer", reason="the preview needs presidio")
    from workbench.core.data.load import load_dataset
    from workbench.core.demo import clinic_intake_csv_text
    from workbench.ui.qt_jobs import QtJobRunner
    from workbench.ui.qt_pii_page import QtPiiPage

    source = tmp_path / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=30), encoding="utf-8")
    runner = QtJobRunner()
    page = QtPiiPage(runner)
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    page.set_project(project)
    page.set_vault(None)
    split = page.findChild(QSplitter)
    before = split.widget(0).width()
    try:
        page.set_dataset(load_dataset(source))
        qtbot.waitUntil(lambda: page.last_preview() is not None, timeout=30_000)
        widths = [split.widget(0).width()]
        for operator in ("redact", "replace"):
            combo = page.entity_combo("PERSON")
            number = page.preview_requests.request_number
            combo.setCurrentIndex(combo.findData(operator))
            qtbot.waitUntil(
                lambda n=number: (
                    page.preview_requests.request_number > n and not page.preview_requests._timer.isActive()
                ),
                timeout=20_000,
            )
            qtbot.wait(300)
            widths.append(split.widget(0).width())
        assert widths == [before] * 3, widths
        table = page.column_table
        assert table.rowCount() > 0
        assert all(table.columnWidth(2) >= table.cellWidget(r, 2).sizeHint().width() for r in range(table.rowCount()))
    finally:
        runner.begin_shutdown()
        runner.cancel_all()
        runner.wait_all(30)


def test_legend_wraps_instead_of_clipping_and_preview_rows_stay_short(qtbot: Any) -> None:
    from workbench.core.pii.preview import PreviewCell, PreviewResult, PreviewRow
    from workbench.ui.qt_pii_preview import MAX_PREVIEW_LINES, QtPiiPreview

    preview = QtPiiPreview()
    qtbot.addWidget(preview)
    preview.resize(360, 500)
    preview.show()
    qtbot.waitExposed(preview)
    entities = ["PHONE_NUMBER", "EMAIL_ADDRESS", "US_SSN", "PERSON", "LOCATION", "DATE_TIME", "MEDICAL_LICENSE"]
    note = "Patient seen for a long follow-up visit. " * 40
    row = PreviewRow(0, (PreviewCell("note", "free_text", note, note),))
    preview.show_result(PreviewResult(("note",), (row,), tuple((e, 3) for e in entities), 1, 5.0))
    legend = preview.legend
    # every chip is there whole, and the legend is as tall as its wrapped lines need (nothing cut at the right)
    assert legend.texts() == sorted(f"{e} 3" for e in entities)
    assert legend.heightForWidth(legend.width()) > QFontMetrics(legend.font()).lineSpacing() * 1.5
    assert legend.sizeHint().width() <= 360 or legend.hasHeightForWidth()
    assert legend.minimumSizeHint().width() < 360
    table = preview.table
    assert table.rowHeight(0) <= table.fontMetrics().lineSpacing() * MAX_PREVIEW_LINES + 8
    assert table.item(0, 0).toolTip() == note  # the whole text is one hover away
