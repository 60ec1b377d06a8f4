"""The in-memory rate budget: fake clock for the decisions, real loop for waiting."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import assembly_async as aa
from assembly_async._http.ratelimit import RateLimiter, SlidingWindowLimiter, budget_key


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_is_a_rate_limiter() -> None:
    assert isinstance(SlidingWindowLimiter(), RateLimiter)


def test_a_slot_counts_from_when_its_request_finished() -> None:
    clock = FakeClock()
    lim = SlidingWindowLimiter(3, 10.0, clock=clock)
    assert [lim.try_acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert lim.remaining("a") == 0
    assert lim.try_acquire("a") == math.inf  # all three are in flight
    clock.advance(2)
    lim.release("a")  # finished at t+2: counts until t+12
    assert lim.try_acquire("a") == pytest.approx(10.0)
    clock.advance(9.999)
    assert lim.try_acquire("a") == pytest.approx(0.001)
    clock.advance(0.001)
    assert lim.try_acquire("a") == 0.0
    assert lim.remaining("a") == 0


def test_keys_are_independent_and_remaining_counts_down() -> None:
    clock = FakeClock()
    lim = SlidingWindowLimiter(2, 5.0, clock=clock)
    assert lim.remaining(1) == 2
    lim.try_acquire(1)
    lim.release(1)
    assert lim.remaining(1) == 1 and lim.remaining(2) == 2
    clock.advance(5)
    assert lim.remaining(1) == 2


def test_pause_stops_only_that_key() -> None:
    clock = FakeClock()
    lim = SlidingWindowLimiter(100, 300.0, clock=clock)
    lim.pause(1, 30)
    assert lim.try_acquire(1) == pytest.approx(30)
    assert lim.remaining(1) == 0 and lim.paused_for(1) == pytest.approx(30)
    assert lim.try_acquire(2) == 0.0
    lim.pause(1, 5)  # a shorter pause never shortens a longer one
    clock.advance(30)
    assert lim.try_acquire(1) == 0.0 and lim.paused_for(1) == 0.0


def test_configure_changes_the_limit_at_run_time() -> None:
    clock = FakeClock()
    lim = SlidingWindowLimiter(1, 10.0, clock=clock)
    lim.try_acquire("k")
    lim.release("k")
    assert lim.try_acquire("k") > 0
    lim.configure(limit=2)
    assert lim.try_acquire("k") == 0.0
    with pytest.raises(aa.ConfigurationError):
        lim.configure(window=0)
    with pytest.raises(aa.ConfigurationError):
        SlidingWindowLimiter(0, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=8),
    arrivals=st.lists(st.floats(min_value=0, max_value=50, allow_nan=False), max_size=80),
    latency=st.floats(min_value=0, max_value=3),
)
def test_never_more_than_limit_starts_in_any_window(
    limit: int, arrivals: list[float], latency: float
) -> None:
    """Simulate requests that want to start at ``arrivals`` and take ``latency``:
    the server (which counts at arrival, somewhere in [start, finish]) never sees
    more than ``limit`` inside any window, even counting at the finish."""
    window = 10.0
    clock = FakeClock()
    lim = SlidingWindowLimiter(limit, window, clock=clock)
    pending = sorted(arrivals)
    finishes: list[float] = []  # finish times of running requests
    starts: list[float] = []
    events = 0
    while pending and events < 10_000:
        events += 1
        finishes.sort()
        while finishes and finishes[0] <= clock.now:
            finishes.pop(0)
            lim.release("s")
        if pending[0] > clock.now:
            clock.now = min(pending[0], finishes[0] if finishes else pending[0])
            continue
        wait = lim.try_acquire("s")
        if wait == 0.0:
            pending.pop(0)
            starts.append(clock.now)
            finishes.append(clock.now + latency)
        else:
            targets = [clock.now + wait] if wait != math.inf else []
            clock.now = min([*targets, *finishes[:1]])
    seen = [s + latency for s in starts]  # the latest moment the server can count one
    for i, first in enumerate(seen):
        assert sum(1 for t in seen[i:] if t < first + window) <= limit


def test_budget_key_never_keeps_the_token() -> None:
    assert budget_key(42, "secret") == 42
    key = budget_key(None, "tok-SECRET-1")
    assert isinstance(key, str) and key.startswith("token:") and "SECRET" not in key
    assert key == budget_key(None, "tok-SECRET-1") != budget_key(None, "tok-SECRET-2")


async def test_waiters_are_served_in_order_within_the_budget() -> None:
    lim = SlidingWindowLimiter(3, 0.2)
    started: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await lim.acquire("a")
        started.append((i, time.monotonic()))
        lim.release("a")

    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(8)))
    assert [i for i, _ in started] == list(range(8))
    times = [t for _, t in started]
    for i, first in enumerate(times):
        assert sum(1 for t in times[i:] if t < first + 0.2 - 0.005) <= 3
    assert time.monotonic() - t0 >= 0.4  # 8 requests at 3 per 0.2 s need two waits


async def test_a_cancelled_waiter_gives_way() -> None:
    lim = SlidingWindowLimiter(1, 0.1)
    await lim.acquire("a")
    blocked = asyncio.create_task(lim.acquire("a"))
    await asyncio.sleep(0.01)
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    lim.release("a")
    waited = await asyncio.wait_for(lim.acquire("a"), 1.0)
    assert 0.05 <= waited <= 0.5
    lim.release("a")


async def test_a_pause_holds_waiters_of_that_key_only() -> None:
    lim = SlidingWindowLimiter(100, 10.0)
    lim.pause("a", 0.15)
    t0 = time.monotonic()
    assert await lim.acquire("b") == 0.0
    waited = await lim.acquire("a")
    assert waited >= 0.14 and time.monotonic() - t0 >= 0.14
