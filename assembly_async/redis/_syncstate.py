"""Incremental-sync watermarks in Redis, shared by every worker.

One hash per school, ``<prefix>{school:123}:sync``: field = the
:func:`~assembly_async.sync_key` of a list with its filters, value = JSON
``{"last_modified": ..., "etag": ...}``. Keys whose school cannot be read from
the sync key (not ``"<id>/..."``) go to ``<prefix>{other}:sync``. It holds no
school data, only ``Last-Modified``/``ETag`` values.
"""

from __future__ import annotations

from types import TracebackType

import orjson

from .._core.errors import DecodeError
from .._core.responses import Validators
from ._conn import DEFAULT_PREFIX, RedisConnection, RedisLike, redis_errors, text

__all__ = ["RedisSyncState"]


def _tag(key: str) -> str:
    head = key.split("/", 1)[0]
    return f"school:{head}" if head.isdigit() else "other"


class RedisSyncState:
    """A :class:`SyncState` in Redis.

    ``RedisSyncState("redis://...")`` opens (and on :meth:`close` closes) its
    own client; ``RedisSyncState(client)`` borrows one. ``prefix`` namespaces
    the keys. Writes are single commands (atomic); the engine moves a
    watermark only after the whole delta was consumed, so a worker killed
    mid-delta leaves the old watermark in place.
    """

    def __init__(self, redis: RedisLike, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._conn = RedisConnection(redis, prefix=prefix)

    def __repr__(self) -> str:
        return f"<RedisSyncState prefix={self._conn.prefix!r}>"

    @redis_errors
    async def open(self) -> RedisSyncState:
        """Check that Redis answers (PING)."""
        await self._conn.client.ping()
        return self

    @redis_errors
    async def close(self) -> None:
        """Close the client if it was opened from a URL here. Idempotent."""
        await self._conn.close()

    async def __aenter__(self) -> RedisSyncState:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    def _hash(self, key: str) -> str:
        return self._conn.key(_tag(key), "sync")

    @redis_errors
    async def get(self, key: str) -> Validators | None:
        raw = text(await self._conn.client.hget(self._hash(key), key))
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
            return Validators(last_modified=data.get("last_modified"), etag=data.get("etag"))
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            raise DecodeError("stored sync watermark is unreadable",
                              schema="Validators") from None

    @redis_errors
    async def set(self, key: str, validators: Validators) -> None:
        value = orjson.dumps({"last_modified": validators.last_modified,
                              "etag": validators.etag})
        await self._conn.client.hset(self._hash(key), key, value)

    @redis_errors
    async def delete(self, key: str) -> None:
        await self._conn.client.hdel(self._hash(key), key)

    @redis_errors
    async def keys(self) -> list[str]:
        """Every stored sync key, sorted (for inspection and cleanup)."""
        found: list[str] = []
        for tag in await self._conn.scan("sync"):
            fields = await self._conn.client.hkeys(self._conn.key(tag, "sync"))
            found.extend(t for t in (text(f) for f in fields) if t is not None)
        return sorted(found)
