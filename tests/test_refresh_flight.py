"""The refresh protocol, fast: several "workers" (token managers with their own
lease owner ids and, for SQLite, their own connections) on one store, against a
token endpoint double that rotates refresh tokens like a strict provider."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from _plain_store import PlainStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assembly_async import (
    AssemblyError,
    OAuthError,
    RefreshInterrupted,
    RequestTimeout,
    SchoolAuthRevoked,
    TokenUnavailable,
)
from assembly_async._core.errors import ConfigurationError, ConnectionFailed
from assembly_async.auth import LeasingTokenStore, MemoryTokenStore, SQLiteTokenStore, Token
from assembly_async.auth._managers import SchoolTokenManager

KEY = "school:1"
EXPIRED = 1_000.0  # long past
FUTURE = time.time() + 30 * 86400


def tok(n: int, *, expires_at: float | None = None, **changes: Any) -> Token:
    fields: dict[str, Any] = {
        "access_token": f"access-{n}-secret", "refresh_token": f"refresh-{n}-secret",
        "token_type": "bearer", "level": "school",
        "expires_at": FUTURE if expires_at is None else expires_at,
        "school_id": 1,
    }
    fields.update(changes)
    return Token(**fields)


class Endpoint:
    """A token endpoint double: accepts each refresh token once (rotation)."""

    def __init__(self, *valid: str) -> None:
        self.valid = set(valid)
        self.calls = 0
        self.issued = 100
        self.gate: asyncio.Event | None = None
        self.fail: list[BaseException] = []
        self.hang_after_rotating = False
        self.issued_expired = False
        self.before: Callable[[], Awaitable[None]] | None = None

    async def refresh(self, token: Token) -> Token:
        self.calls += 1
        if self.before is not None:
            await self.before()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise self.fail.pop(0)
        if token.refresh_token not in self.valid:
            raise SchoolAuthRevoked("invalid_grant", school_id=1, status=400)
        self.valid.discard(token.refresh_token)
        self.issued += 1
        new = tok(self.issued, expires_at=EXPIRED if self.issued_expired else None)
        self.valid.add(new.refresh_token or "")
        if self.hang_after_rotating:
            await asyncio.Event().wait()  # the answer never arrives
        return new


Workers = tuple[list[LeasingTokenStore], Callable[..., SchoolTokenManager]]


@pytest.fixture(params=["memory", "sqlite"])
async def workers(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Workers]:
    """Handles on one store (one per worker for SQLite) and a manager factory."""
    if request.param == "memory":
        shared = MemoryTokenStore()
        handles: list[Any] = [shared, shared, shared]
        yield handles, _factory(handles)
    else:
        path = tmp_path / "tokens.db"
        async with SQLiteTokenStore(path) as a, SQLiteTokenStore(path) as b, \
                SQLiteTokenStore(path) as c:
            handles = [a, b, c]
            yield handles, _factory(handles)


def _factory(handles: list[Any]) -> Callable[..., SchoolTokenManager]:
    def make(worker: int, endpoint: Endpoint | None, **kw: Any) -> SchoolTokenManager:
        return SchoolTokenManager(school_id=1, store=handles[worker], oauth=endpoint,  # type: ignore[arg-type]
                                  **kw)
    return make


async def test_two_workers_100_callers_one_grant(workers: Workers) -> None:
    stores, make = workers
    start = tok(1, expires_at=EXPIRED)
    await stores[0].set(KEY, start)
    endpoint = Endpoint(start.refresh_token or "")
    a, b = make(0, endpoint), make(1, endpoint)
    tokens = await asyncio.gather(*((a if n % 2 else b).access_token() for n in range(100)))
    assert endpoint.calls == 1 and len(set(tokens)) == 1
    record = await stores[2].read(KEY)
    assert record is not None and record.token.access_token == tokens[0]
    assert record.version == 2 and record.pending is None and record.token.usable
    assert a.refresh_count + b.refresh_count == 1


async def test_invalid_grant_after_another_worker_refreshed_is_not_revocation(
    workers: Workers,
) -> None:
    stores, make = workers
    await stores[0].set(KEY, tok(1, expires_at=EXPIRED))
    endpoint = Endpoint()  # refresh-1 already used by the other worker

    async def other_worker_saves_first() -> None:
        await stores[1].set(KEY, tok(2))

    endpoint.before = other_worker_saves_first
    manager = make(0, endpoint)
    assert await manager.access_token() == tok(2).access_token
    stored = await stores[2].get(KEY)
    assert stored == tok(2) and stored.usable


async def test_a_refused_current_refresh_token_is_revocation(workers: Workers) -> None:
    stores, make = workers
    await stores[0].set(KEY, tok(1, expires_at=EXPIRED))
    manager = make(0, Endpoint())  # the school revoked access: nothing is valid
    with pytest.raises(SchoolAuthRevoked) as info:
        await manager.access_token()
    assert not isinstance(info.value, RefreshInterrupted)
    record = await stores[1].read(KEY)
    assert record is not None and not record.token.usable and record.pending is None
    for worker in (manager, make(1, Endpoint())):  # this worker and any other
        with pytest.raises(TokenUnavailable, match="revoked") as again:
            await worker.access_token()
        assert not isinstance(again.value, RefreshInterrupted)
    # A new code exchange (anywhere) makes the school usable again.
    await stores[2].set(KEY, tok(7))
    assert await manager.access_token() == tok(7).access_token


async def test_pending_then_refused_is_refresh_interrupted(workers: Workers) -> None:
    stores, make = workers
    await stores[0].set(KEY, tok(1, expires_at=EXPIRED))
    assert await stores[0].set_pending(KEY, 1, "dead-worker")  # its answer was lost
    endpoint = Endpoint()  # ... after the server rotated refresh-1
    manager = make(0, endpoint)
    with pytest.raises(RefreshInterrupted) as info:
        await manager.access_token()
    assert not isinstance(info.value, SchoolAuthRevoked)
    assert info.value.school_id == 1 and "exchange_code" in str(info.value)
    assert endpoint.calls == 1  # tried once, no retry loop
    record = await stores[1].read(KEY)
    assert record is not None and not record.token.usable and record.pending is not None
    with pytest.raises(RefreshInterrupted):  # every other worker tells the same story
        await make(1, endpoint).access_token()
    assert endpoint.calls == 1
    await stores[2].set(KEY, tok(8))  # re-authorised
    assert await manager.access_token() == tok(8).access_token


async def test_pending_then_granted_recovers(workers: Workers) -> None:
    stores, make = workers
    start = tok(1, expires_at=EXPIRED)
    await stores[0].set(KEY, start)
    await stores[0].set_pending(KEY, 1, "dead-worker")  # died before the server saw it
    endpoint = Endpoint(start.refresh_token or "")
    token = await make(0, endpoint).access_token()
    record = await stores[1].read(KEY)
    assert record is not None and record.token.access_token == token
    assert record.pending is None and record.token.usable


async def test_a_dead_lease_holder_is_survived_by_expiry(workers: Workers) -> None:
    stores, make = workers
    start = tok(1, expires_at=EXPIRED)
    await stores[0].set(KEY, start)
    assert (await stores[0].try_lease(KEY, "dead-worker", 0.3)).acquired
    endpoint = Endpoint(start.refresh_token or "")
    results = await asyncio.gather(*(make(n % 2, endpoint).access_token() for n in range(6)))
    assert endpoint.calls == 1 and len(set(results)) == 1


async def test_a_lease_given_up_after_a_failed_grant_frees_the_others_at_once(
        workers: Workers) -> None:
    """The holder's grant fails without a token (a 503): it releases the lease,
    and a worker waiting for it refreshes within a poll or two, not after the
    rest of the lease (70 s here)."""
    stores, make = workers
    start = tok(1, expires_at=EXPIRED)
    await stores[0].set(KEY, start)
    endpoint = Endpoint(start.refresh_token or "")
    endpoint.gate = asyncio.Event()
    endpoint.fail = [OAuthError("unavailable", error="server_error", status=503)]
    first = asyncio.ensure_future(make(0, endpoint).access_token())
    while endpoint.calls == 0:  # worker 0 holds the lease, its grant in flight
        await asyncio.sleep(0.01)
    second = asyncio.ensure_future(make(1, endpoint).access_token())
    await asyncio.sleep(0.1)  # worker 1 waits for the lease
    endpoint.gate.set()
    with pytest.raises(OAuthError):
        await first
    started = time.monotonic()
    assert await asyncio.wait_for(second, 10) == tok(101).access_token
    assert time.monotonic() - started < 2.0 and endpoint.calls == 2


async def test_a_store_whose_leases_are_too_short_fails_instead_of_spinning() -> None:
    from assembly_async.auth._leases import Lease

    class ShortLeases(MemoryTokenStore):
        async def try_lease(self, key: str, owner: str, ttl: float) -> Lease:
            await asyncio.sleep(0)  # a spin would yield: wait_for below can end it
            lease = await super().try_lease(key, owner, ttl)
            return Lease(lease.acquired, lease.holder, min(lease.remaining, ttl / 10))

    store = ShortLeases()
    start = tok(1, expires_at=EXPIRED)
    await store.set(KEY, start)
    manager = SchoolTokenManager(school_id=1, store=store,  # type: ignore[arg-type]
                                 oauth=Endpoint(start.refresh_token or ""), lease_ttl=0.6)
    with pytest.raises(TokenUnavailable, match="too short"):
        await asyncio.wait_for(manager.access_token(), 10)


async def test_a_cancelled_caller_never_loses_the_rotated_token(workers: Workers) -> None:
    stores, make = workers
    start = tok(1, expires_at=EXPIRED)
    await stores[0].set(KEY, start)
    endpoint = Endpoint(start.refresh_token or "")
    endpoint.gate = asyncio.Event()
    manager = make(0, endpoint)
    caller = asyncio.ensure_future(manager.access_token())
    while endpoint.calls == 0:
        await asyncio.sleep(0.005)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    endpoint.gate.set()  # the server answers after the caller gave up
    while (record := await stores[1].read(KEY)) is not None and record.version == 1:
        await asyncio.sleep(0.005)
    assert record is not None and record.token.access_token == tok(101).access_token
    assert record.pending is None
    assert await manager.access_token() == tok(101).access_token
    assert await make(1, endpoint).access_token() == tok(101).access_token
    assert endpoint.calls == 1


async def test_a_lost_answer_after_rotation_is_interrupted_not_revoked(
    workers: Workers,
) -> None:
    stores, make = workers
    start = tok(1, expires_at=EXPIRED)
    await stores[0].set(KEY, start)
    endpoint = Endpoint(start.refresh_token or "")
    endpoint.hang_after_rotating = True
    first = make(0, endpoint, lease_ttl=0.6)  # the grant is cut off after 0.4 s
    with pytest.raises(RequestTimeout):
        await first.access_token()
    record = await stores[1].read(KEY)
    assert record is not None and record.pending == first.owner  # left for the next one
    endpoint.hang_after_rotating = False
    with pytest.raises(RefreshInterrupted):
        await make(1, endpoint).access_token()
    assert endpoint.calls == 2


async def test_a_timed_out_grant_the_server_never_saw_recovers(workers: Workers) -> None:
    stores, make = workers
    start = tok(1, expires_at=EXPIRED)
    await stores[0].set(KEY, start)
    endpoint = Endpoint(start.refresh_token or "")
    endpoint.gate = asyncio.Event()  # blocked before the server does anything
    with pytest.raises(RequestTimeout):
        await make(0, endpoint, lease_ttl=0.6).access_token()
    endpoint.gate = None
    token = await make(1, endpoint).access_token()
    assert token == tok(101).access_token


@pytest.mark.parametrize(("error", "pending_kept"), [
    (OAuthError("unavailable", error="server_error", status=503), False),
    (OAuthError("refused", error="invalid_client", status=401), False),
    (OAuthError("crashed", error="server_error", status=500), True),
    (ConnectionFailed("refused", method="POST", url="u", request_sent=False), False),
    (ConnectionFailed("reset", method="POST", url="u", request_sent=True), True),
    (OAuthError("token response has no access_token (HTTP 200)", status=200), True),
])
async def test_pending_is_cleared_only_when_the_grant_surely_failed(
    workers: Workers, error: Exception, pending_kept: bool,
) -> None:
    stores, make = workers
    start = tok(1, expires_at=EXPIRED)
    await stores[0].set(KEY, start)
    endpoint = Endpoint(start.refresh_token or "")
    endpoint.fail = [error]
    manager = make(0, endpoint)
    with pytest.raises(type(error)):
        await manager.access_token()
    record = await stores[1].read(KEY)
    assert record is not None and record.token.usable
    assert (record.pending is not None) == pending_kept


async def test_an_earlier_pending_mark_survives_a_failed_retry(workers: Workers) -> None:
    stores, make = workers
    await stores[0].set(KEY, tok(1, expires_at=EXPIRED))
    await stores[0].set_pending(KEY, 1, "dead-worker")
    endpoint = Endpoint()
    endpoint.fail = [OAuthError("server error", status=503)]
    with pytest.raises(OAuthError):
        await make(0, endpoint).access_token()
    with pytest.raises(RefreshInterrupted):  # not "revoked": the first answer is still lost
        await make(1, endpoint).access_token()


async def test_a_token_saved_meanwhile_wins_over_ours(workers: Workers) -> None:
    stores, make = workers
    start = tok(1, expires_at=EXPIRED)
    await stores[0].set(KEY, start)
    endpoint = Endpoint(start.refresh_token or "")

    async def code_exchange_meanwhile() -> None:
        await stores[1].set(KEY, tok(50))

    endpoint.before = code_exchange_meanwhile
    assert await make(0, endpoint).access_token() == tok(50).access_token
    assert await stores[2].get(KEY) == tok(50)


async def test_our_token_replaces_an_unusable_mark_written_meanwhile(workers: Workers) -> None:
    stores, make = workers
    start = tok(1, expires_at=EXPIRED)
    await stores[0].set(KEY, start)
    endpoint = Endpoint(start.refresh_token or "")

    async def marked_meanwhile() -> None:
        await stores[1].mark_unusable(KEY)

    endpoint.before = marked_meanwhile
    token = await make(0, endpoint).access_token()
    stored = await stores[2].get(KEY)
    assert stored is not None and stored.usable and stored.access_token == token


async def test_a_newer_stored_token_is_used_without_credentials(workers: Workers) -> None:
    stores, make = workers
    await stores[0].set(KEY, tok(1, expires_at=EXPIRED))
    manager = make(0, None)
    with pytest.raises(TokenUnavailable, match="no client credentials"):
        await manager.access_token()
    await stores[1].set(KEY, tok(2))  # another process refreshed
    assert await manager.access_token() == tok(2).access_token


def test_lease_must_be_positive() -> None:
    with pytest.raises(ConfigurationError):
        SchoolTokenManager(school_id=1, store=MemoryTokenStore(), oauth=None, lease_ttl=0)


# -- a store with only the old protocol ------------------------------------------------

async def test_plain_store_refresh_is_single_flight_in_process() -> None:
    store = PlainStore()
    start = tok(1, expires_at=EXPIRED)
    await store.set(KEY, start)
    endpoint = Endpoint(start.refresh_token or "")
    manager = SchoolTokenManager(school_id=1, store=store, oauth=endpoint)  # type: ignore[arg-type]
    results = await asyncio.gather(*(manager.access_token() for _ in range(100)))
    assert endpoint.calls == 1 and len(set(results)) == 1
    assert await store.get(KEY) == tok(101)


async def test_plain_store_invalid_grant_with_a_newer_token_adopts_it() -> None:
    store = PlainStore()
    await store.set(KEY, tok(1, expires_at=EXPIRED))
    endpoint = Endpoint()

    async def other_worker_saves_first() -> None:
        await store.set(KEY, tok(2))

    endpoint.before = other_worker_saves_first
    manager = SchoolTokenManager(school_id=1, store=store, oauth=endpoint)  # type: ignore[arg-type]
    assert await manager.access_token() == tok(2).access_token
    assert (await store.get(KEY)) == tok(2)


async def test_plain_store_revocation_marks_only_the_refused_token() -> None:
    store = PlainStore()
    await store.set(KEY, tok(1, expires_at=EXPIRED))
    manager = SchoolTokenManager(school_id=1, store=store, oauth=Endpoint())  # type: ignore[arg-type]
    with pytest.raises(SchoolAuthRevoked):
        await manager.access_token()
    stored = await store.get(KEY)
    assert stored is not None and not stored.usable
    assert stored == attrs.evolve(tok(1, expires_at=EXPIRED), usable=False)


# -- a model of the honest states, over any sequence of events --------------------------

EVENTS = st.lists(st.tuples(st.sampled_from(["ok", "lost", "fail503", "revoke", "reauth"]),
                            st.integers(0, 2)), min_size=1, max_size=12)


@attrs.define
class Model:
    """What the school's state should be: whether the stored token is usable,
    whether an answer was lost (pending), whether its refresh token still works."""

    usable: bool = True
    pending: bool = False
    valid: bool = True


async def _play(store: Any, events: list[tuple[str, int]]) -> None:
    first = tok(1, expires_at=EXPIRED)
    await store.set(KEY, first)
    endpoint = Endpoint(first.refresh_token or "")
    endpoint.issued_expired = True  # every call refreshes
    workers = [SchoolTokenManager(school_id=1, store=store, oauth=endpoint,  # type: ignore[arg-type]
                                  lease_ttl=0.15) for _ in range(3)]
    model = Model()
    for n, (event, w) in enumerate(events):
        if event == "revoke":
            endpoint.valid.clear()
            model.valid = False
            continue
        if event == "reauth":
            fresh = tok(1000 + n, expires_at=EXPIRED)
            endpoint.valid.add(fresh.refresh_token or "")
            await store.set(KEY, fresh)
            model = Model()
            continue
        if event == "lost":
            endpoint.hang_after_rotating = True
        elif event == "fail503":
            endpoint.fail = [OAuthError("unavailable", status=503)]
        expected: type[BaseException] | None
        if not model.usable:
            expected = RefreshInterrupted if model.pending else TokenUnavailable
        elif event == "fail503":
            expected = OAuthError
        elif not model.valid:
            expected = RefreshInterrupted if model.pending else SchoolAuthRevoked
            model.usable = False
        elif event == "lost":
            expected = RequestTimeout
            model.pending, model.valid = True, False
        else:
            expected, model.pending = None, False
        try:
            await workers[w].access_token()
            raised: type[BaseException] | None = None
        except AssemblyError as exc:
            raised = type(exc)
        endpoint.hang_after_rotating = False
        endpoint.fail = []
        if expected is TokenUnavailable:
            assert raised is TokenUnavailable, (events[: n + 1], raised)
        else:
            assert raised is expected, (events[: n + 1], raised, expected)
        record = await store.read(KEY)
        assert record is not None
        assert record.token.usable == model.usable, events[: n + 1]
        assert (record.pending is not None) == model.pending, events[: n + 1]
        if model.usable and model.valid:  # a usable token can always be refreshed
            assert record.token.refresh_token in endpoint.valid


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=EVENTS)
def test_honest_states_match_a_model(events: list[tuple[str, int]]) -> None:
    async def run() -> None:
        await _play(MemoryTokenStore(), events)
        async with SQLiteTokenStore(":memory:") as sqlite_store:
            await _play(sqlite_store, events)

    asyncio.run(run())


async def test_an_sqlite_file_from_before_versions_refreshes(tmp_path: Path) -> None:
    import sqlite3

    import orjson

    path = tmp_path / "old.db"
    start = tok(1, expires_at=EXPIRED)
    with sqlite3.connect(path) as db:  # the layout older releases wrote
        db.execute("CREATE TABLE tokens (key TEXT PRIMARY KEY, data TEXT NOT NULL,"
                   " updated_at REAL NOT NULL)")
        db.execute("INSERT INTO tokens VALUES (?, ?, 0)",
                   (KEY, orjson.dumps(start.to_dict()).decode()))
    db.close()
    async with SQLiteTokenStore(path) as store:
        record = await store.read(KEY)
        assert record is not None and record.version == 0 and record.pending is None
        endpoint = Endpoint(start.refresh_token or "")
        manager = SchoolTokenManager(school_id=1, store=store, oauth=endpoint)  # type: ignore[arg-type]
        assert await manager.access_token() == tok(101).access_token
        assert (await store.read(KEY)).version == 1  # type: ignore[union-attr]
