"""Views of a partition for the Risk page and the report: ARX's risk distribution and, per quasi-identifier,
distinction and separation.

- Risk distribution (ARX's ``RiskModelSampleRiskDistribution``): each record's prosecutor risk is 1 / its class
  size; the records are counted into ARX's 24 risk intervals ``]low, high]`` (0 .. 1e-8, ... 0.334 .. 0.5,
  0.5 .. 1), as shares of the records, and cumulatively.
- Distinction and separation of a column (ARX's ``RiskModelAttributes`` with ``TestRiskQuasiIdentifiers``):
  distinction is the number of distinct values over the records; separation is the share of pairs of records
  whose values differ, ``1 - sum_v c_v (c_v - 1) / (n (n - 1))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.core.risk.classes import equivalence_classes

__all__ = ["RISK_HIGH", "RISK_LOW", "RiskDistribution", "distinction_separation", "risk_distribution"]

RISK_LOW = (0.0, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1,
            0.125, 0.143, 0.167, 0.2, 0.25, 0.334, 0.5)  # fmt: skip
RISK_HIGH = RISK_LOW[1:] + (1.0,)


@dataclass(frozen=True, slots=True)
class RiskDistribution:
    """Share of the records whose risk is in each of ARX's intervals ``]low[i], high[i]]``, and cumulatively."""

    low: tuple[float, ...]
    high: tuple[float, ...]
    records: tuple[float, ...]
    cumulative: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"low": list(self.low), "high": list(self.high), "records": list(self.records),
                "cumulative": list(self.cumulative)}  # fmt: skip


def risk_distribution(sizes: Sequence[int] | np.ndarray, counts: Sequence[int] | np.ndarray) -> RiskDistribution:
    """The risk distribution of a class-size histogram (sizes and how many classes have each), as ARX bins it."""
    sizes_a = np.asarray(sizes, dtype=np.int64)
    counts_a = np.asarray(counts, dtype=np.int64)
    total = float((sizes_a * counts_a).sum())
    shares = [0.0] * len(RISK_HIGH)
    for size, count in zip(sizes_a.tolist(), counts_a.tolist(), strict=True):
        index = int(np.searchsorted(RISK_HIGH, 1.0 / size, side="left"))  # Java's binarySearch insertion point
        shares[index] += float(count * size) / total
    cumulative, running = [], 0.0
    for share in shares:
        running = min(running + share, 1.0)  # ARX: "fix minor rounding issues"
        cumulative.append(running)
    return RiskDistribution(RISK_LOW, RISK_HIGH, tuple(shares), tuple(cumulative))


def distinction_separation(
    table: Any, groups: Sequence[str | Sequence[str]]
) -> dict[str | tuple[str, ...], tuple[float, float]]:
    """Per column, or per group of columns taken together, its distinction and separation (module docstring)."""
    out: dict[str | tuple[str, ...], tuple[float, float]] = {}
    for group in groups:
        column: str | tuple[str, ...] = group if isinstance(group, str) else tuple(group)
        classes = equivalence_classes(table, [column] if isinstance(column, str) else list(column))
        n = float(classes.num_records)
        if n < 2:
            out[column] = (float(classes.num_classes) / n if n else 0.0, 0.0)
            continue
        sizes = classes.sizes.astype(np.float64)
        out[column] = (classes.num_classes / n, 1.0 - float((sizes * (sizes - 1.0)).sum()) / (n * (n - 1.0)))
    return out
