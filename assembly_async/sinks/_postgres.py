"""PostgresSink: records in PostgreSQL (needs the ``[postgres]`` extra, asyncpg).

::

    async with PostgresSink("postgresql://sync@db.example/schools") as sink:
        state = sink.sync_state()           # watermarks in the same database
        engine = SyncEngine(client, sink, state, resources=["students"])
        await engine.run(school_ids)        # each job: records + watermark, one transaction

The layout (a table per resource with typed columns and the raw record as
JSONB, ``sync_runs``, ``sync_state``, a version table) is created and
migrated by the sink: see :mod:`._pg_schema` and :mod:`._pg_columns`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import re
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._client.syncstate import SyncState
from .._core.errors import ConfigurationError
from ._base import SyncRun, check_resource_name
from ._pg_conn import create_pool, is_dsn, redact_dsn, sink_errors
from ._pg_job import PostgresJob, TableWriter
from ._pg_schema import Names, ensure_schema, ensure_table
from ._pg_state import PostgresSyncState

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresSink"]

class PostgresSink:
    """A :class:`Sink` (with :class:`IdLister`, :class:`RunRecorder` and
    :class:`TransactionalSink`) on PostgreSQL through an asyncpg pool.

    ``dsn`` is a ``postgresql://user:password@host:port/database`` URL (or one
    the libpq way, ``?host=/run/postgresql`` for a unix socket); ``schema``
    the PostgreSQL schema that holds the tables (created if missing).
    ``pool_size`` caps the connections: a sync job holds one from its first
    write to its commit, so jobs beyond ``pool_size`` wait for one; give it
    the engine's ``concurrency`` (plus one or two for the sync state) to let
    every job write at once. A job's transaction stays open while the job
    waits for the API; ``job_idle_timeout`` (seconds) replaces the server's
    ``idle_in_transaction_session_timeout`` for it, so a slow school is not
    cut off while a stuck process still lets its locks go. The DSN's password
    never appears in a repr, a log or an error.
    """

    def __init__(self, dsn: str, *, schema: str = "public", pool_size: int = 10,
                 connect_timeout: float = 30.0, job_idle_timeout: float = 3600.0,
                 close_timeout: float = 60.0) -> None:
        if not is_dsn(dsn):
            raise ConfigurationError("PostgresSink needs a postgresql:// URL")
        if not isinstance(schema, str) or not re.match(r"^[a-z_][a-z0-9_]{0,62}$", schema):
            raise ConfigurationError(f"invalid PostgreSQL schema name {schema!r}")
        if pool_size < 1:
            raise ConfigurationError("pool_size must be >= 1")
        self._dsn = dsn
        self.schema = schema
        self.names = Names(schema)
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.job_idle_timeout = job_idle_timeout
        self.close_timeout = close_timeout
        self._pool: asyncpg.Pool | None = None
        self._instance: str | None = None
        self._tables: set[str] = set()
        self._table_lock = asyncio.Lock()
        #: The layout version found when the sink opened (0: created or migrated from 0).
        self.found_version: int | None = None

    def __repr__(self) -> str:
        return f"PostgresSink({redact_dsn(self._dsn)!r}, schema={self.schema!r})"

    @property
    def dsn(self) -> str:
        """The DSN with its password redacted."""
        return redact_dsn(self._dsn)

    @property
    def instance(self) -> str | None:
        """The schema's random identity (None until opened)."""
        return self._instance

    # -- lifecycle ----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def errors(self) -> AsyncIterator[None]:
        """Turn the driver's errors into :class:`SinkError` (no DSN, no row values)."""
        async with sink_errors(self._dsn):
            yield

    async def open(self) -> None:
        """Connect, then create or migrate the schema. Idempotent."""
        if self._pool is not None:
            return
        pool = await create_pool(self._dsn, size=self.pool_size, timeout=self.connect_timeout)
        try:
            async with self.errors(), pool.acquire() as conn:
                self._instance, self.found_version = await ensure_schema(conn, self.schema)
                rows = await conn.fetch(f"SELECT resource FROM {self.names.resources}")
                self._tables = {r["resource"] for r in rows}
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        """Close the pool (idempotent). Connections still in use get ``close_timeout``
        seconds to come back; then they are closed, and the server rolls back
        whatever they had not committed."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self.close_timeout)
        except asyncio.TimeoutError:
            pool.terminate()

    async def __aenter__(self) -> PostgresSink:
        await self.open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise ConfigurationError("PostgresSink is not open: call open() or use async with")
        return self._pool

    async def ensure_table(self, resource: str) -> None:
        """Create the table of ``resource`` if this sink has not seen it yet."""
        if resource in self._tables:
            return
        check_resource_name(resource)
        async with self._table_lock:
            if resource in self._tables:
                return
            async with self.errors(), self.pool().acquire() as conn:
                await ensure_table(conn, self.schema, resource)
            self._tables.add(resource)

    # -- Sink ---------------------------------------------------------------------

    async def write(self, school_id: int, resource: str, records: list[dict[str, Any]]) -> None:
        """Upsert ``records`` of one school by id, in one transaction."""
        if not records:
            return
        await self.ensure_table(check_resource_name(resource))
        async with self.errors(), self.pool().acquire() as conn, conn.transaction():
            writer = TableWriter(conn, self.names, school_id, resource)
            await writer.begin()
            await writer.write(records)

    async def remove(self, school_id: int, resource: str, ids: Sequence[Any]) -> None:
        """Delete the given ids of one school (unknown ids are ignored)."""
        if not ids:
            return
        await self.ensure_table(check_resource_name(resource))
        async with self.errors(), self.pool().acquire() as conn, conn.transaction():
            writer = TableWriter(conn, self.names, school_id, resource)
            await writer.begin()
            await writer.remove(ids)

    async def begin_job(self, school_id: int, resource: str,
                        state: SyncState) -> PostgresJob | None:
        """A job transaction when ``state`` keeps its watermarks in this schema."""
        probe = getattr(state, "schema_instance", None)
        if probe is None or self._instance is None:
            return None
        if await probe() != self._instance:
            return None
        check_resource_name(resource)
        return PostgresJob(self, school_id, resource)

    def sync_state(self) -> PostgresSyncState:
        """A :class:`PostgresSyncState` on this sink's pool and schema: jobs then
        commit their records and watermark in one transaction."""
        return PostgresSyncState(self)

    # -- reading back -------------------------------------------------------------

    async def count(self, resource: str, school_id: int | None = None) -> int:
        """How many records of ``resource`` are stored (for one school, or all)."""
        check_resource_name(resource)
        if resource not in self._tables:
            return 0
        sql = f"SELECT count(*) FROM {self.names.table(resource)}"
        args: tuple[Any, ...] = ()
        if school_id is not None:
            sql += " WHERE school_id = $1"
            args = (school_id,)
        async with self.errors():
            return int(await self.pool().fetchval(sql, *args))

    async def get(self, resource: str, school_id: int, record_id: Any) -> dict[str, Any] | None:
        """The stored raw record, or None."""
        check_resource_name(resource)
        if resource not in self._tables:
            return None
        async with self.errors():
            value = await self.pool().fetchval(
                f"SELECT raw FROM {self.names.table(resource)} WHERE school_id = $1 AND id = $2",
                school_id, record_id)
        return value if isinstance(value, dict) else None

    async def ids(self, resource: str, school_id: int) -> set[Any]:
        """Every stored id of one school's ``resource``."""
        check_resource_name(resource)
        if resource not in self._tables:
            return set()
        async with self.errors():
            rows = await self.pool().fetch(
                f"SELECT id FROM {self.names.table(resource)} WHERE school_id = $1", school_id)
        return {r[0] for r in rows}

    # -- sync_runs ----------------------------------------------------------------

    async def record_run(self, run: SyncRun) -> None:
        """Append one row to ``sync_runs``."""
        utc = _dt.timezone.utc
        async with self.errors():
            await self.pool().execute(
                f"INSERT INTO {self.names.runs} (school_id, started_at, finished_at, resources, "
                "records, removals, requests, not_modified, retries, ok, error) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                run.school_id, _dt.datetime.fromtimestamp(run.started_at, utc),
                _dt.datetime.fromtimestamp(run.finished_at, utc), list(run.resources),
                run.records, run.removals, run.requests, run.not_modified, run.retries, run.ok,
                run.error)

    async def last_runs(self) -> dict[int, SyncRun]:
        """The latest run of every school in ``sync_runs``."""
        async with self.errors():
            rows = await self.pool().fetch(
                "SELECT DISTINCT ON (school_id) school_id, started_at, finished_at, resources, "
                "records, removals, requests, not_modified, retries, ok, error "
                f"FROM {self.names.runs} ORDER BY school_id, run_id DESC")
        return {
            int(r["school_id"]): SyncRun(
                school_id=int(r["school_id"]), started_at=r["started_at"].timestamp(),
                finished_at=r["finished_at"].timestamp(), resources=tuple(r["resources"]),
                records=int(r["records"]), removals=int(r["removals"]),
                requests=int(r["requests"]), not_modified=int(r["not_modified"]),
                retries=None if r["retries"] is None else int(r["retries"]), ok=bool(r["ok"]),
                error=r["error"],
            )
            for r in rows
        }
