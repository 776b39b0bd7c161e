"""Each diversity and closeness measure on a tiny table worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench.core.risk import equivalence_classes, measure_risk
from workbench.core.risk.diversity import class_value_counts, column_codes, satisfies_recursive_cl
from workbench.core.risk.population import hypergeometric_p1, population_uniqueness
from workbench.core.risk.solver import digamma, trigamma

# Two classes over (zip): A has 4 records, B has 2.
#   A: disease flu, flu, flu, cold     salary 1, 1, 2, 3
#   B: disease cold, hiv               salary 3, 3
# Whole table: flu 3/6, cold 2/6, hiv 1/6; salary 1: 2/6, 2: 1/6, 3: 3/6.
TINY = pd.DataFrame(
    {
        "zip": ["A", "A", "A", "A", "B", "B"],
        "disease": ["flu", "flu", "flu", "cold", "cold", "hiv"],
        "salary": [1, 1, 2, 3, 3, 3],
    }
)


def _measures() -> tuple:
    return measure_risk(TINY, ["zip"], ["disease", "salary"], recursive_l=2, population_size=6).sensitive


def test_k_and_prosecutor_risk_by_hand() -> None:
    m = measure_risk(TINY, ["zip"], population_size=6, threshold=0.3)
    assert m.k == 2
    assert m.sample.average_prosecutor_risk == pytest.approx(2 / 6)  # 2 classes / 6 records
    assert m.sample.highest_risk == 0.5 and m.sample.lowest_risk == 0.25
    assert m.sample.prosecutor.records_at_risk == pytest.approx(2 / 6)  # class B: 1/2 > 0.3 (A's 1/4 is not)
    assert m.sample.sample_uniques == 0 and m.population.dankar == 0.0


def test_distinct_and_entropy_l_by_hand() -> None:
    disease, _ = _measures()
    assert disease.distinct_l == 2  # A: {flu, cold}, B: {cold, hiv}
    # A: p = (3/4, 1/4): H = -(0.75 ln 0.75 + 0.25 ln 0.25); B: (1/2, 1/2): H = ln 2 (larger)
    h_a = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert disease.entropy_l == pytest.approx(math.exp(h_a), abs=1e-12)


def test_recursive_cl_by_hand() -> None:
    disease, _ = _measures()
    # l = 2: A: r1 = 3, r2.. = 1 -> 3; B: 1 / 1 -> 1. The table needs c > 3.
    assert disease.recursive_c == pytest.approx(3.0)
    ec = equivalence_classes(TINY, ["zip"])
    codes, dictionary = column_codes(TINY_ARROW.column("disease"))
    cv = class_value_counts(ec, codes, len(dictionary))
    assert satisfies_recursive_cl(cv, 3.0, 2).tolist() == [False, True]  # strict: 3 < 3 * 1 fails
    assert satisfies_recursive_cl(cv, 3.01, 2).tolist() == [True, True]
    assert satisfies_recursive_cl(cv, 100.0, 3).tolist() == [False, False]  # two values per class only


def test_equal_distance_t_by_hand() -> None:
    disease, _ = _measures()
    # A: flu 3/4 vs 1/2, cold 1/4 vs 1/3, hiv 0 vs 1/6: (1/4 + 1/12 + 1/6) / 2 = 1/4
    # B: flu 0 vs 1/2, cold 1/2 vs 1/3, hiv 1/2 vs 1/6: (1/2 + 1/6 + 1/3) / 2 = 1/2
    assert disease.t_distance == "equal"
    assert disease.t_closeness == pytest.approx(0.5, abs=1e-12)


def test_ordered_distance_t_by_hand() -> None:
    _, salary = _measures()
    # order 1 < 2 < 3, q = (2/6, 1/6, 3/6), m - 1 = 2
    # A: p = (2/4, 1/4, 1/4): cumulative differences 1/6, 1/6 + 1/12 = 1/4, 0 -> (1/6 + 1/4) / 2 = 5/24
    # B: p = (0, 0, 1): -1/3, -1/2, 0 -> (1/3 + 1/2) / 2 = 5/12
    assert salary.t_distance == "ordered"
    assert salary.t_closeness == pytest.approx(5 / 12, abs=1e-12)


def test_ordered_distance_follows_a_given_order() -> None:
    m = measure_risk(TINY, ["zip"], ["disease"], orders={"disease": ["hiv", "cold", "flu"]})
    # order hiv < cold < flu, q = (1/6, 2/6, 3/6); B: p = (1/2, 1/2, 0): 1/3, 1/3 + 1/6 = 1/2 -> (1/3 + 1/2) / 2
    assert m.sensitive[0].t_distance == "ordered"
    assert m.sensitive[0].t_closeness == pytest.approx(5 / 12, abs=1e-12)


def test_hypergeometric_p1_by_hand() -> None:
    # N = 10, K = 3, n = 4: P(X = 1) = C(3,1) C(7,3) / C(10,4) = 3 * 35 / 210 = 0.5
    assert hypergeometric_p1(10, np.array([3]), 4)[0] == pytest.approx(0.5, abs=1e-15)
    assert hypergeometric_p1(10, np.array([1]), 10)[0] == pytest.approx(1.0)  # the whole population sampled
    assert hypergeometric_p1(10, np.array([2]), 10)[0] == 0.0


def test_arx_gamma_functions() -> None:
    assert digamma(1.0) == pytest.approx(-0.5772156649015329, abs=1e-12)
    # ARX reduces trigamma's argument to 8 but adds the asymptotic tail only from 12: below 12 the tail is missing
    # (trigamma(1) is 1/1 + ... + 1/49, not pi^2/6; trigamma(10) is 0). The Pitman estimate depends on it.
    assert trigamma(1.0) == sum(1.0 / (i * i) for i in range(1, 8))
    assert trigamma(10.0) == 0.0
    assert trigamma(12.0) == pytest.approx(0.0869018728717684, abs=1e-13)  # from 12 on: the true value


def test_population_uniqueness_without_uniques_is_zero() -> None:
    r = population_uniqueness(np.array([2, 3]), np.array([4, 1]), sampling_fraction=0.1)
    assert r.dankar == 0.0 and r.dankar_model == "DANKAR"


TINY_ARROW = __import__("pyarrow").Table.from_pandas(TINY, preserve_index=False)


def test_distinction_separation_equal_arx_toy(arx_toy: dict) -> None:
    """ARX's TestRiskQuasiIdentifiers (hand-computed there), every combination of the toy table's columns."""
    import pandas as pd

    from workbench.core.risk.distribution import distinction_separation

    rows = arx_toy["data"]
    table = pd.DataFrame(rows[1:], columns=rows[0])
    expected = {tuple(k.strip("[]").split(", ")): tuple(v) for k, v in arx_toy["distinction_separation"].items()}
    got = distinction_separation(table, list(expected))
    for group, (distinction, separation) in expected.items():
        assert got[group] == pytest.approx((distinction, separation), abs=1e-12), group


def test_risk_distribution_bins_as_arx() -> None:
    from workbench.core.risk.distribution import RISK_HIGH, risk_distribution

    d = risk_distribution([1, 2, 5, 10], [3, 1, 2, 1])  # 25 records: risks 1, 0.5, 0.2, 0.1
    shares = dict(zip(RISK_HIGH, d.records, strict=True))
    assert shares[1.0] == 3 / 25 and shares[0.5] == 2 / 25 and shares[0.2] == 10 / 25 and shares[0.1] == 10 / 25
    assert sum(d.records) == pytest.approx(1.0) and d.cumulative[-1] == 1.0
    assert len(d.low) == len(d.high) == 24 and d.cumulative == tuple(sorted(d.cumulative))
