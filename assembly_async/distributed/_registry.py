"""Which workers are alive: each announces itself every few seconds.

``<prefix>{workers}:seen`` (label -> last announcement, ms by Redis's clock)
and ``<prefix>{workers}:info`` (label -> JSON: pid, host, concurrency, jobs
running, outcomes so far). ``status --queue`` lists the workers seen in the
last minute; entries older than a day are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from ..redis._conn import RedisConnection, redis_errors, text

__all__ = ["WorkerInfo", "WorkerRegistry"]

#: A worker not heard of for this long is not listed.
ALIVE = 60.0
_FORGET = 86400.0


@attrs.frozen
class WorkerInfo:
    """A worker as it last announced itself."""

    label: str
    seen: float  # unix time
    concurrency: int
    running: int
    outcomes: Mapping[str, int]
    version: str


def _ms(reply: Any) -> int:
    """Redis ``TIME`` in milliseconds."""
    return int(reply[0]) * 1000 + int(reply[1]) // 1000


class WorkerRegistry:
    """Announcements of the workers sharing a Redis and a prefix."""

    def __init__(self, conn: RedisConnection) -> None:
        self._conn = conn
        self._seen = conn.key("workers", "seen")
        self._info = conn.key("workers", "info")

    @redis_errors
    async def announce(self, label: str, info: Mapping[str, Any]) -> None:
        client = self._conn.client
        now = _ms(await client.time())
        pipe = client.pipeline(transaction=True)
        pipe.zadd(self._seen, {label: now})
        pipe.hset(self._info, label, orjson.dumps(dict(info)))
        await pipe.execute()

    @redis_errors
    async def forget(self, label: str) -> None:
        """A worker stopping says so."""
        pipe = self._conn.client.pipeline(transaction=True)
        pipe.zrem(self._seen, label)
        pipe.hdel(self._info, label)
        await pipe.execute()

    @redis_errors
    async def alive(self) -> list[WorkerInfo]:
        client = self._conn.client
        now = _ms(await client.time()) / 1000
        old = [text(x) or "" for x in
               await client.zrangebyscore(self._seen, 0, int((now - _FORGET) * 1000))]
        if old:
            await client.zrem(self._seen, *old)
            await client.hdel(self._info, *old)
        found = []
        pairs: list[Any] = await client.zrangebyscore(
            self._seen, int((now - ALIVE) * 1000), "+inf", withscores=True)
        for raw, score in pairs:
            label = text(raw) or ""
            data = orjson.loads(await client.hget(self._info, label) or b"{}")
            found.append(WorkerInfo(
                label=label, seen=float(score) / 1000,
                concurrency=int(data.get("concurrency", 0)),
                running=int(data.get("running", 0)), outcomes=data.get("outcomes", {}),
                version=str(data.get("version", ""))))
        return sorted(found, key=lambda w: w.label)
