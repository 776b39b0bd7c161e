"""The Anonymize page says what a policy lets through (beside the slider, before Apply), rescans each preview, and
says after Apply what remained (issue 13)."""

from __future__ import annotations

import pytest

pytest.importorskip("presidio_analyzer", reason="the PII page needs presidio")

from workbench.core.demo import clinic_intake_csv_text  # noqa: E402
from workbench.ui.qt_jobs import QtJobRunner  # noqa: E402
from workbench.ui.qt_pii_page import QtPiiPage  # noqa: E402


def test_threshold_that_lets_phones_through_is_flagged_and_reported(qtbot, project, tmp_path) -> None:  # noqa: ANN001
    from workbench.core.data.load import load_dataset

    source = tmp_path / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=30, seed=21), encoding="utf-8")
    ds = load_dataset(source)
    runner = QtJobRunner()
    page = QtPiiPage(runner)
    qtbot.addWidget(page)
    page.show()
    try:
        page.set_project(project)
        page.set_vault(None)
        page.set_dataset(ds, ds.suggested_roles())
        qtbot.waitUntil(lambda: page.detections() is not None, timeout=30_000)
        qtbot.waitUntil(lambda: page.residual.last_report is not None, timeout=30_000)
        assert page.residual.last_report.residue_counts.get("PHONE_NUMBER", 0) == 0
        page.threshold_slider.setValue(95)
        qtbot.waitUntil(lambda: "PHONE_NUMBER" in page.residual.slider_note.text(), timeout=20_000)
        assert page.residual.slider_note.isVisibleTo(page) and "0.95" in page.residual.slider_note.text()
        qtbot.waitUntil(
            lambda: (
                page.residual.last_report is not None
                and page.residual.last_report.residue_counts.get("PHONE_NUMBER", 0) > 0
            ),
            timeout=20_000,
        )
        assert "PHONE_NUMBER" in page.residual.label.text()
        hover = page.residual.label.toolTip()
        assert "PHONE_NUMBER:" in hover and "\u2022" in hover  # masked examples on hover
        phones = {row.split(",")[5] for row in clinic_intake_csv_text(rows=30, seed=21).splitlines()[1:]}
        assert not any(p in hover for p in phones), "examples are masked"
        with qtbot.waitSignal(
            runner.sig_job_succeeded,
            timeout=90_000,
            check_params_cb=lambda _j, r: isinstance(r, dict) and "location" in r,
        ):
            assert page.apply("csv") is not None
        qtbot.waitUntil(lambda: page.last_output is not None, timeout=5_000)
        assert page.last_output["residual"]["residue_counts"]["PHONE_NUMBER"] > 0
        assert "Remaining after anonymization" in page.message.text() and "PHONE_NUMBER" in page.message.text()
    finally:
        runner.begin_shutdown()
        runner.cancel_all()
        runner.wait_all(30)
