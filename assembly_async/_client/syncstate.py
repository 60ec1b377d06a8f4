"""Where incremental-sync watermarks live: the SyncState protocol, the in-memory
default, and the key that names one school's list with its filters."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import orjson

from .._core.responses import Validators

__all__ = ["MemorySyncState", "SyncState", "sync_key"]


@runtime_checkable
class SyncState(Protocol):
    """Where watermarks (``Validators``) live between syncs, keyed by :func:`sync_key`."""

    async def get(self, key: str) -> Validators | None: ...

    async def set(self, key: str, validators: Validators) -> None: ...

    async def delete(self, key: str) -> None: ...


class MemorySyncState:
    """Watermarks in a dict (lost when the process ends): the default."""

    def __init__(self) -> None:
        self._data: dict[str, Validators] = {}

    def __repr__(self) -> str:
        return f"<MemorySyncState keys={len(self._data)}>"

    def __len__(self) -> int:
        return len(self._data)

    async def get(self, key: str) -> Validators | None:
        return self._data.get(key)

    async def set(self, key: str, validators: Validators) -> None:
        self._data[key] = validators

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _norm(v) for k, v in value.items() if v is not None}
    if isinstance(value, Iterable):
        items = [_norm(v) for v in value]
        return sorted(set(items), key=repr) if all(
            isinstance(v, (int, str)) and not isinstance(v, bool) for v in items) else items
    return str(value)


def sync_key(school_id: int | str | None, operation_id: str, params: Mapping[str, Any]) -> str:
    """A stable key for one school's list with its filters.

    None-valued parameters are dropped, the rest sorted by name; id lists are
    sorted and deduplicated; dates become ``YYYY-MM-DD``. So ``students=[2, 1]``
    and ``students=(1, 2)`` share a watermark, ``year_code="7"`` and no filter do not.
    """
    norm = {k: _norm(v) for k, v in params.items() if v is not None}
    body = orjson.dumps(norm, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    return f"{school_id}/{operation_id}/{body}"
