from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.settings import AppSettings, SettingsStore


def test_defaults_round_trip_and_unknown_keys_kept(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "s.json")
    assert store.load() == AppSettings()
    store.path.write_text(json.dumps({"auto_lock_minutes": 5, "from_the_future": [1, 2], "schema_version": 9}))
    s = store.load()
    assert s.auto_lock_minutes == 5 and s.extra == {"from_the_future": [1, 2]}
    store.update(device="cpu")
    raw = json.loads(store.path.read_text())
    assert raw["device"] == "cpu" and raw["from_the_future"] == [1, 2] and raw["auto_lock_minutes"] == 5


def test_damaged_file_gives_defaults_and_a_problem(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "s.json")
    store.path.write_text("{not json")
    assert store.load() == AppSettings()
    assert store.problem and "cannot be read" in store.problem
    assert store.path.read_text() == "{not json", "a damaged file is never overwritten silently"
    store.path.write_text(json.dumps({"auto_lock_minutes": -3}))
    assert store.load().auto_lock_minutes == 15 and "auto_lock_minutes" in (store.problem or "")


def test_invalid_values_are_refused(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "s.json")
    with pytest.raises(WorkbenchError, match="device"):
        store.update(device="tpu")
    assert not store.path.exists()
