"""pycanon's published values on its own data (github IFCA-Advanced-Computing/pycanon at
3561f350b3a145f1ae487851580bf881980b6529, tests/test_anonymity.py, class TestMathScores; data/processed/
StudentsMath_Score.csv and StudentsMath_Score_k5.csv, quasi-identifiers Teacher, Gender, Ethnic, Freeredu,
wesson; sensitive Score).

The data is third-party and never committed: the tests read it from ``$WORKBENCH_PYCANON_DATA`` or
``../shared/eval/pycanon/`` (the repository's ``data/`` folder) and skip when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.risk.conftest import EVAL
from workbench.core.risk import equivalence_classes, measure_risk

QI = ["Teacher", "Gender", "Ethnic", "Freeredu", "wesson"]


def _data(name: str) -> pd.DataFrame:
    folder = Path(os.environ.get("WORKBENCH_PYCANON_DATA", EVAL / "pycanon"))
    path = folder / "processed" / name
    if not path.is_file():
        pytest.skip(f"pycanon's data is not available: {path} is absent (set WORKBENCH_PYCANON_DATA)")
    return pd.read_csv(path)


def test_students_math_scores_raw() -> None:
    """pycanon: k 1, l 1, entropy l 1, t 0.4165919952210274 (Score is numeric: the ordered distance)."""
    m = measure_risk(_data("StudentsMath_Score.csv"), QI, ["Score"])
    s = m.sensitive[0]
    assert m.k == 1 and s.distinct_l == 1 and s.entropy_l == pytest.approx(1.0, abs=1e-12)
    assert s.t_distance == "ordered" and s.t_closeness == pytest.approx(0.4165919952210274, abs=1e-12)


def test_students_math_scores_k5() -> None:
    """pycanon: the 5-anonymous release has k = 5."""
    assert equivalence_classes(_data("StudentsMath_Score_k5.csv"), QI).k == 5
