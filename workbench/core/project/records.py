"""What every table's code of the project store shares: the read-only mapping its records hold, the timestamp
format and the JSON encoding of stored values (:mod:`workbench.core.project.store`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from workbench.core.errors import ProjectError


class FrozenMap(Mapping[str, Any]):
    """A read-only, picklable mapping (``MappingProxyType`` cannot be pickled, records may cross processes).

    It is hashable when its values are.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __reduce__(self) -> tuple[type[FrozenMap], tuple[dict[str, Any]]]:
        return (FrozenMap, (self._data,))


def now() -> str:
    """The current time as stored in every ``*_at`` and ``ts`` column: ISO-8601 UTC, milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def to_json(value: Any, what: str) -> str:
    """``value`` as the JSON text a ``*_json`` column stores; ProjectError naming ``what`` if it cannot be."""
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"{what} cannot be stored: it is not JSON-serialisable ({type(exc).__name__})") from None
