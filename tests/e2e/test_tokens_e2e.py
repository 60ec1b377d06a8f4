"""Token lifecycle against the fake server: refresh, replay, persistence, revocation."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import attrs
import pytest

import assembly_async as aa
from assembly_async.auth import MemoryTokenStore, SQLiteTokenStore, Token, school_key
from assembly_async.testing import FakeAssembly
from assembly_async.testing.pytest_plugin import school_token


def client_for(fake: FakeAssembly, **kw: object) -> aa.AssemblyClient:
    return aa.AssemblyClient(api_url=str(fake.api_url), oauth_url=str(fake.oauth_url),
                             client_id=fake.client_id, client_secret=fake.client_secret,
                             **kw)  # type: ignore[arg-type]


def secrets_of(fake: FakeAssembly) -> list[str]:
    out = [fake.client_secret, fake.app_token]
    for sid in fake.school_ids:
        pair = fake.school_token(sid)
        out += [pair.access_token, pair.refresh_token]
    return out


async def test_100_concurrent_calls_on_an_expired_token_refresh_once(
    fake_assembly: FakeAssembly,
) -> None:
    expired = attrs.evolve(school_token(fake_assembly, 1), expires_at=time.time() - 10)
    async with client_for(fake_assembly) as client:
        await client.add_token(expired)
        school = client.school(1)
        results = await asyncio.gather(*(school.details.status() for _ in range(100)))
        assert len(results) == 100
        assert fake_assembly.stats.refreshes_by_school[1] == 1
        assert client.token_manager(1).refresh_count == 1
        stored = await client.token_store.get(school_key(1))
        assert stored is not None and stored.access_token != expired.access_token
        assert stored.refresh_token == expired.refresh_token  # the API sends no new one


async def test_401_invalid_token_refreshes_and_replays_once(fake_assembly: FakeAssembly) -> None:
    async with client_for(fake_assembly) as client:
        await client.add_token(school_token(fake_assembly, 1))
        school = client.school(1)
        await school.details.get()
        fake_assembly.expire_access_tokens(1)  # server-side expiry the client cannot see
        results = await asyncio.gather(*(school.students.list(per_page=5).page(1)
                                         for _ in range(20)))
        assert all(len(p) == 5 for p in results)
        assert fake_assembly.stats.refreshes_by_school[1] == 1


async def test_static_token_401_reaches_the_caller(fake_assembly: FakeAssembly) -> None:
    async with aa.AssemblyClient(api_url=str(fake_assembly.api_url)) as client:
        fake_assembly.expire_access_tokens(1)
        school = client.school(access_token=fake_assembly.school_token(1).access_token)
        with pytest.raises(aa.InvalidToken) as info:
            await school.details.get()
        assert info.value.status == 401 and info.value.error == "invalid_token"


async def test_refreshed_token_survives_a_restart(fake_assembly: FakeAssembly,
                                                  tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    expired = attrs.evolve(school_token(fake_assembly, 1), expires_at=time.time() - 1)
    async with SQLiteTokenStore(db) as store, client_for(fake_assembly, token_store=store) as c:
        await c.add_token(expired)
        await c.school(1).details.get()
        refreshed = await store.get(school_key(1))
        assert refreshed is not None and refreshed.access_token != expired.access_token
    # A new process: a new store object and client on the same file.
    async with SQLiteTokenStore(db) as store, client_for(fake_assembly, token_store=store) as c:
        assert (await c.school(1).details.get()) is not None
        assert fake_assembly.stats.refreshes_by_school[1] == 1  # no second refresh needed
        again = await store.get(school_key(1))
        assert again == refreshed


async def test_revoked_school_is_isolated(fake_assembly: FakeAssembly) -> None:
    async with client_for(fake_assembly) as client:
        for sid in fake_assembly.school_ids:
            await client.add_token(attrs.evolve(school_token(fake_assembly, sid),
                                                expires_at=time.time() - 1))
        fake_assembly.revoke_school(1)
        with pytest.raises(aa.SchoolAuthRevoked) as info:
            await client.school(1).details.get()
        assert info.value.school_id == 1
        stored = await client.token_store.get(school_key(1))
        assert stored is not None and not stored.usable
        with pytest.raises(aa.TokenUnavailable, match="revoked"):
            await client.school(1).details.get()
        assert await client.school(2).details.get() is not None  # the other school carries on


async def test_app_endpoints_get_an_app_token_once(fake_assembly: FakeAssembly) -> None:
    async with client_for(fake_assembly) as client:
        app = client.app()
        me = await app.me()
        authorizations = await app.authorizations()
        assert me is not None and authorizations.data
        assert len(fake_assembly.stats.requests(path="/oauth/token")) == 1


async def test_code_exchange_stores_the_school_token(fake_assembly: FakeAssembly) -> None:
    store = MemoryTokenStore()
    async with client_for(fake_assembly, token_store=store) as client:
        url, state = client.authorization_url(redirect_uri="https://app.example/cb",
                                              scopes=["students.basic", "school:optional"])
        assert "state=" + state in url and "students.basic:required" in url
        code = fake_assembly.issue_code(2, redirect_uri="https://app.example/cb")
        token = await client.exchange_code(code, redirect_uri="https://app.example/cb")
        assert token.school_id == 2 and isinstance(token, Token)
        assert await store.get(school_key(2)) == token
        assert await client.school(2).details.get() is not None


async def test_no_secret_in_logs_reprs_or_errors(fake_assembly: FakeAssembly,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    async with client_for(fake_assembly) as client:
        for sid in fake_assembly.school_ids:
            await client.add_token(attrs.evolve(school_token(fake_assembly, sid),
                                                expires_at=time.time() - 1))
        texts += [repr(client), repr(client.school(2)), repr(client.token_manager(2)),
                  repr(await client.token_store.get(school_key(2)))]
        await client.school(2).details.get()  # a refresh
        fake_assembly.revoke_school(1)
        for call in (client.school(1).details.get(), client.school(1).details.get(),
                     client.school(2).students.get(999_999_999)):
            with pytest.raises(aa.AssemblyError) as info:
                await call
            texts += [str(info.value), repr(info.value), repr(vars(info.value))]
    texts += [r.getMessage() for r in caplog.records]
    blob = "\n".join(texts)
    for secret in secrets_of(fake_assembly):
        assert secret not in blob


async def test_explicit_refresh_and_client_credentials(fake_assembly: FakeAssembly) -> None:
    async with client_for(fake_assembly) as client:
        before = school_token(fake_assembly, 1)
        await client.add_token(before)
        after = await client.refresh_school_token(1)
        assert after.access_token != before.access_token
        assert await client.token_store.get(school_key(1)) == after
        app = await client.client_credentials()
        assert app.level == "app" and app.expires_at is None
        assert await client.client_credentials() == app  # cached, one grant
        assert len(fake_assembly.stats.requests(path="/oauth/token")) == 2


async def test_a_saved_token_reaches_sessions_opened_before_it(
    fake_assembly: FakeAssembly,
) -> None:
    async with client_for(fake_assembly) as client:
        await client.add_token(school_token(fake_assembly, 1))
        early = client.school(1)
        await early.details.get()
        pair = fake_assembly.issue_school_token(1)
        fresh = attrs.evolve(school_token(fake_assembly, 1), access_token=pair.access_token,
                             refresh_token=pair.refresh_token)
        await client.add_token(fresh)
        late = client.school(1)
        # One manager (one refresh lock) per school, whatever order sessions opened in.
        assert early.runner.provider is late.runner.provider
        assert await early.runner.provider.access_token() == pair.access_token
