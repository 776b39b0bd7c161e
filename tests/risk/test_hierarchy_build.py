"""Building one column's hierarchy with a chosen builder (issue 17): the use case behind the Risk page's editor and
`workbench hierarchy`; each kind, its parameter errors (never quoting a value), and the CLI's ARX CSV read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_workbench
from workbench.core.data.load import load_dataset
from workbench.core.errors import WorkbenchError
from workbench.core.risk.hierarchy import read_arx_csv
from workbench.services.risk import build_hierarchy, hierarchy_build_label

SECRET_GRADE = "Zebulon"  # a value that must never appear in an error message


@pytest.fixture
def data(tmp_path: Path) -> Path:
    lines = ["age,zip,day,grade"]
    for i in range(40):
        day = f"20{10 + i % 12}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        grade = SECRET_GRADE if i == 7 else "ABCDE"[i % 5]
        lines.append(f"{20 + i % 30},{10100 + i % 16},{day},{grade}")
    lines.append(",10100,2011-01-01,A")  # a missing age
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_each_kind_builds_nested_levels(data: Path) -> None:
    ds = load_dataset(data)
    age = build_hierarchy(ds, "age", "intervals", widths=[5, 10, 20])
    assert age.height == 5 and age.mapping(1)["23"] == "[20, 25[" and age.mapping(3)["49"] == "[40, 60["
    assert age.mapping(4)[""] == "*" and age.mapping(1)[""] == "" and age.is_monotonic()  # missing stays apart
    assert len(age.rows) == 31  # 30 ages and the missing one
    zips = build_hierarchy(ds, "zip", "masking", mask="#")
    assert zips.mapping(2)["10115"] == "101##" and zips.height == 7
    days = build_hierarchy(ds, "day", "dates", date_levels=["year", "decade"])
    assert days.height == 4 and days.mapping(1)["2013-04-04"] == "2013" and days.mapping(2)["2013-04-04"] == "2010-2019"
    assert build_hierarchy(ds, "day", "dates").height == 5
    grades = build_hierarchy(ds, "grade", "ordered", group_sizes=[2, 4])
    assert [r[0] for r in grades.rows] == ["A", "B", "C", "D", "E", SECRET_GRADE]
    assert grades.mapping(1)["C"] == "C-D" and grades.mapping(2)["E"] == f"E-{SECRET_GRADE}" and grades.is_monotonic()
    ages_ordered = build_hierarchy(ds, "age", "ordered", group_sizes=[10])  # numbers ordered by value, not as text
    assert ages_ordered.mapping(1)["20"] == "20-29" and ages_ordered.mapping(1)["29"] == "20-29"
    one = build_hierarchy(ds, "grade", "one-level")
    assert one.height == 2 and set(one.mapping(1).values()) == {"*"}
    assert hierarchy_build_label("intervals", widths=[5.0, 10.0, 20.0]) == "edited: intervals 5,10,20"
    assert hierarchy_build_label("ordered", group_sizes=[2, 4]) == "edited: ordered groups 2,4"


@pytest.mark.parametrize(
    ("column", "kind", "params", "says"),
    [
        ("grade", "intervals", {"widths": [5]}, "intervals need a numeric column: 6 of the 6 distinct values"),
        ("age", "intervals", {"widths": [10, 5]}, "interval widths must increase (10 then 5)"),
        ("age", "intervals", {"widths": [5, 12]}, "each width must be a multiple of the one before"),
        ("age", "intervals", {"widths": []}, "give at least one interval width"),
        ("age", "intervals", {"widths": [0, 5]}, "interval widths must be positive"),
        ("grade", "ordered", {"group_sizes": [2, 3]}, "each group size must be a multiple of the one before"),
        ("grade", "ordered", {"group_sizes": [4, 2]}, "group sizes must increase"),
        ("grade", "dates", {}, "dates need ISO dates (YYYY-MM-DD) in 'grade'"),
        ("day", "dates", {"date_levels": ["week"]}, "date levels are some of month, year, decade"),
        ("zip", "masking", {"mask": "**"}, "the mask is one visible character"),
        ("nope", "masking", {}, "no such column: nope"),
        ("age", "spiral", {}, "unknown hierarchy kind 'spiral'"),
    ],
)
def test_bad_parameters_are_clear_errors(data: Path, column: str, kind: str, params: dict, says: str) -> None:
    with pytest.raises(WorkbenchError) as info:
        build_hierarchy(load_dataset(data), column, kind, **params)
    assert says in str(info.value) and SECRET_GRADE not in str(info.value)


def test_cli_writes_the_arx_csv_the_service_builds(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "hierarchies" / "hierarchy_age.csv"
    out.parent.mkdir()
    args = ["--column", "age", "--kind", "intervals", "--widths", "5,10,20", "--out", str(out), "--json"]
    done = run_workbench("hierarchy", str(data), *args)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said == {"column": "age", "kind": "intervals", "what": "intervals 5,10,20", "values": 31, "levels": 5,
                    "out": str(out)}  # fmt: skip
    assert read_arx_csv(out) == build_hierarchy(load_dataset(data), "age", "intervals", widths=[5, 10, 20])
    again = run_workbench("hierarchy", str(data), "--column", "age", "--kind", "one-level", "--out", str(out))
    assert again.returncode == 2 and "exists: add --force" in again.stderr
    used = run_workbench("generalize", str(data), "--qi", "age", "--k", "5", "--hierarchies", str(out.parent),
                         "--max-suppression", "0.05", "--dry-run", "--json")  # fmt: skip
    assert used.returncode == 0, used.stderr
    # intervals of 5 hold 5 or 10 records; the one missing age stays apart up to * and is suppressed
    said = json.loads(used.stdout)
    assert said["levels"] == {"age": 1} and said["suppressed_records"] == 1


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--kind", "intervals", "--widths", "5,x"], "--widths takes comma-separated numbers"),
        (["--kind", "intervals", "--widths", "10,5"], "interval widths must increase (10 then 5)"),
        (["--kind", "ordered", "--group-sizes", "2.5"], "--group-sizes takes comma-separated numbers"),
    ],
)
def test_cli_bad_parameters_are_one_line_exit_2(data: Path, tmp_path: Path, extra: list[str], says: str) -> None:
    out = tmp_path / "h.csv"
    done = run_workbench("hierarchy", str(data), "--column", "age", *extra, "--out", str(out))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and says in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
