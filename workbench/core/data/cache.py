"""The shared in-memory cache of loaded datasets.

Loaded datasets are held once and shared by every job and view that reads them. Readers take the read side of a
writer-preferring :class:`~workbench.core.concurrency.RWLock` for as long as they work on a dataset; replacing a
dataset (a re-import, a new anonymized version) takes the write side, so it waits for current readers to finish
and new readers wait for it. Because a :class:`Dataset` is immutable, a reader never sees a half-replaced one.
"""

from __future__ import annotations

from workbench.core.concurrency import RWLock
from workbench.core.data.dataset import Dataset


class DatasetCache:
    """Datasets by key (the dataset's fingerprint or project id, chosen by the caller)."""

    def __init__(self) -> None:
        self._lock = RWLock()
        self._items: dict[str, Dataset] = {}
        self._generation: dict[str, int] = {}

    def get(self, key: str) -> Dataset | None:
        """The dataset now cached under ``key`` (a snapshot: it stays valid, being immutable)."""
        with self._lock.read():
            return self._items.get(key)

    def generation(self, key: str) -> int:
        """How many times ``key`` was stored; lets a view notice that its dataset was replaced."""
        with self._lock.read():
            return self._generation.get(key, 0)

    def put(self, key: str, dataset: Dataset) -> None:
        """Store or replace a dataset; waits until no reader holds the lock."""
        with self._lock.write():
            self._items[key] = dataset
            self._generation[key] = self._generation.get(key, 0) + 1

    def remove(self, key: str) -> Dataset | None:
        with self._lock.write():
            self._generation.pop(key, None)
            return self._items.pop(key, None)

    def keys(self) -> list[str]:
        with self._lock.read():
            return list(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock.read():
            return key in self._items
