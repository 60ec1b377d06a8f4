"""Proactive rate budgets: requests wait for budget instead of earning a 429.

CONCEPTS "Rate limiting": 600 requests per 5-minute window per access token,
limits may change. The pipeline asks a :class:`RateLimiter` for budget before
every attempt (keyed by school, see :func:`budget_key`), tells it when the
attempt finished, and pauses the key when a 429 still arrives.

:class:`SlidingWindowLimiter`, the default, never lets more than ``limit``
requests *start* inside any ``window`` seconds as the server sees them: a slot
is held while its request is in flight and counts for ``window`` seconds from
the moment the request *finished* (the latest moment the server can have
counted it), so latency can never make two windows overlap on the server.
Waiters of one key are served first come, first served.

Waits are bounded on request: ``acquire(key, max_wait=s)`` gives up with
:class:`BudgetUnavailable` (carrying the seconds until a slot may free up)
as soon as it knows no slot will be free within ``s`` seconds, so a call with a
deadline fails fast instead of sleeping until its deadline and failing then.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .._core.errors import ConfigurationError

__all__ = [
    "BudgetKey", "BudgetUnavailable", "RateLimiter", "SlidingWindowLimiter", "budget_key",
]

#: A school id, or ``"token:<digest>"`` for sessions without one (static tokens, app).
BudgetKey = int | str


def budget_key(school_id: int | None, token: str) -> BudgetKey:
    """The budget a request draws on: its school, else a digest of its token
    (the token itself is never kept)."""
    if school_id is not None:
        return school_id
    return "token:" + hashlib.blake2b(token.encode(), digest_size=8).hexdigest()


class BudgetUnavailable(Exception):
    """Raised by :meth:`RateLimiter.acquire` when no slot will be free within
    ``max_wait``; ``retry_after`` is the seconds until one may be (a lower
    bound). No slot was taken. The pipeline turns it into
    :class:`~assembly_async.BudgetExhausted`; it never reaches callers."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"no rate budget for {retry_after:.3g}s")


@runtime_checkable
class RateLimiter(Protocol):
    """Decides when a request of a key (a school) may start."""

    async def acquire(self, key: BudgetKey, *, max_wait: float | None = None) -> float:
        """Wait until ``key`` may start a request; return the seconds waited.

        With ``max_wait`` (seconds), wait at most that long: when the slot will
        not be free by then, raise :class:`BudgetUnavailable` without taking
        one, as early as that is known (at once when the wait is known).
        """
        ...

    def release(self, key: BudgetKey) -> None:
        """The request admitted by :meth:`acquire` finished (answered or failed)."""
        ...

    def pause(self, key: BudgetKey, seconds: float) -> None:
        """The server answered 429: start nothing for ``key`` for ``seconds``."""
        ...

    def remaining(self, key: BudgetKey) -> int | None:
        """How many requests ``key`` may start right now (None: no limit)."""
        ...


class _Waiter:
    __slots__ = ("fut",)

    def __init__(self) -> None:
        self.fut: asyncio.Future[None] | None = None

    def wake(self) -> None:
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_result(None)


class _KeyState:
    __slots__ = ("done", "inflight", "paused_until", "queue")

    def __init__(self) -> None:
        self.done: deque[float] = deque()  # finish times of recent requests, ascending
        self.inflight = 0
        self.paused_until = -math.inf
        self.queue: deque[_Waiter] = deque()


def _wake(waiter: _Waiter) -> None:
    waiter.wake()


class SlidingWindowLimiter:
    """At most ``limit`` requests per ``window`` seconds per key, in memory.

    ``clock`` (monotonic seconds) is injectable for tests; waiting sleeps on the
    event loop for the durations computed from it. :meth:`configure` changes
    the limits at run time (they apply to the next decision).
    """

    def __init__(
        self,
        limit: int = 600,
        window: float = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check(limit, window)
        self.limit = limit
        self.window = float(window)
        self._clock = clock
        self._keys: dict[BudgetKey, _KeyState] = {}

    def __repr__(self) -> str:
        return f"<SlidingWindowLimiter limit={self.limit} window={self.window:g}s>"

    @staticmethod
    def _check(limit: int, window: float) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"rate limit must be an integer >= 1, got {limit!r}")
        if not window > 0:
            raise ConfigurationError(f"rate window must be positive seconds, got {window!r}")

    def configure(self, *, limit: int | None = None, window: float | None = None) -> None:
        """Change the limit and/or window (for every key)."""
        new_limit = self.limit if limit is None else limit
        new_window = self.window if window is None else float(window)
        self._check(new_limit, new_window)
        self.limit, self.window = new_limit, new_window
        for state in self._keys.values():
            if state.queue:
                state.queue[0].wake()

    def _state(self, key: BudgetKey) -> _KeyState:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState()
        return state

    def _expire(self, state: _KeyState, now: float) -> None:
        done, horizon = state.done, now - self.window
        while done and done[0] <= horizon:
            done.popleft()

    def try_acquire(self, key: BudgetKey) -> float:
        """Take a slot now and return 0.0, or return the seconds until one may
        free up (``inf`` when every slot is held by a request in flight)."""
        return self._try(self._state(key))

    def _try(self, state: _KeyState) -> float:
        now = self._clock()
        if now < state.paused_until:
            return state.paused_until - now
        self._expire(state, now)
        if state.inflight + len(state.done) < self.limit:
            state.inflight += 1
            return 0.0
        if state.done:
            return max(state.done[0] + self.window - now, 1e-6)
        return math.inf

    def _earliest(self, state: _KeyState) -> float:
        """Seconds until any slot of ``state`` may free up (0: one is free now)."""
        now = self._clock()
        if now < state.paused_until:
            return state.paused_until - now
        self._expire(state, now)
        if state.inflight + len(state.done) < self.limit:
            return 0.0
        if state.done:
            return max(state.done[0] + self.window - now, 1e-6)
        # Every slot is in flight: one frees up ``window`` after its request ends.
        return self.window

    async def acquire(self, key: BudgetKey, *, max_wait: float | None = None) -> float:
        state = self._state(key)
        if not state.queue and self._try(state) == 0.0:
            return 0.0
        loop = asyncio.get_running_loop()
        started = self._clock()
        me = _Waiter()
        state.queue.append(me)
        try:
            while True:
                wait = self._try(state) if state.queue[0] is me else math.inf
                if wait == 0.0:
                    break
                if max_wait is not None:
                    left = max_wait - (self._clock() - started)
                    earliest = self._earliest(state)
                    if earliest > left or left <= 0:
                        raise BudgetUnavailable(max(earliest, 1e-6))
                    wait = min(wait, left)
                me.fut = loop.create_future()
                handle = loop.call_later(wait, _wake, me) if wait != math.inf else None
                try:
                    await me.fut
                finally:
                    me.fut = None
                    if handle is not None:
                        handle.cancel()
        finally:
            if state.queue and state.queue[0] is me:
                state.queue.popleft()
            else:
                state.queue.remove(me)
            if state.queue:
                state.queue[0].wake()
        return max(0.0, self._clock() - started)

    def release(self, key: BudgetKey) -> None:
        state = self._state(key)
        if state.inflight > 0:
            state.inflight -= 1
        state.done.append(self._clock())
        if state.queue:
            state.queue[0].wake()

    def pause(self, key: BudgetKey, seconds: float) -> None:
        if not seconds > 0 or seconds == math.inf:
            return  # nan, <= 0: nothing to do; inf is never honoured (capped upstream)
        state = self._state(key)
        state.paused_until = max(state.paused_until, self._clock() + seconds)
        if state.queue:
            state.queue[0].wake()  # bounded waiters re-check against the new pause

    def paused_for(self, key: BudgetKey) -> float:
        """Seconds until a 429 pause of ``key`` ends (0 when not paused)."""
        state = self._keys.get(key)
        if state is None:
            return 0.0
        return max(0.0, state.paused_until - self._clock())

    def remaining(self, key: BudgetKey) -> int | None:
        state = self._keys.get(key)
        if state is None:
            return self.limit
        now = self._clock()
        if now < state.paused_until:
            return 0
        self._expire(state, now)
        return max(0, self.limit - state.inflight - len(state.done))
