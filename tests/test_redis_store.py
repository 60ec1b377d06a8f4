"""assembly_async.redis against a real redis-server: key layout, connections,
unreadable data, the sync state, and a client wired to the fake server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
from redis.asyncio import Redis
from redis.crc import key_slot
from redis_server import RedisServer

import assembly_async as aa
from assembly_async import SyncEngine, Validators
from assembly_async._core.errors import ConfigurationError, DecodeError, TokenUnavailable
from assembly_async.auth import Token, school_key
from assembly_async.redis import RedisSyncState, RedisTokenStore
from assembly_async.sinks import MemorySink
from assembly_async.testing import FakeAssembly
from assembly_async.testing.pytest_plugin import school_token


def token(n: int, **changes: Any) -> Token:
    fields: dict[str, Any] = {
        "access_token": f"access-{n}-secret", "refresh_token": f"refresh-{n}-secret",
        "token_type": "bearer", "level": "school", "expires_at": 1_900_000_000.0,
        "school_id": n,
    }
    fields.update(changes)
    return Token(**fields)


async def raw_keys(client: Redis, prefix: str) -> list[str]:
    return sorted(k.decode() for k in await client.keys(prefix + "*"))


async def test_keys_are_namespaced_and_hash_tagged(redis_server: RedisServer,
                                                   redis_client: Redis,
                                                   redis_prefix: str) -> None:
    async with RedisTokenStore(redis_server.url, prefix=redis_prefix) as store:
        await store.set(school_key(123), token(123))
        await store.try_lease(school_key(123), "w1", 5)
    keys = await raw_keys(redis_client, redis_prefix)
    assert keys == [f"{redis_prefix}{{school:123}}:lease", f"{redis_prefix}{{school:123}}:token"]
    assert len({key_slot(k.encode()) for k in keys}) == 1  # one hash slot per school


async def test_prefixes_isolate_stores(redis_client: Redis, redis_prefix: str) -> None:
    one = RedisTokenStore(redis_client, prefix=redis_prefix + "a:")
    two = RedisTokenStore(redis_client, prefix=redis_prefix + "b:")
    await one.set("school:1", token(1))
    await two.set("school:2", token(2))
    assert await one.keys() == ["school:1"] and await two.keys() == ["school:2"]
    assert await two.get("school:1") is None


async def test_odd_keys_round_trip(redis_client: Redis, redis_prefix: str) -> None:
    store = RedisTokenStore(redis_client, prefix=redis_prefix + "*[x]?:")  # glob characters
    for key in ("app", "a}b", "school:{7}", "x y"):
        await store.set(key, token(1))
    assert await store.keys() == sorted(["app", "a}b", "school:{7}", "x y"])
    assert await store.get("a}b") == token(1)


async def test_a_borrowed_client_stays_open(redis_client: Redis, redis_prefix: str) -> None:
    async with RedisTokenStore(redis_client, prefix=redis_prefix) as store:
        await store.set("school:1", token(1))
    assert await redis_client.ping()  # we did not close what we did not open
    async with RedisSyncState(redis_client, prefix=redis_prefix):
        pass
    assert await redis_client.ping()


async def test_a_url_store_closes_its_client(redis_server: RedisServer, redis_client: Redis,
                                             redis_prefix: str) -> None:
    await redis_client.ping()
    before = len(await redis_client.client_list())
    store = RedisTokenStore(redis_server.url, prefix=redis_prefix)
    await store.open()
    await store.set("school:1", token(1))
    assert len(await redis_client.client_list()) == before + 1
    await store.close()
    for _ in range(200):  # the server notices the closed socket on its next loop turn
        if len(await redis_client.client_list()) == before:
            break
        await asyncio.sleep(0.01)
    assert len(await redis_client.client_list()) == before


@pytest.mark.parametrize("bad", ["http://localhost", "localhost:6379", 42])
def test_bad_connections_are_refused(bad: Any) -> None:
    with pytest.raises(ConfigurationError):
        RedisTokenStore(bad)


@pytest.mark.parametrize("prefix", ["a{b", "c}", 3])
def test_a_prefix_with_braces_is_refused(prefix: Any) -> None:
    with pytest.raises(ConfigurationError):
        RedisTokenStore("redis://localhost", prefix=prefix)


async def test_repr_shows_no_url_or_password(redis_prefix: str) -> None:
    store = RedisTokenStore("redis://user:hunter2@localhost:6399/0", prefix=redis_prefix)
    assert "hunter2" not in repr(store) and "localhost" not in repr(store)
    await store.close()


async def test_unreadable_data(redis_client: Redis, redis_prefix: str) -> None:
    store = RedisTokenStore(redis_client, prefix=redis_prefix)
    await store.set("school:1", token(1))
    await store.set("school:2", token(2))
    await redis_client.hset(f"{redis_prefix}{{school:1}}:token", "data", b"{not json")
    with pytest.raises(TokenUnavailable, match="unreadable"):
        await store.get("school:1")
    with pytest.raises(TokenUnavailable, match="unreadable"):
        await store.read("school:1")
    assert await store.get_many(["school:1", "school:2"]) == {"school:2": token(2)}


async def test_decode_responses_clients_work_too(redis_server: RedisServer,
                                                 redis_prefix: str) -> None:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        store = RedisTokenStore(client, prefix=redis_prefix)
        await store.set("school:1", token(1))
        record = await store.read("school:1")
        assert record is not None and record.token == token(1) and record.version == 1
        assert (await store.try_lease("school:1", "w", 1)).holder == "w"
        state = RedisSyncState(client, prefix=redis_prefix)
        await state.set("1/getStudents/{}", Validators(last_modified="x", etag=None))
        assert await state.keys() == ["1/getStudents/{}"]
    finally:
        await client.aclose()


# -- sync state ------------------------------------------------------------------------

async def test_sync_state_round_trip(redis_client: Redis, redis_prefix: str) -> None:
    state = RedisSyncState(redis_client, prefix=redis_prefix)
    a, b = "12/getStudents/{}", '12/getStaffMembers/{"x":1}'
    assert await state.get(a) is None
    await state.set(a, Validators(last_modified="Mon, 01 Jan 2024 00:00:00 GMT", etag='"e"'))
    await state.set(b, Validators(last_modified=None, etag='"f"'))
    await state.set("odd-key", Validators(last_modified="y"))
    assert await state.get(a) == Validators("Mon, 01 Jan 2024 00:00:00 GMT", '"e"')
    assert await state.keys() == sorted([a, b, "odd-key"])
    assert await raw_keys(redis_client, redis_prefix) == [
        f"{redis_prefix}{{other}}:sync", f"{redis_prefix}{{school:12}}:sync"]
    await state.delete(a)
    await state.delete(a)  # idempotent
    assert await state.get(a) is None and await state.get(b) == Validators(None, '"f"')


async def test_sync_state_unreadable_value(redis_client: Redis, redis_prefix: str) -> None:
    state = RedisSyncState(redis_client, prefix=redis_prefix)
    await redis_client.hset(f"{redis_prefix}{{school:1}}:sync", "1/x/{}", b"[1, 2]")
    with pytest.raises(DecodeError):
        await state.get("1/x/{}")


# -- a client on Redis, against the fake -------------------------------------------------

async def test_client_refreshes_and_syncs_through_redis(fake_assembly: FakeAssembly,
                                                        redis_server: RedisServer,
                                                        redis_prefix: str) -> None:
    expired = attrs.evolve(school_token(fake_assembly, 1), expires_at=time.time() - 5)
    async with RedisTokenStore(redis_server.url, prefix=redis_prefix) as tokens, \
            RedisSyncState(redis_server.url, prefix=redis_prefix) as state, \
            aa.AssemblyClient(api_url=str(fake_assembly.api_url),
                              oauth_url=str(fake_assembly.oauth_url),
                              client_id=fake_assembly.client_id,
                              client_secret=fake_assembly.client_secret,
                              token_store=tokens) as client:
        await client.add_token(expired)
        sink = MemorySink()
        engine = SyncEngine(client, sink, state, resources=["students"])
        first = await engine.run([1])
        assert first.schools[1].records > 0 and not first.schools[1].errors
        second = await engine.run([1])
        assert second.schools[1].not_modified
        assert fake_assembly.stats.refreshes_by_school[1] == 1
        record = await tokens.read(school_key(1))
        assert record is not None and record.version == 2 and record.token.usable
        assert record.token.access_token != expired.access_token


async def test_redis_failures_are_store_errors(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/nobody-listens.sock"
    store = RedisTokenStore(url)
    state = RedisSyncState(url)
    try:
        with pytest.raises(aa.StorageError) as info:
            await store.open()
        assert isinstance(info.value, aa.AssemblyError)
        for call in (store.get("school:1"), store.set("school:1", token(1)), store.keys(),
                     store.try_lease("school:1", "w", 1), state.get("1/x/{}")):
            with pytest.raises(aa.StorageError):
                await call
    finally:
        await store.close()
        await state.close()


async def test_wait_for_replicas(redis_client: Redis, redis_prefix: str,
                                 caplog: pytest.LogCaptureFixture) -> None:
    store = RedisTokenStore(redis_client, prefix=redis_prefix, wait_replicas=1,
                            wait_timeout=0.05)
    await store.set("school:1", token(1))  # no replica here: written, and said so
    assert await store.get("school:1") == token(1)
    assert "0 of 1 Redis replicas" in caplog.text
    assert token(1).access_token not in caplog.text
    with pytest.raises(ConfigurationError):
        RedisTokenStore(redis_client, wait_replicas=-1)


async def test_a_storage_error_names_the_server_never_the_password(tmp_path: Path) -> None:
    store = RedisTokenStore("redis://:hunter2@127.0.0.1:1/3")  # nothing listens on port 1
    try:
        with pytest.raises(aa.StorageError) as info:
            await store.get("school:1")
    finally:
        await store.close()
    assert info.value.path == "redis://127.0.0.1:1/3"
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(vars(info.value))


async def test_the_fake_command_writes_its_tokens_into_redis(redis_server: RedisServer,
                                                             redis_client: Redis) -> None:
    """``python -m assembly_async.testing --token-store redis://...``: every
    school's token lands in the Redis store the CLI and the workers read."""
    from assembly_async.testing.__main__ import write_store

    async with FakeAssembly(schools=2, students_per_school=3, staff_per_school=1) as fake:
        try:
            text = await write_store(fake, redis_server.url)
            assert "schools 1, 2" in text
            assert f"export ASSEMBLY_TOKEN_STORE={redis_server.url}" in text
            async with RedisTokenStore(redis_server.url) as store:
                for school_id in (1, 2):
                    token = await store.get(school_key(school_id))
                    assert token is not None
                    assert token.access_token == fake.school_token(school_id).access_token
                    assert token.refresh_token == fake.school_token(school_id).refresh_token
        finally:
            keys = [k async for k in redis_client.scan_iter(match="assembly:{school:*")]
            if keys:
                await redis_client.delete(*keys)


@pytest.mark.parametrize("url", ["redis://:pw-s3cret@h:notaport/0",
                                 "redis://h/0?socket_timeout=abc&password=pw-s3cret"])
def test_an_unusable_redis_url_is_a_configuration_error(url: str) -> None:
    for make in (RedisTokenStore, RedisSyncState):
        with pytest.raises(ConfigurationError) as info:
            make(url)
        assert "pw-s3cret" not in str(info.value)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), "1", True])
def test_wait_timeout_is_checked(value: Any) -> None:
    with pytest.raises(ConfigurationError):
        RedisTokenStore("redis://localhost", wait_timeout=value)
