"""Hierarchies (ARX CSV round trip, builders) and the lattice search (exhaustive check, ARX's own test cases)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.risk.conftest import ADULT
from workbench.core.risk.hierarchy import (
    Hierarchy,
    date_hierarchy,
    interval_hierarchy,
    masking_hierarchy,
    ordered_hierarchy,
    read_arx_csv,
    read_arx_folder,
    write_arx_csv,
)
from workbench.core.risk.lattice import Lattice
from workbench.core.risk.search import search_k_anonymity


def test_arx_csv_round_trip(tmp_path: Path) -> None:
    h = Hierarchy("city", (("Köln", "NRW", "*"), ("a;b", 'quote "x"', "*"), ("Bonn", "NRW", "*")))
    path = tmp_path / "hierarchy_city.csv"
    text = write_arx_csv(h, path)
    assert read_arx_csv(path) == h
    assert write_arx_csv(read_arx_csv(path)) == text
    assert path.read_text(encoding="utf-8").splitlines()[0] == "Köln;NRW;*"


def test_adult_hierarchies_read_back_exactly(tmp_path: Path) -> None:
    if not ADULT.is_file():
        pytest.skip(f"ARX's Adult extract is not available: {ADULT} is absent (../shared/eval)")
    for source in sorted(ADULT.parent.glob("adult_hierarchy_*.csv")):
        h = read_arx_csv(source)
        copy = tmp_path / source.name
        write_arx_csv(h, copy)
        assert read_arx_csv(copy) == h
        assert copy.read_text(encoding="utf-8").split() == source.read_text(encoding="utf-8").split()
    age = read_arx_csv(ADULT.parent / "adult_hierarchy_age.csv")
    assert age.column == "age" and age.height == 5 and age.mapping(4)["39"] == "*" and age.is_monotonic()


def test_builders() -> None:
    ages = interval_hierarchy("age", [23, 37, 39, 41], [5, 10, 20])
    assert (
        ages.mapping(1)["37"] == "[35, 40["
        and ages.mapping(2)["37"] == "[30, 40["
        and ages.mapping(3)["41"] == "[40, 60["
    )
    assert ages.mapping(4)["23"] == "*" and ages.is_monotonic()
    with pytest.raises(ValueError, match="multiple"):
        interval_hierarchy("age", [1], [5, 7])
    dates = date_hierarchy("visit", ["2021-03-04", "2019-12-31"])
    assert dates.rows[0] == ("2019-12-31", "2019-12", "2019", "2010-2019", "*")
    assert dates.mapping(3)["2021-03-04"] == "2020-2029" and dates.is_monotonic()
    zips = masking_hierarchy("zip", ["10115", "10117", "8001"])
    assert zips.mapping(1)["10115"] == "1011*" and zips.mapping(2)["10117"] == "101**"
    assert zips.mapping(1)["8001"] == "*800*" and zips.mapping(5)["8001"] == "*****" and zips.height == 7
    grades = ordered_hierarchy("grade", ["A", "B", "C", "D", "E"], [2, 4])
    assert grades.mapping(1)["B"] == "A-B" and grades.mapping(2)["C"] == "A-D" and grades.mapping(1)["E"] == "E"
    with pytest.raises(ValueError, match="twice"):
        Hierarchy("x", (("a", "*"), ("a", "*")))


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, dict[str, Hierarchy]]:
    rng = np.random.default_rng(3)
    n = 400
    table = pd.DataFrame(
        {
            "age": rng.integers(18, 70, n).astype(str),
            "zip": rng.choice(["10115", "10117", "10119", "10243", "10245", "12043"], n),
            "sex": rng.choice(["F", "M"], n),
        }
    )
    hierarchies = {
        "age": interval_hierarchy("age", table["age"], [5, 10, 20]),
        "zip": masking_hierarchy("zip", table["zip"]),
        "sex": Hierarchy("sex", (("F", "*"), ("M", "*"))),
    }
    return table, hierarchies


@pytest.mark.parametrize(("k", "suppression"), [(2, 0.0), (3, 0.02), (5, 0.05), (10, 0.0), (10, 0.1), (25, 0.04)])
def test_search_equals_exhaustive(small: tuple[pd.DataFrame, dict[str, Hierarchy]], k: int, suppression: float) -> None:
    table, hierarchies = small
    lattice = Lattice.build(table, hierarchies, ["age", "zip", "sex"])
    limit = int(np.floor(suppression * len(table)))
    best: tuple[Any, ...] | None = None
    for node in itertools.product(*(range(h) for h in lattice.heights)):
        # exhaustive: the plain class sizes of the generalized table, no pruning
        generalized = pd.DataFrame(
            {
                q: lattice.generalized_column(i, lv)
                for i, (q, lv) in enumerate(zip(["age", "zip", "sex"], node, strict=True))
            }
        )
        sizes = generalized.groupby(list(generalized.columns)).size()
        outliers = int(sizes[sizes < k].sum())
        if outliers <= limit:
            key = (lattice.loss(node), sum(node), node)
            best = key if best is None or key < best else best
    result = search_k_anonymity(lattice, k, suppression)
    assert best is not None and result.levels == best[2]
    assert result.information_loss == best[0]
    assert result.nodes_checked < lattice.size


def test_search_equals_arx_on_adult(adult: Any) -> None:
    """ARX's TestAnonymizationKAnonymity cases on adult.csv (Metric.createPrecomputedEntropyMetric(0.1, true)):
    the transformation and the information loss ARX finds, bit for bit."""
    hierarchies = read_arx_folder(ADULT.parent, adult.column_names, prefix="adult_")
    lattice = Lattice.build(adult, hierarchies, adult.column_names)
    cases = [
        (5, 0.04, 255559.85455731067, (1, 0, 1, 1, 3, 2, 2, 0, 1)),
        (100, 0.04, 379417.3460570988, (1, 1, 1, 1, 3, 2, 2, 1, 1)),
        (5, 0.0, 407289.5388925293, (1, 2, 1, 1, 3, 2, 2, 1, 1)),
        (100, 0.0, 453196.8932458743, (0, 4, 1, 1, 3, 2, 2, 1, 1)),
    ]
    for k, suppression, loss, levels in cases:
        result = search_k_anonymity(lattice, k, suppression)
        assert result.levels == levels, (k, suppression)
        assert result.information_loss == loss, (k, suppression)
        assert result.suppressed_records <= result.suppression_limit == int(suppression * 30162)
