"""The generalization lattice: the quasi-identifiers' hierarchies applied to one table, ready for the search.

A node gives one hierarchy level per quasi-identifier. What a node costs is read from the columns prepared here:

- ARX's monotonic non-uniform entropy (``metric/v2/MetricMDNUEntropyPrecomputed``, summed over the quasi-identifiers
  as in ARX's k-anonymity tests): per column, ``-sum_v a_v log2(a_v / b_v)`` over the column's distinct values v,
  where ``a_v`` counts v in the input and ``b_v`` counts the rows whose value has v's label at the node's level;
  each column's value is floored to 10 decimals (ARX's ``round``) and the columns are added (weights 1,
  generalization factor 1 for ARX's default gs-factor 0.5). Suppressed records are counted like any other: the
  loss depends on the levels only. :meth:`Lattice.loss`.
- ARX's loss metric (``MetricMDNMLoss``): per column the domain share of each row's label (how many of the
  hierarchy's rows share that label at that level, over the hierarchy's rows: ``DomainShareMaterialized``), a
  suppressed record counting 1 (gs-factor 0.5); see :mod:`workbench.core.risk.search` for the normalisation and the
  geometric mean. :attr:`_Column.shares`.

The search works on the distinct level-0 tuples of the quasi-identifiers (and of the sensitive column, when a
constraint needs one), each weighted by how many rows it stands for: fewer than the rows, and every node's classes
are unions of them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.core.risk.classes import _combined_key, column_codes, to_arrow
from workbench.core.risk.hierarchy import Hierarchy

__all__ = ["Lattice", "SensitiveColumn", "apply_generalization"]

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
    shares: tuple[np.ndarray, ...]  # per level: per label id, ARX's domain share of that label
    domain_size: int  # the hierarchy's rows (ARX's DomainShareMaterialized size)


def _prepare_column(table: Any, name: str, hierarchy: Hierarchy) -> _Column:
    codes, dictionary = column_codes(table.column(name))
    values = tuple("" if v is None else str(v) for v in dictionary.to_pylist())
    rows = {r[0]: r for r in hierarchy.rows}
    missing = sum(1 for v in values if v not in rows)
    if missing:
        raise ValueError(f"{missing} distinct value(s) of {name!r} are not in its hierarchy")
    counts = np.bincount(codes, minlength=len(values)).astype(np.float64)
    level_codes, level_labels, loss, shares = [], [], [], []
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
        in_hierarchy = Counter(r[level] for r in hierarchy.rows)
        shares.append(np.array([in_hierarchy[str(u)] / len(hierarchy.rows) for u in uniq], dtype=np.float64))
    return _Column(
        name, codes, values, tuple(level_codes), tuple(level_labels), tuple(loss), tuple(shares), len(hierarchy.rows)
    )


def _renumber(key: np.ndarray, space: int) -> tuple[np.ndarray, int]:
    """The keys present (all below ``space``) renumbered 0..m-1 in key order, and m: a presence table and its
    running count, linear in the keys and the space."""
    present = np.zeros(space, dtype=np.int64)
    present[key] = 1
    number = np.cumsum(present) - 1
    return number[key], int(number[-1]) + 1 if space else 0


def _dense_ids(key: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ids 0..m-1 for the distinct values of ``key`` (in order of first appearance), and m: a hash table
    (pandas' factorize) instead of a sort, as the search asks this for thousands of nodes."""
    import pandas as pd

    codes, uniques = pd.factorize(key, sort=False)
    return np.asarray(codes, dtype=np.int64), len(uniques)


@dataclass(frozen=True, slots=True)
class SensitiveColumn:
    """A sensitive column for l-diversity and t-closeness inside the search: its codes per row, the whole table's
    value distribution (t-closeness compares each class with it) and, for the ordered distance, each code's rank."""

    name: str
    codes: np.ndarray = field(repr=False)
    num_values: int
    overall: np.ndarray = field(repr=False)
    ranks: np.ndarray | None = field(repr=False)  # None: equal distance

    @classmethod
    def build(cls, table: Any, name: str, *, ordered: bool | None = None, order: Sequence[Any] | None = None) -> Any:
        from workbench.core.risk.diversity import ordered_value_ranks

        arrow = to_arrow(table)
        if name not in arrow.column_names:
            raise ValueError(f"no such sensitive column: {name!r}")
        column = arrow.column(name)
        codes, dictionary = column_codes(column)
        if ordered is None:
            kind = column.type
            ordered = order is not None or pa.types.is_integer(kind) or pa.types.is_floating(kind)
            ordered = ordered or pa.types.is_temporal(kind) or pa.types.is_decimal(kind)
        overall = np.bincount(codes, minlength=len(dictionary)).astype(np.float64) / max(codes.shape[0], 1)
        ranks = ordered_value_ranks(dictionary, order) if ordered else None
        return cls(name, codes, len(dictionary), overall, ranks)


@dataclass(frozen=True, slots=True)
class Lattice:
    """The quasi-identifiers' hierarchies applied to one table: per column, per level, codes, loss and shares;
    optionally a sensitive column for l-diversity and t-closeness."""

    columns: tuple[_Column, ...] = field(repr=False)
    num_records: int
    sensitive: SensitiveColumn | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        table: Any,
        hierarchies: Mapping[str, Hierarchy],
        quasi_identifiers: Sequence[str],
        *,
        sensitive: str | None = None,
        order: Sequence[Any] | None = None,
    ) -> Lattice:
        """``order``: the sensitive column's value order (ordered-distance t-closeness; numbers and dates are
        ordered without it)."""
        arrow = to_arrow(table)
        missing = [q for q in quasi_identifiers if q not in hierarchies]
        if missing:
            raise ValueError(f"no hierarchy for: {', '.join(missing)}")
        if sensitive is not None and sensitive in quasi_identifiers:
            raise ValueError(f"{sensitive!r} cannot be both quasi-identifier and sensitive")
        columns = tuple(_prepare_column(arrow, q, hierarchies[q]) for q in quasi_identifiers)
        s = SensitiveColumn.build(arrow, sensitive, order=order) if sensitive is not None else None
        return cls(columns, arrow.num_rows, s)

    @property
    def heights(self) -> tuple[int, ...]:
        return tuple(len(c.level_codes) for c in self.columns)

    @property
    def size(self) -> int:
        return int(np.prod(self.heights))

    @property
    def quasi_identifiers(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

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

    def tuple_classes(
        self, node: Sequence[int], *, compact: bool = False, first_order: bool = False
    ) -> tuple[np.ndarray, int]:
        """Per distinct level-0 tuple its class id under ``node``, and the number of ids. The ids are the
        generalized key itself when the key space is small (some ids then name no class), else dense; ``compact``
        forces dense ids, ``first_order`` numbers the classes in the order of their first tuples."""
        mapped = self.tuples[0]
        key = np.zeros(self.tuples[1].shape[0], dtype=np.int64)
        space, limit = 1, 4 * max(self.num_records, 1)
        for i, level in enumerate(node):
            radix = len(self.columns[i].level_labels[level])
            if radix == 1:  # one label for every tuple: nothing to add
                continue
            if not compact and space * radix > limit:  # renumber the keys present 0..m-1 (a table, no sort)
                key, space = _renumber(key, space)
            key *= radix
            key += mapped[i][level]
            space *= radix
        if not compact and space <= limit:
            return key, space
        if not first_order and space <= 16 * limit:
            return _renumber(key, space)
        return _dense_ids(key)

    def outliers(self, node: Sequence[int], k: int) -> int:
        """Records in classes smaller than k under ``node`` (ARX suppresses them)."""
        ids, space = self.tuple_classes(node)
        counts = np.bincount(ids, weights=self.tuples[1], minlength=space)
        return int(counts[(counts > 0) & (counts < k)].sum())

    @property
    def tuples(self) -> tuple[list[list[np.ndarray]], np.ndarray, np.ndarray | None]:
        """Per column and level, the label id of each distinct level-0 tuple; how many rows each tuple stands for;
        and each tuple's sensitive value code (None without a sensitive column). Computed once."""
        cached = self._cache.get("tuples")
        if cached is None:
            parts = [c.codes for c in self.columns]
            if self.sensitive is not None:
                parts.append(self.sensitive.codes)
            cards = [len(c.values) for c in self.columns]
            if self.sensitive is not None:
                cards.append(self.sensitive.num_values)
            # one int64 key per row (mixed radix, as for the classes) and a 1-D unique: far faster than a unique
            # over the rows of a code matrix
            key = _combined_key(parts, cards, self.num_records)
            _, first, row_tuple, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
            self._cache["row_tuple"] = row_tuple.reshape(-1)
            mapped = [[ids[c.codes[first]] for ids in c.level_codes] for c in self.columns]
            sensitive = self.sensitive.codes[first] if self.sensitive is not None else None
            cached = (mapped, counts.astype(np.float64), sensitive)
            self._cache["tuples"] = cached
        return cached

    def rows_of(self, tuple_mask: np.ndarray) -> np.ndarray:
        """A mask over the distinct tuples as a mask over the rows."""
        _ = self.tuples
        return np.asarray(tuple_mask, dtype=bool)[self._cache["row_tuple"]]

    def tuple_shares(self, index: int, level: int) -> np.ndarray:
        """ARX's domain share of each tuple's label in column ``index`` at ``level``."""
        return self.columns[index].shares[level][self.tuples[0][index][level]]

    def generalized_column(self, index: int, level: int) -> list[str]:
        """The labels of column ``index`` at ``level``, one per row."""
        column = self.columns[index]
        labels = np.array(column.level_labels[level], dtype=object)
        return list(labels[column.level_codes[level][column.codes]])


def apply_generalization(
    table: Any, lattice: Lattice, levels: Sequence[int], suppressed: np.ndarray | int
) -> tuple[pa.Table, np.ndarray]:
    """``table`` with each quasi-identifier replaced by its label at ``levels`` (as text), and the suppressed
    records' quasi-identifiers all ``*`` (as ARX does it). ``suppressed`` is a mask over the rows, or k: the rows in
    classes smaller than k. Returns the new table (the input is not changed) and the mask of suppressed rows."""
    arrow = to_arrow(table)
    if isinstance(suppressed, (int, np.integer)):
        class_of_row, sizes = lattice.class_sizes(levels)
        suppressed = sizes[class_of_row] < int(suppressed)
    suppressed = np.asarray(suppressed, dtype=bool)
    out = arrow
    for i, column in enumerate(lattice.columns):
        labels = np.array(lattice.generalized_column(i, levels[i]), dtype=object)
        labels[suppressed] = "*"
        position = out.column_names.index(column.name)
        out = out.set_column(position, column.name, pa.array(labels.tolist(), type=pa.string()))
    return out, suppressed
