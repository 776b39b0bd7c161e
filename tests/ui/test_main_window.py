"""The main window end to end, offscreen: load, preview, roles saved, bad files, closing with running jobs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.support.qt import wait_for_job
from workbench.core.data.dataset import ColumnRole
from workbench.core.jobs import CancelToken, JobGenerator, Progress
from workbench.ui.qt_main_window import QtMainWindow
from workbench.ui.qt_summary_model import COL_ROLE

CSV = (
    "name,email,age,note\n"
    "Ada Lovelace,ada@example.org,36,Met Dr. Babbage in London\n"
    "Alan Turing,alan@example.org,41,Moved to Wilmslow\n"
)


@pytest.fixture
def window(qtbot, project):  # noqa: ANN001, ANN201
    w = QtMainWindow(project)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.runner.begin_shutdown()
    w.runner.cancel_all()
    w.runner.wait_all(10)


def load(qtbot, window: QtMainWindow, path: Path) -> None:  # noqa: ANN001
    job = window.data_page.load_file(path)
    assert job is not None
    wait_for_job(qtbot, window.runner, job)


def test_load_shows_rows_summary_and_registers(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    f = tmp_path / "people.csv"
    f.write_text(CSV, encoding="utf-8")
    load(qtbot, window, f)
    page = window.data_page
    assert page.dataset is not None and page.dataset.num_rows == 2
    model = page.table_model
    assert model is not None and model.rowCount() == 2 and model.columnCount() == 4
    assert model.data(model.index(1, 0)) == "Alan Turing"
    assert page.summary_model.rowCount() == 4
    assert page.fingerprint_label.text().startswith("SHA-256 ")
    records = window.project.datasets()
    assert len(records) == 1 and records[0].rows == 2
    assert dict(records[0].roles)["email"] == ColumnRole.DIRECT_IDENTIFIER.value


def test_role_edit_is_saved_in_the_project(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    f = tmp_path / "people.csv"
    f.write_text(CSV, encoding="utf-8")
    load(qtbot, window, f)
    sm = window.data_page.summary_model
    row = [sm.index(r, 0).data() for r in range(sm.rowCount())].index("age")
    assert sm.setData(sm.index(row, COL_ROLE), ColumnRole.SENSITIVE.value)
    record = window.project.datasets()[0]
    assert dict(record.roles)["age"] == "sensitive"
    # Loading the same bytes from another path is the same dataset, and the saved role survives.
    g = tmp_path / "copy.csv"
    g.write_bytes(f.read_bytes())
    load(qtbot, window, g)
    records = window.project.datasets()
    assert len(records) == 1 and dict(records[0].roles)["age"] == "sensitive"
    assert sm.index(row, COL_ROLE).data() == ColumnRole.SENSITIVE.label


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "empty"),
        ("binary.csv", bytes(range(256)) * 40, "binary"),
        ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n", "line"),
    ],
)
def test_bad_files_show_a_message_on_the_page_and_lose_nothing(
    qtbot, window, tmp_path, name, content, expected
) -> None:  # noqa: ANN001
    good = tmp_path / "people.csv"
    good.write_text(CSV, encoding="utf-8")
    load(qtbot, window, good)
    before = window.data_page.dataset
    bad = tmp_path / name
    bad.write_bytes(content)
    load(qtbot, window, bad)
    page = window.data_page
    assert page.banner.isVisible()
    text = page.banner.text()
    assert name in text and expected in text.lower()
    assert page.dataset is before, "a failed load must leave the current dataset in place"
    assert page.table_model is not None and page.table_model.rowCount() == 2
    assert len(window.project.datasets()) == 1
    assert not any(name in msg for _, msg in window.notifications.messages()), "said on the page: no duplicate"


def test_directory_and_missing_paths(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    load(qtbot, window, tmp_path)
    assert "directory" in window.data_page.banner.text().lower()
    load(qtbot, window, tmp_path / "nope.csv")
    assert "nope.csv" in window.data_page.banner.text()


def test_sorting_runs_as_a_job_and_reorders(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    f = tmp_path / "n.csv"
    f.write_text("v,w\n" + "".join(f"{(i * 7919) % 1000},{i}\n" for i in range(1000)), encoding="utf-8")
    load(qtbot, window, f)
    model = window.data_page.table_model
    window.data_page.table_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    wait_for_job(qtbot, window.runner, window.data_page._sort_job)
    values = [int(model.data(model.index(r, 0))) for r in range(1000)]
    assert values == sorted(values, reverse=True)
    # Row headers keep the row's position in the file.
    assert model.headerData(0, Qt.Orientation.Vertical) != "1"


def test_drop_a_file_loads_it(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    f = tmp_path / "dropped.csv"
    f.write_text(CSV, encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f))])
    event = QDropEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    wait_for_job(qtbot, window.runner, window.data_page._load_job)
    assert window.data_page.dataset is not None and window.data_page.dataset.name == "dropped.csv"


def _slow_job(token: CancelToken) -> JobGenerator[None]:
    for i in range(10_000):
        if token.wait(0.01):
            token.raise_if_cancelled()
        yield Progress("slow", i, 10_000)


def test_close_with_running_jobs_asks_cancels_and_waits(qtbot, window, monkeypatch) -> None:  # noqa: ANN001
    asked: list[int] = []
    monkeypatch.setattr(window, "confirm_close_with_jobs", lambda n: asked.append(n) or True)
    window.runner.submit("slow 1", _slow_job)
    window.runner.submit("slow 2", _slow_job)
    qtbot.wait(50)
    assert window.close()
    assert asked == [2]
    assert window.runner.running_count() == 0
    states = {s.state.value for s in window.runner.registry.snapshots()}
    assert states == {"cancelled"}


def test_close_refused_keeps_jobs_running(qtbot, window, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(window, "confirm_close_with_jobs", lambda n: False)
    window.runner.submit("slow", _slow_job)
    qtbot.wait(30)
    assert window.close() is False
    assert window.runner.running_count() == 1


def test_job_panel_shows_progress_and_cancel(qtbot, window) -> None:  # noqa: ANN001
    job = window.runner.submit("slow", _slow_job)
    qtbot.waitUntil(lambda: window.job_panel.row(job) is not None, timeout=3000)
    row = window.job_panel.row(job)
    qtbot.waitUntil(lambda: "slow" in row.detail.text(), timeout=3000)
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    wait_for_job(qtbot, window.runner, job)
    window.job_panel.refresh()
    assert "cancelled" in row.detail.text()


def test_welcome_page_without_project(qtbot) -> None:  # noqa: ANN001
    w = QtMainWindow(None)
    qtbot.addWidget(w)
    assert w.pages.currentWidget() is w.welcome_page
    w.load_dropped([os.devnull])
    assert any("project" in msg.lower() for _, msg in w.notifications.messages())


def test_personal_data_work_waits_for_a_quiet_moment_or_the_anonymize_page(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    """Loading a dataset must not start the analyzer warm-up, column detection or preview at once (they held the
    interpreter while the analyst scrolled the new table); they start in the background a moment later, or when the
    Anonymize page is opened, whichever comes first."""
    from workbench.core.demo import clinic_intake_csv_text

    source = tmp_path / "clinic.csv"
    source.write_text(clinic_intake_csv_text(rows=30), encoding="utf-8")
    load(qtbot, window, source)
    qtbot.wait(200)

    def titles() -> list[str]:
        return [s.title for s in window.runner.registry.snapshots()]

    assert not [t for t in titles() if "personal-data" in t or "personal data" in t or "Preview" in t], titles()
    window.nav.setCurrentRow(window._page_names.index("Anonymize"))
    qtbot.waitUntil(lambda: any("personal data in the columns" in t for t in titles()), timeout=5_000)
    qtbot.waitUntil(lambda: window.pii_page.detections() is not None, timeout=60_000)
