"""The command line refuses a misread file with a hint, and loads it once the analyst answers (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_workbench

CANARY = "CANARY-5b0a"
HEADERLESS = f"1,{CANARY},34\n2,Bob,51\n3,Carol,28\n4,Dan,40\n"


def test_info_refuses_a_headerless_file_without_printing_its_first_row(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADERLESS)
    refused = run_workbench("info", str(path))
    assert refused.returncode == 2
    assert "first row looks like data" in refused.stderr and "--no-header" in refused.stderr
    assert CANARY not in refused.stdout + refused.stderr

    loaded = run_workbench("info", str(path), "--no-header", "--json")
    assert loaded.returncode == 0, loaded.stderr
    info = json.loads(loaded.stdout)
    assert [c["name"] for c in info["columns"]] == ["column_1", "column_2", "column_3"] and info["rows"] == 4

    forced = run_workbench("info", str(path), "--header", "--json")
    assert forced.returncode == 0, forced.stderr
    assert any("looks like data" in w for w in json.loads(forced.stdout)["warnings"])


def test_info_refuses_an_unclosed_quote_unless_accepted(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(f'id,note\n1,ok\n2,"{CANARY}\n3,x\n')
    refused = run_workbench("info", str(path))
    assert refused.returncode == 2
    assert "line 3" in refused.stderr and "--accept-unclosed-quote" in refused.stderr
    assert CANARY not in refused.stderr
    accepted = run_workbench("info", str(path), "--accept-unclosed-quote")
    assert accepted.returncode == 0, accepted.stderr
    assert "warning: a quote opened on line 3" in accepted.stdout


def test_info_refuses_mixed_encodings_until_one_is_chosen(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes("name\nJosé\n".encode() + "Renée\n".encode("latin-1"))
    refused = run_workbench("info", str(path))
    assert refused.returncode == 2
    assert "mixes encodings" in refused.stderr and "offset 8" in refused.stderr and "--encoding" in refused.stderr
    chosen = run_workbench("info", str(path), "--encoding", "latin-1")
    assert chosen.returncode == 0, chosen.stderr
    assert "latin-1" in chosen.stdout


def test_header_and_no_header_exclude_each_other(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADERLESS)
    both = run_workbench("info", str(path), "--header", "--no-header")
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_a_dataset_added_with_no_header_reloads_from_the_project(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADERLESS)
    project = tmp_path / "proj"
    assert run_workbench("project", "init", str(project)).returncode == 0
    added = run_workbench("add", str(path), "--project", str(project), "--no-header")
    assert added.returncode == 0, added.stderr
    again = run_workbench("info", "--dataset", "people.csv", "--project", str(project), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["columns"][0]["name"] == "column_1"
