"""The list of recently opened projects, for the start page and the File menu.

Stored as a small JSON file (``user_data_dir()/recent_projects.json``)::

    {"version": 1, "projects": ["/abs/path/newest", "/abs/path/older", ...]}

The file is re-read on every call rather than cached, so two app windows (two processes) see each other's
changes; the last writer wins, which is acceptable for a convenience list. Writes are atomic
(:func:`workbench.core.atomic.atomic_write_text`), so a crash never leaves half a file. A missing, unreadable or
corrupt file counts as an empty list: losing the recent list must never stop the app from starting.
"""

from __future__ import annotations

import builtins
import json
import logging
import threading
from pathlib import Path

from workbench.core.atomic import atomic_write_text
from workbench.core.paths import user_data_dir

log = logging.getLogger(__name__)

FILE_NAME = "recent_projects.json"
FORMAT_VERSION = 1


class RecentProjects:
    """Most-recently-used project folders, newest first. Thread-safe.

    Parameters
    ----------
    path:
        The JSON file; ``user_data_dir()/recent_projects.json`` by default (resolved when constructed, so a
        test that sets ``WORKBENCH_HOME`` first gets its own file).
    limit:
        How many folders to keep.
    """

    def __init__(self, path: str | Path | None = None, limit: int = 10) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        # create=False: a read-only home must not make the constructor fail; _write creates the folder.
        self._path = Path(path) if path is not None else user_data_dir(create=False) / FILE_NAME
        self._limit = limit
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The JSON file this list is kept in."""
        return self._path

    def add(self, folder: str | Path) -> None:
        """Put ``folder`` first (moving it up if it is listed already) and keep at most ``limit`` entries."""
        entry = self._normalise(folder)
        with self._lock:
            entries = [e for e in self._read() if e != entry]
            self._write([entry, *entries][: self._limit])

    def remove(self, folder: str | Path) -> None:
        """Drop ``folder`` from the list (no error if it is not listed)."""
        entry = self._normalise(folder)
        with self._lock:
            entries = self._read()
            if entry in entries:
                self._write([e for e in entries if e != entry])

    def clear(self) -> None:
        """Forget all entries."""
        with self._lock:
            self._write([])

    # Annotations below spell ``builtins.list``: this method shadows ``list`` in the class body (for mypy).
    def list(self) -> builtins.list[Path]:
        """The listed folders that still exist, newest first."""
        with self._lock:
            entries = self._read()
        return [Path(e) for e in entries if Path(e).is_dir()]

    # ---- file handling -------------------------------------------------------------------------------------

    @staticmethod
    def _normalise(folder: str | Path) -> str:
        # One spelling per folder, so "proj", "./proj" and "/abs/proj" are one entry.
        return str(Path(folder).expanduser().resolve())

    def _read(self) -> builtins.list[str]:
        """The stored entries; ``[]`` for a missing or damaged file (logged without its content)."""
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("ignoring unreadable recent-projects file %s (%s)", self._path, type(exc).__name__)
            return []
        try:
            data = json.loads(text)
        except ValueError:
            log.warning("ignoring corrupt recent-projects file %s", self._path)
            return []
        projects = data.get("projects") if isinstance(data, dict) else None
        if not isinstance(projects, list):
            log.warning("ignoring recent-projects file %s: unexpected layout", self._path)
            return []
        entries: builtins.list[str] = []
        for item in projects:
            if isinstance(item, str) and item and item not in entries:
                entries.append(item)
        return entries[: self._limit]

    def _write(self, entries: builtins.list[str]) -> None:
        """Replace the file atomically. Failure to save is logged, not raised: the list is a convenience."""
        payload = json.dumps({"version": FORMAT_VERSION, "projects": entries}, indent=2, ensure_ascii=False)
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # Retried briefly on Windows while another window has the file open for reading (see atomic_write).
            atomic_write_text(self._path, payload)
        except OSError as exc:
            log.warning("could not save the recent-projects file %s (%s)", self._path, type(exc).__name__)
