"""PostgresSyncState: sync watermarks in the ``sync_state`` table of a PostgreSQL
schema, usually the one a :class:`PostgresSink` writes to.

::

    async with PostgresSink(dsn) as sink:
        state = sink.sync_state()                 # shares the sink's pool
    # or on its own:
    async with PostgresSyncState(dsn) as state:
        ...

When the state and the sink share a schema, :class:`SyncEngine` commits each
job's records and its watermark in one transaction (the sink's
``begin_job``); the state is then only read by the engine.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from .._core.errors import ConfigurationError
from .._core.responses import Validators
from ._pg_conn import create_pool, is_dsn, redact_dsn, sink_errors
from ._pg_schema import Names, ensure_schema

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresSyncState"]


class _PoolOwner(Protocol):
    """What the state needs of a sink it shares a pool with."""

    names: Names

    @property
    def instance(self) -> str | None: ...

    def pool(self) -> asyncpg.Pool: ...

    def errors(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class PostgresSyncState:
    """A :class:`SyncState` in PostgreSQL.

    Given a :class:`PostgresSink` it uses the sink's pool and schema (open the
    sink first; closing the state leaves the sink alone). Given a DSN it opens
    a small pool of its own (``pool_size`` connections) and creates or migrates
    the schema like the sink would.
    """

    def __init__(self, target: str | _PoolOwner, *, schema: str = "public",
                 pool_size: int = 2, connect_timeout: float = 30.0) -> None:
        if isinstance(target, str):
            if not is_dsn(target):
                raise ConfigurationError("PostgresSyncState needs a postgresql:// URL or a sink")
            if not re.match(r"^[a-z_][a-z0-9_]{0,62}$", schema):
                raise ConfigurationError(f"invalid PostgreSQL schema name {schema!r}")
            self._dsn: str | None = target
            self._sink: _PoolOwner | None = None
            self.names = Names(schema)
        else:
            self._dsn = None
            self._sink = target
            self.names = target.names
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None
        self._instance: str | None = None

    def __repr__(self) -> str:
        where = redact_dsn(self._dsn) if self._dsn else repr(self._sink)
        return f"<PostgresSyncState {where} schema={self.names.schema!r}>"

    async def open(self) -> PostgresSyncState:
        """Connect (a DSN) and create or migrate the schema; idempotent."""
        if self._sink is not None or self._pool is not None:
            return self
        assert self._dsn is not None
        pool = await create_pool(self._dsn, size=self.pool_size, timeout=self.connect_timeout)
        try:
            async with sink_errors(self._dsn), pool.acquire() as conn:
                self._instance, _ = await ensure_schema(conn, self.names.schema)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        return self

    async def close(self) -> None:
        """Close the pool this state opened (a sink's pool is the sink's to close)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> PostgresSyncState:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[Any]:
        if self._sink is not None:
            async with self._sink.errors(), self._sink.pool().acquire() as conn:
                yield conn
            return
        if self._pool is None:
            await self.open()
        assert self._pool is not None and self._dsn is not None
        async with sink_errors(self._dsn), self._pool.acquire() as conn:
            yield conn

    async def schema_instance(self) -> str | None:
        """The identity of the schema holding the watermarks (a sink compares it
        with its own to decide whether jobs can commit in one transaction)."""
        if self._sink is not None:
            return self._sink.instance
        if self._pool is None:
            await self.open()
        return self._instance

    async def get(self, key: str) -> Validators | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(
                f"SELECT last_modified, etag FROM {self.names.state} WHERE key = $1", key)
        if row is None:
            return None
        return Validators(last_modified=row["last_modified"], etag=row["etag"])

    async def set(self, key: str, validators: Validators) -> None:
        async with self._conn() as conn:
            await conn.execute(
                f"INSERT INTO {self.names.state} (key, last_modified, etag) VALUES ($1, $2, $3) "
                "ON CONFLICT (key) DO UPDATE SET last_modified = EXCLUDED.last_modified, "
                "etag = EXCLUDED.etag, updated_at = now()",
                key, validators.last_modified, validators.etag)

    async def delete(self, key: str) -> None:
        async with self._conn() as conn:
            await conn.execute(f"DELETE FROM {self.names.state} WHERE key = $1", key)

    async def keys(self) -> list[str]:
        """Every stored key (for inspection and cleanup)."""
        async with self._conn() as conn:
            rows = await conn.fetch(f"SELECT key FROM {self.names.state} ORDER BY key")
        return [str(r["key"]) for r in rows]
