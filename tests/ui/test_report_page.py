"""The Report page (issue 18): choose a dataset, build the signed report through the window's job runner, see where
its files are, the audit-log head it carries and its first page; verify it (OK), then a copy with one byte changed
(NOT OK) and a file that is not a report (said on the page)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from tests.support.planted import CANARY_NAME, canary_csv
from tests.support.qt import wait_for_job
from workbench.core.jobs import drive
from workbench.services.datasets import add_dataset_job
from workbench.services.session import ProjectSession
from workbench.ui.qt_report_page import PAGE_NAME, QtReportPage, install


def _page(window, tmp_path: Path) -> QtReportPage:  # noqa: ANN001
    session = ProjectSession(window.project)
    drive(add_dataset_job(session, canary_csv(tmp_path / "first.csv", rows=12)))
    drive(add_dataset_job(session, canary_csv(tmp_path / "people.csv", rows=20)))
    page = install(window)
    window.show_page(PAGE_NAME)
    assert page.isVisible() and page.dataset_combo.count() == 2
    return page


def test_build_show_and_verify_a_report(qtbot, window, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    page = _page(window, tmp_path)
    page.dataset_combo.setCurrentIndex(page.dataset_combo.findText("people.csv (original)"))
    out = tmp_path / "out" / "people-report"
    out.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    page.build_button.click()
    job = page._job
    assert job is not None and page.busy and not page.build_button.isEnabled()
    wait_for_job(qtbot, window.runner, job)
    assert not page.busy and "Traceback" not in page.message_text()
    files = page.files
    assert files is not None, page.message_text()
    pdf = out.with_suffix(".pdf")
    assert files.pdf == pdf and pdf.read_bytes().startswith(b"%PDF")
    for path in (files.html, files.manifest, files.signature):
        assert path.exists() and path.parent == pdf.parent
    card = page.result.text()
    assert str(pdf) in card and str(files.signature) in card and files.audit_head in card
    assert f"Built in: {files.seconds:.1f} s" in card
    assert "people.csv" in files.html.read_text() and CANARY_NAME not in files.html.read_text()
    assert page.preview.isVisible() and not page.preview.pixmap().isNull()
    assert page.preview.pixmap().width() > 200

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(pdf), ""))
    page.verify_button.click()
    assert page.verdict is not None and page.verdict.ok
    assert "report: OK" in page.verify_label.text() and "extends the report" in page.verify_label.text()

    changed = bytearray(pdf.read_bytes())
    changed[len(changed) // 2] ^= 1
    pdf.write_bytes(bytes(changed))
    page.verify_button.click()
    assert not page.verdict.ok and "NOT OK" in page.verify_label.text()
    assert "does NOT verify" in page.verify_label.text() and page.message.property("level") == "error"


def test_a_file_that_is_not_a_report_is_said_on_the_page(window, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    page = _page(window, tmp_path)
    stray = tmp_path / "stray.pdf"
    stray.write_bytes(b"%PDF-1.4 not a report")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(stray), ""))
    page.verify_button.click()
    assert page.message.property("level") == "error" and "stray.pdf cannot be verified" in page.message_text()
    assert "manifest" in page.message_text() and not page.verify_label.isVisible()


def test_a_report_that_cannot_be_written_is_said_on_the_page(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    page = _page(window, tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    job = page.build(blocker / "report.pdf")
    assert job is not None
    wait_for_job(qtbot, window.runner, job)
    assert page.files is None and page.message.property("level") == "error"
    assert "The report was not built." in page.message_text() and "Traceback" not in page.message_text()
    assert page.build_button.isEnabled() and not page.preview.isVisible()


def test_an_encrypted_project_is_reported_unlocked_and_refused_locked(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.support.planted import PASSPHRASE

    wait_for_job(qtbot, window.runner, window.flows.encrypt_project(PASSPHRASE))
    assert window.vault_ctl.state == "unlocked"
    session = ProjectSession(window.project, window.vault_ctl.vault)
    assert drive(add_dataset_job(session, canary_csv(tmp_path / "people.csv", rows=20))).encrypted
    page = install(window)
    window.show_page(PAGE_NAME)
    assert page.dataset_combo.currentText() == "people.csv (original)"
    job = page.build(tmp_path / "r.pdf")
    assert job is not None
    wait_for_job(qtbot, window.runner, job)
    assert page.files is not None, page.message_text()
    assert page.verify(page.files.pdf).ok

    window.vault_ctl.lock()
    assert page.build(tmp_path / "r2.pdf") is None and not (tmp_path / "r2.pdf").exists()
    assert "locked" in page.message_text() and page.message.property("level") == "error"
