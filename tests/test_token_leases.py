"""The LeasingTokenStore contract (versions, pending marks, leases) on every
built-in store: memory, SQLite (two connections on one file), the callback
wrapper and Redis (a real redis-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from _plain_store import PlainStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assembly_async.auth import (
    CallbackTokenStore,
    LeasingTokenStore,
    MemoryTokenStore,
    SQLiteTokenStore,
    Token,
    TokenStore,
    leasing,
)

NOW = 1_700_000_000.0
KEY = "school:1"


def token(n: int, **changes: Any) -> Token:
    fields: dict[str, Any] = {
        "access_token": f"access-{n}-secret", "refresh_token": f"refresh-{n}-secret",
        "token_type": "bearer", "level": "school", "expires_at": NOW + 3600,
        "school_id": 1, "scopes": ("students.basic",),
    }
    fields.update(changes)
    return Token(**fields)


class Clock:
    """A settable clock for lease expiry (memory and SQLite stores)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# A store factory: (store, a second handle on the same data, advance(seconds)).
Opened = tuple[LeasingTokenStore, LeasingTokenStore, Callable[[float], Awaitable[None]]]


async def _noop(key: str, tok: Token) -> None:
    return None


@pytest.fixture(params=["memory", "sqlite", "callback", "redis"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opened]:
    clock = Clock()

    async def tick(seconds: float) -> None:
        clock.now += seconds

    if request.param in ("memory", "callback"):
        mem = MemoryTokenStore(clock=clock)
        one: Any = mem if request.param == "memory" else CallbackTokenStore(mem, _noop)
        yield one, one, tick
    elif request.param == "sqlite":
        path = tmp_path / "tokens.db"
        async with SQLiteTokenStore(path, clock=clock) as a, \
                SQLiteTokenStore(path, clock=clock) as b:
            yield a, b, tick
    else:
        from assembly_async.redis import RedisTokenStore

        server = request.getfixturevalue("redis_server")
        prefix = request.getfixturevalue("redis_prefix")

        async def wait(seconds: float) -> None:
            await asyncio.sleep(seconds)  # leases expire by Redis's own clock

        async with RedisTokenStore(server.url, prefix=prefix) as a, \
                RedisTokenStore(server.url, prefix=prefix) as b:
            yield a, b, wait


async def test_is_a_leasing_store(stores: Opened) -> None:
    a, _, _ = stores
    assert isinstance(a, LeasingTokenStore) and leasing(a) is a


async def test_every_write_bumps_the_version(stores: Opened) -> None:
    a, b, _ = stores
    assert await a.read(KEY) is None
    await a.set(KEY, token(1))
    record = await b.read(KEY)
    assert record is not None and record.version == 1 and record.pending is None
    assert record.token == token(1)
    assert await b.compare_and_set(KEY, token(1), token(2))
    assert (await a.read(KEY)).version == 2  # type: ignore[union-attr]
    await a.mark_unusable(KEY)
    marked = await b.read(KEY)
    assert marked is not None and marked.version == 3 and not marked.token.usable
    await b.mark_unusable(KEY)  # already unusable: nothing written
    assert (await a.read(KEY)).version == 3  # type: ignore[union-attr]
    await a.set(KEY, token(3))  # a code exchange: usable again
    again = await b.read(KEY)
    assert again is not None and again.version == 4 and again.token.usable


async def test_replace_is_compare_and_set_on_the_version(stores: Opened) -> None:
    a, b, _ = stores
    assert await a.replace(KEY, 1, token(1)) is None  # absent is version 0
    assert await a.replace(KEY, 0, token(1)) == 1
    assert await b.replace(KEY, 0, token(2)) is None  # stale version: refused
    assert await b.replace(KEY, 1, token(2)) == 2
    assert await a.get(KEY) == token(2)
    assert await a.replace(KEY, 1, token(3)) is None
    assert await a.get(KEY) == token(2)


async def test_pending_mark_follows_the_version(stores: Opened) -> None:
    a, b, _ = stores
    assert not await a.set_pending(KEY, 0, "w1")  # no token: nothing to mark
    await a.set(KEY, token(1))
    assert not await a.set_pending(KEY, 0, "w1")  # wrong version
    assert await a.set_pending(KEY, 1, "w1")
    record = await b.read(KEY)
    assert record is not None and record.pending == "w1" and record.version == 1
    # Keeping it through a write (an interrupted refresh marks the token unusable) ...
    assert await b.replace(KEY, 1, attrs.evolve(token(1), usable=False), keep_pending=True) == 2
    assert (await a.read(KEY)).pending == "w1"  # type: ignore[union-attr]
    # ... and any other write clears it.
    await a.set(KEY, token(2))
    assert (await b.read(KEY)).pending is None  # type: ignore[union-attr]
    assert await a.set_pending(KEY, 3, "w2") and await a.set_pending(KEY, 3, None)
    assert (await b.read(KEY)).pending is None  # type: ignore[union-attr]
    await a.set_pending(KEY, 3, "w3")
    assert await a.replace(KEY, 3, token(4)) == 4
    assert (await b.read(KEY)).pending is None  # type: ignore[union-attr]


async def test_mark_unusable_keeps_the_pending_mark(stores: Opened) -> None:
    a, b, _ = stores
    await a.set(KEY, token(1))
    await a.set_pending(KEY, 1, "w1")
    await b.mark_unusable(KEY)
    record = await a.read(KEY)
    assert record is not None and not record.token.usable and record.pending == "w1"


async def test_mark_unusable_checks_which_token_failed(stores: Opened) -> None:
    a, b, _ = stores
    await a.set(KEY, token(1))
    await b.set(KEY, token(2))  # another worker refreshed meanwhile
    await a.mark_unusable(KEY, failed=token(1))  # type: ignore[call-arg]
    stored = await b.get(KEY)
    assert stored == token(2) and stored.usable
    await a.mark_unusable(KEY, failed=token(2))  # type: ignore[call-arg]
    assert not (await b.get(KEY)).usable  # type: ignore[union-attr]


async def test_lease_has_one_holder_until_released_or_expired(stores: Opened) -> None:
    a, b, advance = stores
    first = await a.try_lease(KEY, "w1", 0.5)
    assert first.acquired and first.holder == "w1"
    other = await b.try_lease(KEY, "w2", 0.5)
    assert not other.acquired and other.holder == "w1" and 0 < other.remaining <= 0.5
    renewed = await a.try_lease(KEY, "w1", 0.5)  # the holder may renew
    assert renewed.acquired
    await b.release_lease(KEY, "w2")  # not w2's: no effect
    assert not (await b.try_lease(KEY, "w2", 0.5)).acquired
    await a.release_lease(KEY, "w1")
    taken = await b.try_lease(KEY, "w2", 0.3)
    assert taken.acquired and taken.holder == "w2"
    await advance(0.45)  # w2 died: its lease runs out
    assert (await a.try_lease(KEY, "w1", 0.5)).acquired


async def test_leases_are_per_key(stores: Opened) -> None:
    a, b, _ = stores
    assert (await a.try_lease("school:1", "w1", 5)).acquired
    assert (await b.try_lease("school:2", "w2", 5)).acquired


async def test_concurrent_replace_has_one_winner(stores: Opened) -> None:
    a, b, _ = stores
    await a.set(KEY, token(0))

    async def write(n: int) -> int | None:
        return await (a if n % 2 else b).replace(KEY, 1, token(n))

    results = await asyncio.gather(*(write(n) for n in range(1, 41)))
    winners = [n for n, r in zip(range(1, 41), results, strict=True) if r is not None]
    assert len(winners) == 1 and await a.get(KEY) == token(winners[0])


async def test_concurrent_leases_have_one_winner(stores: Opened) -> None:
    a, b, _ = stores
    results = await asyncio.gather(*((a if n % 2 else b).try_lease(KEY, f"w{n}", 5)
                                     for n in range(40)))
    assert sum(r.acquired for r in results) == 1
    holder = next(r.holder for r in results if r.acquired)
    assert all(r.holder == holder for r in results)


async def test_callback_store_reports_replace_and_reads_through() -> None:
    seen: list[tuple[str, Token]] = []

    async def on_set(key: str, tok: Token) -> None:
        seen.append((key, tok))

    store = CallbackTokenStore(MemoryTokenStore(), on_set)
    assert store.supports_leases and leasing(store) is store
    await store.set(KEY, token(1))
    assert await store.replace(KEY, 0, token(2)) is None  # refused: no call
    assert await store.replace(KEY, 1, token(2)) == 2
    assert await store.set_pending(KEY, 2, "w")
    assert seen == [(KEY, token(1)), (KEY, token(2))]


def test_a_plain_store_does_not_lease() -> None:
    plain: TokenStore = PlainStore()
    assert isinstance(plain, TokenStore) and leasing(plain) is None
    wrapped = CallbackTokenStore(plain, _noop)
    assert not wrapped.supports_leases and leasing(wrapped) is None


# -- a property test: any interleaving of writes keeps the version honest -------------

OPS = st.lists(st.tuples(st.sampled_from(["set", "cas", "cas_stale", "replace", "stale",
                                          "mark", "pending", "clear"]),
                         st.integers(0, 5)), max_size=25)


async def _check_against_model(store: LeasingTokenStore, ops: list[tuple[str, int]]) -> None:
    version, current, pending = 0, None, None
    for op, n in ops:
        if op == "set":
            await store.set(KEY, token(n))
            version, current, pending = version + 1, token(n), None
        elif op in ("cas", "cas_stale"):
            expected = current if op == "cas" else token(99)
            wrote = await store.compare_and_set(KEY, expected, token(n))
            should = op == "cas" or (current is not None and current == token(99))
            assert wrote == should
            if wrote:
                version, current, pending = version + 1, token(n), None
        elif op in ("replace", "stale"):
            at = version if op == "replace" else version + 1 + n
            result = await store.replace(KEY, at, token(n))
            assert result == (version + 1 if op == "replace" else None)
            if result is not None:
                version, current, pending = result, token(n), None
        elif op == "mark":
            await store.mark_unusable(KEY)
            if current is not None and current.usable:
                version, current = version + 1, attrs.evolve(current, usable=False)
        else:
            owner = f"w{n}" if op == "pending" else None
            done = await store.set_pending(KEY, version, owner)
            assert done == (current is not None)
            if done:
                pending = owner
        record = await store.read(KEY)
        if current is None:
            assert record is None
        else:
            assert record is not None
            assert (record.token, record.version, record.pending) == (current, version, pending)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_versions_match_a_model_memory_and_sqlite(ops: list[tuple[str, int]]) -> None:
    async def run() -> None:
        await _check_against_model(MemoryTokenStore(), ops)
        async with SQLiteTokenStore(":memory:") as sqlite_store:
            await _check_against_model(sqlite_store, ops)

    asyncio.run(run())


async def test_a_lease_from_before_the_clock_stepped_back_does_not_block(
        tmp_path: Path) -> None:
    """SQLite leases are timed by the processes' wall clocks: after the clock
    steps back an hour, a dead holder's lease would otherwise look valid for an
    hour more."""
    clock = Clock()
    async with SQLiteTokenStore(tmp_path / "tokens.db", clock=clock) as store:
        assert (await store.try_lease(KEY, "dead-worker", 70)).acquired
        held = await store.try_lease(KEY, "other", 70)
        assert not held.acquired and held.remaining == 70  # a normal lease still counts
        clock.now -= 3600  # NTP steps the clock back
        assert (await store.try_lease(KEY, "other", 70)).acquired
