"""The Data page asks about a misread file and loads it again as answered (issue 12). The question is the one
modal box in ``qt_data_questions.choose``, replaced here by a recorded answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.qt import wait_for_job
from workbench.ui import qt_data_questions

CANARY = "CANARY-e41c"
HEADERLESS = f"1,{CANARY},34\n2,Bob,51\n3,Carol,28\n4,Dan,40\n"


class Answer:
    """Stands in for the message box: records each question and gives a fixed answer."""

    def __init__(self, index: int | None) -> None:
        self.index = index
        self.asked: list[tuple[str, str, list[str]]] = []

    def __call__(self, parent: Any, title: str, text: str, choices: Any) -> int | None:
        self.asked.append((title, text, list(choices)))
        return self.index


def answer(monkeypatch: pytest.MonkeyPatch, index: int | None) -> Answer:
    fake = Answer(index)
    monkeypatch.setattr(qt_data_questions, "choose", fake)
    return fake


def load_and_answer(qtbot: Any, window: Any, path: Path) -> None:
    """Load ``path``; when the page asks and loads again, wait for that load too."""
    page = window.data_page
    job = page.load_file(path)
    assert job is not None
    wait_for_job(qtbot, window.runner, job)
    if page.loading:
        wait_for_job(qtbot, window.runner, page._load_job)


def test_first_row_as_data(qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = answer(monkeypatch, 0)
    path = tmp_path / "people.csv"
    path.write_text(HEADERLESS)
    load_and_answer(qtbot, window, path)
    assert [title for title, _, _ in fake.asked] == [qt_data_questions.HEADER_TITLE]
    assert CANARY not in fake.asked[0][1]
    ds = window.data_page.dataset
    assert ds is not None and ds.column_names == ["column_1", "column_2", "column_3"] and ds.num_rows == 4
    record = window.project.datasets()[0]
    assert record.columns == ("column_1", "column_2", "column_3")

    # opening the registered dataset again repeats the choice instead of asking again
    window.data_page._cache.remove(record.fingerprint)
    job = window.data_page.open_record(record)
    assert job is not None
    wait_for_job(qtbot, window.runner, job)
    assert len(fake.asked) == 1 and window.data_page.dataset is not None


def test_first_row_as_names(qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answer(monkeypatch, 1)
    path = tmp_path / "people.csv"
    path.write_text(HEADERLESS)
    load_and_answer(qtbot, window, path)
    ds = window.data_page.dataset
    assert ds is not None and ds.column_names[1] == CANARY and ds.num_rows == 3
    assert any("looks like data" in w for w in ds.warnings)


def test_cancel_loads_nothing(qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = answer(monkeypatch, None)
    path = tmp_path / "people.csv"
    path.write_text(HEADERLESS)
    load_and_answer(qtbot, window, path)
    assert len(fake.asked) == 1
    assert window.data_page.dataset is None and window.project.datasets() == []
    assert "first row looks like data" in window.data_page.banner_text()


def test_unclosed_quote_accepted(qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = answer(monkeypatch, 0)
    path = tmp_path / "q.csv"
    path.write_text(f'id,note\n1,ok\n2,"{CANARY}\n3,x\n')
    load_and_answer(qtbot, window, path)
    assert fake.asked[0][0] == qt_data_questions.QUOTE_TITLE and "line 3" in fake.asked[0][1]
    ds = window.data_page.dataset
    assert ds is not None and ds.num_rows == 2 and any("as accepted" in w for w in ds.warnings)


def test_mixed_encodings_choose_one(qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = answer(monkeypatch, 1)  # Latin-1
    path = tmp_path / "m.csv"
    path.write_bytes("name\nJosé\n".encode() + "Renée\n".encode("latin-1"))
    load_and_answer(qtbot, window, path)
    assert fake.asked[0][0] == qt_data_questions.ENCODING_TITLE and "offset 8" in fake.asked[0][1]
    ds = window.data_page.dataset
    assert ds is not None and ds.encoding == "latin-1" and ds.num_rows == 2


def test_a_header_that_looks_like_one_asks_nothing(
    qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = answer(monkeypatch, 0)
    path = tmp_path / "ok.csv"
    path.write_text("id,name,age\n1,Ann,34\n2,Bob,51\n3,Cy,28\n")
    load_and_answer(qtbot, window, path)
    assert fake.asked == [] and window.data_page.dataset is not None


@pytest.mark.parametrize(("label", "expected"), [("Use it as column names", 1), ("Cancel", None)])
def test_the_question_box_returns_the_button_clicked(qtbot: Any, label: str, expected: int | None) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        for button in box.buttons():
            if button.text().replace("&", "") == label:
                button.click()

    QTimer.singleShot(20, click)
    assert qt_data_questions.choose(None, "t", "x", qt_data_questions.HEADER_CHOICES) == expected
