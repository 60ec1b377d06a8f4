"""A cancelled caller stays cancelled.

Two ways the SDK used to lose a caller's cancellation, each shown with a test
that fails without the fix:

* ``asyncio.wait_for`` before Python 3.12 returns the awaited result when it
  arrives in the loop turn the caller is cancelled in (the bounded rate-budget
  wait and the bounded token fetch used it): the call went on and sent its
  request. The tests below make both happen in one turn, deterministically.
* redis-py's asyncio client swallows a cancellation that lands while a command
  is in flight (about 4 in 10 on this machine): a caller of the Redis token
  store, rate limiter or sync state went on as if nothing happened.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from _hostile import HostileServer, Reply
from redis.asyncio import Redis

import assembly_async as aa
from assembly_async._core.requests import Request
from assembly_async.auth import Token, school_key
from assembly_async.redis import RedisRateLimiter, RedisSyncState, RedisTokenStore

TOKEN = "tok-SECRET-cancel"


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as srv:
        yield srv


def api_hits(server: HostileServer) -> int:
    return sum(1 for r in server.requests if r["path"] != "/oauth/token")


class GateLimiter:
    """A shared limiter whose slot arrives when the test opens the gate."""

    def __init__(self) -> None:
        self.gate: asyncio.Future[None] | None = None
        self.entered = asyncio.Event()
        self.released = 0

    async def acquire(self, key: Any, *, max_wait: float | None = None) -> float:
        self.gate = asyncio.get_running_loop().create_future()
        self.entered.set()
        await self.gate
        return 0.0

    def release(self, key: Any) -> None:
        self.released += 1

    def pause(self, key: Any, seconds: float) -> None:
        pass

    def remaining(self, key: Any) -> int | None:
        return None


class GateToken:
    """A token provider whose token arrives when the test opens the gate."""

    def __init__(self) -> None:
        self.gate: asyncio.Future[str] | None = None
        self.entered = asyncio.Event()

    async def access_token(self) -> str:
        self.gate = asyncio.get_running_loop().create_future()
        self.entered.set()
        return await self.gate

    async def token_rejected(self, token: str) -> bool:
        return False


async def test_cancelled_as_its_rate_budget_slot_arrives(server: HostileServer) -> None:
    server.serve(api=[Reply.json({"id": 1})])
    limiter = GateLimiter()
    async with aa.AssemblyClient(api_url=server.url, rate_limiter=limiter,
                                 deadline=30) as client:
        call = asyncio.ensure_future(client.school(1, access_token=TOKEN).details.get())
        await asyncio.wait_for(limiter.entered.wait(), 5)
        assert limiter.gate is not None
        limiter.gate.set_result(None)  # the slot arrives...
        call.cancel()  # ...in the loop turn the caller is cancelled in
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(call, 5)
        await asyncio.sleep(0.01)
    assert api_hits(server) == 0
    assert limiter.released == 1  # the slot it was given went back


async def test_cancelled_as_its_token_arrives(server: HostileServer) -> None:
    server.serve(api=[Reply.json({"id": 1})])
    provider = GateToken()
    async with aa.AssemblyClient(api_url=server.url, rate_limit=None, deadline=30) as client:
        request = Request("GET", client.config.api_url.with_path("/school"),
                          {"Accept": "application/vnd.assembly+json; version=1.1"},
                          operation_id="findSchool")
        call = asyncio.ensure_future(client._core.pipeline.send(
            request, auth=provider, timeouts=client.config.timeouts, school_id=1))
        await asyncio.wait_for(provider.entered.wait(), 5)
        assert provider.gate is not None
        provider.gate.set_result(TOKEN)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(call, 5)
    assert api_hits(server) == 0


def _token() -> Token:
    return Token(access_token="access-secret", refresh_token="refresh-secret",
                 token_type="bearer", level="school", expires_at=1_900_000_000.0, school_id=1)


async def test_cancelled_redis_calls_stay_cancelled(redis_client: Redis,
                                                    redis_prefix: str) -> None:
    limit = 10_000
    store = RedisTokenStore(redis_client, prefix=redis_prefix)
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix, limit=limit, window=60)
    state = RedisSyncState(redis_client, prefix=redis_prefix)
    await store.set(school_key(1), _token())
    await state.set("k", aa.Validators(etag='"1"'))
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "token store get": lambda: store.get(school_key(1)),
        "rate limiter acquire": lambda: limiter.acquire(1),
        "sync state get": lambda: state.get("k"),
    }
    rng = random.Random(2028)
    for name, make in calls.items():
        swallowed = cancelled = 0
        for _ in range(300):
            task = asyncio.ensure_future(make())
            for _ in range(rng.randint(0, 6)):
                await asyncio.sleep(0)
            if task.done():
                if name == "rate limiter acquire":
                    limiter.release(1)
                continue
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cancelled += 1
            else:
                swallowed += 1
                if name == "rate limiter acquire":
                    limiter.release(1)
        assert swallowed == 0, f"{name}: {swallowed} cancellations lost of {cancelled + swallowed}"
        assert cancelled >= 50, f"{name}: only {cancelled} landed mid-call; the test is too weak"
    await asyncio.sleep(0.05)  # the scheduled releases
    assert await limiter.remaining_now(1) == limit  # no slot left behind
    await limiter.close()
