"""A writer-preferring read-write lock.

Many readers may hold it at once; a writer holds it alone. Once a writer is waiting, new readers queue behind it,
so a steady stream of readers cannot starve a writer (a re-import or a new anonymized version must get through
while views and jobs keep reading). The read side is re-entrant (a reader may read again even while a writer
waits); upgrading is not: a thread that holds the read side must not ask for the write side (that would deadlock,
so :meth:`RWLock.acquire_write` raises instead), nor may a writer ask for the read side.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RWLock:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0  # threads holding the read side
        self._writer: int | None = None  # ident of the thread holding the write side
        self._writers_waiting = 0
        self._reader_threads: dict[int, int] = {}

    def acquire_read(self, timeout: float | None = None) -> bool:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                raise RuntimeError("RWLock: the writer thread asked for the read side (not re-entrant)")
            # A thread that already reads may read again even with a writer waiting: making it queue behind
            # the writer, which waits for this very thread, would deadlock.
            already_reading = me in self._reader_threads
            if not already_reading:
                ok = self._cond.wait_for(lambda: self._writer is None and self._writers_waiting == 0, timeout)
                if not ok:
                    return False
            self._readers += 1
            self._reader_threads[me] = self._reader_threads.get(me, 0) + 1
            return True

    def release_read(self) -> None:
        me = threading.get_ident()
        with self._cond:
            count = self._reader_threads.get(me, 0)
            if count <= 0 or self._readers <= 0:
                raise RuntimeError("RWLock: release_read without acquire_read")
            if count == 1:
                del self._reader_threads[me]
            else:
                self._reader_threads[me] = count - 1
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def acquire_write(self, timeout: float | None = None) -> bool:
        me = threading.get_ident()
        with self._cond:
            if me in self._reader_threads or self._writer == me:
                raise RuntimeError("RWLock: a thread holding the lock asked for the write side (not re-entrant)")
            self._writers_waiting += 1
            try:
                ok = self._cond.wait_for(lambda: self._writer is None and self._readers == 0, timeout)
                if not ok:
                    return False
                self._writer = me
                return True
            finally:
                self._writers_waiting -= 1
                if not self._writers_waiting:
                    # Readers blocked only by this waiting writer may go if it gave up (timeout).
                    self._cond.notify_all()

    def release_write(self) -> None:
        with self._cond:
            if self._writer != threading.get_ident():
                raise RuntimeError("RWLock: release_write by a thread that does not hold the write side")
            self._writer = None
            self._cond.notify_all()

    @contextmanager
    def read(self) -> Iterator[None]:
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    @contextmanager
    def write(self) -> Iterator[None]:
        self.acquire_write()
        try:
            yield
        finally:
            self.release_write()
