"""How one sync job writes: the seam between the engine and the sink.

:func:`open_job` picks a :class:`JobWriter` from the sink's capabilities:

* the sink is a :class:`TransactionalSink` whose database also holds the sync
  state (``PostgresSink`` + its ``PostgresSyncState``, or ``SQLiteSink`` +
  ``SQLiteSyncState`` on the same file): the job's pages stream into one
  transaction and the delta's watermark is written into that transaction
  instead of a separate ``state.set`` (the delta is given :attr:`JobWriter.state`,
  whose ``set`` commits the transaction). A crash at any point leaves the
  records and the watermark both committed or both untouched;
* any other sink: every page is its own ``sink.write`` and the delta commits
  its watermark with ``state.set`` after the job, as before (a crash between
  the two refetches the same changes next time; sinks upsert).

The engine only calls ``write``, ``remove``, ``ids``, ``finish`` and ``close``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .._client.syncstate import SyncState
from .._core.errors import UsageError
from .._core.responses import Validators
from ..sinks import IdLister, JobTransaction, Sink, TransactionalSink

__all__ = ["JobWriter", "open_job"]

_log = logging.getLogger("assembly_async.sync")


class _TransactionState:
    """The sync state a delta sees inside a job transaction: reads go to the real
    state; the one ``set`` (the delta's commit) writes the watermark into the
    job's transaction and commits it."""

    def __init__(self, state: SyncState, txn: JobTransaction) -> None:
        self._state = state
        self._txn = txn
        self.committed = False

    def __repr__(self) -> str:
        return f"<job state over {self._state!r}>"

    async def get(self, key: str) -> Validators | None:
        return await self._state.get(key)

    async def set(self, key: str, validators: Validators) -> None:
        if self.committed:
            raise UsageError("a job transaction commits once")
        self.committed = True
        await self._txn.commit(key, validators)

    async def delete(self, key: str) -> None:
        await self._state.delete(key)


class JobWriter:
    """Where one (school, resource) job writes; see the module docstring."""

    def __init__(self, sink: Sink, state: SyncState, school_id: int, resource: str,
                 txn: JobTransaction | None) -> None:
        self._sink = sink
        self.school_id = school_id
        self.resource = resource
        self._txn = txn
        self._txn_state = _TransactionState(state, txn) if txn is not None else None
        #: The state to give the delta.
        self.state: SyncState = self._txn_state if self._txn_state is not None else state
        self._lister = sink if isinstance(sink, IdLister) else None

    @property
    def transactional(self) -> bool:
        """Whether records and watermark commit together."""
        return self._txn is not None

    @property
    def can_list(self) -> bool:
        """Whether :meth:`ids` works (the sink can list stored ids)."""
        return self._txn is not None or self._lister is not None

    async def write(self, records: list[dict[str, Any]]) -> None:
        if self._txn is not None:
            await self._txn.write(records)
        else:
            await self._sink.write(self.school_id, self.resource, records)

    async def remove(self, ids: Sequence[Any]) -> None:
        if self._txn is not None:
            await self._txn.remove(ids)
        else:
            await self._sink.remove(self.school_id, self.resource, ids)

    async def ids(self) -> set[Any]:
        if self._txn is not None:
            return await self._txn.ids()
        assert self._lister is not None
        return await self._lister.ids(self.resource, self.school_id)

    async def finish(self) -> None:
        """After the delta's ``async with`` ended cleanly: commit what the delta did not
        (a 304, a shifted walk: records without a new watermark)."""
        if self._txn is not None and self._txn_state is not None:
            if not self._txn_state.committed:
                self._txn_state.committed = True
                await self._txn.commit("", None)

    async def close(self) -> None:
        """Roll back whatever was not committed (always called; idempotent). A
        rollback that fails is logged, not raised: the job's own error, if any,
        is the one to report, and the database discards an uncommitted
        transaction anyway when its connection goes."""
        if self._txn is None:
            return
        try:
            await self._txn.rollback()
        except Exception:
            _log.warning("could not roll back the job of school %s %s", self.school_id,
                         self.resource, exc_info=True)


async def open_job(sink: Sink, state: SyncState, school_id: int, resource: str) -> JobWriter:
    """The writer for one job: transactional when the sink can commit the state's
    watermark with the records, plain otherwise."""
    txn = None
    if isinstance(sink, TransactionalSink):
        txn = await sink.begin_job(school_id, resource, state)
    return JobWriter(sink, state, school_id, resource, txn)
