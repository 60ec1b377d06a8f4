"""One rate budget per school for every process: a sliding window kept in Redis.

CONCEPTS "Rate limiting": 600 requests per 5 minutes per access token. With
several workers, an in-process limiter gives each worker the whole budget; this
one keeps the budget in Redis, so ``limit`` holds for all of them together.

Per budget key (a school) there are two sorted sets and a pause, in one hash
slot: ``<prefix>{school:1}:rl:run`` (requests in flight: slot id -> expiry)
and ``...:rl:done`` (finished requests: slot id -> finish time), plus
``...:rl:pause`` (a 429's pause, until when). One Lua script decides, timed by
Redis's own clock (``TIME``), never by a worker's, so a worker whose clock is
off changes nothing:

* a request holds a slot while in flight and counts for ``window`` seconds from
  the moment it *finished* (like :class:`~assembly_async.SlidingWindowLimiter`),
  so at most ``limit`` requests start in any ``window`` as the server sees them;
* an in-flight slot whose process died (never released) counts as finished
  ``inflight_ttl`` seconds after it started;
* a 429 pauses the school for every process.

The pipeline calls ``release`` and ``pause`` synchronously; this limiter
schedules their Redis call as a task (awaited by :meth:`RedisRateLimiter.close`)
rather than changing the :class:`RateLimiter` protocol: a release that lands a
moment late only makes the window more conservative, and one that is lost
(the process died) is covered by ``inflight_ttl``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
import time
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

from .._core.errors import ConfigurationError
from .._http.ratelimit import BudgetKey
from ._conn import DEFAULT_PREFIX, RedisConnection, RedisLike, redis_errors

__all__ = ["RedisRateLimiter"]

log = logging.getLogger("assembly_async.redis")

# KEYS: done, run, pause. ARGV: limit, window us, in-flight ttl us, slot id (or '' to
# only look). Returns {granted 0/1, microseconds until a slot may free up, remaining}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return {0, paused - now, 0} end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES')
for i = 1, #expired, 2 do redis.call('ZADD', KEYS[1], expired[i + 1], expired[i]) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
if used < limit and ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])
  local keep = math.ceil((window + ttl) / 1000) + 1000
  redis.call('PEXPIRE', KEYS[2], keep)
  redis.call('PEXPIRE', KEYS[1], keep)
  return {1, 0, limit - used - 1}
end
if used < limit then return {0, 0, limit - used} end
local wait = window
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #oldest > 0 then wait = tonumber(oldest[2]) + window - now end
return {0, math.max(wait, 1), 0}
"""

# KEYS: done, run. ARGV: slot id. The slot finishes now (by Redis's clock).
_RELEASE = """
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[1])
end
return 1
"""

# KEYS: pause. ARGV: microseconds. Pauses only ever get longer.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untl = now + tonumber(ARGV[1])
if untl > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], untl, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1)
end
return 1
"""

_US = 1_000_000


def _tag(key: BudgetKey) -> str:
    return f"school:{key}" if isinstance(key, int) else str(key)


class _Local:
    """This process's view of one key: its FIFO turn and its slots in flight."""

    __slots__ = ("lock", "paused_until", "remaining", "slots")

    def __init__(self, limit: int) -> None:
        self.lock = asyncio.Lock()
        self.slots: list[str] = []
        self.remaining = limit
        self.paused_until = -math.inf


class RedisRateLimiter:
    """At most ``limit`` requests per ``window`` seconds per school, for every
    process sharing this Redis (and ``prefix``).

    ``RedisRateLimiter(url, limit=600, window=300)`` opens its own client
    (closed by :meth:`close`); pass a ``redis.asyncio.Redis`` to borrow one.
    ``inflight_ttl`` is how long a slot whose process died stays "in flight";
    keep it above your longest request. Use the same ``limit``/``window`` in
    every process. Coroutines of one process take turns first come, first
    served; one of them at a time asks Redis, sleeping exactly until a slot
    may be free (Redis says when). :meth:`remaining` and :meth:`paused_for`
    answer from this process's last look (they cannot wait for Redis);
    :meth:`remaining_now` asks.
    """

    def __init__(
        self,
        redis: RedisLike,
        *,
        limit: int = 600,
        window: float = 300.0,
        inflight_ttl: float = 120.0,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"rate limit must be an integer >= 1, got {limit!r}")
        if not window > 0 or not inflight_ttl > 0:
            raise ConfigurationError("window and inflight_ttl must be positive seconds")
        self.limit = limit
        self.window = float(window)
        self.inflight_ttl = float(inflight_ttl)
        self._conn = RedisConnection(redis, prefix=prefix)
        self._acquire = self._conn.script(_ACQUIRE)
        self._release = self._conn.script(_RELEASE)
        self._pause = self._conn.script(_PAUSE)
        self._keys: dict[BudgetKey, _Local] = {}
        self._ids = itertools.count()
        self._me = secrets.token_hex(6)
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return (f"<RedisRateLimiter limit={self.limit} window={self.window:g}s"
                f" prefix={self._conn.prefix!r}>")

    # -- lifecycle ---------------------------------------------------------------

    @redis_errors
    async def open(self) -> RedisRateLimiter:
        """Check that Redis answers (PING)."""
        await self._conn.client.ping()
        return self

    async def close(self) -> None:
        """Wait for scheduled releases and pauses, then close the client if this
        limiter opened it. Idempotent."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._conn.close()

    async def __aenter__(self) -> RedisRateLimiter:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    # -- keys ------------------------------------------------------------------------

    def _redis_keys(self, key: BudgetKey) -> list[str]:
        tag = _tag(key)
        return [self._conn.key(tag, "rl:done"), self._conn.key(tag, "rl:run"),
                self._conn.key(tag, "rl:pause")]

    def _local(self, key: BudgetKey) -> _Local:
        local = self._keys.get(key)
        if local is None:
            local = self._keys[key] = _Local(self.limit)
        return local

    def _args(self, slot: str) -> list[int | str]:
        return [self.limit, round(self.window * _US), round(self.inflight_ttl * _US), slot]

    # -- RateLimiter ------------------------------------------------------------------

    @redis_errors
    async def acquire(self, key: BudgetKey) -> float:
        """Wait until ``key`` may start a request; the seconds waited."""
        started = time.monotonic()
        local = self._local(key)
        keys = self._redis_keys(key)
        async with local.lock:  # one asker per key per process, first come first served
            while True:
                slot = f"{self._me}:{next(self._ids)}"
                granted, wait_us, remaining = await self._acquire(keys=keys,
                                                                  args=self._args(slot))
                local.remaining = int(remaining)
                if int(granted):
                    local.slots.append(slot)
                    return max(0.0, time.monotonic() - started)
                await asyncio.sleep(int(wait_us) / _US)

    def release(self, key: BudgetKey) -> None:
        """The request finished: its slot starts counting down (a Redis call, scheduled)."""
        local = self._keys.get(key)
        if local is None or not local.slots:
            return
        slot = local.slots.pop(0)
        self._schedule(self._release(keys=self._redis_keys(key)[:2], args=[slot]), "release")

    def pause(self, key: BudgetKey, seconds: float) -> None:
        """A 429: no process starts a request for ``key`` for ``seconds`` (scheduled)."""
        if not seconds > 0 or seconds == math.inf:
            return
        local = self._local(key)
        local.paused_until = max(local.paused_until, time.monotonic() + seconds)
        self._schedule(self._pause(keys=self._redis_keys(key)[2:],
                                   args=[math.ceil(seconds * _US)]), "pause")

    def _schedule(self, call: Coroutine[Any, Any, Any], what: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: the slot expires by inflight_ttl
            call.close()
            return
        task = loop.create_task(self._run(call, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, call: Coroutine[Any, Any, Any], what: str) -> None:
        try:
            await call
        except Exception:
            log.warning("Redis rate limiter: the %s did not reach Redis", what, exc_info=True)

    def remaining(self, key: BudgetKey) -> int | None:
        """Requests ``key`` could start, as of this process's last look at Redis."""
        local = self._keys.get(key)
        if local is None:
            return self.limit
        if time.monotonic() < local.paused_until:
            return 0
        return local.remaining

    def paused_for(self, key: BudgetKey) -> float:
        """Seconds left of a 429 pause this process knows of (0 when none)."""
        local = self._keys.get(key)
        if local is None:
            return 0.0
        return max(0.0, local.paused_until - time.monotonic())

    @redis_errors
    async def remaining_now(self, key: BudgetKey) -> int:
        """Requests ``key`` may start right now, asking Redis (0 while paused)."""
        _, _, remaining = await self._acquire(keys=self._redis_keys(key), args=self._args(""))
        self._local(key).remaining = int(remaining)
        return int(remaining)
