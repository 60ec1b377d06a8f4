"""RedisRateLimiter against a real redis-server: one budget for several
limiters (as if several processes), in-flight slots, shared pauses, dead
processes' slots, and the scheduled releases."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis_server import RedisServer

import assembly_async as aa
from assembly_async import RateLimiter, StorageError
from assembly_async._core.errors import ConfigurationError
from assembly_async.redis import RedisRateLimiter


def limiter(client: Redis, prefix: str, **kw: object) -> RedisRateLimiter:
    kw.setdefault("limit", 5)
    kw.setdefault("window", 60.0)
    return RedisRateLimiter(client, prefix=prefix, **kw)  # type: ignore[arg-type]


async def blocked(coro: object, seconds: float = 0.3) -> bool:
    """Whether ``coro`` is still waiting after ``seconds`` (it is cancelled then)."""
    task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if done:
        await task
        return False
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return True


async def test_is_a_rate_limiter(redis_client: Redis, redis_prefix: str) -> None:
    assert isinstance(limiter(redis_client, redis_prefix), RateLimiter)


async def test_limiters_share_one_budget(redis_client: Redis, redis_prefix: str) -> None:
    a, b = limiter(redis_client, redis_prefix), limiter(redis_client, redis_prefix)
    for _ in range(3):
        assert await a.acquire(1) >= 0
    assert await b.remaining_now(1) == 2
    await b.acquire(1)
    await b.acquire(1)
    assert await a.remaining_now(1) == 0 and a.remaining(1) == 0
    assert await blocked(a.acquire(1)) and await blocked(b.acquire(1))
    assert await a.remaining_now(2) == 5  # another school has its own budget
    for lim in (a, a, a, b, b):
        lim.release(1)
    await a.close()
    await b.close()
    # Finished requests still count for the window (from when they finished).
    c = limiter(redis_client, redis_prefix)
    assert await c.remaining_now(1) == 0 and await blocked(c.acquire(1))


async def test_a_slot_frees_a_window_after_its_request_finished(
    redis_client: Redis, redis_prefix: str,
) -> None:
    lim = limiter(redis_client, redis_prefix, limit=2, window=0.3)
    await lim.acquire(7)
    await lim.acquire(7)
    lim.release(7)
    lim.release(7)
    assert await asyncio.wait_for(lim.acquire(7), 10) > 0  # it had to wait
    await lim.close()


async def test_in_flight_requests_hold_their_slots(redis_client: Redis,
                                                    redis_prefix: str) -> None:
    lim = limiter(redis_client, redis_prefix, limit=2, window=0.2)
    await lim.acquire(3)
    await lim.acquire(3)
    await asyncio.sleep(0.4)  # longer than the window, but both still in flight
    assert await blocked(lim.acquire(3))
    lim.release(3)
    assert await asyncio.wait_for(lim.acquire(3), 10) >= 0
    await lim.close()


async def test_a_dead_process_slot_expires(redis_client: Redis, redis_prefix: str) -> None:
    dead = limiter(redis_client, redis_prefix, limit=2, window=0.2, inflight_ttl=0.3)
    await dead.acquire(4)
    await dead.acquire(4)  # never released: the process "died"
    alive = limiter(redis_client, redis_prefix, limit=2, window=0.2, inflight_ttl=0.3)
    assert await asyncio.wait_for(alive.acquire(4), 10) > 0
    await alive.close()


async def test_a_429_pauses_every_process(redis_client: Redis, redis_prefix: str) -> None:
    a, b = limiter(redis_client, redis_prefix), limiter(redis_client, redis_prefix)
    a.pause(9, 30)
    assert a.paused_for(9) > 0 and a.remaining(9) == 0
    await a.close()  # the pause reached Redis
    assert await b.remaining_now(9) == 0
    assert await blocked(b.acquire(9))
    b.pause(9, 0)  # nothing to do
    b.pause(9, float("nan"))
    await b.close()


async def test_fifty_waiters_get_exactly_the_limit(redis_client: Redis,
                                                   redis_prefix: str) -> None:
    limiters = [limiter(redis_client, redis_prefix, limit=10) for _ in range(3)]
    tasks = [asyncio.ensure_future(limiters[n % 3].acquire("token:abc")) for n in range(50)]
    done, pending = await asyncio.wait(tasks, timeout=1.0)
    assert len(done) == 10 and len(pending) == 40
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for lim in limiters:
        await lim.close()


async def test_close_waits_for_scheduled_releases(redis_client: Redis,
                                                  redis_prefix: str) -> None:
    lim = limiter(redis_client, redis_prefix)
    for _ in range(3):
        await lim.acquire(5)
    for _ in range(3):
        lim.release(5)
    lim.release(5)  # more releases than slots: ignored
    await lim.close()
    assert await redis_client.zcard(f"{redis_prefix}{{school:5}}:rl:run") == 0
    assert await redis_client.zcard(f"{redis_prefix}{{school:5}}:rl:done") == 3


def test_release_without_a_loop_is_harmless(redis_server: RedisServer,
                                            redis_prefix: str) -> None:
    lim = RedisRateLimiter(redis_server.url, prefix=redis_prefix)
    lim.release(1)
    lim.pause(1, 5)  # no running loop: nothing scheduled, no warning


async def test_worker_clocks_do_not_matter(redis_client: Redis, redis_prefix: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)  # an hour fast
    a = limiter(redis_client, redis_prefix, limit=3)
    for _ in range(3):
        await a.acquire(1)
    monkeypatch.setattr(time, "time", lambda: real() - 3600)  # an hour slow
    b = limiter(redis_client, redis_prefix, limit=3)
    assert await b.remaining_now(1) == 0 and await blocked(b.acquire(1))


def test_bad_settings() -> None:
    for kw in ({"limit": 0}, {"limit": True}, {"window": 0}, {"inflight_ttl": -1}):
        with pytest.raises(ConfigurationError):
            RedisRateLimiter("redis://localhost", **kw)  # type: ignore[arg-type]


async def test_redis_down_is_a_store_error(tmp_path: Path) -> None:
    lim = RedisRateLimiter(f"unix://{tmp_path}/nobody.sock")
    with pytest.raises(StorageError):
        await lim.acquire(1)
    await lim.close()


async def test_cancelled_waiters_leave_no_slot_behind(redis_client: Redis,
                                                      redis_prefix: str) -> None:
    lim = limiter(redis_client, redis_prefix, limit=3)
    for _ in range(3):
        await lim.acquire(6)
    waiters = [asyncio.ensure_future(lim.acquire(6)) for _ in range(5)]
    await asyncio.sleep(0.05)
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert await redis_client.zcard(f"{redis_prefix}{{school:6}}:rl:run") == 3
    await lim.close()


async def test_waiters_of_one_process_are_served_in_order(redis_client: Redis,
                                                          redis_prefix: str) -> None:
    lim = limiter(redis_client, redis_prefix, limit=1, window=0.05)
    order: list[int] = []
    # The first caller's answer is slow (a busy machine, a new connection):
    # later callers must not overtake it by asking Redis meanwhile.
    ask = lim._ask
    calls = 0

    async def slow_first_ask(*args: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.05)
        return await ask(*args)

    lim._ask = slow_first_ask  # type: ignore[method-assign]

    async def one(n: int) -> None:
        await lim.acquire(8)
        order.append(n)
        lim.release(8)

    await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(6))), 30)
    assert order == list(range(6))
    await lim.close()


async def test_one_round_trip_serves_many_waiters(redis_client: Redis,
                                                  redis_prefix: str) -> None:
    lim = limiter(redis_client, redis_prefix, limit=100)
    await asyncio.gather(*(lim.acquire(10) for _ in range(40)))
    assert lim.round_trips <= 3  # the first caller's own call, then one batch
    for _ in range(40):
        lim.release(10)
    await lim.acquire(10)  # carries the 40 releases along
    assert await redis_client.zcard(f"{redis_prefix}{{school:10}}:rl:done") == 40
    await lim.close()


async def test_a_bounded_acquire_gives_up_without_taking_a_slot(redis_client: Redis,
                                                                redis_prefix: str) -> None:
    from assembly_async._http.ratelimit import BudgetUnavailable

    lim = limiter(redis_client, redis_prefix, limit=2, window=60)
    await lim.acquire(11)
    await lim.acquire(11)
    with pytest.raises(BudgetUnavailable) as info:
        await lim.acquire(11, max_wait=0.5)  # the fast path knows at once
    assert 0 < info.value.retry_after <= 60
    queued = await asyncio.gather(*(lim.acquire(11, max_wait=1.0) for _ in range(5)),
                                  return_exceptions=True)
    assert all(isinstance(e, BudgetUnavailable) for e in queued)
    assert await redis_client.zcard(f"{redis_prefix}{{school:11}}:rl:run") == 2
    await lim.close()


async def test_a_bounded_acquire_waits_when_the_slot_comes_in_time(redis_client: Redis,
                                                                   redis_prefix: str) -> None:
    lim = limiter(redis_client, redis_prefix, limit=2, window=0.3)
    waited = await asyncio.gather(*(lim.acquire(12, max_wait=30) for _ in range(2)))
    lim.release(12)
    lim.release(12)
    more = await asyncio.wait_for(asyncio.gather(*(lim.acquire(12, max_wait=30)
                                                   for _ in range(2))), 30)
    assert len(waited) == len(more) == 2 and max(more) > 0
    await lim.close()


async def test_a_call_past_its_deadline_fails_fast_on_a_spent_redis_budget(
    fake_assembly: Any, redis_server: RedisServer, redis_prefix: str,
) -> None:
    import assembly_async as aa

    async with RedisRateLimiter(redis_server.url, limit=2, window=60,
                                prefix=redis_prefix) as lim, \
            aa.AssemblyClient(api_url=str(fake_assembly.api_url), rate_limiter=lim,
                              deadline=5) as client:
        school = client.school(access_token=fake_assembly.school_token(1).access_token)
        await school.details.get()
        await school.details.get()
        sent = len(fake_assembly.stats.log)
        with pytest.raises(aa.BudgetExhausted) as info:
            await school.details.get()  # the budget frees up in ~60 s, past the deadline
        assert info.value.retry_after is not None and info.value.retry_after > 5
        assert len(fake_assembly.stats.log) == sent  # nothing was sent


async def test_a_stalled_redis_cannot_hold_a_call_past_its_deadline(
        redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory,
        fake_assembly: Any) -> None:
    """A Redis that stops answering (SIGSTOP: no reset, no error) fails the call
    with RequestTimeout when its deadline ends, not after redis-py's 5 s socket
    timeout; once Redis answers again, so does the limiter."""
    binary = shutil.which("redis-server")
    assert binary is not None  # the redis_server fixture checked
    own = RedisServer(tmp_path_factory.mktemp("stall"), binary).start()
    try:
        lim = RedisRateLimiter(own.url)
        token = fake_assembly.school_token(1).access_token
        async with lim, aa.AssemblyClient(api_url=fake_assembly.url, rate_limiter=lim,
                                          deadline=1.0) as client:
            school = client.school(1, access_token=token)
            await school.details.get()
            os.kill(own.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                with pytest.raises(aa.RequestTimeout) as info:
                    await school.details.get()
                took = time.monotonic() - started
            finally:
                os.kill(own.pid, signal.SIGCONT)
            assert 0.9 < took < 3.0, took
            assert info.value.request_sent is False
            assert (await school.details.get()).urn
    finally:
        own.stop()


async def test_a_caller_cancelled_during_a_refused_ask_ends_at_once(
        redis_client: Redis, redis_prefix: str) -> None:
    """Only the Redis round trip runs in a task of its own: a cancellation that
    redis-py swallows there must not leave the caller queued for a slot (here
    a minute away)."""
    import random

    lim = limiter(redis_client, redis_prefix, limit=1, window=60.0)
    await lim.acquire(9)  # the budget is spent for a minute
    rng = random.Random(5)
    hung = 0
    for _ in range(150):
        task = asyncio.ensure_future(lim.acquire(9))
        for _ in range(rng.randint(0, 6)):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2.0)
        if not done:
            hung += 1
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert hung == 0
    await lim.close()


async def test_slots_granted_to_waiters_that_left_do_not_count(
        redis_client: Redis, redis_prefix: str) -> None:
    """A slot Redis granted for a waiter that was cancelled meanwhile served no
    request: it is taken back, not counted in the window."""
    lim = limiter(redis_client, redis_prefix, limit=5)
    real = lim._ask
    gates = [asyncio.Event(), asyncio.Event()]
    calls = 0

    async def gated(*args: Any) -> int:
        nonlocal calls
        gate = gates[min(calls, 1)]
        calls += 1
        await gate.wait()
        return await real(*args)

    lim._ask = gated  # type: ignore[method-assign]
    first = asyncio.ensure_future(lim.acquire(8))
    await asyncio.sleep(0.02)  # asking Redis (held at the first gate)
    left = [asyncio.ensure_future(lim.acquire(8)) for _ in range(2)]
    await asyncio.sleep(0.02)  # queued behind it
    gates[0].set()
    await asyncio.wait_for(first, 5)  # the driver now asks for the two (second gate)
    await asyncio.sleep(0.02)
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    gates[1].set()  # Redis grants both slots: nobody is there to use them
    await asyncio.sleep(0.1)
    lim.release(8)
    await asyncio.sleep(0.1)
    assert await redis_client.zcard(f"{redis_prefix}{{school:8}}:rl:run") == 0
    assert await redis_client.zcard(f"{redis_prefix}{{school:8}}:rl:done") == 1  # the one request
    await lim.close()


async def test_a_closed_limiter_fails_its_waiters_with_usage_error(
        redis_client: Redis, redis_prefix: str) -> None:
    lim = limiter(redis_client, redis_prefix, limit=1, window=60.0)
    await lim.acquire(7)
    waiter = asyncio.ensure_future(lim.acquire(7))
    await asyncio.sleep(0.05)
    await lim.close()
    with pytest.raises(aa.UsageError):
        await asyncio.wait_for(waiter, 5)
    with pytest.raises(aa.UsageError):
        await lim.acquire(7)
