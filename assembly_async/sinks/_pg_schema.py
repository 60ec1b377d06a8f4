"""The PostgreSQL sink's schema: created, versioned and migrated by the sink.

Tables, in one PostgreSQL schema (``public`` unless told otherwise):

* ``assembly_schema``: one row, the layout ``version`` and the schema's
  ``instance`` (a random id set at creation; a sink and a sync state that read
  the same instance share the tables, so a job's records and watermark can
  commit together);
* ``assembly_resources``: the resource tables the sink created;
* ``<resource>``: ``school_id``, ``id``, the typed columns of
  :mod:`._pg_columns`, ``raw`` (the whole record, JSONB) and ``synced_at``
  (when the row last changed); primary key ``(school_id, id)``;
* ``sync_runs``: one row per school per sync run;
* ``sync_state``: the watermarks of :class:`PostgresSyncState`.

Every change of layout is a numbered migration below, applied in one
transaction under an advisory lock, so many processes opening the same
database at once migrate it exactly once. A database newer than this SDK is
refused, never downgraded. Version 0 is a database without
``assembly_schema``: either empty, or holding the first layout (raw as text,
``synced_at`` as unix seconds, ``sync_runs`` as the SQLite sink writes it).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from .._core.errors import SinkError
from ._base import _RESERVED, check_resource_name, record_json
from ._pg_columns import Column, columns_for

if TYPE_CHECKING:
    from typing import TypeAlias

    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    #: A connection, or the pool's proxy of one.
    Conn: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]

__all__ = ["CURRENT_VERSION", "Names", "ensure_schema", "ensure_table", "quote"]

CURRENT_VERSION = 1
#: pg_advisory_xact_lock key taken while the schema or a table is created.
SCHEMA_LOCK = 0x4153_5359_4E43_0001


def quote(ident: str) -> str:
    """A quoted SQL identifier."""
    return '"' + ident.replace('"', '""') + '"'


@attrs.frozen
class Names:
    """Qualified table names inside one PostgreSQL schema."""

    schema: str

    def table(self, name: str) -> str:
        return f"{quote(self.schema)}.{quote(name)}"

    @property
    def meta(self) -> str:
        return self.table("assembly_schema")

    @property
    def resources(self) -> str:
        return self.table("assembly_resources")

    @property
    def runs(self) -> str:
        return self.table("sync_runs")

    @property
    def state(self) -> str:
        return self.table("sync_state")


def _resource_ddl(names: Names, resource: str, compression: str) -> list[str]:
    cols = columns_for(resource)
    typed = "".join(f"{quote(c.name)} {c.type}, " for c in cols)
    table = names.table(resource)
    ddl = [
        f"CREATE TABLE IF NOT EXISTS {table} (school_id bigint NOT NULL, id bigint NOT NULL, "
        f"{typed}raw jsonb {compression}NOT NULL, "
        "synced_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (school_id, id))",
    ]
    ddl += _index_ddl(names, resource, cols)
    ddl.append(f"INSERT INTO {names.resources} (resource) VALUES ('{resource}') "
               "ON CONFLICT DO NOTHING")
    return ddl


def _index_ddl(names: Names, resource: str, cols: tuple[Column, ...]) -> list[str]:
    return [f"CREATE INDEX IF NOT EXISTS {quote(f'{resource}_{c.name}')} ON "
            f"{names.table(resource)} (school_id, {quote(c.name)})" for c in cols if c.indexed]


async def _compression(conn: Conn) -> str:
    """``COMPRESSION lz4 `` where the server has it: lz4 compresses the 2 KB
    records that a student is about three times faster than pglz."""
    row = await conn.fetchval(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    return "COMPRESSION lz4 " if row else ""


async def _columns(conn: Conn, schema: str, table: str) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = $1 AND table_name = $2", schema, table)
    return {r["column_name"]: r["data_type"] for r in rows}


async def _read_version(conn: Conn, names: Names) -> tuple[int, str | None]:
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", names.meta)
    if not exists:
        return 0, None
    row = await conn.fetchrow(f"SELECT version, instance FROM {names.meta}")
    if row is None:
        return 0, None
    return int(row["version"]), str(row["instance"])


async def backfill(conn: Conn, names: Names, resource: str,
                   cols: tuple[Column, ...], batch: int = 5000) -> None:
    """Fill typed columns from ``raw`` for every row (used by migrations)."""
    if not cols:
        return
    table = names.table(resource)
    sets = ", ".join(f"{quote(c.name)} = ${i + 3}" for i, c in enumerate(cols))
    update = f"UPDATE {table} SET {sets} WHERE school_id = $1 AND id = $2"
    last: tuple[int, int] = (-(2**63), -(2**63))
    while True:
        rows = await conn.fetch(
            f"SELECT school_id, id, raw FROM {table} WHERE (school_id, id) > ($1, $2) "
            f"ORDER BY school_id, id LIMIT {batch}", *last)
        if not rows:
            return
        args = []
        for r in rows:
            raw = r["raw"]
            record = raw if isinstance(raw, dict) else {}
            args.append((r["school_id"], r["id"], *(c.value(record) for c in cols)))
        await conn.executemany(update, args)
        last = (rows[-1]["school_id"], rows[-1]["id"])


async def _to_1(conn: Conn, names: Names) -> None:
    """Version 1: typed columns, JSONB ``raw``, timestamps as timestamptz."""
    schema = names.schema
    compression = await _compression(conn)
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {names.meta} (one boolean PRIMARY KEY DEFAULT true "
        "CHECK (one), version integer NOT NULL, instance text NOT NULL, "
        "migrated_at timestamptz NOT NULL DEFAULT now())")
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {names.resources} (resource text PRIMARY KEY, "
        "created_at timestamptz NOT NULL DEFAULT now())")
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {names.state} (key text PRIMARY KEY, last_modified text, "
        "etag text, updated_at timestamptz NOT NULL DEFAULT now())")
    runs = await _columns(conn, schema, "sync_runs")
    if runs:  # version 0 kept the SQLite sink's types: unix seconds, "a,b", 0/1
        alter = []
        if runs.get("started_at") != "timestamp with time zone":
            alter += ["ALTER started_at TYPE timestamptz USING to_timestamp(started_at)",
                      "ALTER finished_at TYPE timestamptz USING to_timestamp(finished_at)"]
        if runs.get("resources") == "text":
            alter.append("ALTER resources TYPE text[] USING "
                         "array_remove(string_to_array(resources, ','), '')")
        if runs.get("ok") in ("integer", "bigint", "smallint"):
            alter.append("ALTER ok TYPE boolean USING ok <> 0")
        if alter:
            await conn.execute(f"ALTER TABLE {names.runs} {', '.join(alter)}")
    else:
        await conn.execute(
            f"CREATE TABLE {names.runs} (run_id bigserial PRIMARY KEY, "
            "school_id bigint NOT NULL, started_at timestamptz NOT NULL, "
            "finished_at timestamptz NOT NULL, resources text[] NOT NULL, "
            "records bigint NOT NULL, removals bigint NOT NULL, requests bigint NOT NULL, "
            "not_modified bigint NOT NULL, retries bigint, ok boolean NOT NULL, error text)")
    await conn.execute(f"CREATE INDEX IF NOT EXISTS sync_runs_school ON {names.runs} "
                       "(school_id, run_id)")
    # Version-0 resource tables: every other table with school_id, id and raw.
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = $1 "
        "AND column_name IN ('school_id', 'id', 'raw') GROUP BY table_name "
        "HAVING count(*) = 3", schema)
    for row in tables:
        resource = row["table_name"]
        if resource in _RESERVED:
            continue
        check_resource_name(resource)
        have = await _columns(conn, schema, resource)
        table = names.table(resource)
        alter = []
        if have.get("raw") != "jsonb":
            alter.append("ALTER raw TYPE jsonb USING raw::jsonb")
        if have.get("synced_at") not in (None, "timestamp with time zone"):
            alter.append("ALTER synced_at TYPE timestamptz USING to_timestamp(synced_at)")
        elif "synced_at" not in have:
            alter.append("ADD synced_at timestamptz NOT NULL DEFAULT now()")
        alter.append("ALTER synced_at SET DEFAULT now()")
        cols = columns_for(resource)
        alter += [f"ADD {quote(c.name)} {c.type}" for c in cols if c.name not in have]
        await conn.execute(f"ALTER TABLE {table} {', '.join(alter)}")
        if compression:
            await conn.execute(f"ALTER TABLE {table} ALTER raw SET COMPRESSION lz4")
        await backfill(conn, names, resource, cols)
        for statement in _index_ddl(names, resource, cols):
            await conn.execute(statement)
        await conn.execute(f"INSERT INTO {names.resources} (resource) VALUES ($1) "
                           "ON CONFLICT DO NOTHING", resource)


Migration = Callable[["Conn", Names], Awaitable[None]]
#: version -> the step that brings version - 1 to it.
MIGRATIONS: dict[int, Migration] = {1: _to_1}


async def ensure_schema(conn: Conn, schema: str) -> tuple[str, int]:
    """Create or migrate the schema; returns (instance, the version found)."""
    names = Names(schema)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        exists = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema)
        if not exists:
            await conn.execute(f"CREATE SCHEMA {quote(schema)}")
        found, instance = await _read_version(conn, names)
        if found > CURRENT_VERSION:
            raise SinkError(f"the PostgreSQL schema {schema!r} has layout version {found}; "
                            f"this SDK knows versions up to {CURRENT_VERSION}: upgrade it")
        for version in range(found + 1, CURRENT_VERSION + 1):
            await MIGRATIONS[version](conn, names)
        if found < CURRENT_VERSION:
            instance = instance or secrets.token_hex(16)
            await conn.execute(
                f"INSERT INTO {names.meta} (one, version, instance) VALUES (true, $1, $2) "
                "ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version, "
                "migrated_at = now()", CURRENT_VERSION, instance)
        assert instance is not None
        return instance, found


async def ensure_table(conn: Conn, schema: str, resource: str) -> None:
    """Create the table of ``resource`` if needed (its own short transaction).

    A table that exists is left alone: even ``CREATE INDEX IF NOT EXISTS`` would
    queue behind every open job transaction writing to it (another worker's)."""
    names = Names(schema)
    table = names.table(check_resource_name(resource))
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
            await conn.execute(f"INSERT INTO {names.resources} (resource) VALUES ($1) "
                               "ON CONFLICT DO NOTHING", resource)
            return
        compression = await _compression(conn)
        for statement in _resource_ddl(names, resource, compression):
            await conn.execute(statement)


def encode_jsonb(value: Any) -> bytes:
    """Binary JSONB: version byte 1, then the JSON text (bytes pass through)."""
    data = value if isinstance(value, bytes) else record_json(value)
    return b"\x01" + data


def decode_jsonb(data: bytes) -> Any:
    return orjson.loads(data[1:])
