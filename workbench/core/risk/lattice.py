"""The generalization lattice and the search for the k-anonymous transformation with the least information loss.

A node gives one hierarchy level per quasi-identifier. Its information loss is ARX's monotonic non-uniform
entropy (``metric/v2/MetricMDNUEntropyPrecomputed``, summed over the quasi-identifiers as in ARX's k-anonymity
tests): per column, ``-sum_v a_v log2(a_v / b_v)`` over the column's distinct values v, where ``a_v`` counts v in
the input and ``b_v`` counts the rows whose value has v's label at the node's level; each column's value is floored
to 10 decimals (ARX's ``round``) and the columns are added (weights 1, generalization factor 1 for ARX's default
gs-factor 0.5). In this monotonic variant suppressed records are counted like any other: the loss depends on the
levels only, not on which records are suppressed.

A node is k-anonymous within the suppression limit when the records in classes smaller than k (which are
suppressed) are at most ``floor(limit x n)`` (ARX's ``absMaxOutliers``). Both properties are monotonic: a node above
a k-anonymous node is k-anonymous, and its loss is not smaller. The search therefore orders all nodes by loss
(known without touching the data), skips any node below a node already found not k-anonymous, and checks the rest
in order; the first k-anonymous node is an optimum (ties: fewer levels in total first, then the levels in order).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.core.risk.classes import column_codes, to_arrow
from workbench.core.risk.hierarchy import Hierarchy

__all__ = ["GeneralizationResult", "Lattice", "apply_generalization", "search_k_anonymity"]

_FACTOR = 10.0**10


def _arx_round(value: float) -> float:
    """ARX's ``Metric.round``: floor to 10 decimals (after the sign flip ``-0`` stays 0)."""
    return math.floor(value * _FACTOR) / _FACTOR


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    codes: np.ndarray  # per row: the index of its value in ``values``
    values: tuple[str, ...]  # distinct values of the column, as text
    level_codes: tuple[np.ndarray, ...]  # per level: per distinct value, its label's id at that level
    level_labels: tuple[tuple[str, ...], ...]  # per level: the label of each id
    loss: tuple[float, ...]  # per level: the column's rounded non-uniform entropy


def _prepare_column(table: Any, name: str, hierarchy: Hierarchy) -> _Column:
    codes, dictionary = column_codes(table.column(name))
    values = tuple("" if v is None else str(v) for v in dictionary.to_pylist())
    rows = {r[0]: r for r in hierarchy.rows}
    missing = sum(1 for v in values if v not in rows)
    if missing:
        raise ValueError(f"{missing} distinct value(s) of {name!r} are not in its hierarchy")
    counts = np.bincount(codes, minlength=len(values)).astype(np.float64)
    level_codes, level_labels, loss = [], [], []
    for level in range(hierarchy.height):
        labels = [rows[v][level] for v in values]
        uniq, ids = np.unique(np.array(labels, dtype=object), return_inverse=True)
        ids = ids.astype(np.int64).reshape(-1)
        level_codes.append(ids)
        level_labels.append(tuple(str(u) for u in uniq))
        label_counts = np.bincount(ids, weights=counts, minlength=len(uniq))
        value = 0.0
        for v in range(len(values)):  # ARX adds in its dictionary's order: first appearance in the data
            a = counts[v]
            if a != 0.0:
                value += a * (math.log(a / label_counts[ids[v]]) / math.log(2))
        loss.append(_arx_round(value if value == 0.0 else -value))
    return _Column(name, codes, values, tuple(level_codes), tuple(level_labels), tuple(loss))


@dataclass(frozen=True, slots=True)
class Lattice:
    """The quasi-identifiers' hierarchies applied to one table: per column, per level, codes and loss."""

    columns: tuple[_Column, ...] = field(repr=False)
    num_records: int
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, table: Any, hierarchies: Mapping[str, Hierarchy], quasi_identifiers: Sequence[str]) -> Lattice:
        arrow = to_arrow(table)
        missing = [q for q in quasi_identifiers if q not in hierarchies]
        if missing:
            raise ValueError(f"no hierarchy for: {', '.join(missing)}")
        return cls(tuple(_prepare_column(arrow, q, hierarchies[q]) for q in quasi_identifiers), arrow.num_rows)

    @property
    def heights(self) -> tuple[int, ...]:
        return tuple(len(c.level_codes) for c in self.columns)

    @property
    def size(self) -> int:
        return int(np.prod(self.heights))

    def loss(self, node: Sequence[int]) -> float:
        """ARX's monotonic non-uniform entropy of ``node`` (sum over the quasi-identifiers)."""
        total = 0.0
        for column, level in zip(self.columns, node, strict=True):
            total += column.loss[level]
        return total

    def class_sizes(self, node: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Per row its class id, and the class sizes, under ``node``."""
        key = np.zeros(self.num_records, dtype=np.int64)
        for column, level in zip(self.columns, node, strict=True):
            ids = column.level_codes[level]
            key = key * (int(ids.max()) + 1 if ids.size else 1) + ids[column.codes]
        _, inverse, sizes = np.unique(key, return_inverse=True, return_counts=True)
        return inverse.reshape(-1), sizes

    def outliers(self, node: Sequence[int], k: int) -> int:
        """Records in classes smaller than k under ``node`` (ARX suppresses them).

        Works on the distinct level-0 tuples weighted by their counts (fewer than the rows), with a counting array
        when the generalized key space is small and a sort otherwise.
        """
        mapped, weights = self._mapped
        key = np.zeros(weights.shape[0], dtype=np.int64)
        space = 1
        for i, level in enumerate(node):
            radix = len(self.columns[i].level_labels[level])
            key *= radix
            key += mapped[i][level]
            space *= radix
        if space <= 4 * max(self.num_records, 1):
            counts = np.bincount(key, weights=weights, minlength=space)
        else:
            _, inverse = np.unique(key, return_inverse=True)
            counts = np.bincount(inverse.reshape(-1), weights=weights)
        return int(counts[(counts > 0) & (counts < k)].sum())

    @property
    def _mapped(self) -> tuple[list[list[np.ndarray]], np.ndarray]:
        """Per column and level, the label id of each distinct level-0 tuple, and how many rows each tuple stands
        for (computed once)."""
        cached = self._cache.get("mapped")
        if cached is None:
            codes = np.stack([c.codes for c in self.columns], axis=1)
            tuples, counts = np.unique(codes, axis=0, return_counts=True)
            mapped = [[ids[tuples[:, i]] for ids in c.level_codes] for i, c in enumerate(self.columns)]
            cached = (mapped, counts.astype(np.float64))
            self._cache["mapped"] = cached
        return cached

    def generalized_column(self, index: int, level: int) -> list[str]:
        """The labels of column ``index`` at ``level``, one per row."""
        column = self.columns[index]
        labels = np.array(column.level_labels[level], dtype=object)
        return list(labels[column.level_codes[level][column.codes]])


@dataclass(frozen=True, slots=True)
class GeneralizationResult:
    """The optimum of a search: levels per quasi-identifier (in the order given), suppressed records, loss."""

    quasi_identifiers: tuple[str, ...]
    levels: tuple[int, ...] | None  # None: no node is k-anonymous within the limit
    information_loss: float | None
    suppressed_records: int
    suppression_limit: int
    k: int
    lattice_size: int
    nodes_checked: int
    nodes_pruned: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {
            "quasi_identifiers": list(self.quasi_identifiers),
            "levels": None if self.levels is None else dict(zip(self.quasi_identifiers, self.levels, strict=True)),
            "information_loss": self.information_loss,
            "suppressed_records": self.suppressed_records,
            "suppression_limit": self.suppression_limit,
            "k": self.k,
            "lattice_size": self.lattice_size,
            "nodes_checked": self.nodes_checked,
            "nodes_pruned": self.nodes_pruned,
            "seconds": self.seconds,
        }


def _nodes_by_loss(lattice: Lattice) -> tuple[np.ndarray, np.ndarray]:
    """Every node (rows of levels) and its loss, ordered by loss, then total level, then levels."""
    nodes = np.array(list(itertools.product(*(range(h) for h in lattice.heights))), dtype=np.int64)
    losses = np.zeros(nodes.shape[0])
    for i, column in enumerate(lattice.columns):  # column by column, as ARX adds them
        losses = losses + np.asarray(column.loss)[nodes[:, i]]
    keys = [nodes[:, i] for i in reversed(range(nodes.shape[1]))] + [nodes.sum(axis=1), losses]
    order = np.lexsort(keys)
    return nodes[order], losses[order]


def search_k_anonymity(lattice: Lattice, k: int, max_suppression: float = 0.0) -> GeneralizationResult:
    """The node with the least non-uniform entropy that is k-anonymous with at most ``max_suppression`` (a share
    of the records) suppressed.

    The nodes are ranked by (loss, total level, levels). The best k-anonymous node found so far bounds the search:
    only nodes ranked before it are candidates. The candidate with the most generalization is checked next: if it
    is k-anonymous it becomes the best (and the candidates shrink to those ranked before it); if not, it and every
    node below it are dropped (monotonicity). When no candidate is left, the best is the optimum.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if not 0.0 <= max_suppression <= 1.0:
        raise ValueError("the suppression limit is a share of the records, in [0, 1]")
    start = time.perf_counter()
    n = lattice.num_records
    limit = n if max_suppression == 1.0 else int(math.floor(max_suppression * n))
    nodes, losses = _nodes_by_loss(lattice)
    height = nodes.sum(axis=1)
    candidate = np.ones(nodes.shape[0], dtype=bool)
    # the most generalized candidate first (the latest in rank among equals): a failure there drops the most nodes
    priority = np.lexsort((np.arange(nodes.shape[0]), height))[::-1]
    best: int | None = None
    best_outliers = 0
    checked = 0
    while True:
        open_ = priority[candidate[priority]]
        if open_.size == 0:
            break
        pick = int(open_[0])
        checked += 1
        outliers = lattice.outliers(nodes[pick], k)
        if outliers <= limit:
            best, best_outliers = pick, outliers
            candidate[pick:] = False
        else:
            below = open_[np.all(nodes[open_] <= nodes[pick], axis=1)]
            candidate[below] = False
    qis = tuple(c.name for c in lattice.columns)
    seconds = time.perf_counter() - start
    if best is None:
        return GeneralizationResult(
            qis, None, None, 0, limit, k, lattice.size, checked, lattice.size - checked, seconds
        )
    levels = tuple(int(v) for v in nodes[best])
    return GeneralizationResult(
        qis,
        levels,
        float(losses[best]),
        best_outliers,
        limit,
        k,
        lattice.size,
        checked,
        lattice.size - checked,
        seconds,
    )


def apply_generalization(table: Any, lattice: Lattice, levels: Sequence[int], k: int) -> tuple[pa.Table, np.ndarray]:
    """``table`` with each quasi-identifier replaced by its label at ``levels`` (as text), and the records in
    classes smaller than k suppressed as ARX does it: every quasi-identifier of theirs becomes ``*``. Returns the
    new table (the input is not changed) and the mask of suppressed rows."""
    arrow = to_arrow(table)
    class_of_row, sizes = lattice.class_sizes(levels)
    suppressed = sizes[class_of_row] < k
    out = arrow
    for i, column in enumerate(lattice.columns):
        labels = np.array(lattice.generalized_column(i, levels[i]), dtype=object)
        labels[suppressed] = "*"
        position = out.column_names.index(column.name)
        out = out.set_column(position, column.name, pa.array(labels.tolist(), type=pa.string()))
    return out, suppressed
