"""The sink protocol: where bulk-synced records go."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from .._core.errors import ConfigurationError

__all__ = ["IdLister", "RunRecorder", "Sink", "SyncRun", "check_resource_name", "record_key"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def check_resource_name(resource: str) -> str:
    """Resource names become table and file names: lower-case identifiers only."""
    if not isinstance(resource, str) or not _NAME.match(resource) or resource == "sync_runs":
        raise ConfigurationError(f"invalid resource name {resource!r}")
    return resource


def record_key(record: dict[str, Any]) -> Any:
    """The id a record is upserted by (``id``; records without one are rejected)."""
    key = record.get("id")
    if key is None or isinstance(key, (dict, list)):
        raise ValueError(f"record without a usable 'id': {sorted(record)[:8]}")
    return key


@attrs.frozen
class SyncRun:
    """One school's sync run, as a sink keeps it for ``assembly-async status``."""

    school_id: int
    started_at: float  # unix time
    finished_at: float
    resources: tuple[str, ...]
    records: int
    removals: int
    requests: int
    not_modified: int
    retries: int | None
    ok: bool
    error: str | None = None


@runtime_checkable
class Sink(Protocol):
    """Where :class:`~assembly_async.SyncEngine` puts records.

    ``write`` upserts by ``(school_id, record["id"])``; ``remove`` deletes (or
    tombstones) ids. Calls may come from many concurrent jobs; a sink
    serialises them itself. ``open`` and ``close`` are called once each.
    """

    async def open(self) -> None: ...

    async def write(self, school_id: int, resource: str, records: list[dict[str, Any]]) -> None:
        ...

    async def remove(self, school_id: int, resource: str, ids: Sequence[Any]) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class RunRecorder(Protocol):
    """Optional sink extension: keep a log of sync runs (``status`` reads it)."""

    async def record_run(self, run: SyncRun) -> None: ...

    async def last_runs(self) -> dict[int, SyncRun]: ...


@runtime_checkable
class IdLister(Protocol):
    """Optional sink extension: list the stored ids of one school's resource.

    With it, a full sync (no watermark yet, e.g. after the sync state was lost)
    removes the records the API no longer lists, so the sink mirrors the school
    instead of keeping records that left while nobody was watching.
    """

    async def ids(self, resource: str, school_id: int) -> set[Any]: ...
