"""l-diversity and t-closeness of a sensitive column within equivalence classes, vectorised.

The per-class frequencies of the sensitive values are counted once (``numpy.unique`` over (class, value) pairs), and
every measure is read from those counts:

- distinct l-diversity: the number of distinct sensitive values in the class; the table's l is the minimum.
- entropy l-diversity: ``exp(H)`` of the class's value distribution (natural log; ``H >= log l`` is ARX's test
  with its Shannon estimator); the table's l is the minimum.
- recursive (c,l)-diversity (ARX's ``RecursiveCLDiversity``): with frequencies sorted ``r1 >= r2 >= ... >= rm``, a
  class satisfies it when ``m >= l`` and ``r1 < c (r_l + ... + r_m)``; for a given l the smallest c that holds for
  every class is reported as the largest ratio ``r1 / (r_l + ... + r_m)`` (the criterion is strict, so c must
  exceed it).
- t-closeness: the Earth Mover's Distance between a class's distribution and the whole table's; equal distance
  ``EMD = 1/2 sum |p_i - q_i|`` for categorical values (ARX's ``EqualDistanceTCloseness``), ordered distance
  ``EMD = 1/(m-1) sum_i |sum_{j<=i} (p_j - q_j)|`` over the m values in their order (``OrderedDistanceTCloseness``)
  for ordered or numeric values. The table's t is the maximum over classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.core.risk.classes import EquivalenceClasses, column_codes, to_arrow

__all__ = [
    "SensitiveMeasures",
    "class_value_counts",
    "distinct_l",
    "entropy_l",
    "equal_distance_emd",
    "ordered_distance_emd",
    "ordered_value_ranks",
    "recursive_c",
    "satisfies_recursive_cl",
    "sensitive_measures",
]

_DENSE_CELLS = 4_000_000  # classes x values per block of the ordered-distance computation


@dataclass(frozen=True, slots=True)
class ClassValueCounts:
    """Sparse (class, value, count) triples sorted by class then by decreasing count, and the table's value
    distribution (``overall[v]`` = share of value code ``v``)."""

    cls: np.ndarray
    value: np.ndarray
    count: np.ndarray
    class_sizes: np.ndarray
    overall: np.ndarray


def class_value_counts(classes: EquivalenceClasses, value_codes: np.ndarray, num_values: int) -> ClassValueCounts:
    """Count each sensitive value code within each class."""
    key = classes.class_of_row * np.int64(max(num_values, 1)) + value_codes
    pairs, counts = np.unique(key, return_counts=True)
    cls = pairs // max(num_values, 1)
    value = pairs % max(num_values, 1)
    order = np.lexsort((-counts, cls))
    overall = np.bincount(value_codes, minlength=num_values).astype(np.float64)
    overall /= max(float(value_codes.shape[0]), 1.0)
    return ClassValueCounts(cls[order], value[order], counts[order].astype(np.int64), classes.sizes, overall)


def distinct_l(cv: ClassValueCounts) -> np.ndarray:
    """Distinct sensitive values per class."""
    return np.bincount(cv.cls, minlength=cv.class_sizes.shape[0])


def entropy_l(cv: ClassValueCounts) -> np.ndarray:
    """``exp(entropy)`` of each class's sensitive distribution (natural log)."""
    p = cv.count / cv.class_sizes[cv.cls]
    h = np.bincount(cv.cls, weights=-p * np.log(p), minlength=cv.class_sizes.shape[0])
    return np.exp(h)


def _rank_in_class(cv: ClassValueCounts) -> np.ndarray:
    """0-based rank of each triple within its class (by decreasing count)."""
    starts = np.flatnonzero(np.r_[True, cv.cls[1:] != cv.cls[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, cv.cls.shape[0]]))
    return np.arange(cv.cls.shape[0]) - first


def recursive_c(cv: ClassValueCounts, l: int) -> np.ndarray:  # noqa: E741 - the criterion's name
    """Per class, ``r1 / (r_l + ... + r_m)``: the class is recursive (c,l)-diverse iff c exceeds it (inf when the
    class has fewer than l distinct values)."""
    if l < 1:
        raise ValueError("l must be at least 1")
    n_classes = cv.class_sizes.shape[0]
    rank = _rank_in_class(cv)
    r1 = np.zeros(n_classes)
    r1[cv.cls[rank == 0]] = cv.count[rank == 0]
    tail = np.bincount(cv.cls, weights=np.where(rank >= l - 1, cv.count, 0), minlength=n_classes)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = r1 / tail
    ratio[distinct_l(cv) < l] = np.inf
    return ratio


def satisfies_recursive_cl(cv: ClassValueCounts, c: float, l: int) -> np.ndarray:  # noqa: E741
    """Per class, whether ``r1 < c (r_l + ... + r_m)`` with at least l distinct values (ARX's test)."""
    rank = _rank_in_class(cv)
    n_classes = cv.class_sizes.shape[0]
    r1 = np.zeros(n_classes)
    r1[cv.cls[rank == 0]] = cv.count[rank == 0]
    tail = np.bincount(cv.cls, weights=np.where(rank >= l - 1, cv.count, 0), minlength=n_classes)
    return (distinct_l(cv) >= l) & (r1 < c * tail)


def equal_distance_emd(cv: ClassValueCounts) -> np.ndarray:
    """Per class, the equal-distance EMD to the table's distribution: ``(1 + sum_present(|p - q| - q)) / 2``
    (ARX's form: the values absent from the class contribute their q)."""
    p = cv.count / cv.class_sizes[cv.cls]
    q = cv.overall[cv.value]
    return (1.0 + np.bincount(cv.cls, weights=np.abs(p - q) - q, minlength=cv.class_sizes.shape[0])) / 2.0


def ordered_distance_emd(cv: ClassValueCounts, rank_of_value: np.ndarray) -> np.ndarray:
    """Per class, the ordered-distance EMD: ``rank_of_value[v]`` is value code v's position (0 .. m-1) in order."""
    m = rank_of_value.shape[0]
    n_classes = cv.class_sizes.shape[0]
    if m <= 1:
        return np.zeros(n_classes)
    q_ordered = np.zeros(m)
    q_ordered[rank_of_value] = cv.overall
    q_cum = np.cumsum(q_ordered)
    out = np.empty(n_classes)
    block = max(1, _DENSE_CELLS // m)
    p_all = cv.count / cv.class_sizes[cv.cls]
    bounds = np.searchsorted(cv.cls, np.arange(0, n_classes + block, block))
    for i, start in enumerate(range(0, n_classes, block)):
        stop = min(start + block, n_classes)
        lo, hi = bounds[i], bounds[i + 1]
        dense = np.zeros((stop - start, m))
        dense[cv.cls[lo:hi] - start, rank_of_value[cv.value[lo:hi]]] = p_all[lo:hi]
        out[start:stop] = np.abs(np.cumsum(dense, axis=1) - q_cum).sum(axis=1) / (m - 1)
    return out


def ordered_value_ranks(dictionary: pa.Array, order: Sequence[Any] | None = None) -> np.ndarray:
    """The position of each dictionary value in the order: the given ``order`` (every value must be in it), else
    numeric order for numbers and dates, else lexical order; a missing value sorts last."""
    values = dictionary.to_pylist()
    if order is not None:
        position = {v: i for i, v in enumerate(order)}
        missing = [v for v in values if v not in position]
        if missing:
            raise ValueError(f"{len(missing)} value(s) of the sensitive column are not in the given order")
        keys = np.array([position[v] for v in values], dtype=np.float64)
    else:
        sort_index = pc.array_sort_indices(dictionary, null_placement="at_end").to_numpy()
        keys = np.empty(len(values))
        keys[sort_index] = np.arange(len(values))
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(keys, kind="stable")] = np.arange(len(values))
    return ranks


@dataclass(frozen=True, slots=True)
class SensitiveMeasures:
    """The l and t of one sensitive column over a partition (the worst class decides each)."""

    column: str
    distinct_values: int
    distinct_l: int
    entropy_l: float
    recursive_l: int
    recursive_c: float
    t_closeness: float
    t_distance: str  # "equal" or "ordered"

    def as_dict(self) -> dict[str, object]:
        """The fields, JSON-safe: an unreachable recursive c (a class with fewer than l values) is ``None``."""
        out = asdict(self)
        out["recursive_c"] = self.recursive_c if np.isfinite(self.recursive_c) else None
        return out


def sensitive_measures(
    table: Any,
    classes: EquivalenceClasses,
    column: str,
    *,
    ordered: bool | None = None,
    order: Sequence[Any] | None = None,
    recursive_l: int = 2,
) -> SensitiveMeasures:
    """l-diversity and t-closeness of ``column`` over ``classes``.

    ``ordered``: use the ordered distance for t-closeness (default: when the column is numeric or temporal, or an
    ``order`` is given), else the equal distance.
    """
    arrow = to_arrow(table)
    col = arrow.column(column)
    codes, dictionary = column_codes(col)
    cv = class_value_counts(classes, codes, len(dictionary))
    if ordered is None:
        ordered = (
            order is not None
            or pa.types.is_integer(col.type)
            or pa.types.is_floating(col.type)
            or (pa.types.is_temporal(col.type) or pa.types.is_decimal(col.type))
        )
    emd = ordered_distance_emd(cv, ordered_value_ranks(dictionary, order)) if ordered else equal_distance_emd(cv)
    empty = classes.num_classes == 0
    return SensitiveMeasures(
        column=column,
        distinct_values=len(dictionary),
        distinct_l=0 if empty else int(distinct_l(cv).min()),
        entropy_l=0.0 if empty else float(entropy_l(cv).min()),
        recursive_l=recursive_l,
        recursive_c=0.0 if empty else float(recursive_c(cv, recursive_l).max()),
        t_closeness=0.0 if empty else float(emd.max()),
        t_distance="ordered" if ordered else "equal",
    )
