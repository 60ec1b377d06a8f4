"""The request pipeline: budget -> auth -> transport -> status check -> retry, in one place.

Every request of every session goes through :meth:`Pipeline.send` (or
:meth:`Pipeline.call`, which also runs the caller's decoding inside the retry
loop). For each attempt it

1. takes the token from the session's provider (only for the configured API
   origin, only over HTTPS or loopback), waiting at most what is left of the
   call's deadline (a refresh still running then carries on in the background
   and is saved for the next call),
2. waits for rate budget of the request's school (:mod:`.ratelimit`); when the
   budget frees up only after the deadline the call fails at once with
   :class:`BudgetExhausted`, unless it opted into ``wait_for_budget``,
3. sends through the transport with a timeout no longer than what is left of
   the call's deadline,
4. replays once after a token refresh on 401 ``invalid_token`` (not a retry),
5. turns error statuses into typed exceptions via the sans-I/O core; a 429
   pauses that school's budget for the server's ``period`` (validated, capped
   to ``max_retry_after``), and a pause longer than what is left of the
   deadline ends the call with that 429's :class:`RateLimited` at once.

One deadline bounds the whole call: attempts, backoff, token refresh, budget
waits and 429 pauses. Only ``wait_for_budget`` takes the last two out of it.
Decoding is the caller's, but whatever it raises leaves as an
:class:`AssemblyError` (anything else becomes a :class:`DecodeError` naming
only the exception's class: its text may quote the data).

Failed attempts are retried with tenacity as decided by the pure functions of
:mod:`.retry`; when attempts or the deadline run out the last typed error is
raised, its ``retry_history`` holding the earlier ones. Every attempt is logged
on ``assembly_async.http`` (method, redacted URL, status, school, attempt,
elapsed; never a token), reported to the client's :class:`Hooks` and counted
in its :class:`Stats`. Resources and paginators never talk HTTP themselves.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import attrs
from tenacity import AsyncRetrying, RetryCallState

from .._core.config import DEFAULT, CallOptions, ClientConfig, Timeouts
from .._core.errors import AssemblyError, BudgetExhausted, RateLimited, RequestTimeout
from .._core.redact import redact_url
from .._core.requests import Request, check_token_destination
from .._core.responses import error_for
from . import retry as _retry
from .checks import check_body_complete, check_content_type, error_code
from .deadline import MISSED, CallState, Lingering, decode_safely
from .events import Event, EventKind, Hooks, Stats
from .ratelimit import (
    BudgetKey,
    BudgetUnavailable,
    RateLimiter,
    SlidingWindowLimiter,
    budget_key,
)
from .retry import RetryPolicy
from .tasks import abandon, wait_done
from .tokens import TokenProvider, ready_token
from .transport import Response, Transport

__all__ = ["Pipeline", "check_body_complete", "check_content_type"]

log = logging.getLogger("assembly_async.http")
T = TypeVar("T")

#: Per-attempt total timeout when neither Timeouts.total nor a deadline bounds it.
FALLBACK_TIMEOUT = 60.0


def _identity(resp: Response) -> Response:
    return resp


@attrs.define
class Pipeline:
    """Sends requests for every session of one client.

    ``limiter`` None disables rate budgets; ``retry`` holds the client's retry
    defaults (per call :class:`CallOptions` override them); ``sleep`` is what
    backoff sleeps with (tests may pass a fake).
    """

    config: ClientConfig
    transport: Transport
    limiter: RateLimiter | None = None
    retry: RetryPolicy = attrs.Factory(RetryPolicy)
    hooks: Hooks | None = None
    stats: Stats = attrs.Factory(Stats)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: Token fetches that outlived their call's deadline, left to finish.
    lingering: Lingering = attrs.field(factory=Lingering, init=False)

    async def aclose(self) -> None:
        """Cancel token fetches still running for calls that gave up on them."""
        await self.lingering.aclose()

    async def send(
        self,
        request: Request,
        *,
        auth: TokenProvider | None,
        timeouts: Timeouts,
        accept_not_modified: bool = False,
        school_id: int | None = None,
        options: CallOptions | None = None,
    ) -> Response:
        """Send ``request`` and return its 2xx (or, when accepted, 304) response.

        Raises an :class:`HTTPError` subclass for any other status and a
        :class:`TransportError` when no answer arrived, after the retries the
        call allows.
        """
        return await self.call(request, _identity, auth=auth, timeouts=timeouts,
                               accept_not_modified=accept_not_modified, school_id=school_id,
                               options=options)

    async def call(
        self,
        request: Request,
        decode: Callable[[Response], T],
        *,
        auth: TokenProvider | None,
        timeouts: Timeouts,
        accept_not_modified: bool = False,
        school_id: int | None = None,
        options: CallOptions | None = None,
    ) -> T:
        """Like :meth:`send`, returning ``decode(response)``; decoding runs inside
        the retry loop, so a GET whose body fails to decode is attempted again."""
        policy = self.retry
        max_attempts, deadline, allow_unsafe, wait_for_budget = (
            policy.max_attempts, policy.deadline, policy.retry_writes, policy.wait_for_budget)
        if options is not None:
            if options.retries is not DEFAULT:
                max_attempts = max(0, options.retries) + 1
            if options.deadline is not DEFAULT:
                deadline = options.deadline
            if options.retry_writes is not DEFAULT:
                allow_unsafe = options.retry_writes
            if options.wait_for_budget is not DEFAULT:
                wait_for_budget = options.wait_for_budget
        state = CallState(request.method, school_id, max_attempts, deadline, allow_unsafe,
                      wait_for_budget)
        # Fast path: the first attempt runs without tenacity (most calls succeed).
        try:
            return await self._attempt(state, request, decode, auth, timeouts,
                                       accept_not_modified)
        except AssemblyError as exc:
            if exc is state.final or not _retry.should_retry(
                    exc, 1, state.method, state.allow_unsafe, max_attempts=state.max_attempts):
                raise
            first: list[BaseException] = [exc]
        return await self._retrying(state, first, request, decode, auth, timeouts,
                                    accept_not_modified)

    async def _retrying(
        self,
        state: CallState,
        first: list[BaseException],
        request: Request,
        decode: Callable[[Response], T],
        auth: TokenProvider | None,
        timeouts: Timeouts,
        accept_not_modified: bool,
    ) -> T:
        """Attempts 2.. with tenacity; its attempt 1 re-raises the fast path's error."""

        async def attempt() -> T:
            if first:
                raise first.pop()
            return await self._attempt(state, request, decode, auth, timeouts,
                                       accept_not_modified)

        def retry(rs: RetryCallState) -> bool:
            exc = rs.outcome.exception() if rs.outcome is not None else None
            return exc is not None and exc is not state.final and _retry.should_retry(
                exc, rs.attempt_number, state.method, state.allow_unsafe,
                max_attempts=state.max_attempts)

        pauses = self.limiter is not None

        def wait(rs: RetryCallState) -> float:
            exc = rs.outcome.exception() if rs.outcome is not None else None
            if exc is None:
                return 0.0
            return _retry.retry_delay(exc, rs.attempt_number, limiter_pauses=pauses)

        def stop(rs: RetryCallState) -> bool:
            left = state.left()
            if left is None:
                return False
            exc = rs.outcome.exception() if rs.outcome is not None else None
            if isinstance(exc, RateLimited):
                if state.wait_for_budget:
                    return False  # the caller chose to wait out 429 pauses
                # With a limiter the next attempt waits for the school's pause.
                pause = exc.retry_after if pauses and exc.retry_after is not None else 0.0
                return rs.upcoming_sleep + pause >= left
            return rs.upcoming_sleep >= left

        async def before_sleep(rs: RetryCallState) -> None:
            exc = rs.outcome.exception() if rs.outcome is not None else None
            if isinstance(exc, RateLimited) and state.wait_for_budget:
                state.excluded += rs.upcoming_sleep
            await self._on_retry(state, request, exc, rs.upcoming_sleep)

        retrying = AsyncRetrying(retry=retry, wait=wait, stop=stop, sleep=self.sleep,
                                 before_sleep=before_sleep, reraise=True)
        try:
            return await retrying(attempt)
        except AssemblyError as exc:
            if len(state.history) > 1:
                exc.retry_history = tuple(state.history[:-1])
            exc.attempts = state.attempt
            raise

    async def _on_retry(self, state: CallState, request: Request, exc: BaseException | None,
                        delay: float) -> None:
        status = getattr(exc, "status", None)
        if state.key is not None:
            self.stats.counters(state.key).retries += 1
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s failed (%s) school=%s attempt=%d/%d: retrying in %.3fs",
                     state.method, self._url(state, request), type(exc).__name__,
                     state.school_id, state.attempt, state.max_attempts, delay)
        await self._emit("retry", state, request, status=status, wait=delay, error=exc)

    def _url(self, state: CallState, request: Request) -> str:
        if state.url_text is None:
            state.url_text = redact_url(request.url)
        return state.url_text

    async def _emit(self, kind: EventKind, state: CallState, request: Request,
                    **fields: Any) -> None:
        hooks = self.hooks
        if hooks is not None and hooks.wants(kind):
            await hooks.emit(Event(kind=kind, method=state.method, url=self._url(state, request),
                                   school_id=state.school_id, attempt=state.attempt,
                                   operation_id=request.operation_id, **fields))

    def _timeouts(self, state: CallState, timeouts: Timeouts) -> Timeouts:
        left = state.left()
        total = timeouts.total
        if left is not None:
            left = max(left, 0.001)
            if total is None or left < total:
                return attrs.evolve(timeouts, total=left)
        if total is None:
            return attrs.evolve(timeouts, total=FALLBACK_TIMEOUT)
        return timeouts

    async def _attempt(
        self,
        state: CallState,
        request: Request,
        decode: Callable[[Response], T],
        auth: TokenProvider | None,
        timeouts: Timeouts,
        accept_not_modified: bool,
    ) -> T:
        state.attempt += 1
        try:
            return await self._exchange(state, request, decode, auth, timeouts,
                                        accept_not_modified)
        except AssemblyError as exc:
            state.history.append(exc)
            raise

    async def _exchange(
        self,
        state: CallState,
        request: Request,
        decode: Callable[[Response], T],
        auth: TokenProvider | None,
        timeouts: Timeouts,
        accept_not_modified: bool,
    ) -> T:
        replayed = False
        while True:
            headers: Mapping[str, str] = request.headers
            token = None
            if auth is not None:
                check_token_destination(request.url, self.config.api_url)
                token = ready_token(auth) or await self._bounded(state, request,
                                                                 auth.access_token)
                headers = {**request.headers, "Authorization": f"Bearer {token}"}
            key = state.key = budget_key(state.school_id, token or "")
            counters = self.stats.counters(key)
            limiter = self.limiter
            if limiter is not None:
                paused = getattr(limiter, "paused_for", None)
                was_paused = paused is not None and paused(key) > 0
                waited = await self._acquire(state, request, limiter, key)
                if waited > 0:
                    if state.wait_for_budget:
                        state.excluded += waited
                    counters.rate_limit_waits += 1
                    counters.waited += waited
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("%s %s waited %.3fs for rate budget school=%s attempt=%d",
                                  state.method, self._url(state, request), waited,
                                  state.school_id, state.attempt)
                    await self._emit("rate_limit_wait", state, request, wait=waited,
                                     status=429 if was_paused else None)
            try:
                await self._emit("request", state, request)
                counters.requests += 1
                started = time.perf_counter()
                try:
                    resp = await self.transport.send(
                        attrs.evolve(request, headers=headers),
                        timeouts=self._timeouts(state, timeouts))
                except AssemblyError as exc:
                    name = type(exc).__name__
                    counters.errors[name] = counters.errors.get(name, 0) + 1
                    took = time.perf_counter() - started
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("%s %s -> %s school=%s attempt=%d %.3fs", state.method,
                                  self._url(state, request), name, state.school_id,
                                  state.attempt, took)
                    await self._emit("error", state, request, error=exc, elapsed=took)
                    raise
            finally:
                if limiter is not None:
                    limiter.release(key)
            elapsed = time.perf_counter() - started
            status = resp.status
            counters.statuses[status] = counters.statuses.get(status, 0) + 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s -> %d school=%s attempt=%d %.3fs", state.method, resp.url,
                          status, state.school_id, state.attempt, elapsed)
            await self._emit("response", state, request, status=status, elapsed=elapsed)
            if 200 <= status < 300:
                check_content_type(resp, request.method)
                check_body_complete(resp)
                return decode_safely(decode, resp)
            if status == 304 and accept_not_modified:
                await self._emit("not_modified", state, request, status=304, elapsed=elapsed)
                return decode_safely(decode, resp)
            if (status == 401 and auth is not None and token is not None and not replayed
                    and error_code(resp.body) == "invalid_token"
                    and await self._bounded(state, request,
                                            functools.partial(auth.token_rejected, token))):
                # CONCEPTS: refresh once and retry on exactly invalid_token.
                replayed = True
                counters.refreshes += 1
                log.info("%s %s: token refreshed after invalid_token, replaying school=%s",
                         state.method, resp.url, state.school_id)
                await self._emit("refresh", state, request, status=401)
                continue
            error = error_for(request.method, request.url, status, resp.headers, resp.body,
                              max_retry_after=self.config.max_retry_after)
            if isinstance(error, RateLimited):
                pause = error.retry_after
                if pause is None:
                    log.warning("%s %s -> 429 school=%s attempt=%d: no usable period (none, "
                                "or not a finite number): backing off", state.method, resp.url,
                                state.school_id, state.attempt)
                else:
                    log.warning("%s %s -> 429 school=%s attempt=%d: pausing the school %gs",
                                state.method, resp.url, state.school_id, state.attempt, pause)
                if pause is not None and limiter is not None:
                    limiter.pause(key, pause)
            raise error

    async def _acquire(self, state: CallState, request: Request, limiter: RateLimiter,
                       key: BudgetKey) -> float:
        """Wait for budget, at most what is left of the deadline unless the call
        waits for budget; a budget that frees up later fails the call now.

        The limiter itself is held to the deadline too: a shared limiter whose
        server stalls (a Redis that stopped answering) fails the call with
        :class:`RequestTimeout` when the deadline ends, not when its client's
        socket timeout does."""
        max_wait = None if state.wait_for_budget else state.left()
        try:
            if max_wait is None or isinstance(limiter, SlidingWindowLimiter):
                # The in-process limiter does no I/O: max_wait already bounds it.
                return await limiter.acquire(key, max_wait=max_wait)
            task = asyncio.ensure_future(limiter.acquire(key, max_wait=max_wait))
            try:
                done = await wait_done(task, max(max_wait, 0.0))
            except asyncio.CancelledError:
                abandon(task, lambda _waited: limiter.release(key))  # the slot is freed
                raise
            if done:
                return task.result()
            abandon(task, lambda _waited: limiter.release(key))
        except BudgetUnavailable as exc:
            retry_after = exc.retry_after
        else:
            raise self._out_of_time(state, request, "no rate budget",
                                    "the rate limiter did not answer in time")
        url = self._url(state, request)
        name = BudgetExhausted.__name__
        counters = self.stats.counters(key)
        counters.errors[name] = counters.errors.get(name, 0) + 1
        log.info("%s %s not sent: the budget of school=%s frees up in %.3fs, after the "
                 "deadline (%.3fs left)", state.method, url, state.school_id, retry_after,
                 max_wait or 0.0)
        raise BudgetExhausted(method=state.method, url=url, retry_after=retry_after,
                              left=max(0.0, max_wait or 0.0))

    async def _bounded(self, state: CallState, request: Request,
                       get: Callable[[], Awaitable[T]]) -> T:
        """Await a token fetch (which may refresh) for at most what is left of the
        deadline; one still running then finishes in the background (see
        :class:`Lingering`) and the call fails with :class:`RequestTimeout`."""
        try:
            result = await self.lingering.within(state.left(), get)
        except AssemblyError as exc:
            state.final = exc
            raise
        if result is not MISSED:
            return result
        raise self._out_of_time(state, request, "no access token",
                                "the token endpoint did not answer in time; the token fetch "
                                "goes on in the background")

    def _out_of_time(self, state: CallState, request: Request, what: str,
                     why: str) -> RequestTimeout:
        """The deadline ended before the request could be sent: the call's final
        error (never retried), logged at INFO."""
        url = self._url(state, request)
        log.info("%s %s not sent: %s within the deadline school=%s (%s)", state.method, url,
                 what, state.school_id, why)
        error = RequestTimeout(f"{what} within the call's deadline ({why})",
                               method=state.method, url=url, request_sent=False)
        state.final = error
        return error
