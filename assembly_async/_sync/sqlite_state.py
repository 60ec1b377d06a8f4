"""Sync watermarks in one SQLite file (needs the optional ``aiosqlite`` package).

::

    async with SQLiteSyncState("sync.db") as state:
        async with school.changes("students", state=state) as delta:
            ...

The file holds only ``Last-Modified``/``ETag`` values per key (and keys that
name schools and filters), no pupils' data; it is created 0600 all the same,
like every file of the SDK. A corrupted file raises :class:`StorageError`
naming it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from .._core.responses import Validators
from .._core.storage import connect, sqlite_errors
from ..sinks._sqlite_job import SYNC_STATE_DDL, SYNC_STATE_UPSERT

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["SQLiteSyncState"]

_SCHEMA = SYNC_STATE_DDL
_UPSERT = SYNC_STATE_UPSERT


class SQLiteSyncState:
    """A :class:`SyncState` in SQLite: survives restarts; safe for several
    processes (WAL mode, one short transaction per write).

    Give it the file of your :class:`SQLiteSink` and the engine commits each
    job's records and its watermark in one transaction (the sink sees the
    state's :attr:`sqlite_path`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def sqlite_path(self) -> Path:
        """The file holding the ``sync_state`` table."""
        return self.path

    def __repr__(self) -> str:
        return f"<SQLiteSyncState {str(self.path)!r} open={self._db is not None}>"

    async def open(self) -> SQLiteSyncState:
        """Open (and create) the file; idempotent."""
        async with self._lock:
            if self._db is None:
                db = await connect(self.path, statements=[_SCHEMA], busy_timeout=5.0,
                                   what="sync state")
                self._db = db
        return self

    async def close(self) -> None:
        """Close the file; idempotent."""
        async with self._lock:
            if self._db is not None:
                db, self._db = self._db, None
                await db.close()

    async def __aenter__(self) -> SQLiteSyncState:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            await self.open()
        assert self._db is not None
        return self._db

    async def get(self, key: str) -> Validators | None:
        db = await self._conn()
        async with sqlite_errors(self.path, "reading the sync state"), db.execute(
            "SELECT last_modified, etag FROM sync_state WHERE key = ?", (key,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return Validators(last_modified=row[0], etag=row[1])

    async def set(self, key: str, validators: Validators) -> None:
        db = await self._conn()
        async with sqlite_errors(self.path, "writing the sync state"):
            await db.execute(_UPSERT, (key, validators.last_modified, validators.etag,
                                       time.time()))
            await db.commit()

    async def delete(self, key: str) -> None:
        db = await self._conn()
        async with sqlite_errors(self.path, "writing the sync state"):
            await db.execute("DELETE FROM sync_state WHERE key = ?", (key,))
            await db.commit()

    async def keys(self) -> list[str]:
        """Every stored key (for inspection and cleanup)."""
        db = await self._conn()
        async with sqlite_errors(self.path, "reading the sync state"), db.execute(
                "SELECT key FROM sync_state ORDER BY key") as cur:
            rows = await cur.fetchall()
        return [str(r[0]) for r in rows]
