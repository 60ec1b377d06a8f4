"""The request pipeline: budget -> auth -> transport -> status check -> retry, in one place.

Every request of every session goes through :meth:`Pipeline.send` (or
:meth:`Pipeline.call`, which also runs the caller's decoding inside the retry
loop). For each attempt it

1. takes the token from the session's provider (only for the configured API
   origin, only over HTTPS or loopback),
2. waits for rate budget of the request's school (:mod:`.ratelimit`),
3. sends through the transport with a timeout no longer than what is left of
   the call's deadline,
4. replays once after a token refresh on 401 ``invalid_token`` (not a retry),
5. turns error statuses into typed exceptions via the sans-I/O core; a 429
   pauses that school's budget for the server's ``period``.

Failed attempts are retried with tenacity as decided by the pure functions of
:mod:`.retry`; when attempts or the deadline run out the last typed error is
raised, its ``retry_history`` holding the earlier ones. Every attempt is logged
on ``assembly_async.http`` (method, redacted URL, status, school, attempt,
elapsed; never a token), reported to the client's :class:`Hooks` and counted
in its :class:`Stats`. Resources and paginators never talk HTTP themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import attrs
import orjson
from tenacity import AsyncRetrying, RetryCallState

from .._core.config import DEFAULT, CallOptions, ClientConfig, Timeouts
from .._core.errors import AssemblyError, DecodeError, RateLimited, UnexpectedContentType
from .._core.redact import redact_url
from .._core.requests import Request, check_token_destination
from .._core.responses import error_for
from . import retry as _retry
from .events import Event, EventKind, Hooks, Stats
from .ratelimit import BudgetKey, RateLimiter, budget_key
from .retry import RetryPolicy
from .tokens import TokenProvider
from .transport import Response, Transport

__all__ = ["Pipeline", "check_body_complete", "check_content_type"]

log = logging.getLogger("assembly_async.http")
T = TypeVar("T")

#: Per-attempt total timeout when neither Timeouts.total nor a deadline bounds it.
FALLBACK_TIMEOUT = 60.0


def _error_code(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    code = parsed.get("error") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) else None


def check_content_type(resp: Response, method: str) -> None:
    """A 2xx body must be JSON; an HTML page from a proxy is not data."""
    if not resp.body.strip():
        return
    ctype = resp.headers.get("content-type", "")
    if ctype and "json" not in ctype.lower():
        excerpt = resp.body[:200].decode("utf-8", "replace")
        raise UnexpectedContentType(
            f"expected a JSON body, got {ctype.split(';')[0]!r}: {' '.join(excerpt.split())!r}",
            url=resp.url, status=resp.status, content_type=ctype, method=method,
        )


_CLOSERS = {ord("["): ord("]"), ord("{"): ord("}")}
_WS = b" \t\r\n"


def check_body_complete(resp: Response) -> None:
    """Cheap O(1) check that a JSON array/object body was not cut short: its last
    non-blank byte must close what its first one opened. Catches truncation by
    a proxy before decoding (so a GET can be retried); not a full validation."""
    body = resp.body
    if not body:
        return
    start = 0
    while start < len(body) and body[start] in _WS:
        start += 1
    if start == len(body):
        return
    closer = _CLOSERS.get(body[start])
    if closer is None:
        return
    end = len(body) - 1
    while body[end] in _WS:
        end -= 1
    if body[end] != closer:
        tail = body[-60:].decode("utf-8", "replace")
        raise DecodeError(f"the JSON body is incomplete ({len(body)} bytes, ends {tail!r})",
                          url=resp.url)


def _identity(resp: Response) -> Response:
    return resp


class _Call:
    """State of one call across its attempts."""

    __slots__ = ("allow_unsafe", "attempt", "deadline", "excluded", "history", "key",
                 "max_attempts", "method", "school_id", "started", "url_text")

    def __init__(self, method: str, school_id: int | None, max_attempts: int,
                 deadline: float | None, allow_unsafe: bool) -> None:
        self.method = method
        self.school_id = school_id
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.allow_unsafe = allow_unsafe
        self.attempt = 0
        self.started = time.monotonic()
        self.excluded = 0.0  # seconds spent waiting for rate budget (not charged)
        self.history: list[BaseException] = []
        self.url_text: str | None = None
        self.key: BudgetKey | None = None

    def used(self) -> float:
        return time.monotonic() - self.started - self.excluded

    def left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.used()


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
        max_attempts, deadline, allow_unsafe = (
            policy.max_attempts, policy.deadline, policy.retry_writes)
        if options is not None:
            if options.retries is not DEFAULT:
                max_attempts = max(0, options.retries) + 1
            if options.deadline is not DEFAULT:
                deadline = options.deadline
            if options.retry_writes is not DEFAULT:
                allow_unsafe = options.retry_writes
        state = _Call(request.method, school_id, max_attempts, deadline, allow_unsafe)
        # Fast path: the first attempt runs without tenacity (most calls succeed).
        try:
            return await self._attempt(state, request, decode, auth, timeouts,
                                       accept_not_modified)
        except AssemblyError as exc:
            if not _retry.should_retry(exc, 1, state.method, state.allow_unsafe,
                                       max_attempts=state.max_attempts):
                raise
            first: list[BaseException] = [exc]
        return await self._retrying(state, first, request, decode, auth, timeouts,
                                    accept_not_modified)

    async def _retrying(
        self,
        state: _Call,
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
            return exc is not None and _retry.should_retry(
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
            # A 429 pause is a rate-budget wait: not charged to the deadline.
            charged = 0.0 if isinstance(exc, RateLimited) else rs.upcoming_sleep
            return charged >= left

        async def before_sleep(rs: RetryCallState) -> None:
            exc = rs.outcome.exception() if rs.outcome is not None else None
            if isinstance(exc, RateLimited):
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

    async def _on_retry(self, state: _Call, request: Request, exc: BaseException | None,
                        delay: float) -> None:
        status = getattr(exc, "status", None)
        if state.key is not None:
            self.stats.counters(state.key).retries += 1
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s failed (%s) school=%s attempt=%d/%d: retrying in %.3fs",
                     state.method, self._url(state, request), type(exc).__name__,
                     state.school_id, state.attempt, state.max_attempts, delay)
        await self._emit("retry", state, request, status=status, wait=delay, error=exc)

    def _url(self, state: _Call, request: Request) -> str:
        if state.url_text is None:
            state.url_text = redact_url(request.url)
        return state.url_text

    async def _emit(self, kind: EventKind, state: _Call, request: Request, **fields: Any) -> None:
        hooks = self.hooks
        if hooks is not None and hooks.wants(kind):
            await hooks.emit(Event(kind=kind, method=state.method, url=self._url(state, request),
                                   school_id=state.school_id, attempt=state.attempt,
                                   operation_id=request.operation_id, **fields))

    def _timeouts(self, state: _Call, timeouts: Timeouts) -> Timeouts:
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
        state: _Call,
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
        state: _Call,
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
                token = await auth.access_token()
                headers = {**request.headers, "Authorization": f"Bearer {token}"}
            key = state.key = budget_key(state.school_id, token or "")
            counters = self.stats.counters(key)
            limiter = self.limiter
            if limiter is not None:
                paused = getattr(limiter, "paused_for", None)
                was_paused = paused is not None and paused(key) > 0
                waited = await limiter.acquire(key)
                if waited > 0:
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
                return decode(resp)
            if status == 304 and accept_not_modified:
                await self._emit("not_modified", state, request, status=304, elapsed=elapsed)
                return decode(resp)
            if (status == 401 and auth is not None and token is not None and not replayed
                    and _error_code(resp.body) == "invalid_token"
                    and await auth.token_rejected(token)):
                # CONCEPTS: refresh once and retry on exactly invalid_token.
                replayed = True
                counters.refreshes += 1
                log.info("%s %s: token refreshed after invalid_token, replaying school=%s",
                         state.method, resp.url, state.school_id)
                await self._emit("refresh", state, request, status=401)
                continue
            error = error_for(request.method, request.url, status, resp.headers, resp.body)
            if isinstance(error, RateLimited):
                pause = error.retry_after
                log.warning("%s %s -> 429 school=%s attempt=%d: pausing the school %s",
                            state.method, resp.url, state.school_id, state.attempt,
                            f"{pause:g}s" if pause is not None else "(no period given)")
                if pause is not None and limiter is not None:
                    limiter.pause(key, pause)
            raise error
