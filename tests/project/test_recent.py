"""The recent-projects list: order, limit, existence filter, atomic writes and tolerance of a damaged file."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from workbench.core.project.recent import FILE_NAME, RecentProjects


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def make_folders(root: Path, count: int) -> list[Path]:
    folders = [root / f"project-{i}" for i in range(count)]
    for folder in folders:
        folder.mkdir(parents=True)
    return [folder.resolve() for folder in folders]


def test_default_file_lives_in_workbench_home(tmp_path: Path) -> None:
    recent = RecentProjects()
    assert recent.path == (tmp_path / "home").resolve() / FILE_NAME
    assert recent.list() == []
    recent.add(make_folders(tmp_path, 1)[0])
    assert recent.path.is_file()


def test_newest_first_without_duplicates_and_limited(tmp_path: Path) -> None:
    a, b, c, d = make_folders(tmp_path, 4)
    recent = RecentProjects(tmp_path / "recent.json", limit=3)
    for folder in (a, b, c):
        recent.add(folder)
    assert recent.list() == [c, b, a]
    recent.add(tmp_path / "project-0" / ".." / "project-0")  # another spelling of a
    assert recent.list() == [a, c, b]
    recent.add(d)
    assert recent.list() == [d, a, c]  # b fell off the end
    recent.remove(a)
    recent.remove(tmp_path / "never-added")
    assert recent.list() == [d, c]
    # A new instance reads the same file.
    assert RecentProjects(tmp_path / "recent.json", limit=3).list() == [d, c]
    recent.clear()
    assert recent.list() == []


def test_folders_that_no_longer_exist_are_not_listed(tmp_path: Path) -> None:
    a, b = make_folders(tmp_path, 2)
    recent = RecentProjects(tmp_path / "recent.json")
    recent.add(a)
    recent.add(b)
    b.rmdir()
    assert recent.list() == [a]
    b.mkdir()  # it comes back when the folder does (a remounted drive)
    assert recent.list() == [b, a]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b'["a list"]',
        b'{"projects": "nope"}',
        b"",
        b'{"projects": [1, null]}',
    ],
)
def test_a_damaged_file_counts_as_empty_and_is_repaired(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "recent.json"
    path.write_bytes(content)
    (folder,) = make_folders(tmp_path, 1)
    recent = RecentProjects(path)
    assert recent.list() == []
    recent.add(folder)
    assert recent.list() == [folder]
    assert json.loads(path.read_text(encoding="utf-8")) == {"version": 1, "projects": [str(folder.resolve())]}


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path) -> None:
    folders = make_folders(tmp_path / "projects", 5)
    store_dir = tmp_path / "store"
    recent = RecentProjects(store_dir / "recent.json")
    for folder in folders:
        recent.add(folder)
    assert [p.name for p in store_dir.iterdir()] == ["recent.json"]


def test_a_folder_that_cannot_be_written_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    recent = RecentProjects(blocker / "recent.json")
    (folder,) = make_folders(tmp_path / "p", 1)
    recent.add(folder)  # logged, not raised
    assert recent.list() == []


def test_threads_adding_at_once_keep_the_file_valid(tmp_path: Path) -> None:
    folders = make_folders(tmp_path / "projects", 40)
    recent = RecentProjects(tmp_path / "recent.json", limit=10)
    errors: list[BaseException] = []

    def worker(chunk: list[Path]) -> None:
        try:
            for folder in chunk:
                recent.add(folder)
                recent.list()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(folders[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    listed = recent.list()
    assert len(listed) == 10 and len(set(listed)) == 10
    assert set(listed) <= set(folders)
    data = json.loads((tmp_path / "recent.json").read_text(encoding="utf-8"))
    assert len(data["projects"]) == 10


def test_limit_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RecentProjects(tmp_path / "r.json", limit=0)


def test_an_unusable_home_does_not_break_the_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "blocked").write_text("a file where WORKBENCH_HOME's folder should be")
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "blocked" / "home"))
    recent = RecentProjects()  # no folder can be created there: still constructs
    (folder,) = make_folders(tmp_path / "p", 1)
    recent.add(folder)
    assert recent.list() == []
