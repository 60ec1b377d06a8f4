"""SQLite job transactions: a job's records and its watermark in one commit,
when the sync state lives in the sink's own file.

A job streams its pages into a temporary table (``temp`` schema: private to
the sink's connection, never in the database file, gone if the process dies),
so the file's write lock is not held while the job waits for the API and other
jobs keep writing. ``commit`` then moves the staged rows into the resource
table, applies the removals and upserts the watermark in one short
``BEGIN IMMEDIATE`` transaction: a crash leaves both or neither.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core.errors import ConfigurationError
from .._core.responses import Validators
from .._core.storage import atomic, sqlite_errors
from ._base import record_json, record_key

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["SYNC_STATE_DDL", "SYNC_STATE_UPSERT", "SQLiteJob", "same_file"]


#: The ``sync_state`` table of ``SQLiteSyncState`` (and of a sink sharing its file).
SYNC_STATE_DDL = """
CREATE TABLE IF NOT EXISTS sync_state (
    key TEXT PRIMARY KEY,
    last_modified TEXT,
    etag TEXT,
    updated_at REAL NOT NULL
)
"""
SYNC_STATE_UPSERT = ("INSERT OR REPLACE INTO sync_state (key, last_modified, etag, updated_at) "
                     "VALUES (?, ?, ?, ?)")

_serial = itertools.count(1)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name one file (symlinks and relative paths resolved)."""
    if str(a) == ":memory:" or str(b) == ":memory:":
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


class SQLiteJob:
    """A :class:`JobTransaction` on one SQLite connection shared by many jobs.

    ``ensure_table`` creates the resource table; every statement runs under
    ``lock`` (the sink's), so concurrent jobs interleave only between calls.
    """

    def __init__(self, db: aiosqlite.Connection, lock: asyncio.Lock, school_id: int,
                 resource: str, ensure_table: Any, path: str | os.PathLike[str]) -> None:
        self._db = db
        self._path = path
        self._lock = lock
        self.school_id = school_id
        self.resource = resource
        self._ensure_table = ensure_table
        self._stage = f'temp."_assembly_job_{next(_serial)}"'
        self._staged = False
        self._gone: set[Any] = set()
        self._done = False
        self._dropped = False

    def __repr__(self) -> str:
        return f"<SQLiteJob school={self.school_id} {self.resource} done={self._done}>"

    def _check(self) -> None:
        if self._done:
            raise ConfigurationError("this job transaction has ended")

    async def _in_transaction(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        db = self._db
        async with atomic(db):
            if not self._staged:
                await db.execute(f"CREATE TABLE IF NOT EXISTS {self._stage} "
                                 "(id NOT NULL PRIMARY KEY, raw TEXT)")
            await db.executemany(sql, rows)
        self._staged = True

    async def write(self, records: list[dict[str, Any]]) -> None:
        self._check()
        if not records:
            return
        rows = [(record_key(r), record_json(r).decode()) for r in records]
        async with self._lock, sqlite_errors(self._path, "writing the SQLite sink"):
            await self._in_transaction(
                f"INSERT OR REPLACE INTO {self._stage} (id, raw) VALUES (?, ?)", rows)
        self._gone.difference_update(k for k, _ in rows)

    async def remove(self, ids: Sequence[Any]) -> None:
        self._check()
        if not ids:
            return
        async with self._lock, sqlite_errors(self._path, "writing the SQLite sink"):
            await self._in_transaction(f"DELETE FROM {self._stage} WHERE id = ?",
                                       [(i,) for i in ids])
        self._gone.update(ids)

    async def ids(self) -> set[Any]:
        """Stored ids as this job will leave them: committed, plus staged, minus removed."""
        self._check()
        async with self._lock, sqlite_errors(self._path, "reading the SQLite sink"):
            await self._ensure_table(self._db, self.resource)
            async with self._db.execute(f'SELECT id FROM "{self.resource}" WHERE school_id = ?',
                                        (self.school_id,)) as cur:
                stored = {row[0] for row in await cur.fetchall()}
            if self._staged:
                async with self._db.execute(f"SELECT id FROM {self._stage}") as cur:
                    stored.update(row[0] for row in await cur.fetchall())
        return stored - self._gone

    async def commit(self, key: str, validators: Validators | None) -> None:
        """Move the staged rows, apply the removals, store the watermark: one transaction."""
        self._check()
        self._done = True
        if not self._staged and not self._gone and not validators:
            self._dropped = True
            return
        db, now = self._db, time.time()
        async with self._lock, sqlite_errors(self._path, "committing to the SQLite sink"):
            await self._ensure_table(db, self.resource)
            async with atomic(db, "BEGIN IMMEDIATE"):
                if self._staged:
                    await db.execute(
                        f'INSERT OR REPLACE INTO "{self.resource}" (school_id, id, raw, synced_at) '
                        f"SELECT ?, id, raw, ? FROM {self._stage}", (self.school_id, now))
                if self._gone:
                    await db.executemany(
                        f'DELETE FROM "{self.resource}" WHERE school_id = ? AND id = ?',
                        [(self.school_id, i) for i in self._gone])
                if validators:
                    await db.execute(SYNC_STATE_UPSERT,
                                     (key, validators.last_modified, validators.etag, now))
            await self._drop()
            self._dropped = True

    async def rollback(self) -> None:
        """Drop the staged rows (idempotent; a no-op after commit)."""
        if self._dropped:
            return
        self._done = True
        self._dropped = True
        async with self._lock, sqlite_errors(self._path, "rolling back in the SQLite sink"):
            await self._drop()

    async def _drop(self) -> None:
        self._staged = False
        await self._db.execute(f"DROP TABLE IF EXISTS {self._stage}")
