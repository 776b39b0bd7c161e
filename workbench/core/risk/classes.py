"""Equivalence classes over quasi-identifiers, vectorised.

Each quasi-identifier column is dictionary-encoded (a missing value is a value of its own, as ARX treats it), the
codes are combined into one integer key per row, and ``numpy.unique`` on that key gives the classes: a class id per
row and the size of each class. The class-size histogram (size -> number of classes) is what ARX's
``RiskModelHistogram`` holds and what every re-identification and population model reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["EquivalenceClasses", "column_codes", "equivalence_classes", "to_arrow"]


def to_arrow(table: Any) -> pa.Table:
    """``table`` as a :class:`pyarrow.Table` (a pandas DataFrame is converted without its index)."""
    if isinstance(table, pa.Table):
        return table
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return pa.Table.from_pandas(table, preserve_index=False)
    raise TypeError(f"expected a pyarrow Table or a pandas DataFrame, got {type(table).__name__}")


def column_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Dictionary codes of a column (int64, one per row; a null is a value of its own) and the dictionary."""
    encoded = column.dictionary_encode(null_encoding="encode")
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.unify_dictionaries() if encoded.num_chunks > 1 else encoded
        chunks = encoded.chunks
        if not chunks:
            return np.zeros(0, dtype=np.int64), pa.array([], type=column.type)
        dictionary = chunks[0].dictionary
        indices = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
    else:
        dictionary = encoded.dictionary
        indices = encoded.indices.to_numpy(zero_copy_only=False)
    return indices.astype(np.int64, copy=False), dictionary


@dataclass(frozen=True, slots=True)
class EquivalenceClasses:
    """The partition of a table's rows by their quasi-identifier values.

    ``class_of_row[i]`` is row ``i``'s class id (0 .. ``num_classes`` - 1) and ``sizes[c]`` the number of rows in
    class ``c``. Values are never kept: an analyst sees sizes and counts only.
    """

    quasi_identifiers: tuple[str, ...]
    class_of_row: np.ndarray = field(repr=False, compare=False)
    sizes: np.ndarray = field(repr=False, compare=False)

    @property
    def num_records(self) -> int:
        return int(self.class_of_row.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.sizes.shape[0])

    @property
    def k(self) -> int:
        """The smallest class size (0 for an empty table): the table is k-anonymous for this k."""
        return int(self.sizes.min()) if self.sizes.size else 0

    def histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """Class sizes in increasing order and how many classes have each size (ARX's histogram)."""
        sizes, counts = np.unique(self.sizes, return_counts=True)
        return sizes.astype(np.int64), counts.astype(np.int64)

    def size_of_row(self) -> np.ndarray:
        """The size of each row's class."""
        return self.sizes[self.class_of_row]


def _combined_key(codes: list[np.ndarray], cardinalities: list[int], n: int) -> np.ndarray:
    """One int64 key per row from per-column codes (mixed radix); re-densified when the radix would overflow."""
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    for code, card in zip(codes, cardinalities, strict=True):
        card = max(card, 1)
        if radix * card >= 2**62:  # compress what is combined so far to dense ids before going on
            _, key = np.unique(key, return_inverse=True)
            key = key.astype(np.int64, copy=False)
            radix = int(key.max()) + 1 if n else 1
        key = key * card + code
        radix *= card
    return key


def equivalence_classes(table: Any, quasi_identifiers: Sequence[str]) -> EquivalenceClasses:
    """The equivalence classes of ``table`` (pyarrow Table or pandas DataFrame) over ``quasi_identifiers``.

    With no quasi-identifier every row is in one class (nothing distinguishes them).
    """
    arrow = to_arrow(table)
    qis = tuple(quasi_identifiers)
    missing = [q for q in qis if q not in arrow.column_names]
    if missing:
        raise KeyError(f"no such column: {', '.join(missing)} (columns: {', '.join(arrow.column_names)})")
    n = arrow.num_rows
    codes: list[np.ndarray] = []
    cards: list[int] = []
    for name in qis:
        code, dictionary = column_codes(arrow.column(name))
        codes.append(code)
        cards.append(len(dictionary))
    key = _combined_key(codes, cards, n)
    _, inverse, sizes = np.unique(key, return_inverse=True, return_counts=True)
    return EquivalenceClasses(qis, inverse.astype(np.int64, copy=False).reshape(-1), sizes.astype(np.int64))
