"""Redis costs per request: round trips, added latency, throughput, a refresh.

One command (it starts its own redis-server on a unix socket, and a loopback
API server in a subprocess)::

    python benchmarks/bench_redis.py

(a) Redis round trips per API request with ``RedisRateLimiter`` and
    ``RedisTokenStore`` (counted by Redis: ``INFO commandstats``), and per
    token refresh (against ``FakeAssembly``'s token endpoint).
(b) Latency: sequential tiny GETs on loopback through a whole SDK call, with
    the in-process ``SlidingWindowLimiter`` and with ``RedisRateLimiter``,
    interleaved rounds, best of 7: the microseconds Redis adds per request and
    the ratio to the in-process limiter (same run).
(c) Throughput with 32 concurrent callers of one school, both limiters.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

import assembly_async as aa
from assembly_async.auth import school_key
from assembly_async.redis import RedisRateLimiter, RedisTokenStore

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_pipeline import TOKEN, Server

HUGE = 10**9  # a budget that never makes anyone wait: we time the bookkeeping


class RedisServer:
    """redis-server on a unix socket in a temporary directory, no persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("redis-server is not installed (apt-get install redis-server)")
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.socket = os.path.join(self.dir, "redis.sock")
        self.url = f"unix://{self.socket}"
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", self.socket, "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def __aenter__(self) -> RedisServer:
        client = Redis.from_url(self.url)
        try:
            for _ in range(500):
                try:
                    await client.ping()
                    return self
                except Exception:
                    await asyncio.sleep(0.02)
            raise RuntimeError("redis-server did not start")
        finally:
            await client.aclose()

    async def __aexit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class CountingRedis(Redis):
    """A redis.asyncio client that counts the commands it sends (its round trips;
    a script is one, whatever it does inside Redis)."""

    sent = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        CountingRedis.sent += 1
        return await super().execute_command(*args, **options)


async def hammer(call: Callable[[], Awaitable[Any]], callers: int, *, calls: int | None = None,
                 seconds: float | None = None) -> int:
    """``callers`` concurrent loops of ``call``: ``calls`` in all, or for ``seconds``."""
    done = 0
    stop = time.perf_counter() + (seconds if seconds is not None else math.inf)

    async def caller() -> None:
        nonlocal done
        while (calls is None or done < calls) and time.perf_counter() < stop:
            done += 1
            await call()

    await asyncio.gather(*(caller() for _ in range(callers)))
    return done


# -------------------------------------------------------------- (a) round trips


async def bench_round_trips(redis_url: str, api_url: str, n: int = 500) -> dict[str, float]:
    print(f"(a) Redis round trips (commands sent by the client) over {n} requests")
    client = CountingRedis.from_url(redis_url)
    rates: dict[str, float] = {}
    try:
        for label, callers in (("sequential", 1), ("32 concurrent callers", 32)):
            async with RedisRateLimiter(client, limit=HUGE, window=300, prefix="rt:") as limiter, \
                    aa.AssemblyClient(api_url=api_url, rate_limiter=limiter) as api:
                school = api.school(access_token=TOKEN)
                await school.details.get()  # scripts loaded, connections open
                await asyncio.sleep(0.01)
                before = CountingRedis.sent
                await hammer(school.details.get, callers, calls=n)
                await asyncio.sleep(0.01)  # the last release goes out
                rates[label] = (CountingRedis.sent - before) / n
            print(f"  rate limiter, {label:<22} {rates[label]:.2f} round trips per request"
                  "  (goal <= 1)")
        from assembly_async.testing import FakeAssembly

        async with FakeAssembly(schools=1, students_per_school=5) as fake:
            import attrs

            from assembly_async.testing.pytest_plugin import school_token

            store = RedisTokenStore(client, prefix="rt:")
            await store.set(school_key(1), attrs.evolve(school_token(fake, 1), expires_at=1.0))
            async with aa.AssemblyClient(api_url=str(fake.api_url),
                                         oauth_url=str(fake.oauth_url),
                                         client_id=fake.client_id,
                                         client_secret=fake.client_secret, rate_limit=None,
                                         token_store=store) as api:
                await api.school(1).details.get()  # expired: a refresh (scripts load)
                before = CountingRedis.sent
                await api.refresh_school_token(1)  # a second one, measured
                refresh = CountingRedis.sent - before
                before = CountingRedis.sent
                for _ in range(50):
                    await api.school(1).details.get()
                steady = (CountingRedis.sent - before) / 50
    finally:
        await client.aclose()
    print(f"  token store: {refresh} round trips per refresh (read, lease, read, pending,"
          f" save, release); {steady:.2f} per request otherwise (the token stays in memory)")
    return {**rates, "refresh_round_trips": float(refresh), "store_round_trips": steady}


# --------------------------------------------------------------- (b) latency


async def _wall(n: int, one: Callable[[], Awaitable[Any]]) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        await one()
    return (time.perf_counter() - t0) / n


async def bench_latency(redis_url: str, api_url: str, n: int = 500,
                        rounds: int = 7) -> dict[str, float]:
    print(f"(b) latency of sequential calls (school.details.get()), best of {rounds}"
          f" interleaved rounds of {n}")
    async with RedisRateLimiter(redis_url, limit=HUGE, window=300, prefix="lat:") as limiter, \
            aa.AssemblyClient(api_url=api_url, rate_limit=HUGE) as local_client, \
            aa.AssemblyClient(api_url=api_url, rate_limiter=limiter) as redis_client, \
            aa.AssemblyClient(api_url=api_url, rate_limit=None) as no_budget:
        variants = {
            "no rate budget": no_budget.school(access_token=TOKEN).details.get,
            "in-process SlidingWindowLimiter": local_client.school(access_token=TOKEN).details.get,
            "RedisRateLimiter": redis_client.school(access_token=TOKEN).details.get,
        }
        for one in variants.values():
            await _wall(100, one)
        best = dict.fromkeys(variants, float("inf"))
        for _ in range(rounds):
            for label, one in variants.items():
                best[label] = min(best[label], await _wall(n, one))
    for label, per in best.items():
        print(f"  {label:<32} {per * 1e6:8.1f} us per request")
    ping = Redis.from_url(redis_url)
    try:
        await ping.ping()
        floor = min([await _wall(n, ping.ping) for _ in range(rounds)])
    finally:
        await ping.aclose()
    local, remote = best["in-process SlidingWindowLimiter"], best["RedisRateLimiter"]
    print(f"  added by Redis                   {(remote - local) * 1e6:8.1f} us per request"
          f"  (one redis-py PING round trip: {floor * 1e6:.1f} us)")
    print(f"  ratio Redis/in-process limiter   {remote / local:8.2f}x")
    return {"added_us": (remote - local) * 1e6, "latency_ratio": remote / local}


# ------------------------------------------------------------- (c) throughput


async def bench_throughput(redis_url: str, api_url: str, callers: int = 32,
                           seconds: float = 1.0, rounds: int = 3) -> dict[str, float]:
    print(f"(c) throughput: {callers} concurrent callers of one school,"
          f" {rounds} interleaved rounds of {seconds:g}s each")
    done = {"in-process SlidingWindowLimiter": 0, "RedisRateLimiter": 0}
    async with RedisRateLimiter(redis_url, limit=HUGE, window=300, prefix="tp:") as limiter, \
            aa.AssemblyClient(api_url=api_url, rate_limit=HUGE) as local, \
            aa.AssemblyClient(api_url=api_url, rate_limiter=limiter) as shared:
        schools = {"in-process SlidingWindowLimiter": local.school(access_token=TOKEN),
                   "RedisRateLimiter": shared.school(access_token=TOKEN)}
        for school in schools.values():  # warm up connections
            await hammer(school.details.get, callers, calls=200)
        for _ in range(rounds):
            for label, school in schools.items():
                done[label] += await hammer(school.details.get, callers, seconds=seconds)
    rates = {label: n / (seconds * rounds) for label, n in done.items()}
    for label, rate in rates.items():
        print(f"  {label:<32} {rate:8.0f} requests/s")
    ratio = rates["RedisRateLimiter"] / rates["in-process SlidingWindowLimiter"]
    print(f"  ratio Redis/in-process           {ratio:8.2f}x")
    return {"throughput_ratio": ratio}


async def main() -> None:
    async with RedisServer() as redis, Server() as api:
        await bench_round_trips(redis.url, api.url)
        await bench_latency(redis.url, api.url)
        await bench_throughput(redis.url, api.url)


if __name__ == "__main__":
    asyncio.run(main())
