"""SQLiteSink: the embedded default sink (one SQLite file, a table per resource)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson

from .._client.syncstate import SyncState
from .._core.errors import ConfigurationError
from .._core.storage import atomic, connect, sqlite_errors
from ._base import SyncRun, check_resource_name, record_json, record_key
from ._sqlite_job import SYNC_STATE_DDL, SQLiteJob, same_file

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["SQLiteSink"]

_RUNS = """
CREATE TABLE IF NOT EXISTS sync_runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id INTEGER NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    resources TEXT NOT NULL,
    records INTEGER NOT NULL,
    removals INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    not_modified INTEGER NOT NULL,
    retries INTEGER,
    ok INTEGER NOT NULL,
    error TEXT
)
"""
_RUNS_INDEX = "CREATE INDEX IF NOT EXISTS sync_runs_school ON sync_runs (school_id, run_id)"


class SQLiteSink:
    """Records in one SQLite file.

    Each resource gets a table ``<resource>(school_id, id, raw, synced_at)``
    with primary key ``(school_id, id)``; ``raw`` is the record's JSON exactly
    as the API sent it (re-serialised by orjson). ``write`` upserts, ``remove``
    deletes. ``sync_runs`` logs one row per school per run. One connection,
    WAL mode, one transaction per call, calls serialised by a lock.

    The file holds pupils' data: it is created with mode 0600 (its WAL and SHM
    side files follow), aiosqlite's DEBUG log never shows the records, and a
    corrupted file raises :class:`StorageError` naming it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path if str(path) == ":memory:" else Path(path)
        self._db: aiosqlite.Connection | None = None
        self._tables: set[str] = set()
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SQLiteSink({str(self.path)!r})"

    async def open(self) -> None:
        """Create the file and ``sync_runs`` if needed and connect. Idempotent."""
        if self._db is not None:
            return
        if isinstance(self.path, Path) and not self.path.parent.is_dir():
            raise ConfigurationError(f"directory {str(self.path.parent)!r} does not exist")
        db = await connect(self.path, statements=[_RUNS, _RUNS_INDEX], what="SQLite sink")
        try:
            async with sqlite_errors(self.path, "opening the SQLite sink"), db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            ) as cur:
                self._tables = {row[0] for row in await cur.fetchall()}
        except BaseException:
            await db.close()
            raise
        self._db = db
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    async def __aenter__(self) -> SQLiteSink:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise ConfigurationError("SQLiteSink is not open: call open() or use async with")
        return self._db

    async def _ensure_table(self, db: aiosqlite.Connection, resource: str) -> None:
        if resource in self._tables:
            return
        check_resource_name(resource)
        await db.execute(
            f'CREATE TABLE IF NOT EXISTS "{resource}" ('
            "school_id INTEGER NOT NULL, id NOT NULL, raw TEXT NOT NULL, "
            "synced_at REAL NOT NULL, PRIMARY KEY (school_id, id)) WITHOUT ROWID"
        )
        self._tables.add(resource)

    async def write(self, school_id: int, resource: str, records: list[dict[str, Any]]) -> None:
        """Upsert ``records`` of one school by id, in one transaction."""
        if not records:
            return
        check_resource_name(resource)
        now = time.time()
        rows = [(school_id, record_key(r), record_json(r).decode(), now) for r in records]
        db = self._conn()
        async with self._lock, sqlite_errors(self.path, "writing the SQLite sink"):
            await self._ensure_table(db, resource)
            async with atomic(db):
                await db.executemany(
                    f'INSERT OR REPLACE INTO "{resource}" (school_id, id, raw, synced_at) '
                    "VALUES (?, ?, ?, ?)", rows,
                )

    async def remove(self, school_id: int, resource: str, ids: Sequence[Any]) -> None:
        """Delete the given ids of one school (unknown ids are ignored)."""
        if not ids:
            return
        check_resource_name(resource)
        db = self._conn()
        async with self._lock, sqlite_errors(self.path, "writing the SQLite sink"):
            await self._ensure_table(db, resource)
            async with atomic(db):
                await db.executemany(
                    f'DELETE FROM "{resource}" WHERE school_id = ? AND id = ?',
                    [(school_id, i) for i in ids],
                )

    async def begin_job(self, school_id: int, resource: str,
                        state: SyncState) -> SQLiteJob | None:
        """A job transaction when ``state`` is a ``SQLiteSyncState`` on this very file
        (its ``sqlite_path``): the job's records and watermark then commit together."""
        path = getattr(state, "sqlite_path", None)
        if path is None or not isinstance(self.path, Path) or not same_file(path, self.path):
            return None
        check_resource_name(resource)
        db = self._conn()
        async with self._lock, sqlite_errors(self.path, "writing the SQLite sink"):
            await db.execute(SYNC_STATE_DDL)
        return SQLiteJob(db, self._lock, school_id, resource, self._ensure_table, self.path)

    # -- reading back -----------------------------------------------------------

    async def count(self, resource: str, school_id: int | None = None) -> int:
        """How many records of ``resource`` are stored (for one school, or all)."""
        check_resource_name(resource)
        db = self._conn()
        if resource not in self._tables:
            return 0
        sql = f'SELECT COUNT(*) FROM "{resource}"'
        args: tuple[Any, ...] = ()
        if school_id is not None:
            sql += " WHERE school_id = ?"
            args = (school_id,)
        async with self._lock, sqlite_errors(self.path, "reading the SQLite sink"), \
                db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def get(self, resource: str, school_id: int, record_id: Any) -> dict[str, Any] | None:
        """The stored raw record, or None."""
        check_resource_name(resource)
        db = self._conn()
        if resource not in self._tables:
            return None
        async with self._lock, sqlite_errors(self.path, "reading the SQLite sink"), db.execute(
            f'SELECT raw FROM "{resource}" WHERE school_id = ? AND id = ?', (school_id, record_id)
        ) as cur:
            row = await cur.fetchone()
        return orjson.loads(row[0]) if row else None

    async def ids(self, resource: str, school_id: int) -> set[Any]:
        """Every stored id of one school's ``resource``."""
        check_resource_name(resource)
        db = self._conn()
        if resource not in self._tables:
            return set()
        async with self._lock, sqlite_errors(self.path, "reading the SQLite sink"), db.execute(
            f'SELECT id FROM "{resource}" WHERE school_id = ?', (school_id,)
        ) as cur:
            return {row[0] for row in await cur.fetchall()}

    # -- sync_runs --------------------------------------------------------------

    async def record_run(self, run: SyncRun) -> None:
        """Append one row to ``sync_runs``."""
        db = self._conn()
        async with self._lock, sqlite_errors(self.path, "writing the SQLite sink"):
            await db.execute(
                "INSERT INTO sync_runs (school_id, started_at, finished_at, resources, records, "
                "removals, requests, not_modified, retries, ok, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run.school_id, run.started_at, run.finished_at, ",".join(run.resources),
                 run.records, run.removals, run.requests, run.not_modified, run.retries,
                 int(run.ok), run.error),
            )

    async def last_runs(self) -> dict[int, SyncRun]:
        """The latest run of every school in ``sync_runs``."""
        db = self._conn()
        sql = (
            "SELECT school_id, started_at, finished_at, resources, records, removals, requests, "
            "not_modified, retries, ok, error FROM sync_runs WHERE run_id IN "
            "(SELECT MAX(run_id) FROM sync_runs GROUP BY school_id) ORDER BY school_id"
        )
        async with self._lock, sqlite_errors(self.path, "reading the SQLite sink"), \
                db.execute(sql) as cur:
            rows = await cur.fetchall()
        return {
            int(r[0]): SyncRun(
                school_id=int(r[0]), started_at=float(r[1]), finished_at=float(r[2]),
                resources=tuple(x for x in str(r[3]).split(",") if x), records=int(r[4]),
                removals=int(r[5]), requests=int(r[6]), not_modified=int(r[7]),
                retries=None if r[8] is None else int(r[8]), ok=bool(r[9]), error=r[10],
            )
            for r in rows
        }
