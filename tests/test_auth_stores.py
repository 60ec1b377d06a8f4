"""Token stores: get/set, compare-and-set under contention, persistence, file mode."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from assembly_async._core.errors import ConfigurationError, TokenUnavailable
from assembly_async.auth import (
    APP_KEY,
    CallbackTokenStore,
    MemoryTokenStore,
    SQLiteTokenStore,
    Token,
    TokenStore,
    school_key,
)

NOW = 1_700_000_000.0


def token(n: int = 0, *, school_id: int | None = 1, **changes: object) -> Token:
    fields: dict[str, object] = {
        "access_token": f"access-{n}-secret",
        "refresh_token": f"refresh-{n}-secret",
        "token_type": "bearer",
        "level": "school",
        "expires_at": NOW + 3600,
        "school_id": school_id,
        "scopes": ("students.basic",),
    }
    fields.update(changes)
    return Token(**fields)  # type: ignore[arg-type]


async def _noop(key: str, token: Token) -> None:
    return None


@pytest.fixture(params=["memory", "sqlite", "callback", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TokenStore]:
    if request.param == "memory":
        yield MemoryTokenStore()
    elif request.param == "sqlite":
        async with SQLiteTokenStore(tmp_path / "tokens.sqlite3") as sqlite_store:
            yield sqlite_store
    elif request.param == "redis":
        from assembly_async.redis import RedisTokenStore

        server = request.getfixturevalue("redis_server")
        async with RedisTokenStore(server.url,
                                   prefix=request.getfixturevalue("redis_prefix")) as redis_store:
            yield redis_store
    else:
        yield CallbackTokenStore(MemoryTokenStore(), _noop)


# ---------------------------------------------------------------------------
# keys


def test_keys() -> None:
    assert school_key(12) == "school:12"
    assert APP_KEY == "app"
    with pytest.raises(ConfigurationError):
        school_key("12")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        school_key(True)


# ---------------------------------------------------------------------------
# shared behaviour


async def test_is_a_token_store(store: TokenStore) -> None:
    assert isinstance(store, TokenStore)


async def test_get_set_keys(store: TokenStore) -> None:
    assert await store.get("school:1") is None
    assert await store.keys() == []
    await store.set("school:1", token(1))
    await store.set(APP_KEY, token(2, level="app", school_id=None, expires_at=None))
    assert await store.get("school:1") == token(1)
    assert (await store.get(APP_KEY)) == token(2, level="app", school_id=None, expires_at=None)
    await store.set("school:1", token(3))
    assert await store.get("school:1") == token(3)
    assert await store.keys() == ["app", "school:1"]


async def test_compare_and_set(store: TokenStore) -> None:
    key = school_key(1)
    # absent: only expected=None succeeds
    assert not await store.compare_and_set(key, token(0), token(1))
    assert await store.get(key) is None
    assert await store.compare_and_set(key, None, token(1))
    assert await store.get(key) == token(1)
    # present: expected=None fails
    assert not await store.compare_and_set(key, None, token(9))
    # matching access token succeeds, even if other fields differ
    assert await store.compare_and_set(key, token(1, expires_at=None), token(2))
    assert await store.get(key) == token(2)


async def test_compare_and_set_fails_after_another_writer(store: TokenStore) -> None:
    key = school_key(1)
    await store.set(key, token(1))
    seen = await store.get(key)
    # another worker refreshes first
    assert await store.compare_and_set(key, seen, token(2))
    # our refresh started from the stale token: refused, the winner's token stays
    assert not await store.compare_and_set(key, seen, token(3))
    assert await store.get(key) == token(2)


async def test_mark_unusable(store: TokenStore) -> None:
    key = school_key(1)
    await store.set(key, token(1))
    await store.mark_unusable(key)
    stored = await store.get(key)
    assert stored is not None
    assert not stored.usable
    assert stored == attrs.evolve(token(1), usable=False)
    await store.mark_unusable(key)  # idempotent
    assert await store.get(key) == stored
    await store.mark_unusable("school:404")  # absent: no-op
    assert await store.get("school:404") is None
    # a later successful re-authorisation replaces it
    assert await store.compare_and_set(key, stored, token(2))
    assert (await store.get(key)) == token(2)


async def test_get_many(store: TokenStore) -> None:
    await store.set("school:1", token(1))
    await store.set("school:2", token(2))
    assert await store.get_many([]) == {}
    assert await store.get_many(["school:2", "school:3", "school:2"]) == {"school:2": token(2)}
    assert await store.get_many(iter(["school:1", "school:2"])) == {
        "school:1": token(1),
        "school:2": token(2),
    }


async def test_get_many_thousands(store: TokenStore) -> None:
    keys = [school_key(i) for i in range(2000)]
    for i, key in enumerate(keys):
        await store.set(key, token(i, school_id=i))
    started = time.perf_counter()
    loaded = await store.get_many([*keys, "school:-1"])
    elapsed = time.perf_counter() - started
    assert len(loaded) == 2000
    assert loaded[school_key(1234)] == token(1234, school_id=1234)
    assert elapsed < 5  # generous: one query, not 2000


async def test_concurrent_compare_and_set_has_one_winner(store: TokenStore) -> None:
    key = school_key(1)
    await store.set(key, token(0))
    start = await store.get(key)

    async def refresh(n: int) -> bool:
        await asyncio.sleep(0)
        return await store.compare_and_set(key, start, token(n))

    results = await asyncio.gather(*(refresh(n) for n in range(1, 101)))
    assert results.count(True) == 1
    winner = results.index(True) + 1
    assert await store.get(key) == token(winner)


async def test_token_secrets_not_in_store_repr(store: TokenStore) -> None:
    await store.set("school:1", token(1))
    assert token(1).access_token not in repr(store)
    assert str(token(1).refresh_token) not in repr(store)


# ---------------------------------------------------------------------------
# MemoryTokenStore


async def test_memory_stores_are_independent() -> None:
    a, b = MemoryTokenStore(), MemoryTokenStore()
    await a.set("school:1", token(1))
    assert await b.get("school:1") is None
    seeded = MemoryTokenStore({"app": token(5)})
    assert await seeded.keys() == ["app"]


# ---------------------------------------------------------------------------
# CallbackTokenStore


async def test_callback_store_reports_writes() -> None:
    calls: list[tuple[str, Token]] = []

    async def on_set(key: str, tok: Token) -> None:
        calls.append((key, tok))

    inner = MemoryTokenStore()
    store = CallbackTokenStore(inner, on_set)
    await store.set("school:1", token(1))
    assert await store.compare_and_set("school:1", token(1), token(2))
    assert not await store.compare_and_set("school:1", token(1), token(3))  # no call
    await store.mark_unusable("school:1")
    await store.mark_unusable("school:404")  # absent: no call
    assert calls == [
        ("school:1", token(1)),
        ("school:1", token(2)),
        ("school:1", attrs.evolve(token(2), usable=False)),
    ]
    assert await inner.get("school:1") == attrs.evolve(token(2), usable=False)


async def test_callback_error_propagates_after_write() -> None:
    async def on_set(key: str, tok: Token) -> None:
        raise RuntimeError("user storage down")

    inner = MemoryTokenStore()
    store = CallbackTokenStore(inner, on_set)
    with pytest.raises(RuntimeError):
        await store.set("school:1", token(1))
    assert await inner.get("school:1") == token(1)


# ---------------------------------------------------------------------------
# SQLiteTokenStore


async def test_sqlite_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite3"
    store = SQLiteTokenStore(path)
    await store.open()
    await store.set("school:1", token(1))
    await store.set("app", token(2, level="app", school_id=None, expires_at=None))
    await store.mark_unusable("school:1")
    await store.close()
    await store.close()  # idempotent

    async with SQLiteTokenStore(str(path)) as reopened:
        assert await reopened.keys() == ["app", "school:1"]
        assert await reopened.get("school:1") == attrs.evolve(token(1), usable=False)
        assert await reopened.get("app") == token(2, level="app", school_id=None, expires_at=None)

    # the same instance can be opened again
    async with store:
        assert await store.get("school:1") is not None


async def test_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite3"
    old_umask = os.umask(0o022)
    try:
        async with SQLiteTokenStore(path) as store:
            await store.set("school:1", token(1))
            # while open, WAL mode keeps -wal/-shm side files holding the same secrets
            sides = list(tmp_path.glob("tokens.sqlite3-*"))
            assert sides
            side_modes = [stat.S_IMODE(side.stat().st_mode) for side in sides]
    finally:
        os.umask(old_umask)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert all(mode & 0o077 == 0 for mode in side_modes), side_modes


async def test_sqlite_table_layout(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite3"
    async with SQLiteTokenStore(path) as store:
        await store.set("school:1", token(1))
    with sqlite3.connect(path) as db:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        columns = [(row[1], row[2]) for row in db.execute("PRAGMA table_info(tokens)")]
        key, data, updated_at = db.execute("SELECT key, data, updated_at FROM tokens").fetchone()
    db.close()
    assert mode == "wal"
    assert columns == [("key", "TEXT"), ("data", "TEXT"), ("updated_at", "REAL")]
    assert key == "school:1"
    assert Token.from_dict(orjson.loads(data)) == token(1)
    assert abs(updated_at - time.time()) < 60


async def test_sqlite_not_open(tmp_path: Path) -> None:
    store = SQLiteTokenStore(tmp_path / "t.sqlite3")
    with pytest.raises(ConfigurationError):
        await store.get("school:1")
    assert "closed" in repr(store)


async def test_sqlite_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        await SQLiteTokenStore(tmp_path / "nope" / "t.sqlite3").open()


async def test_sqlite_in_memory() -> None:
    async with SQLiteTokenStore(":memory:") as store:
        await store.set("school:1", token(1))
        assert await store.get("school:1") == token(1)


async def test_sqlite_unreadable_row(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite3"
    async with SQLiteTokenStore(path) as store:
        await store.set("school:1", token(1))
        await store.set("school:2", token(2))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE tokens SET data = '{\"broken\": true}' WHERE key = 'school:2'")
    db.close()
    async with SQLiteTokenStore(path) as store:
        with pytest.raises(TokenUnavailable) as info:
            await store.get("school:2")
        assert "school:2" in str(info.value)
        # the bulk load skips the bad row rather than failing every school
        assert await store.get_many(["school:1", "school:2"]) == {"school:1": token(1)}
        # only a writer expecting "absent" may replace it
        assert not await store.compare_and_set("school:2", token(2), token(3))
        assert await store.compare_and_set("school:2", None, token(3))
        assert await store.get("school:2") == token(3)


async def test_sqlite_two_connections_one_winner(tmp_path: Path) -> None:
    """Two store instances on one file stand in for two processes sharing it."""
    path = tmp_path / "tokens.sqlite3"
    async with SQLiteTokenStore(path) as a, SQLiteTokenStore(path) as b:
        await a.set("school:1", token(0))
        start = await b.get("school:1")
        results = await asyncio.gather(
            *(
                (a if n % 2 else b).compare_and_set("school:1", start, token(n))
                for n in range(1, 41)
            )
        )
        assert results.count(True) == 1
        winner = results.index(True) + 1
        assert await a.get("school:1") == token(winner)
        assert await b.get("school:1") == token(winner)


# ---------------------------------------------------------------------------
# delete (the stores that offer it: `assembly-async token remove`)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_delete_removes_and_a_refresh_in_flight_cannot_write_back(
        kind: str, tmp_path: Path) -> None:
    store: Any = (MemoryTokenStore() if kind == "memory"
                  else SQLiteTokenStore(tmp_path / "tokens.sqlite3"))
    if kind == "sqlite":
        await store.open()
    try:
        key = school_key(1)
        await store.set(key, token(1))
        record = await store.read(key)  # what a refresh starting now holds
        assert record is not None
        assert await store.delete(key) is True
        assert await store.get(key) is None and key not in await store.keys()
        assert await store.delete(key) is False
        # The refresh ends after the removal: its write must not bring the token back.
        assert await store.replace(key, record.version, token(2)) is None
        assert await store.get(key) is None
        await store.set(key, token(3))  # a new token can be added again
        assert (await store.get(key)).access_token == token(3).access_token
    finally:
        if kind == "sqlite":
            await store.close()


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
async def test_a_write_cancelled_mid_transaction_leaves_the_file_writable(
        tmp_path: Path, turns: int) -> None:
    """A write cancelled while its BEGIN IMMEDIATE (or a statement after it) is
    on aiosqlite's thread is rolled back: the file's write lock is not kept, so
    other processes (here another connection) and this store can write again."""
    path = tmp_path / "tokens.sqlite3"
    async with SQLiteTokenStore(path) as mine, SQLiteTokenStore(path, busy_timeout=0.5) as other:
        await mine.set(school_key(1), token(1))
        write = asyncio.ensure_future(mine.set(school_key(1), token(2)))
        for _ in range(turns):
            await asyncio.sleep(0)
        write.cancel()
        await asyncio.gather(write, return_exceptions=True)
        await asyncio.sleep(0.05)
        await other.set(school_key(1), token(3))
        await mine.set(school_key(1), token(4))
        assert (await other.get(school_key(1))) == token(4)
