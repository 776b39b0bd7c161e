"""The equivalence classes, k, l and t equal a plain pandas groupby on the same (synthetic) table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.core.risk import equivalence_classes, measure_risk
from workbench.core.risk.sample import sample_risks


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    n = 2000
    return pd.DataFrame(
        {
            "age": rng.integers(20, 30, n),
            "sex": rng.choice(["F", "M"], n),
            "zip": rng.choice(["10115", "10117", "10119", None], n),
            "diagnosis": rng.choice(["flu", "asthma", "diabetes", "cancer", "covid"], n, p=[0.4, 0.2, 0.2, 0.1, 0.1]),
            "income": rng.choice([1000, 2000, 3000, 4000], n),
        }
    )


QI = ["age", "sex", "zip"]


def _groups(df: pd.DataFrame) -> pd.core.groupby.DataFrameGroupBy:
    return df.groupby(QI, dropna=False)


def test_classes_equal_groupby(table: pd.DataFrame) -> None:
    ec = equivalence_classes(table, QI)
    expected_sizes = _groups(table).size()
    assert ec.num_classes == len(expected_sizes)
    assert ec.k == int(expected_sizes.min())
    assert sorted(ec.sizes.tolist()) == sorted(expected_sizes.tolist())
    # Same partition: two rows share a class id exactly when pandas puts them in the same group.
    group_id = _groups(table).ngroup().to_numpy()
    pairs = set(zip(ec.class_of_row.tolist(), group_id.tolist(), strict=True))
    assert len(pairs) == ec.num_classes
    assert (ec.size_of_row() == _groups(table)["age"].transform("size").to_numpy()).all()


def test_sample_risks_equal_groupby(table: pd.DataFrame) -> None:
    sizes = _groups(table).size().to_numpy()
    s, c = np.unique(sizes, return_counts=True)
    risks = sample_risks(s, c, threshold=0.05)
    risk_of_record = 1.0 / _groups(table)["age"].transform("size").to_numpy()
    assert risks.average_prosecutor_risk == pytest.approx(risk_of_record.mean(), abs=1e-12)
    assert risks.highest_risk == risk_of_record.max()
    assert risks.prosecutor.records_at_risk == pytest.approx((risk_of_record > 0.05).mean(), abs=1e-12)
    assert risks.sample_uniqueness == pytest.approx((risk_of_record == 1.0).mean(), abs=1e-12)


def test_l_and_t_equal_groupby(table: pd.DataFrame) -> None:
    m = measure_risk(table, QI, ["diagnosis", "income"], recursive_l=2)
    diag, income = m.sensitive
    g = _groups(table)
    assert diag.distinct_l == int(g["diagnosis"].nunique().min())

    def entropy(values: pd.Series) -> float:
        p = values.value_counts(normalize=True).to_numpy()
        return float(np.exp(-(p * np.log(p)).sum()))

    assert diag.entropy_l == pytest.approx(float(g["diagnosis"].apply(entropy).min()), abs=1e-12)

    def ratio(values: pd.Series) -> float:
        r = values.value_counts().to_numpy()  # decreasing
        return float(r[0] / r[1:].sum()) if len(r) >= 2 else float("inf")

    assert diag.recursive_c == pytest.approx(float(g["diagnosis"].apply(ratio).max()), abs=1e-12)

    q = table["diagnosis"].value_counts(normalize=True)

    def equal_emd(values: pd.Series) -> float:
        p = values.value_counts(normalize=True).reindex(q.index, fill_value=0.0)
        return float(0.5 * (p - q).abs().sum())

    assert diag.t_distance == "equal"
    assert diag.t_closeness == pytest.approx(float(g["diagnosis"].apply(equal_emd).max()), abs=1e-12)

    order = sorted(table["income"].unique())
    qi_ = table["income"].value_counts(normalize=True).reindex(order, fill_value=0.0)

    def ordered_emd(values: pd.Series) -> float:
        p = values.value_counts(normalize=True).reindex(order, fill_value=0.0)
        return float(np.abs(np.cumsum((p - qi_).to_numpy())).sum() / (len(order) - 1))

    assert income.t_distance == "ordered"
    assert income.t_closeness == pytest.approx(float(g["income"].apply(ordered_emd).max()), abs=1e-12)
