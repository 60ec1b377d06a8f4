"""Real OS processes sharing one token store (SQLite file or Redis) and one
rate budget (Redis), against the fake server running in this test process
with rotating refresh tokens (each refresh token is accepted once).

Each worker is ``python tests/_mp_worker.py CONFIG`` (see that file): it opens
its own store and client, says ready, waits for a go file so that all start
together, and reports what happened as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from assembly_async.auth import LeasingTokenStore, SQLiteTokenStore, school_key
from assembly_async.testing import FakeAssembly
from assembly_async.testing.pytest_plugin import school_token

WORKER = Path(__file__).with_name("_mp_worker.py")
SCHOOL = 1
STARTUP_TIMEOUT = 60.0
RUN_TIMEOUT = 120.0


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.owner = ""

    async def ready(self) -> None:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), STARTUP_TIMEOUT)
        parts = line.decode().split()
        if not parts or parts[0] != "ready":
            rest = await self.proc.stdout.read()
            err = await self.proc.stderr.read() if self.proc.stderr else b""
            raise AssertionError(f"worker did not start: {line!r} {rest!r} {err.decode()}")
        self.owner = parts[2]

    async def result(self) -> dict[str, Any] | None:
        """The worker's JSON report, or None if it was killed."""
        out, err = await asyncio.wait_for(self.proc.communicate(), RUN_TIMEOUT)
        if self.proc.returncode == -signal.SIGKILL:
            return None
        assert self.proc.returncode == 0, err.decode()
        return json.loads(out.decode().strip().splitlines()[-1])


async def start_workers(n: int, config: dict[str, Any], tmp_path: Path,
                        per_worker: list[dict[str, Any]] | None = None) -> list[Worker]:
    go = tmp_path / "go"
    workers = []
    for i in range(n):
        cfg = {**config, "go": str(go), **((per_worker or [{}] * n)[i])}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), json.dumps(cfg),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        workers.append(Worker(proc))
    try:
        for worker in workers:
            await worker.ready()
    except BaseException:
        for worker in workers:
            if worker.proc.returncode is None:
                worker.proc.kill()
                await worker.proc.wait()
        raise
    go.touch()
    return workers


async def stop(workers: list[Worker]) -> None:
    for worker in workers:
        if worker.proc.returncode is None:
            worker.proc.kill()
            await worker.proc.wait()


def base_config(fake: FakeAssembly, mode: str, coroutines: int) -> dict[str, Any]:
    return {"api_url": str(fake.api_url), "oauth_url": str(fake.oauth_url),
            "client_id": fake.client_id, "client_secret": fake.client_secret,
            "school_id": SCHOOL, "mode": mode, "coroutines": coroutines}


@pytest.fixture(params=["sqlite", "redis"])
async def shared_store(request: pytest.FixtureRequest, tmp_path: Path
                       ) -> AsyncIterator[tuple[LeasingTokenStore, dict[str, Any]]]:
    """The store the workers share (a handle for the test) and how workers open it."""
    if request.param == "sqlite":
        path = tmp_path / "tokens.db"
        async with SQLiteTokenStore(path) as store:
            yield store, {"store": "sqlite", "path": str(path)}
    else:
        from assembly_async.redis import RedisTokenStore

        server = request.getfixturevalue("redis_server")
        prefix = request.getfixturevalue("redis_prefix")
        async with RedisTokenStore(server.url, prefix=prefix) as store:
            yield store, {"store": "redis", "redis_url": server.url, "prefix": prefix}


async def seed_expired_token(fake: FakeAssembly, store: LeasingTokenStore) -> None:
    """The school's token, expired on both sides, in the shared store."""
    expired = attrs.evolve(school_token(fake, SCHOOL), expires_at=time.time() - 60)
    await store.set(school_key(SCHOOL), expired)
    fake.expire_access_tokens(SCHOOL)


async def test_4_processes_x_25_callers_one_grant_no_errors(
    fake_assembly_factory: Any, shared_store: tuple[LeasingTokenStore, dict[str, Any]],
    tmp_path: Path,
) -> None:
    store, how = shared_store
    fake = await fake_assembly_factory(rotate_refresh_tokens=True, schools=1)
    await seed_expired_token(fake, store)
    workers = await start_workers(4, {**base_config(fake, "refresh", 25), **how}, tmp_path)
    try:
        results = [await w.result() for w in workers]
    finally:
        await stop(workers)
    assert all(r is not None for r in results)
    oks = [r["ok"] for r in results if r]
    errors = [r["errors"] for r in results if r]
    grants = sum(r["grants"] for r in results if r)
    sent = len(fake.stats.requests(path="/oauth/token"))
    print(f"\n[{how['store']}] 4 processes x 25 callers: grants at the fake={sent}"
          f" ({fake.stats.refreshes_by_school[SCHOOL]} answered with a token),"
          f" ok={sum(oks)}, errors={errors}")
    assert sent == 1 and fake.stats.refreshes_by_school[SCHOOL] == 1  # counted by the server
    assert grants == 1
    assert oks == [25, 25, 25, 25] and errors == [{}, {}, {}, {}]
    record = await store.read(school_key(SCHOOL))
    assert record is not None and record.token.usable and record.pending is None


@pytest.fixture
def slow_token_answers(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Fakes started in this test answer their first token grant only ``delay``
    seconds *after* carrying it out (rotation included): a worker killed in
    between has lost an answer the server already acted on."""
    from aiohttp import web

    from assembly_async.testing import server as fake_server

    state = {"delay": 1.0}
    build = fake_server.build_app

    def build_slow(core: Any) -> web.Application:
        app = build(core)

        @web.middleware
        async def slow(request: web.Request, handler: Any) -> web.StreamResponse:
            response = await handler(request)
            if request.path == "/oauth/token" and state["delay"] > 0:
                delay, state["delay"] = state["delay"], 0.0
                await asyncio.sleep(delay)
            return response  # type: ignore[no-any-return]

        app.middlewares.append(slow)
        return app

    monkeypatch.setattr(fake_server, "build_app", build_slow)
    return state


@pytest.mark.parametrize("rotate", [True, False], ids=["rotation", "no-rotation"])
async def test_the_lease_holder_killed_mid_refresh(
    fake_assembly_factory: Any, shared_store: tuple[LeasingTokenStore, dict[str, Any]],
    tmp_path: Path, rotate: bool, slow_token_answers: dict[str, float],
) -> None:
    store, how = shared_store
    fake = await fake_assembly_factory(rotate_refresh_tokens=rotate, schools=1)
    await seed_expired_token(fake, store)
    # The first grant is carried out at once but answered 1 s later; the lease
    # lasts 3 s, so the others take over after the holder died.
    config = {**base_config(fake, "refresh", 10), **how, "lease": 3.0, "retries": 0}
    workers = await start_workers(4, config, tmp_path)
    try:
        by_owner = {w.owner: w for w in workers}
        deadline = time.monotonic() + 30
        while True:  # the holder recorded "pending" and the server has acted on its grant
            record = await store.read(school_key(SCHOOL))
            if (record is not None and record.pending in by_owner
                    and fake.stats.refreshes_by_school[SCHOOL] == 1):
                break
            assert time.monotonic() < deadline, "no worker started a refresh"
            await asyncio.sleep(0.002)
        holder = by_owner[record.pending]
        os.kill(holder.pid, signal.SIGKILL)
        results = {w.pid: await w.result() for w in workers}
    finally:
        await stop(workers)
    assert results.pop(holder.pid) is None  # it died
    survivors = list(results.values())
    errors: dict[str, int] = {}
    for r in survivors:
        assert r is not None
        for name, count in r["errors"].items():
            errors[name] = errors.get(name, 0) + count
    oks = sum(r["ok"] for r in survivors if r)
    print(f"\n[{how['store']}, rotation={rotate}] holder killed: survivors ok={oks}"
          f" errors={errors} successful grants at the fake="
          f"{fake.stats.refreshes_by_school[SCHOOL]}")
    assert "SchoolAuthRevoked" not in errors
    final = await store.read(school_key(SCHOOL))
    assert final is not None
    if rotate:
        # The server rotated the refresh token for the dead worker; its answer is
        # lost. Every survivor says so, and the school waits for re-authorisation.
        assert errors == {"RefreshInterrupted": 30} and oks == 0, (errors, oks)
        assert not final.token.usable and final.pending is not None
        assert fake.stats.refreshes_by_school[SCHOOL] == 1
    else:
        # The old refresh token still works: the next holder recovers.
        assert errors == {} and oks == 30, (errors, oks)
        assert final.token.usable and final.pending is None
        assert fake.stats.refreshes_by_school[SCHOOL] == 2


# -- one rate budget for every process ------------------------------------------------

# The fake's limit scaled down: 20 requests per 4 s (rate_window 300 s at time_scale 75),
# small enough that the fake (in this process, on a shared 2-core machine) answers
# a window's burst in a few tens of milliseconds.
LIMIT, WINDOW = 20, 4.0


def max_in_any_window(times: list[float], window: float) -> int:
    """The most arrivals inside any window of ``window`` seconds (sliding)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@pytest.mark.parametrize("skew", [0.0, 2.0], ids=["clocks-agree", "one-clock-2s-off"])
async def test_4_processes_share_one_redis_budget(
    fake_assembly_factory: Any, redis_server: Any, redis_prefix: str, tmp_path: Path,
    skew: float,
) -> None:
    from assembly_async.redis import RedisTokenStore

    fake = await fake_assembly_factory(schools=1, rate_limit=LIMIT, rate_window=300.0,
                                       time_scale=300.0 / WINDOW)
    async with RedisTokenStore(redis_server.url, prefix=redis_prefix) as store:
        await store.set(school_key(SCHOOL), school_token(fake, SCHOOL))
    windows = 3
    calls = LIMIT * windows // 4  # per process: 3 windows' worth of budget in all
    config = {**base_config(fake, "budget", 4), "store": "redis", "redis_url": redis_server.url,
              "prefix": redis_prefix, "limit": LIMIT, "window": WINDOW, "calls": calls}
    per_worker = [{"clock_offset": skew if i == 0 else 0.0} for i in range(4)]
    workers = await start_workers(4, config, tmp_path, per_worker)
    try:
        results = [await w.result() for w in workers]
    finally:
        await stop(workers)
    token_id = fake.token_id(fake.school_token(SCHOOL).access_token)
    arrivals = [e.time for e in fake.stats.log if e.token_id == token_id]
    served = sum(r["ok"] for r in results if r)
    rejected = fake.stats.status_counts.get(429, 0)
    span = max(arrivals) - min(arrivals)
    # The budget on offer while requests arrived: LIMIT at once, then LIMIT per
    # WINDOW (a rolling window refills as old requests age out of it).
    used = len(arrivals) / (LIMIT * (1 + span / WINDOW))
    peak = max_in_any_window(arrivals, WINDOW)
    print(f"\n[skew {skew:g}s] 4 processes x 4 callers, limit {LIMIT}/{WINDOW:g}s:"
          f" served={served} 429s={rejected} peak in any window={peak}"
          f" budget used={used:.1%} over {span:.2f}s")
    assert all(r is not None and r["errors"] == {} for r in results), results
    assert served == len(arrivals) == LIMIT * windows, (served, len(arrivals), results)
    assert rejected == 0 and all("429" not in (r or {})["statuses"] for r in results), results
    assert peak <= LIMIT  # never more than the limit in any window, as the server saw it
    assert used >= 0.95, (used, span, sorted(round(t - min(arrivals), 3) for t in arrivals))
