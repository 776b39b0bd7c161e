"""The read-write lock and the dataset cache under many threads."""

from __future__ import annotations

import random
import threading
import time

import pytest

from workbench.core.concurrency import RWLock
from workbench.core.data.cache import DatasetCache
from workbench.core.data.dataset import Dataset


def _dataset(tag: str) -> Dataset:
    # The cache never looks inside the table, so a light stand-in object keeps this test free of pyarrow.
    return Dataset(path=tag, name=tag, format="csv", fingerprint=tag, size_bytes=0, table=None, columns=())  # type: ignore[arg-type]


def test_readers_share_writer_excludes() -> None:
    lock = RWLock()
    state = {"readers": 0, "writers": 0, "max_readers": 0}
    guard = threading.Lock()
    violations: list[str] = []

    def reader() -> None:
        for _ in range(200):
            with lock.read():
                with guard:
                    state["readers"] += 1
                    state["max_readers"] = max(state["max_readers"], state["readers"])
                    if state["writers"]:
                        violations.append("reader saw a writer")
                time.sleep(0.0001)
                with guard:
                    state["readers"] -= 1

    def writer() -> None:
        for _ in range(50):
            with lock.write():
                with guard:
                    state["writers"] += 1
                    if state["writers"] > 1 or state["readers"]:
                        violations.append("writer not alone")
                time.sleep(0.0001)
                with guard:
                    state["writers"] -= 1

    threads = [threading.Thread(target=reader) for _ in range(12)] + [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert violations == []
    assert state["max_readers"] > 1, "readers never overlapped: the lock is not shared"


def test_waiting_writer_is_not_starved_by_new_readers() -> None:
    lock = RWLock()
    stop = threading.Event()
    writer_done = threading.Event()

    def busy_reader() -> None:
        # Readers overlap continuously: without writer preference the read side would never be free.
        while not stop.is_set():
            with lock.read():
                time.sleep(0.002)

    readers = [threading.Thread(target=busy_reader) for _ in range(8)]
    for t in readers:
        t.start()
    time.sleep(0.05)

    def writer() -> None:
        with lock.write():
            writer_done.set()

    w = threading.Thread(target=writer)
    w.start()
    got_it = writer_done.wait(timeout=2.0)
    stop.set()
    for t in [*readers, w]:
        t.join(timeout=10)
    assert got_it, "writer starved by a stream of readers"


def test_not_reentrant_raises_instead_of_deadlocking() -> None:
    lock = RWLock()
    with lock.read(), pytest.raises(RuntimeError):
        lock.acquire_write()
    with lock.write(), pytest.raises(RuntimeError):
        lock.acquire_read()


def test_release_without_acquire_raises() -> None:
    lock = RWLock()
    with pytest.raises(RuntimeError):
        lock.release_read()
    with pytest.raises(RuntimeError):
        lock.release_write()


def test_write_timeout_lets_blocked_readers_through() -> None:
    """A writer that gives up must not leave readers queued behind it forever."""
    lock = RWLock()
    holder_ready, release_holder = threading.Event(), threading.Event()

    def holder() -> None:
        with lock.read():
            holder_ready.set()
            release_holder.wait(10)

    h = threading.Thread(target=holder)
    h.start()
    holder_ready.wait(5)
    result: dict[str, bool] = {}

    def writer() -> None:
        result["write"] = lock.acquire_write(timeout=0.2)

    w = threading.Thread(target=writer)
    w.start()
    w.join(5)
    assert result["write"] is False
    assert lock.acquire_read(timeout=1.0), "reader blocked by a writer that already gave up"
    lock.release_read()
    release_holder.set()
    h.join(5)


def test_cache_hammered_from_many_threads() -> None:
    """Readers always see a whole dataset of one generation; replacements all land; nothing deadlocks."""
    cache = DatasetCache()
    keys = [f"k{i}" for i in range(4)]
    for k in keys:
        cache.put(k, _dataset(f"{k}:0"))
    errors: list[str] = []
    writes = {k: 0 for k in keys}
    wlock = threading.Lock()

    def reader(seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(2000):
            k = rnd.choice(keys)
            ds = cache.get(k)
            # A snapshot: a whole dataset of the key asked for, whatever writers do meanwhile.
            if ds is None or not ds.name.startswith(k + ":"):
                errors.append("wrong dataset under key")

    def writer(seed: int) -> None:
        rnd = random.Random(seed)
        for i in range(300):
            k = rnd.choice(keys)
            cache.put(k, _dataset(f"{k}:{seed}-{i}"))
            with wlock:
                writes[k] += 1

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(10)]
    threads += [threading.Thread(target=writer, args=(100 + s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert errors == []
    for k in keys:
        assert cache.generation(k) == writes[k] + 1
    assert sum(writes.values()) == 900


def test_nested_read_with_waiting_writer_does_not_deadlock() -> None:
    lock = RWLock()
    entered = threading.Event()
    go_on = threading.Event()
    done = threading.Event()

    def reader() -> None:
        with lock.read():
            entered.set()
            go_on.wait(5)
            with lock.read():  # a writer is queued now
                done.set()

    r = threading.Thread(target=reader)
    r.start()
    entered.wait(5)

    def writer() -> None:
        with lock.write():
            pass

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    time.sleep(0.05)
    go_on.set()
    assert done.wait(3), "nested read deadlocked behind a waiting writer"
    r.join(5)
    w.join(5)
