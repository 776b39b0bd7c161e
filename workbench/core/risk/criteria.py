"""What a generalization must satisfy (ARX's privacy models) and how one lattice node is checked against it.

The checks are ARX's (``criteria/`` and ``framework/check/groupify/HashGroupify``):

- k-anonymity: a class smaller than k is an outlier.
- l-diversity of one sensitive column: distinct (fewer than l distinct values: outlier), entropy (ARX's Shannon
  test ``sum f ln f <= n (ln n - ln l)`` with at least l values) or recursive (c,l) (``r1 < c (r_l + ... + r_m)``).
- t-closeness: the class's EMD to the whole table's distribution (equal distance, or ordered distance for ordered
  values) above t: outlier.
- average re-identification risk (ARX's ``AverageReidentificationRisk``, a sample-based model): after the outliers
  above, the smallest classes are suppressed one after another until ``classes / records <= threshold`` (ARX's
  ``1 / average class size``); classes of equal size go in the order of their first tuple. ARX finds the number
  of classes by a binary search over the same order; the number suppressed here is the least that satisfies it.

A node is accepted when the outliers' records are at most the suppression limit (``floor(limit x n)``).

Monotonicity (ARX's flags, ``PrivacyCriterion.isMonotonicWithSuppression``): k-anonymity and distinct l-diversity
are monotonic with suppression: if a node has more of their outliers than the limit, so has every node below it,
and the search drops them all. Entropy and recursive l-diversity, t-closeness and the average risk are not (ARX
flags them non-monotonic with suppression): a node may be accepted because its failing classes are few enough to
suppress while the node above it, where those records are merged into a class that now fails, is refused. So a
node refused only by those is dropped alone, never the nodes below it, and an accepted node says nothing of the
nodes above it; the search then has more nodes to check, and stays exact (tests/risk/test_search_targets.py).
ARX's average-risk model is declared monotonic; it is treated as non-monotonic here (safe, and exact). With a
suppression limit of 0 every model is monotonic with generalization (ARX's ``isMonotonicWithGeneralization``), and
any refused node drops the nodes below it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.risk.diversity import ClassValueCounts, equal_distance_emd, ordered_distance_emd
from workbench.core.risk.diversity import satisfies_recursive_cl as _recursive_ok

__all__ = ["L_VARIANTS", "NodeCheck", "Target", "check_node"]

L_VARIANTS = ("distinct", "entropy", "recursive")


@dataclass(frozen=True, slots=True)
class Target:
    """The privacy models a generalization must satisfy, and how many records may be suppressed (a share)."""

    k: int = 2
    max_suppression: float = 0.0
    l: int | None = None  # noqa: E741 - the model's name
    l_variant: str = "distinct"
    c: float = 3.0  # recursive (c,l)-diversity
    t: float | None = None
    average_risk: float | None = None

    def validate(self, has_sensitive: bool) -> None:
        """Refuse a target that cannot be checked, with the fix."""
        if self.k < 1:
            raise ValueError("k must be at least 1")
        if not 0.0 <= self.max_suppression <= 1.0:
            raise ValueError("the suppression limit is a share of the records, in [0, 1]")
        if self.l is not None and self.l < 1:
            raise ValueError("l must be at least 1")
        if self.l_variant not in L_VARIANTS:
            raise ValueError(f"l-diversity is one of {', '.join(L_VARIANTS)}")
        if self.l_variant == "recursive" and self.c <= 0:
            raise ValueError("c of recursive (c,l)-diversity must be positive")
        if self.t is not None and not 0.0 <= self.t <= 1.0:
            raise ValueError("t of t-closeness is in [0, 1]")
        if self.average_risk is not None and not 0.0 <= self.average_risk <= 1.0:
            raise ValueError("the average-risk threshold is in [0, 1]")
        if (self.l is not None or self.t is not None) and not has_sensitive:
            raise ValueError("l-diversity and t-closeness need a sensitive column: name one")

    @property
    def needs_sensitive(self) -> bool:
        return self.l is not None or self.t is not None

    @property
    def monotonic(self) -> bool:
        """Whether the whole target is monotonic with suppression (then an accepted node accepts every node above)."""
        non_monotonic_l = self.l is not None and self.l_variant != "distinct"
        return not non_monotonic_l and self.t is None and self.average_risk is None

    def suppression_limit(self, num_records: int) -> int:
        """ARX's ``absMaxOutliers``: ``floor(limit x n)``."""
        return num_records if self.max_suppression == 1.0 else int(math.floor(self.max_suppression * num_records))

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"k": self.k, "max_suppression": self.max_suppression}
        if self.l is not None:
            out.update(l=self.l, l_variant=self.l_variant)
            if self.l_variant == "recursive":
                out["c"] = self.c
        if self.t is not None:
            out["t"] = self.t
        if self.average_risk is not None:
            out["average_risk"] = self.average_risk
        return out


@dataclass(frozen=True, slots=True)
class NodeCheck:
    """One node checked: ``monotonic_ok`` False means the monotonic models alone already need more suppression
    than allowed (every node below fails too); ``ok`` whether the node is accepted; ``suppressed`` the records
    suppressed; ``outliers`` a mask over the lattice's distinct tuples (None when the monotonic check failed)."""

    monotonic_ok: bool
    ok: bool
    suppressed: int
    outliers: np.ndarray | None = field(default=None, repr=False, compare=False)


def _value_counts(
    ids: np.ndarray, weights: np.ndarray, values: np.ndarray, num_values: int, sizes: np.ndarray, overall: np.ndarray
) -> ClassValueCounts:
    """Weighted (class, value, count) triples, sorted by class then decreasing count."""
    key = ids * np.int64(max(num_values, 1)) + values
    pairs, inverse = np.unique(key, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=weights).astype(np.int64)
    cls, value = pairs // max(num_values, 1), pairs % max(num_values, 1)
    order = np.lexsort((-counts, cls))
    return ClassValueCounts(cls[order], value[order], counts[order], sizes.astype(np.int64), overall)


def _entropy_ok(cv: ClassValueCounts, l: int) -> np.ndarray:  # noqa: E741
    """ARX's ``EntropyLDiversity.isAnonymous`` (Shannon): at least l values and ``sum f ln f <= n (ln n - ln l)``."""
    n_classes = cv.class_sizes.shape[0]
    f = cv.count.astype(np.float64)
    sum_f_ln_f = np.bincount(cv.cls, weights=f * np.log(f), minlength=n_classes)
    n = cv.class_sizes.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = n * (np.log(n) - math.log(l))
    distinct = np.bincount(cv.cls, minlength=n_classes)
    return (distinct >= l) & (sum_f_ln_f <= bound)


def _average_risk_suppression(sizes: np.ndarray, kept: np.ndarray, threshold: float) -> np.ndarray:
    """The classes to suppress (smallest first, ties by id) so that ``classes / records <= threshold`` on the rest."""
    remaining = np.flatnonzero(kept & (sizes > 0))
    order = remaining[np.argsort(sizes[remaining], kind="stable")]
    records = float(sizes[order].sum())
    classes = float(order.shape[0])
    cum = np.concatenate(([0.0], np.cumsum(sizes[order])))
    left_records = records - cum
    left_classes = classes - np.arange(order.shape[0] + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fulfilled = (left_records == 0) | (1.0 / (left_records / left_classes) <= threshold)
    first = int(np.argmax(fulfilled))  # fulfilled at the end (everything suppressed), so argmax finds one
    out = np.zeros(sizes.shape[0], dtype=bool)
    out[order[:first]] = True
    return out


_DENSE_CELLS = 4_000_000  # classes x sensitive values up to which the counts are one dense matrix


def _sensitive_fails(
    ids: np.ndarray, space: int, weights: np.ndarray, values: np.ndarray, sizes: np.ndarray, sensitive: Any,
    target: Target,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Per class: failing distinct l (monotonic), and failing entropy or recursive l or t (not monotonic)."""
    nv = sensitive.num_values
    if space * nv > _DENSE_CELLS:  # many classes and values: sparse (class, value) triples
        cv = _value_counts(ids, weights, values, nv, sizes, sensitive.overall)
        distinct = np.bincount(cv.cls, minlength=space)
        other = np.zeros(space, dtype=bool)
        if target.l is not None and target.l_variant == "entropy":
            other |= ~_entropy_ok(cv, target.l)
        elif target.l is not None and target.l_variant == "recursive":
            other |= ~_recursive_ok(cv, target.c, target.l)
        if target.t is not None:
            ranks = sensitive.ranks
            other |= (equal_distance_emd(cv) if ranks is None else ordered_distance_emd(cv, ranks)) > target.t
    else:
        counts = np.bincount(ids * nv + values, weights=weights, minlength=space * nv).reshape(space, nv)
        present = counts > 0
        distinct = present.sum(axis=1)
        other = _dense_non_monotonic(counts, present, distinct, sizes, sensitive, target)
    mono = distinct < target.l if target.l is not None and target.l_variant == "distinct" else np.zeros(space, bool)
    return mono, other


def _dense_non_monotonic(
    counts: np.ndarray, present: np.ndarray, distinct: np.ndarray, sizes: np.ndarray, sensitive: Any, target: Target
) -> np.ndarray:
    """The non-monotonic checks on a dense classes x values count matrix (the same formulas as the sparse ones)."""
    other = np.zeros(counts.shape[0], dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        if target.l is not None and target.l_variant == "entropy":
            f_ln_f = np.where(present, counts * np.log(np.where(present, counts, 1.0)), 0.0).sum(axis=1)
            other |= ~((distinct >= target.l) & (f_ln_f <= sizes * (np.log(sizes) - math.log(target.l))))
        elif target.l is not None and target.l_variant == "recursive":
            ordered = -np.sort(-counts, axis=1)
            tail = ordered[:, target.l - 1 :].sum(axis=1)
            other |= ~((distinct >= target.l) & (ordered[:, 0] < target.c * tail))
        if target.t is not None:
            p = counts / sizes[:, None]
            if sensitive.ranks is None:  # ARX's form: (1 + sum over the present values of |p - q| - q) / 2
                emd = (1.0 + np.where(present, np.abs(p - sensitive.overall) - sensitive.overall, 0.0).sum(axis=1)) / 2
            else:
                m = counts.shape[1]
                in_order = np.empty_like(p)
                in_order[:, sensitive.ranks] = p
                q_cum = np.cumsum(sensitive.overall[np.argsort(sensitive.ranks)])
                emd = np.abs(np.cumsum(in_order, axis=1) - q_cum).sum(axis=1) / (m - 1) if m > 1 else 0.0 * sizes
            other |= emd > target.t
    return other


def check_node(lattice: object, node: tuple[int, ...] | np.ndarray, target: Target, limit: int) -> NodeCheck:
    """Check ``node`` of ``lattice`` (a :class:`~workbench.core.risk.lattice.Lattice`) against ``target``."""
    sensitive = getattr(lattice, "sensitive", None)
    _mapped, weights, values = lattice.tuples  # type: ignore[attr-defined]
    compact = target.needs_sensitive or target.average_risk is not None
    first_order = target.average_risk is not None  # equal sizes are suppressed in the order of first tuples
    ids, space = lattice.tuple_classes(node, compact=compact, first_order=first_order)  # type: ignore[attr-defined]
    sizes = np.bincount(ids, weights=weights, minlength=space)
    failing = sizes < target.k
    other = None
    if target.needs_sensitive:
        assert sensitive is not None and values is not None
        mono, other = _sensitive_fails(ids, space, weights, values, sizes, sensitive, target)
        failing |= mono
    outliers = failing[ids]
    suppressed = int(weights[outliers].sum())
    if suppressed > limit:
        return NodeCheck(False, False, suppressed)
    if other is not None or target.average_risk is not None:
        if other is not None:
            failing |= other
        if target.average_risk is not None:
            failing |= _average_risk_suppression(sizes, ~failing, target.average_risk)
        outliers = failing[ids]
        suppressed = int(weights[outliers].sum())
    # Without suppression every model here is monotonic with generalization (ARX's flags; the average risk only
    # falls as classes merge): a refused node then refuses every node below it.
    return NodeCheck(limit > 0 or suppressed == 0, suppressed <= limit, suppressed, outliers)
