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

Round trips: the coroutines of one process that wait for the same school
share one Redis call per turn (it asks for as many slots as there are
waiters), and a finished request's release rides along with the next call
for that school (or goes on its own within 2 ms): in a busy process, about one
round trip per request.

The pipeline calls ``release`` and ``pause`` synchronously; this limiter
sends them from a task (awaited by :meth:`RedisRateLimiter.close`) rather than
changing the :class:`RateLimiter` protocol that custom limiters implement: a
release that lands a moment late only makes the window more conservative, and
one that is lost (the process died) is covered by ``inflight_ttl``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from redis.exceptions import RedisError

from .._core.errors import ConfigurationError, UsageError
from .._http.ratelimit import BudgetKey, BudgetUnavailable
from .._http.tasks import run_isolated
from ._conn import DEFAULT_PREFIX, RedisConnection, RedisLike, redis_errors, storage_error
from ._limiter_lua import ACQUIRE, PAUSE, RELEASE

__all__ = ["RedisRateLimiter"]

log = logging.getLogger("assembly_async.redis")

_US = 1_000_000
#: Most slots asked for in one call.
_BATCH = 64
#: The longest a release waits for an acquire to ride along with.
_RELEASE_DELAY = 0.002


def _tag(key: BudgetKey) -> str:
    return f"school:{key}" if isinstance(key, int) else str(key)


class _Local:
    """This process's view of one key: its waiters, its slots, its unsent releases."""

    __slots__ = ("asking", "driver", "flush", "paused_until", "releases", "remaining", "slots",
                 "wait", "waiters")

    def __init__(self, limit: int) -> None:
        self.waiters: deque[tuple[asyncio.Future[str], float]] = deque()  # (fut, deadline)
        self.driver: asyncio.Task[None] | None = None
        self.slots: deque[str] = deque()
        self.releases: list[str] = []
        self.flush: asyncio.TimerHandle | None = None
        self.remaining = limit
        self.paused_until = -math.inf
        self.asking = False  # a caller is asking Redis on the fast path
        self.wait = 0.0  # Redis's last "a slot may be free in" (seconds)


class RedisRateLimiter:
    """At most ``limit`` requests per ``window`` seconds per school, for every
    process sharing this Redis (and ``prefix``).

    ``RedisRateLimiter(url, limit=600, window=300)`` opens its own client
    (closed by :meth:`close`); pass a ``redis.asyncio.Redis`` to borrow one.
    ``inflight_ttl`` is how long a slot whose process died stays "in flight";
    keep it above your longest request. Use the same ``limit``/``window`` in
    every process. Waiters of one process are served first come, first
    served, sleeping exactly until Redis says a slot may be free.
    :meth:`remaining` and :meth:`paused_for` answer from this process's last
    look (they cannot wait for Redis); :meth:`remaining_now` asks.
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
        self._acquire = self._conn.script(ACQUIRE)
        self._release = self._conn.script(RELEASE)
        self._pause = self._conn.script(PAUSE)
        self._keys: dict[BudgetKey, _Local] = {}
        self._ids = itertools.count()
        self._me = secrets.token_hex(6)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        #: Redis calls made (acquire turns, releases sent alone, pauses): for benchmarks.
        self.round_trips = 0

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
        """Send the releases not sent yet, wait for scheduled calls, stop the
        waiters' turns (they fail with :class:`UsageError`, as does any later
        :meth:`acquire`), and close the client if this limiter opened it. Idempotent."""
        for key, local in self._keys.items():
            if local.flush is not None:
                local.flush.cancel()
            self._flush(key, local)
            if local.driver is not None:
                local.driver.cancel()
        self._closed = True  # from now on nothing is sent (the client would reopen)
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for local in self._keys.values():
            if local.driver is not None:
                await asyncio.gather(local.driver, return_exceptions=True)
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

    def _take_releases(self, local: _Local) -> list[str]:
        releases, local.releases = local.releases, []
        if local.flush is not None:
            local.flush.cancel()
            local.flush = None
        return releases

    # -- RateLimiter ------------------------------------------------------------------

    async def acquire(self, key: BudgetKey, *, max_wait: float | None = None) -> float:
        """Wait until ``key`` may start a request; the seconds waited.

        With ``max_wait``, give up (:class:`BudgetUnavailable`, no slot taken)
        as soon as Redis says no slot frees up within that many seconds. A
        caller cancelled meanwhile takes no slot (one granted as it was
        cancelled goes back).
        """
        if self._closed:
            raise UsageError("the Redis rate limiter is closed")
        try:
            return await self._take(key, max_wait)
        except RedisError as exc:
            raise storage_error(exc, self._conn.address) from exc

    async def _take(self, key: BudgetKey, max_wait: float | None) -> float:
        started = time.monotonic()
        deadline = math.inf if max_wait is None else started + max_wait
        local = self._local(key)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str] = loop.create_future()
        if local.driver is None and not local.waiters and not local.asking:
            # Fast path: nobody of this process is waiting, ask Redis directly.
            # Callers arriving meanwhile queue behind this one; their turns
            # start once this ask is answered, so this caller is never
            # overtaken by a later one (first come, first served).
            local.asking = True
            slot = f"{self._me}:{next(self._ids)}"
            try:
                granted = await run_isolated(self._ask(key, local, [slot]))
            except asyncio.CancelledError:
                self._forget(key, [slot])  # Redis may have granted it before the cancel
                raise
            finally:
                local.asking = False
                if local.waiters:
                    self._start_driver(key, local)
            if granted:
                local.slots.append(slot)
                return max(0.0, time.monotonic() - started)
            if time.monotonic() + local.wait > deadline:
                raise BudgetUnavailable(local.wait)
            local.waiters.appendleft((fut, deadline))  # first in line: it came first
        else:
            local.waiters.append((fut, deadline))
        if not local.asking:
            self._start_driver(key, local)
        try:
            slot = await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._forget(key, [fut.result()])  # granted as we were cancelled: unused
            raise
        local.slots.append(slot)
        return max(0.0, time.monotonic() - started)

    def _start_driver(self, key: BudgetKey, local: _Local) -> None:
        """Start the task that serves ``key``'s waiters, unless it runs already."""
        if local.driver is None:
            local.driver = asyncio.get_running_loop().create_task(self._drive(key, local))

    async def _drive(self, key: BudgetKey, local: _Local) -> None:
        """Ask Redis for slots for every waiter of ``key`` until none is left."""
        try:
            while True:
                while local.waiters and local.waiters[0][0].done():
                    local.waiters.popleft()  # cancelled while queued
                if not local.waiters:
                    return
                want = min(len(local.waiters), _BATCH)
                slots = [f"{self._me}:{next(self._ids)}" for _ in range(want)]
                # Its own task: redis-py may swallow a cancellation (close()).
                granted = await run_isolated(self._ask(key, local, slots))
                for slot in slots[:granted]:
                    self._grant(key, local, slot)
                if granted < want:
                    self._give_up_early(local)
                    await asyncio.sleep(local.wait)
        except RedisError as exc:
            self._fail(local, storage_error(exc, self._conn.address), exc)
        except BaseException as exc:
            closed = UsageError("the Redis rate limiter was closed while this call waited")
            self._fail(local, closed if self._closed else exc, exc)
            raise
        finally:
            local.driver = None

    @staticmethod
    def _give_up_early(local: _Local) -> None:
        """Fail the waiters whose ``max_wait`` ends before a slot may free up."""
        free_at = time.monotonic() + local.wait
        keep: deque[tuple[asyncio.Future[str], float]] = deque()
        for fut, deadline in local.waiters:
            if fut.done():
                continue
            if deadline < free_at:
                fut.set_exception(BudgetUnavailable(local.wait))
            else:
                keep.append((fut, deadline))
        local.waiters = keep

    async def _ask(self, key: BudgetKey, local: _Local, slots: list[str]) -> int:
        """One Redis call: slots for ``slots`` (as many as are free), carrying this
        process's finished slots of ``key``; how many were granted."""
        releases = self._take_releases(local)
        args: list[int | str] = [
            self.limit, round(self.window * _US), round(self.inflight_ttl * _US),
            len(slots), *slots, *releases]
        self.round_trips += 1
        try:
            granted, wait_us, remaining, paused = await self._acquire(
                keys=self._redis_keys(key), args=args)
        except BaseException:
            # The releases that rode along may not have arrived: send them again
            # (releasing twice is harmless), or their slots stay "in flight"
            # until inflight_ttl.
            if releases:
                local.releases[:0] = releases
                self._flush_soon(key, local)
            raise
        local.remaining = int(remaining)
        local.wait = int(wait_us) / _US
        if int(paused):
            local.paused_until = max(local.paused_until, time.monotonic() + local.wait)
        return int(granted)

    def _grant(self, key: BudgetKey, local: _Local, slot: str) -> None:
        while local.waiters:
            fut, _ = local.waiters.popleft()
            if not fut.done():
                fut.set_result(slot)
                return
        self._forget(key, [slot])  # every waiter left: no request will use it

    @staticmethod
    def _fail(local: _Local, error: BaseException, cause: BaseException) -> None:
        while local.waiters:
            fut, _ = local.waiters.popleft()
            if fut.done():
                continue
            if isinstance(error, asyncio.CancelledError):
                fut.cancel()
            else:
                if error is not cause:
                    error.__cause__ = cause
                fut.set_exception(error)

    def release(self, key: BudgetKey) -> None:
        """The request finished: its slot starts counting down. The release rides
        along with this process's next call for ``key``, or goes within 2 ms."""
        local = self._keys.get(key)
        if local is None or not local.slots:
            return
        local.releases.append(local.slots.popleft())
        self._flush_soon(key, local)

    def _flush_soon(self, key: BudgetKey, local: _Local) -> None:
        """Send ``local``'s releases within 2 ms unless a call takes them first."""
        if local.flush is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop: the slot expires by inflight_ttl
                local.releases.clear()
                return
            local.flush = loop.call_later(_RELEASE_DELAY, self._flush, key, local)

    def _forget(self, key: BudgetKey, slots: list[str]) -> None:
        """Remove ``slots`` from the requests in flight (a no-op for slots
        Redis never granted)."""
        run = self._redis_keys(key)[1]
        self._schedule(lambda: self._remove_running(run, slots), "give-back")

    async def _remove_running(self, run: str, slots: list[str]) -> None:
        await self._conn.client.zrem(run, *slots)

    def _flush(self, key: BudgetKey, local: _Local) -> None:
        releases = self._take_releases(local)
        if releases:
            keys = self._redis_keys(key)[:2]
            self._schedule(lambda: self._release(keys=keys, args=releases),
                           "release")

    def pause(self, key: BudgetKey, seconds: float) -> None:
        """A 429: no process starts a request for ``key`` for ``seconds``."""
        if not seconds > 0 or seconds == math.inf:
            return
        local = self._local(key)
        local.paused_until = max(local.paused_until, time.monotonic() + seconds)
        pause_key, micros = self._redis_keys(key)[2:], math.ceil(seconds * _US)
        self._schedule(lambda: self._pause(keys=pause_key, args=[micros]), "pause")

    def _schedule(self, call: Callable[[], Awaitable[Any]], what: str) -> None:
        """Send ``call()`` from a task of its own. The coroutine is made in that
        task, so one cancelled before it ran (the loop shutting down with the
        limiter left open) leaves no "never awaited" warning behind."""
        if self._closed:
            return  # the slot expires by inflight_ttl
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: the slot expires by inflight_ttl
            return
        self.round_trips += 1
        task = loop.create_task(self._run(call, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, call: Callable[[], Awaitable[Any]], what: str) -> None:
        try:
            await call()
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
        """Requests ``key`` may start right now, asking Redis (0 while paused);
        it also sends this process's pending releases of ``key``."""
        local = self._local(key)
        await self._ask(key, local, [])
        return local.remaining
