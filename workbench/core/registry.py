"""Named registries of lazily imported objects: loaders, anonymization operators, training tasks, recognizers.

One mechanism for every "pick an implementation by name" table of the workbench. An entry maps a NAME (and
optional aliases and metadata) to a target ``"module.path:AttributeName"``; registering only records the string,
and the module is imported the first time :meth:`Registry.get` asks for the entry, once, however many threads ask
at the same moment::

    FORMATS: Registry[type[Loader]] = Registry("format")
    FORMATS.register("csv", "workbench.core.data.loaders.csv_loader:CsvLoader", aliases=("tsv",),
                     metadata={"extensions": (".csv", ".tsv")})
    FORMATS.names()        # ("csv",): imports nothing
    FORMATS.get("tsv")     # imports csv_loader, returns CsvLoader

A registry built with a ``factory`` stores ``factory(imported_object)`` instead (for example one shared instance
of a class). Names are unique: registering a name or alias that is taken raises :class:`DuplicateNameError`;
nothing is ever replaced silently. An unknown name raises :class:`UnknownNameError`, whose message lists the
known names. Names are matched exactly; callers that accept other spellings normalise them first.

This module imports nothing beyond the standard library and :mod:`workbench.core.errors`.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar, cast

from workbench.core.errors import WorkbenchError

T = TypeVar("T")

_TARGET = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


class DuplicateNameError(ValueError):
    """A name or alias is already taken in a registry (a programming error: nothing is replaced)."""


class UnknownNameError(WorkbenchError, LookupError):
    """No entry of a registry has this name or alias; the message lists the known names."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One registered name: where its object lives and what else is known about it without importing it.

    ``target`` is ``"module.path:AttributeName"``, or ``""`` for an object given directly to
    :meth:`Registry.add`. ``metadata`` is read-only.
    """

    name: str
    target: str
    aliases: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def module(self) -> str:
        """The dotted module path of the target (``""`` for a direct object)."""
        return self.target.partition(":")[0]

    @property
    def attribute(self) -> str:
        """The attribute name of the target (``""`` for a direct object)."""
        return self.target.partition(":")[2]


class _Slot:
    """An entry and its imported value; ``lock`` makes the first import happen once."""

    __slots__ = ("entry", "lock", "loaded", "value")

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.lock = threading.Lock()
        self.loaded = False
        self.value: Any = None


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


class Registry(Generic[T]):
    """A thread-safe table of named entries whose objects are imported on first use.

    Parameters
    ----------
    kind:
        What an entry is, for messages (``"operator"`` gives ``unknown operator 'x'; choose one of: ...``).
    factory:
        Called once per entry with the imported object; :meth:`get` returns its result (e.g. ``lambda cls: cls()``
        for one shared instance). ``None`` returns the imported object itself.
    """

    def __init__(self, kind: str, *, factory: Callable[[Any], T] | None = None) -> None:
        self.kind = kind
        self._factory = factory
        self._lock = threading.Lock()  # guards _slots and _keys; imports run under the entry's own lock
        self._slots: dict[str, _Slot] = {}  # by name, in registration order
        self._keys: dict[str, str] = {}  # name or alias -> name

    # ---- registering ------------------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        target: str,
        *,
        aliases: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> Entry:
        """Record ``name`` -> ``target`` (``"module.path:AttributeName"``) without importing anything.

        Raises
        ------
        DuplicateNameError
            When ``name`` or one of ``aliases`` is already a name or alias of this registry.
        ValueError
            When ``target`` is not of the form ``module.path:AttributeName``.
        """
        if not _TARGET.match(target):
            raise ValueError(
                f"{self.kind} {name!r}: the target must look like 'module.path:AttributeName', not {target!r}"
            )
        return self._insert(Entry(name, target, tuple(aliases), MappingProxyType(dict(metadata or {}))), None)

    def add(
        self,
        name: str,
        value: T,
        *,
        aliases: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> Entry:
        """Register an object that already exists; :meth:`get` returns ``value`` as it is (no factory).

        Raises :class:`DuplicateNameError` like :meth:`register`.
        """
        slot = _Slot(Entry(name, "", tuple(aliases), MappingProxyType(dict(metadata or {}))))
        slot.value, slot.loaded = value, True
        return self._insert(slot.entry, slot)

    def _insert(self, entry: Entry, slot: _Slot | None) -> Entry:
        if not isinstance(entry.name, str) or not entry.name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, not {entry.name!r}")
        keys = (entry.name, *entry.aliases)
        if len(set(keys)) < len(keys):
            raise DuplicateNameError(f"{self.kind} {entry.name!r}: a name or alias is given twice in {keys!r}")
        with self._lock:
            for key in keys:
                taken = self._keys.get(key)
                if taken is not None:
                    owner = "" if taken == key else f" (an alias of {taken!r})"
                    raise DuplicateNameError(
                        f"{_article(self.kind)} {self.kind} named {key!r} is already registered{owner}"
                    )
            self._slots[entry.name] = slot or _Slot(entry)
            for key in keys:
                self._keys[key] = entry.name
        return entry

    # ---- looking up (nothing here imports) --------------------------------------------------------------------

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order (aliases left out)."""
        with self._lock:
            return tuple(self._slots)

    def entries(self) -> tuple[Entry, ...]:
        """Every entry, in registration order."""
        with self._lock:
            return tuple(slot.entry for slot in self._slots.values())

    def find(self, name: str) -> Entry | None:
        """The entry called ``name`` (a name or an alias), or ``None``."""
        with self._lock:
            key = self._keys.get(name)
            return None if key is None else self._slots[key].entry

    def entry(self, name: str) -> Entry:
        """The entry called ``name`` (a name or an alias); raises :class:`UnknownNameError`."""
        return self._slot(name).entry

    def is_loaded(self, name: str) -> bool:
        """Whether the object of ``name`` was imported (or given directly) already."""
        return self._slot(name).loaded

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._keys

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)

    def unknown(self, name: str) -> UnknownNameError:
        """The error for a name this registry does not know (for callers that check with ``in`` first)."""
        known = ", ".join(self.names()) or f"no {self.kind} is registered"
        return UnknownNameError(f"unknown {self.kind} {name!r}; choose one of: {known}")

    def _slot(self, name: str) -> _Slot:
        with self._lock:
            key = self._keys.get(name)
            if key is not None:
                return self._slots[key]
        raise self.unknown(name)

    # ---- using ------------------------------------------------------------------------------------------------

    def get(self, name: str) -> T:
        """The object of ``name`` (a name or an alias), importing its module the first time.

        Raises
        ------
        UnknownNameError
            ``unknown <kind> 'x'; choose one of: a, b``.
        ImportError, AttributeError
            When the registered target cannot be imported (an installation or registration bug).
        """
        slot = self._slot(name)
        if not slot.loaded:
            with slot.lock:
                if not slot.loaded:
                    module, _, attribute = slot.entry.target.partition(":")
                    obj = getattr(importlib.import_module(module), attribute)
                    slot.value = self._factory(obj) if self._factory is not None else obj
                    slot.loaded = True
        return cast(T, slot.value)


__all__ = ["DuplicateNameError", "Entry", "Registry", "UnknownNameError"]
