"""One deadline bounds a call: budget waits, 429 pauses, token refresh, retries.

No test here measures time: each shows from its evidence (the error's fields,
what the server received, what is still running) that the call did not wait
for what would have passed its deadline. The timings live in
``benchmarks/bench_failures.py``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from _hostile import HostileServer, Reply
from hypothesis import given
from hypothesis import strategies as st

import assembly_async as aa
from assembly_async._core.responses import retry_after_seconds
from assembly_async._http import retry as _retry
from assembly_async._http.ratelimit import BudgetUnavailable, SlidingWindowLimiter
from assembly_async.auth import Token, school_key

SCHOOL = {"object": "school", "name": "Loopback High", "urn": "100001"}
TOKEN = "tok-SECRET-deadline"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "backoff", lambda attempt: 0.0)


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as srv:
        yield srv


def api_hits(server: HostileServer) -> int:
    return sum(1 for r in server.requests if r["path"] != "/oauth/token")


# ------------------------------------------------------------------ 429 waits


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(),
                 st.text(max_size=40), st.none(), st.booleans()),
       st.one_of(st.none(), st.text(max_size=40),
                 st.sampled_from(["inf", "-inf", "nan", "-5", "1e999", "300", "0",
                                  "Wed, 21 Oct 2099 07:28:00 GMT", "Mon, 01 Jan 1990 00:00:00 GMT",
                                  "Thu, 01 Jan 99999 00:00:00 GMT", "٣", "²"])),
       st.floats(min_value=0, max_value=1e6))
def test_a_429_wait_is_finite_non_negative_and_capped(period: Any, header: str | None,
                                                      cap: float) -> None:
    headers = {} if header is None else {"retry-after": header}
    wait = retry_after_seconds(headers, {"data": {"period": period}}, cap=cap)
    assert wait is None or (math.isfinite(wait) and 0 <= wait <= cap)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-5", "1e999", "Infinity"])
def test_non_finite_or_negative_waits_are_rejected(value: str) -> None:
    assert retry_after_seconds({"retry-after": value}, None) is None
    assert retry_after_seconds({}, {"data": {"period": float(value)}}) is None


def test_a_long_wait_is_capped_and_a_valid_body_period_wins() -> None:
    assert retry_after_seconds({}, {"data": {"period": 3600}}) == 300.0
    assert retry_after_seconds({}, {"data": {"period": 3600}}, cap=30) == 30.0
    assert retry_after_seconds({"retry-after": "7"}, {"data": {"period": -1}}) == 7.0
    assert retry_after_seconds({"retry-after": "7"}, {"data": {"period": 12}}) == 12.0


async def test_a_429_pause_past_the_deadline_fails_at_once(server: HostileServer) -> None:
    server.serve(api=[Reply.json({"error": "too many requests",
                                  "data": {"count": 601, "period": 3600, "limit": 600}}, 429)])
    async with aa.AssemblyClient(api_url=server.url, deadline=5) as client:
        school = client.school(1, access_token=TOKEN)
        with pytest.raises(aa.RateLimited) as info:
            await school.details.get()
        err = info.value
        # The server's own 429, the hour capped to the API's window, and no second
        # attempt: the call did not sleep through the pause.
        assert not isinstance(err, aa.BudgetExhausted)
        assert err.status == 429 and err.retry_after == 300.0 and err.attempts == 1
        assert api_hits(server) == 1
        # The school stays paused: the next call is refused without a request.
        with pytest.raises(aa.BudgetExhausted) as again:
            await school.details.get()
        assert again.value.retry_after > again.value.left
        assert again.value.retry_after == pytest.approx(300.0, abs=5)
        assert api_hits(server) == 1 and client.remaining_budget(1) == 0
        assert client.stats(1).errors == {"BudgetExhausted": 1}


async def test_retry_after_inf_is_ignored_not_obeyed(server: HostileServer) -> None:
    limited = Reply.json({"error": "too many requests"}, 429, **{"Retry-After": "inf"})
    server.serve(api=[limited, limited, limited, limited])
    async with aa.AssemblyClient(api_url=server.url, deadline=5, retries=3) as client:
        with pytest.raises(aa.RateLimited) as info:
            await client.school(1, access_token=TOKEN).details.get()
        assert info.value.retry_after is None and info.value.attempts == 4
        assert client.remaining_budget(1) and client.remaining_budget(1) > 0  # never paused


async def test_a_short_429_pause_within_the_deadline_is_waited_out(
    server: HostileServer,
) -> None:
    server.serve(api=[Reply.json({"error": "too many requests", "data": {"period": 0.05}}, 429),
                      Reply.json(SCHOOL)])
    async with aa.AssemblyClient(api_url=server.url, deadline=5) as client:
        school = await client.school(1, access_token=TOKEN).details.get()
    assert school.urn == "100001" and api_hits(server) == 2


async def test_wait_for_budget_waits_out_a_pause_longer_than_the_deadline(
    server: HostileServer,
) -> None:
    server.serve(api=[Reply.json({"error": "too many requests", "data": {"period": 0.3}}, 429),
                      Reply.json(SCHOOL)])
    async with aa.AssemblyClient(api_url=server.url, deadline=0.2) as client:
        school = await client.school(1, access_token=TOKEN).details.get(
            options=aa.CallOptions(wait_for_budget=True))
        assert school.urn == "100001"
        assert client.stats(1).rate_limit_waits == 1 and client.stats(1).waited > 0


async def test_max_retry_after_is_configurable(server: HostileServer) -> None:
    server.serve(api=[Reply.json({"error": "x", "data": {"period": 3600}}, 429)])
    async with aa.AssemblyClient(api_url=server.url, max_retry_after=0.01, retries=0) as c:
        with pytest.raises(aa.RateLimited) as info:
            await c.school(1, access_token=TOKEN).details.get()
    assert info.value.retry_after == 0.01
    with pytest.raises(aa.ConfigurationError):
        aa.AssemblyClient(max_retry_after=math.inf)


# -------------------------------------------------------------- budget waits


async def test_an_exhausted_budget_fails_fast_without_sending(server: HostileServer) -> None:
    server.serve(api=[Reply.json(SCHOOL), Reply.json(SCHOOL)])
    async with aa.AssemblyClient(api_url=server.url, rate_limit=2, rate_window=300,
                                 deadline=5) as client:
        school = client.school(1, access_token=TOKEN)
        await school.details.get()
        await school.details.get()
        with pytest.raises(aa.BudgetExhausted) as info:
            await school.details.get()
        err = info.value
        assert isinstance(err, aa.RateLimited) and err.status == 429
        assert err.retry_after > 290 and err.left <= 5
        assert "not sent" in str(err) and "wait_for_budget" in str(err)
        assert api_hits(server) == 2 and err.attempts == 1  # refused, not retried
        # Another school's budget is its own.
        server.serve(api=[Reply.json(SCHOOL)])
        await client.school(2, access_token=TOKEN).details.get()


async def test_wait_for_budget_per_client_and_per_call(server: HostileServer) -> None:
    server.serve(api=[Reply.json(SCHOOL)] * 4)
    async with aa.AssemblyClient(api_url=server.url, rate_limit=1, rate_window=0.3,
                                 deadline=0.1, wait_for_budget=True) as client:
        school = client.school(1, access_token=TOKEN)
        await school.details.get()
        await school.details.get()  # waited ~0.3 s for budget, past the 0.1 s deadline
        with pytest.raises(aa.BudgetExhausted):
            await school.details.get(options=aa.CallOptions(wait_for_budget=False))
        assert client.stats(1).rate_limit_waits == 1
    assert api_hits(server) == 2


async def test_no_deadline_means_no_bound(server: HostileServer) -> None:
    server.serve(api=[Reply.json(SCHOOL)] * 2)
    async with aa.AssemblyClient(api_url=server.url, rate_limit=1, rate_window=0.2,
                                 deadline=None) as client:
        school = client.school(1, access_token=TOKEN)
        await school.details.get()
        assert (await school.details.get()).urn == "100001"


def test_call_options_validate_wait_for_budget_and_deadline() -> None:
    with pytest.raises(aa.ConfigurationError):
        aa.CallOptions(wait_for_budget="yes")  # type: ignore[arg-type]
    for bad in (0, -1, math.inf, math.nan, True):
        with pytest.raises(aa.ConfigurationError):
            aa.CallOptions(deadline=bad)
        with pytest.raises(aa.ConfigurationError):
            aa.RetryPolicy(deadline=bad)


class SilentLimiter:
    """A shared limiter whose server stopped answering: ``acquire`` never returns."""

    def __init__(self) -> None:
        self.cancelled = 0
        self.released = 0

    async def acquire(self, key: Any, *, max_wait: float | None = None) -> float:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return 0.0

    def release(self, key: Any) -> None:
        self.released += 1

    def pause(self, key: Any, seconds: float) -> None:
        pass

    def remaining(self, key: Any) -> int | None:
        return None


async def test_a_limiter_that_never_answers_cannot_hold_the_call(
        server: HostileServer) -> None:
    server.serve(api=[Reply.json(SCHOOL)])
    limiter = SilentLimiter()
    async with aa.AssemblyClient(api_url=server.url, rate_limiter=limiter,
                                 deadline=0.3) as client:
        started = time.monotonic()
        with pytest.raises(aa.RequestTimeout) as info:  # not the outer bound's TimeoutError
            await asyncio.wait_for(client.school(1, access_token=TOKEN).details.get(), 5)
        took = time.monotonic() - started
    assert 0.25 < took < 2.0
    assert info.value.request_sent is False and "rate limiter" in str(info.value)
    assert limiter.cancelled == 1 and limiter.released == 0  # no slot was taken
    assert api_hits(server) == 0


async def test_waiting_for_budget_leaves_the_limiter_unbounded_by_the_deadline(
        server: HostileServer) -> None:
    """``wait_for_budget`` means budget waits are not the deadline's business:
    the limiter's own bounds (a Redis client's socket timeout) apply."""
    limiter = SilentLimiter()
    async with aa.AssemblyClient(api_url=server.url, rate_limiter=limiter, deadline=0.1,
                                 wait_for_budget=True) as client:
        call = asyncio.ensure_future(client.school(1, access_token=TOKEN).details.get())
        done, _ = await asyncio.wait({call}, timeout=0.4)
        assert not done
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert limiter.cancelled == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_bounded_acquire_knows_at_once_when_a_slot_frees_too_late() -> None:
    clock = Clock()
    lim = SlidingWindowLimiter(2, 60.0, clock=clock)
    assert await lim.acquire("k", max_wait=1.0) == 0.0
    assert await lim.acquire("k", max_wait=1.0) == 0.0
    with pytest.raises(BudgetUnavailable) as info:  # both in flight: a window at least
        await lim.acquire("k", max_wait=1.0)
    assert info.value.retry_after == 60.0
    lim.release("k")
    clock.now += 10
    with pytest.raises(BudgetUnavailable) as info:
        await lim.acquire("k", max_wait=49.0)
    assert info.value.retry_after == pytest.approx(50.0)
    lim.pause("j", 30)
    with pytest.raises(BudgetUnavailable) as info:
        await lim.acquire("j", max_wait=0)
    assert info.value.retry_after == pytest.approx(30.0)
    assert lim.remaining("k") == 0  # nothing was taken by the refusals


async def test_bounded_acquire_waits_when_the_slot_comes_in_time() -> None:
    lim = SlidingWindowLimiter(1, 0.05)
    await lim.acquire("k")
    lim.release("k")
    waited = await lim.acquire("k", max_wait=5.0)
    assert waited > 0


@pytest.mark.parametrize("seconds", [math.inf, math.nan, -1.0, 0.0])
def test_a_pause_that_is_not_a_finite_positive_number_is_ignored(seconds: float) -> None:
    lim = SlidingWindowLimiter(1, 10.0)
    lim.pause("k", seconds)
    assert lim.paused_for("k") == 0.0 and lim.remaining("k") == 1


async def test_a_bounded_waiter_behind_others_gives_up_too() -> None:
    lim = SlidingWindowLimiter(1, 0.2)
    await lim.acquire("k")
    first = asyncio.create_task(lim.acquire("k"))  # queued, unbounded
    await asyncio.sleep(0)
    with pytest.raises(BudgetUnavailable):
        await lim.acquire("k", max_wait=0.01)
    lim.release("k")
    assert await asyncio.wait_for(first, 5) >= 0


# ------------------------------------------------------------- token refresh


def expired_token(school_id: int = 1) -> Token:
    return Token(access_token="old-SECRET-access", refresh_token="SECRET-refresh",
                 token_type="bearer", level="school", expires_at=time.time() - 10,
                 school_id=school_id)


async def test_a_token_endpoint_that_never_answers_cannot_hold_the_call(
    server: HostileServer,
) -> None:
    server.serve(token=[Reply(action="hang")])
    async with aa.AssemblyClient(api_url=server.url, oauth_url=server.url, client_id="app",
                                 client_secret="SECRET-client", deadline=0.3) as client:
        await client.add_token(expired_token())
        with pytest.raises(aa.RequestTimeout) as info:
            await client.school(1).details.get()
        assert "no access token within the call's deadline" in str(info.value)
        assert not info.value.request_sent and api_hits(server) == 0
        # The refresh was left running (never cancelled half way), not abandoned.
        assert len(client._core.pipeline.lingering) == 1
    assert len(client._core.pipeline.lingering) == 0  # closing the client ends it


async def test_a_refresh_that_outlives_its_call_serves_the_next_one(
    server: HostileServer,
) -> None:
    gate = asyncio.Event()
    fresh = {"access_token": "new-SECRET-access", "token_type": "bearer", "level": "school",
             "expires_in": 3600, "school_id": 1}

    class SlowTransport:
        """Holds the token request until the test opens the gate."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def send(self, request: Any, *, timeouts: aa.Timeouts) -> Any:
            if request.url.path == "/oauth/token":
                await gate.wait()
            return await self.inner.send(request, timeouts=timeouts)

        async def aclose(self) -> None:
            await self.inner.aclose()

    from assembly_async._http.transport import AiohttpTransport

    server.serve(token=[Reply.json(fresh)], api=[Reply.json(SCHOOL)])
    async with aa.AssemblyClient(api_url=server.url, oauth_url=server.url, client_id="app",
                                 client_secret="SECRET-client", deadline=0.2,
                                 transport=SlowTransport(AiohttpTransport())) as client:
        await client.add_token(expired_token())
        with pytest.raises(aa.RequestTimeout):
            await client.school(1).details.get()
        gate.set()
        for _ in range(1000):  # the background refresh finishes (no timing asserted)
            if not client._core.pipeline.lingering:
                break
            await asyncio.sleep(0.01)
        assert not client._core.pipeline.lingering
        stored = await client.token_store.get(school_key(1))
        assert stored is not None and stored.access_token == "new-SECRET-access"
        assert (await client.school(1).details.get()).urn == "100001"
        assert client.token_manager(1).refresh_count == 1
    tokens = [r for r in server.requests if r["path"] == "/oauth/token"]
    assert len(tokens) == 1


async def test_ready_token_skips_the_bounded_path() -> None:
    assert aa.StaticToken("x").ready_token() == "x"
    token = attrs.evolve(expired_token(), expires_at=time.time() + 3600)
    from assembly_async.auth import MemoryTokenStore
    from assembly_async.auth._managers import SchoolTokenManager

    manager = SchoolTokenManager(school_id=1, store=MemoryTokenStore(), oauth=None)
    assert manager.ready_token() is None  # not loaded yet: the bounded path loads it
    manager.use(token)
    assert manager.ready_token() == token.access_token
    manager.use(attrs.evolve(token, expires_at=time.time() + 10))
    assert manager.ready_token() is None  # due for a refresh
