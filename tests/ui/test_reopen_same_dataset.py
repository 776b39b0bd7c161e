"""Opening a project's own dataset again says nothing about "the same bytes"; loading a new file with the bytes of
a dataset already in the project still says so (issue 14)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.support.qt import wait_for_job
from workbench.ui.qt_main_window import QtMainWindow

PW = "a long enough passphrase"


def _wait(qtbot: Any, window: QtMainWindow, job: int | None) -> None:
    assert job is not None
    wait_for_job(qtbot, window.runner, job)


def test_reopening_a_dataset_of_the_project_is_silent(qtbot: Any, window: QtMainWindow, tmp_path: Path) -> None:
    src = tmp_path / "clinic_intake.csv"
    src.write_text("name,diagnosis\nAda,J45\nBob,E11\n", encoding="utf-8")
    _wait(qtbot, window, window.data_page.load_file(src))
    _wait(qtbot, window, window.flows.encrypt_project(PW))
    assert window.vault_ctl.state == "unlocked"
    record = window.project.datasets()[0]
    window.cache.remove(record.fingerprint)
    window.data_page.hide_banner()
    _wait(qtbot, window, window.data_page.open_record(record))
    assert window.data_page.dataset is not None
    assert "same bytes" not in window.data_page.banner_text()

    copy = tmp_path / "copy_of_intake.csv"
    shutil.copyfile(src, copy)
    window.data_page.hide_banner()
    _wait(qtbot, window, window.data_page.load_file(copy))
    assert "same bytes" in window.data_page.banner_text()
