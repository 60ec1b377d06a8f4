"""Snapshot: a local copy of a list, kept current by deltas.

A full refresh replaces the copy, which drops what the list no longer holds;
that is only done on the strength of a walk proven complete
(:attr:`Delta.proven`), so a misread walk never empties a snapshot.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from .delta import Delta, changes, resolve
from .runner import OperationRunner
from .syncstate import MemorySyncState, SyncState
from .walker import DEFAULT_CONCURRENCY, record_id

__all__ = ["HasRunner", "Snapshot"]

T = TypeVar("T")


class HasRunner(Protocol):
    """A session: what :class:`Snapshot` is built on."""

    @property
    def runner(self) -> OperationRunner: ...


class Snapshot(Generic[T]):
    """A local copy of a list kept current by deltas: ``records`` maps id -> record.

    ``await snapshot.refresh()`` runs one delta: a full sync replaces the
    records, a delta upserts changed records and removes ``left_ids``. The copy
    and its watermark change together, only when the delta succeeded. A full
    sync whose walk is not proven complete (:attr:`Delta.proven`) would drop
    records on a misread: it raises :class:`PagingError` and changes nothing
    (unless it would drop nothing). The
    snapshot keeps its watermark in its own :class:`MemorySyncState` unless
    given ``state=``; a persistent state only makes sense if you persist
    ``records`` alongside it.
    """

    def __init__(
        self,
        session: HasRunner,
        resource: str,
        *,
        state: SyncState | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **params: Any,
    ) -> None:
        self._runner = session.runner
        self._resource = resource
        self._params = params
        self._concurrency = concurrency
        self.state: SyncState = state if state is not None else MemorySyncState()
        self.records: dict[Any, T] = {}
        #: The last delta applied (its requests, not_modified, left_ids).
        self.last: Delta[Any] | None = None
        resolve(resource)

    def __len__(self) -> int:
        return len(self.records)

    def values(self) -> list[T]:
        """The full current list."""
        return list(self.records.values())

    async def refresh(self) -> Delta[Any]:
        """Fetch and apply one delta; returns it."""
        delta = changes(self._runner, self._resource, state=self.state,
                        concurrency=self._concurrency, **self._params)
        changed: dict[Any, T] = {}
        async with delta:
            async for record in delta:
                changed[record_id(record)] = record
            if delta.full:
                # A full refresh drops what the list no longer holds, but only on
                # the strength of a walk proven complete: else nothing changes.
                error = delta.removal_error(len(self.records.keys() - changed.keys()))
                if error is not None:
                    raise error
                fresh = changed
            else:
                fresh = dict(self.records)
                fresh.update(changed)
                for gone in delta.left_ids:
                    fresh.pop(gone, None)
        # Only after the watermark was stored: copy and watermark move together.
        self.records = fresh
        self.last = delta
        return delta
