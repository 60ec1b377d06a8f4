"""The sink protocol: where bulk-synced records go."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
import orjson

from .._client.syncstate import SyncState
from .._core.errors import ConfigurationError, SinkError
from .._core.responses import Validators

__all__ = [
    "IdLister",
    "JobTransaction",
    "RunRecorder",
    "Sink",
    "SyncRun",
    "TransactionalSink",
    "check_resource_name",
    "has_usable_id",
    "record_json",
    "record_key",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: Tables the sinks keep for themselves: never a resource's table.
_RESERVED = frozenset({"sync_runs", "sync_state", "assembly_schema", "assembly_resources"})


def check_resource_name(resource: str) -> str:
    """Resource names become table and file names: lower-case identifiers only."""
    if not isinstance(resource, str) or not _NAME.match(resource) or resource in _RESERVED:
        raise ConfigurationError(f"invalid resource name {resource!r}")
    return resource


def has_usable_id(record: Any) -> bool:
    """Whether a sink can key ``record``: a JSON object with a scalar ``id``
    (the engine leaves the others out; the decoder reported each as a problem)."""
    if not isinstance(record, dict):
        return False
    key = record.get("id")
    return key is not None and not isinstance(key, (dict, list, bool))


def record_key(record: dict[str, Any]) -> Any:
    """The id a record is upserted by (``id``; records without one are rejected)."""
    key = record.get("id")
    if key is None or isinstance(key, (dict, list)):
        raise ValueError(f"record without a usable 'id': {sorted(record)[:8]}")
    return key


def record_json(record: Any) -> bytes:
    """``record`` as compact JSON bytes, as the API sent it.

    orjson writes at most 255 levels of nesting while the API's JSON may nest
    deeper (the decoder follows 1024); such a record is written by the standard
    library instead. One that even that cannot write is a :class:`SinkError`
    (never a bare ``TypeError``/``RecursionError``) naming its id, not its data.
    """
    try:
        return orjson.dumps(record)
    except TypeError:
        pass
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        key = record.get("id") if isinstance(record, dict) else None
        raise SinkError(f"record {key!r} cannot be written as JSON (nested too deeply)",
                        reason="bad record") from None


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


@runtime_checkable
class JobTransaction(Protocol):
    """One sync job's writes, committed together with its watermark or not at all.

    A job is one (school, resource) delta. ``write`` and ``remove`` stream the
    job's pages into the transaction (nothing is visible to readers yet);
    ``ids`` lists the stored ids as the transaction sees them; ``commit``
    writes the watermark ``validators`` under ``key`` (None: leave the stored
    watermark as it is) in the same transaction and commits. ``rollback``
    discards everything; it is safe after ``commit`` and when called twice.
    A process killed at any point leaves the records and the watermark of the
    job both committed or both untouched.
    """

    async def write(self, records: list[dict[str, Any]]) -> None: ...

    async def remove(self, ids: Sequence[Any]) -> None: ...

    async def ids(self) -> set[Any]: ...

    async def commit(self, key: str, validators: Validators | None) -> None: ...

    async def rollback(self) -> None: ...


@runtime_checkable
class TransactionalSink(Protocol):
    """Optional sink extension: records and watermarks in one database.

    ``begin_job`` returns a :class:`JobTransaction` when ``state`` keeps its
    watermarks in this sink's own database (a :class:`PostgresSyncState` on the
    same schema, a ``SQLiteSyncState`` on the same file), else None: the engine
    then writes records and watermark separately, as with any sink.
    """

    async def begin_job(self, school_id: int, resource: str,
                        state: SyncState) -> JobTransaction | None: ...
