"""A project opened read-only (``Project.open(read_only=True)``): it reads as usual, never writes, refuses every
change with one clear line, and refuses a store that would need a migration (issue 11)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from workbench.core.data.load import load_dataset
from workbench.core.errors import ProjectError
from workbench.core.project.registration import register_loaded
from workbench.core.project.store import DB_FILE_NAME, SCHEMA_VERSION, Project


def _project(folder: Path, key: bytes | None) -> Path:
    data = folder.parent / "small.csv"
    data.write_text("id,age\n1,30\n2,41\n", encoding="utf-8")
    with Project.create(folder, key=key) as project:
        register_loaded(project, load_dataset(data), path=data)
    return folder


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_read_only_reads_and_refuses_every_change(tmp_path: Path, encrypted: bool) -> None:
    key = os.urandom(32) if encrypted else None
    folder = _project(tmp_path / "proj", key)
    before = (folder / DB_FILE_NAME).read_bytes()
    with Project.open(folder, key=key, read_only=True) as project:
        assert project.read_only
        assert [r.name for r in project.datasets()] == ["small.csv"]
        with pytest.raises(ProjectError, match="opened read-only") as err:
            project.set_setting("theme", "dark")
        assert "\n" not in str(err.value)
    assert (folder / DB_FILE_NAME).read_bytes() == before
    with Project.open(folder, key=key) as project:  # and it opens for writing as before
        assert not project.read_only
        project.set_setting("theme", "dark")


def test_read_only_works_while_another_connection_holds_the_write_lock(tmp_path: Path) -> None:
    folder = _project(tmp_path / "proj", None)
    side = sqlite3.connect(folder / DB_FILE_NAME, isolation_level=None)
    try:
        side.execute("BEGIN EXCLUSIVE")
        side.execute("UPDATE datasets SET name = 'renamed.csv'")  # not committed: never seen
        with Project.open(folder, read_only=True) as project:
            assert [r.name for r in project.datasets()] == ["small.csv"]
    finally:
        side.execute("ROLLBACK")
        side.close()


def test_read_only_refuses_a_store_that_needs_a_migration(tmp_path: Path) -> None:
    folder = _project(tmp_path / "proj", None)
    with sqlite3.connect(folder / DB_FILE_NAME) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    with pytest.raises(ProjectError, match="needs an upgrade .* read-only"):
        Project.open(folder, read_only=True)
