"""Writing one school's resource into PostgreSQL inside a transaction.

:class:`TableWriter` does the writes of one (school, resource) on one
connection whose transaction is open:

* it first takes a transaction-level advisory lock on (resource, school), so
  two writers of the same school's resource (two workers, say) take turns;
* when the table held no row of that school as the transaction began (a first
  sync), pages are binary-COPYed straight into the table: nothing can
  conflict, which makes a first load as fast as a bare COPY;
* otherwise (and for an id the transaction already wrote) a page is COPYed
  into a temporary table, then moved with ``INSERT ... ON CONFLICT DO UPDATE``;
  a row whose ``raw`` did not change is not rewritten.

:class:`PostgresJob` is the :class:`JobTransaction` of :class:`PostgresSink`:
one connection and one transaction per job, taken at the job's first write,
with the watermark upserted into ``sync_state`` just before ``COMMIT``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .._core.errors import SinkError
from .._core.responses import Validators
from ._base import record_json, record_key
from ._pg_columns import columns_for, json_for_postgres
from ._pg_schema import Names, quote

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy
    from asyncpg.transaction import Transaction

__all__ = ["PostgresJob", "TableWriter", "lock_key"]

_INT64 = 2**63


def lock_key(schema: str, resource: str, school_id: int) -> int:
    """A signed 64-bit advisory lock key for one school's resource in one schema."""
    digest = hashlib.blake2b(f"{schema}.{resource}/{school_id}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _int_id(record: Any, resource: str) -> int:
    if not isinstance(record, dict):
        raise SinkError(f"a {resource} record is not a JSON object", reason="bad record")
    try:
        key = record_key(record)
    except ValueError:
        raise SinkError(f"a {resource} record has no usable 'id'", reason="bad record") from None
    if isinstance(key, bool) or not isinstance(key, int) or not -_INT64 <= key < _INT64:
        raise SinkError(f"a {resource} record has an id that is not a 64-bit integer",
                        reason="bad record")
    return key


class TableWriter:
    """Writes of one school's resource on ``conn``, inside its open transaction."""

    def __init__(self, conn: Any, names: Names, school_id: int, resource: str) -> None:
        self.conn = conn
        self.names = names
        self.school_id = school_id
        self.resource = resource
        self.columns = columns_for(resource)
        self.table = names.table(resource)
        self.copy_columns = ["school_id", "id", *(c.name for c in self.columns), "raw"]
        self.stage = f"_assembly_stage_{resource}"
        self._fresh = False
        self._copied: set[int] = set()
        self._staged = False

    async def begin(self) -> None:
        """Lock this school's resource and see whether the table holds any of its rows."""
        await self.conn.execute("SELECT pg_advisory_xact_lock($1)",
                                lock_key(self.names.schema, self.resource, self.school_id))
        self._fresh = not await self.conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {self.table} WHERE school_id = $1)", self.school_id)

    def rows(self, records: list[dict[str, Any]]) -> dict[int, tuple[Any, ...]]:
        """COPY rows by id; a later record with the same id wins (as an upsert would)."""
        sid, resource = self.school_id, self.resource
        typed = [(c.name, c.convert) for c in self.columns]
        out: dict[int, tuple[Any, ...]] = {}
        dumps = record_json
        for record in records:
            key = record.get("id") if isinstance(record, dict) else None
            if type(key) is not int or not -_INT64 <= key < _INT64:
                key = _int_id(record, resource)  # raises, saying why
            raw = dumps(record)
            if b"u0000" in raw:
                raw = json_for_postgres(raw)
            if typed:
                out[key] = (sid, key, *[f(record.get(n)) for n, f in typed], raw)
            else:
                out[key] = (sid, key, raw)
        return out

    async def write(self, records: list[dict[str, Any]]) -> int:
        """Upsert ``records``; returns how many distinct ids were written."""
        rows = self.rows(records)
        if not rows:
            return 0
        if self._fresh:
            direct = [r for k, r in rows.items() if k not in self._copied]
            again = [r for k, r in rows.items() if k in self._copied]
            if direct:
                await self.conn.copy_records_to_table(
                    self.resource, schema_name=self.names.schema, records=direct,
                    columns=self.copy_columns)
                self._copied.update(rows)
        else:
            again = list(rows.values())
        if again:
            await self._upsert(again)
        return len(rows)

    async def _upsert(self, rows: list[tuple[Any, ...]]) -> None:
        if not self._staged:
            await self.conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {quote(self.stage)} "
                f"(LIKE {self.table} INCLUDING DEFAULTS) ON COMMIT DROP")
            self._staged = True
        await self.conn.copy_records_to_table(self.stage, records=rows,
                                              columns=self.copy_columns)
        cols = ", ".join(quote(c) for c in self.copy_columns)
        updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in self.copy_columns[2:])
        await self.conn.execute(
            f"INSERT INTO {self.table} AS t ({cols}) SELECT {cols} FROM {quote(self.stage)} "
            f"ON CONFLICT (school_id, id) DO UPDATE SET {updates}, synced_at = now() "
            "WHERE t.raw IS DISTINCT FROM EXCLUDED.raw")
        await self.conn.execute(f"TRUNCATE {quote(self.stage)}")

    async def remove(self, ids: Sequence[Any]) -> int:
        """Delete ``ids`` of this school (ids that are not 64-bit integers cannot be stored,
        so they are skipped); returns how many rows went."""
        keys = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)
                and -_INT64 <= i < _INT64]
        if not keys:
            return 0
        status = await self.conn.execute(
            f"DELETE FROM {self.table} WHERE school_id = $1 AND id = ANY($2::bigint[])",
            self.school_id, keys)
        return int(str(status).rsplit(" ", 1)[-1] or 0)

    async def ids(self) -> set[Any]:
        rows = await self.conn.fetch(f"SELECT id FROM {self.table} WHERE school_id = $1",
                                     self.school_id)
        return {r[0] for r in rows}


class _JobSink(Protocol):
    """What a job needs of its sink (``PostgresSink``)."""

    names: Names
    job_idle_timeout: float

    async def ensure_table(self, resource: str) -> None: ...

    def pool(self) -> asyncpg.Pool: ...

    def errors(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class PostgresJob:
    """A :class:`JobTransaction` on :class:`PostgresSink`: one connection and one
    transaction for the job, taken at its first write (a job that ends in a 304
    never touches the database)."""

    def __init__(self, sink: _JobSink, school_id: int, resource: str) -> None:
        self._sink = sink
        self.school_id = school_id
        self.resource = resource
        self._conn: PoolConnectionProxy[Any] | None = None
        self._tx: Transaction | None = None
        self._writer: TableWriter | None = None
        self._done = False

    def __repr__(self) -> str:
        return f"<PostgresJob school={self.school_id} {self.resource} open={self._tx is not None}>"

    async def _begin(self) -> TableWriter:
        if self._done:
            raise SinkError("this job transaction has ended", reason="closed")
        if self._writer is not None:
            return self._writer
        sink = self._sink
        await sink.ensure_table(self.resource)
        pool = sink.pool()
        async with sink.errors():
            conn = await pool.acquire()
            self._conn = conn
            self._tx = conn.transaction()
            await self._tx.start()
            # The transaction waits for the API between pages (a rate-limited school
            # can pause for minutes): a server-wide idle-in-transaction timeout must
            # not kill it, but a stuck job should not hold its locks forever either.
            await conn.execute("SELECT set_config('idle_in_transaction_session_timeout', $1, "
                               "true)", f"{int(self._sink.job_idle_timeout * 1000)}ms")
            writer = TableWriter(conn, sink.names, self.school_id, self.resource)
            await writer.begin()
        self._writer = writer
        return writer

    async def write(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        writer = await self._begin()
        async with self._sink.errors():
            await writer.write(records)

    async def remove(self, ids: Sequence[Any]) -> None:
        if not ids:
            return
        writer = await self._begin()
        async with self._sink.errors():
            await writer.remove(ids)

    async def ids(self) -> set[Any]:
        writer = await self._begin()
        async with self._sink.errors():
            return await writer.ids()

    async def commit(self, key: str, validators: Validators | None) -> None:
        """Write the watermark (if any) and commit; the connection goes back to the pool."""
        if validators:
            await self._begin()
        if self._tx is None:
            self._done = True
            return
        conn = self._conn
        assert conn is not None
        try:
            async with self._sink.errors():
                if validators:
                    await conn.execute(
                        f"INSERT INTO {self._sink.names.state} (key, last_modified, etag) "
                        "VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET "
                        "last_modified = EXCLUDED.last_modified, etag = EXCLUDED.etag, "
                        "updated_at = now()", key, validators.last_modified, validators.etag)
                await self._tx.commit()
            self._tx = None
        finally:
            await self._release()

    async def rollback(self) -> None:
        """Discard the job's writes (idempotent; a no-op after commit)."""
        await self._release()

    async def _release(self) -> None:
        self._done = True
        conn, tx = self._conn, self._tx
        self._conn = self._tx = self._writer = None
        if conn is None:
            return
        pool = self._sink.pool()
        try:
            if tx is not None:
                await tx.rollback()
        except BaseException as exc:
            # A connection we cannot roll back (cancelled mid-COPY, server gone)
            # is closed: the server then rolls the transaction back itself.
            conn.terminate()
            with contextlib.suppress(Exception):
                await pool.release(conn)
            if not isinstance(exc, Exception):
                raise
            return
        with contextlib.suppress(Exception):
            await pool.release(conn)
