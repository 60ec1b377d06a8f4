"""AssemblyClient: configuration, connection pool and the sessions built on them."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Literal

from yarl import URL

from .._core.config import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_RETRY_AFTER,
    ClientConfig,
    Environment,
    Timeouts,
)
from .._core.errors import ConfigurationError, UsageError
from .._core.requests import probe_request
from .._http.events import Hooks, SchoolStats
from .._http.pipeline import Pipeline
from .._http.ratelimit import BudgetKey, RateLimiter, SlidingWindowLimiter
from .._http.retry import RetryPolicy
from .._http.tokens import StaticToken, TokenProvider
from .._http.transport import AiohttpTransport, ClientSession, TraceConfig, Transport
from ..auth import MemoryTokenStore, ScopeLike, Token, TokenStore, authorization_url, make_state
from ..auth import school_key as _school_key
from ..auth._managers import AppTokenManager, OAuthClient, RefreshHook, SchoolTokenManager
from ..models._decode import ModelDecoder
from .runner import ClientCore
from .session import AppSession, SchoolSession

__all__ = ["AssemblyClient"]

#: Grants (refreshes included) get at least this long, whatever the calls'
#: deadline: a refresh that a short call gave up waiting for goes on in the
#: background and serves the next call.
GRANT_DEADLINE = 60.0


class AssemblyClient:
    """Entry point of the SDK: one per process (or per web app), long-lived.

    ::

        async with AssemblyClient(environment="sandbox") as client:
            school = client.school(access_token="...")
            async for student in school.students.list(year_code="7"):
                print(student.first_name)

    The client owns its aiohttp session unless you pass ``session=`` (then it
    borrows it and never closes it). ``api_url``/``oauth_url`` override the
    environment's hosts (local servers, proxies). ``timeout`` is seconds per
    attempt or a :class:`Timeouts`. ``converter`` is a cattrs converter from
    :func:`make_converter` that you customised; the fast decoding path is then
    off unless ``fast_decode=True``. A value that does not fit its model (the
    documentation's own ``2015-02-31``) costs that field, not the page: the
    record is kept without it and a :class:`DecodeProblem` is reported to the
    ``assembly_async.decode`` log, the hooks, ``Page.problems`` and
    ``Delta.problems``; ``strict_decode=True`` (or per call
    ``CallOptions(strict_decode=True)``) raises :class:`DecodeError` instead.

    With ``client_id``/``client_secret`` the client runs OAuth: school tokens
    live in ``token_store`` (in memory by default; :class:`SQLiteTokenStore`
    persists them) and are refreshed ``refresh_leeway`` seconds before expiry,
    one refresh at a time per school, in every process sharing a store that
    supports leases (memory, SQLite, ``assembly_async.redis``); a dead worker
    delays the others by at most ``refresh_lease`` seconds (70 by default: a
    grant may take 60 s, with 5 s of margin either side). App endpoints get
    an app token by client credentials automatically.

    Every request waits for rate budget of its school: at most ``rate_limit``
    requests start per ``rate_window`` seconds per school (CONCEPTS: 600 per
    5 minutes per token; ``rate_limit=None`` turns budgets off;
    ``rate_limiter=`` is your own :class:`RateLimiter`, shared between clients
    say). A 429 pauses only that school for the period the server gives
    (capped to ``max_retry_after`` seconds, 300 by default: the API's window).
    Failed attempts are retried up to ``retries`` times (reads after connection
    errors, timeouts, 5xx and 429; writes only when they surely never reached
    the server, unless ``retry_writes=True``).

    ``deadline`` (seconds, 120 by default) bounds each call, everything
    included: attempts, backoff, token refresh, waits for rate budget and 429
    pauses. A call whose school's budget frees up only after its deadline fails
    at once with :class:`BudgetExhausted` (a :class:`RateLimited` carrying
    ``retry_after``) instead of blocking: what a web service wants.
    ``wait_for_budget=True`` (per client, or per call with
    ``CallOptions(wait_for_budget=True)``) waits for budget and 429 pauses
    however long they take, outside the deadline: what a batch job wants, and
    what :class:`SyncEngine` asks for its jobs. A token refresh a call gave up
    waiting for is not cancelled: it goes on (grants get at least 60 s, with
    retries of failures that surely did not use the grant) and serves the next
    call.

    Response bodies are capped at ``max_body`` bytes after decompression (64
    MiB by default; :class:`ResponseTooLarge` above). Grant parameters (code,
    refresh token) go to the token endpoint in the form body
    (``grant_params="body"``, like the official clients); ``"query"`` sends
    them in the query string as the API's documentation shows.

    ``hooks`` (:class:`Hooks`) are told of every request, response,
    retry, budget wait, refresh, 304 and decode problem; :meth:`stats` counts
    requests per school.
    """

    def __init__(
        self,
        *,
        environment: Environment = "sandbox",
        api_url: str | URL | None = None,
        oauth_url: str | URL | None = None,
        api_version: str = "1.1",
        timeout: float | Timeouts | None = None,
        session: ClientSession | None = None,
        transport: Transport | None = None,
        connection_limit: int = 100,
        trace_configs: Sequence[TraceConfig] = (),
        converter: Any = None,
        fast_decode: bool | None = None,
        strict_decode: bool = False,
        user_agent: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_store: TokenStore | None = None,
        refresh_leeway: float = 300.0,
        on_refresh: RefreshHook | None = None,
        refresh_lease: float = GRANT_DEADLINE + 10.0,
        rate_limit: int | None = 600,
        rate_window: float = 300.0,
        rate_limiter: RateLimiter | None = None,
        retries: int = 3,
        deadline: float | None = 120.0,
        retry_writes: bool = False,
        wait_for_budget: bool = False,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        max_body: int = DEFAULT_MAX_BODY,
        grant_params: Literal["body", "query"] = "body",
        hooks: Hooks | None = None,
    ) -> None:
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            timeouts: Timeouts | None = Timeouts(total=float(timeout))
        elif timeout is None or isinstance(timeout, Timeouts):
            timeouts = timeout
        else:
            raise ConfigurationError(f"timeout must be seconds or Timeouts, got {timeout!r}")
        self.config = ClientConfig.create(
            environment=environment, api_url=api_url, oauth_url=oauth_url,
            api_version=api_version, timeouts=timeouts, user_agent=user_agent,
            strict_decode=strict_decode,
            max_body=max_body, max_retry_after=max_retry_after,
        )
        if transport is not None and session is not None:
            raise ConfigurationError("pass either session= or transport=, not both")
        self._transport: Transport = transport or AiohttpTransport(
            session=session, limit=connection_limit, trace_configs=trace_configs,
            max_body=self.config.max_body,
        )
        decoder = ModelDecoder(converter, fast=fast_decode)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"retries must be an integer >= 0, got {retries!r}")
        if rate_limiter is None and rate_limit is not None:
            rate_limiter = SlidingWindowLimiter(rate_limit, rate_window)
        self.rate_limiter: RateLimiter | None = rate_limiter
        self.hooks = hooks
        policy = RetryPolicy(max_attempts=retries + 1, deadline=deadline,
                             retry_writes=retry_writes, wait_for_budget=wait_for_budget)
        pipeline = Pipeline(self.config, self._transport, limiter=rate_limiter, hooks=hooks,
                            retry=policy)
        self._core = ClientCore(config=self.config, pipeline=pipeline, decoder=decoder)
        self._closed = False
        if (client_id is None) != (client_secret is None):
            raise ConfigurationError("pass both client_id and client_secret, or neither")
        self.token_store: TokenStore = token_store or MemoryTokenStore()
        self._client_id = client_id
        self._oauth = (
            OAuthClient(transport=self._transport, oauth_url=self.config.oauth_url,
                        client_id=client_id, client_secret=client_secret,
                        timeouts=self.config.timeouts, grant_params=grant_params,
                        max_attempts=policy.max_attempts,
                        deadline=None if deadline is None else max(deadline, GRANT_DEADLINE),
                        max_retry_after=self.config.max_retry_after)
            if client_id is not None and client_secret is not None else None
        )
        self._refresh_leeway = refresh_leeway
        self._on_refresh = on_refresh
        self._refresh_lease = refresh_lease
        self._managers: dict[int, SchoolTokenManager] = {}
        self._app_manager: AppTokenManager | None = None

    def __repr__(self) -> str:
        return (f"<AssemblyClient environment={self.config.environment!r} "
                f"api_url={str(self.config.api_url)!r} version={self.config.api_version!r}>")

    @property
    def closed(self) -> bool:
        return self._closed

    def school(
        self,
        school_id: int | None = None,
        *,
        access_token: str | None = None,
        token: Token | None = None,
        token_provider: TokenProvider | None = None,
    ) -> SchoolSession:
        """A session for one school.

        ``client.school(123)`` uses the school's token from the token store,
        refreshing it as needed; ``token=`` primes it with a :class:`Token`;
        ``access_token=`` is a static token (no refresh); ``token_provider=``
        is your own :class:`TokenProvider`. Sessions are cheap: open one per
        school per task if you like, they share the token and its lock.
        """
        self._check_open()
        if token is not None and (access_token is not None or token_provider is not None):
            raise ConfigurationError("pass one of access_token=, token= or token_provider=")
        provider = self._given_provider(access_token, token_provider)
        if provider is None:
            if token is not None:
                if token.school_id is None:
                    raise ConfigurationError("token.school_id is required")
                if school_id is not None and school_id != token.school_id:
                    raise ConfigurationError("school_id and token.school_id differ")
                school_id = token.school_id
            if school_id is None:
                raise ConfigurationError(
                    "pass a school_id, or one of access_token=, token= or token_provider="
                )
            provider = self._manager(school_id, token)
        return SchoolSession(self._core, provider, school_id=school_id)

    def _manager(self, school_id: int, token: Token | None) -> SchoolTokenManager:
        manager = self._managers.get(school_id)
        if manager is None:
            manager = SchoolTokenManager(
                school_id=school_id, store=self.token_store, oauth=self._oauth,
                leeway=self._refresh_leeway, on_refresh=self._on_refresh,
                lease_ttl=self._refresh_lease,
            )
            self._managers[school_id] = manager
        if token is not None:
            manager.use(token, replace=False)
        return manager

    def token_manager(self, school_id: int) -> SchoolTokenManager:
        """The token manager of a school (its refresh count, current token)."""
        return self._manager(school_id, None)

    def app(
        self, *, access_token: str | None = None, token_provider: TokenProvider | None = None
    ) -> AppSession:
        """A session for the app-level endpoints (``/me``, ``/schools/registered``,
        ``/authorizations``); without arguments it uses client credentials."""
        self._check_open()
        provider = self._given_provider(access_token, token_provider)
        return AppSession(self._core, provider or self._app_tokens())

    @staticmethod
    def _given_provider(
        access_token: str | None, token_provider: TokenProvider | None
    ) -> TokenProvider | None:
        """The caller's own token source, if they passed one (at most one)."""
        if access_token is not None and token_provider is not None:
            raise ConfigurationError("pass access_token= or token_provider=, not both")
        if access_token is not None:
            return StaticToken(access_token)
        return token_provider

    def _app_tokens(self) -> AppTokenManager:
        if self._app_manager is None:
            if self._oauth is None:
                raise ConfigurationError(
                    "app endpoints need client_id/client_secret or an access_token"
                )
            self._app_manager = AppTokenManager(store=self.token_store, oauth=self._oauth)
        return self._app_manager

    def authorization_url(
        self, *, redirect_uri: str, scopes: Iterable[ScopeLike], state: str | None = None
    ) -> tuple[str, str]:
        """The URL to send a school admin to, and the ``state`` to check on return."""
        if self._client_id is None:
            raise ConfigurationError("authorization_url needs client_id")
        state = state or make_state()
        url = authorization_url(oauth_base=str(self.config.oauth_url), client_id=self._client_id,
                                redirect_uri=redirect_uri, scopes=scopes, state=state)
        return url, state

    async def exchange_code(self, code: str, *, redirect_uri: str) -> Token:
        """Trade an authorization code for a school token and save it in the token store."""
        oauth = self._require_oauth()
        token = await oauth.exchange_code(code, redirect_uri)
        if token.school_id is not None:
            await self.token_store.set(_school_key(token.school_id), token)
            self._adopt(token)
        return token

    async def add_token(self, token: Token) -> None:
        """Save a school token you obtained elsewhere into the token store."""
        if token.school_id is None:
            raise ConfigurationError("token.school_id is required")
        await self.token_store.set(_school_key(token.school_id), token)
        self._adopt(token)

    def _adopt(self, token: Token) -> None:
        """Hand a newly saved token to the school's manager, if sessions have one:
        replacing the manager would leave earlier sessions with a second lock."""
        manager = self._managers.get(token.school_id) if token.school_id is not None else None
        if manager is not None:
            manager.use(token)

    def remaining_budget(self, school_id: BudgetKey) -> int | None:
        """Requests ``school_id`` may start right now without waiting (None: no
        rate budget is configured). Sessions without a school id (static tokens,
        app sessions) are keyed ``"token:<digest>"``, see :meth:`stats`."""
        if self.rate_limiter is None:
            return None
        return self.rate_limiter.remaining(school_id)

    def stats(self, school_id: BudgetKey) -> SchoolStats:
        """Counters of one school: requests, answers per status, errors, retries,
        refreshes, budget waits (all zero when it sent nothing yet)."""
        return self._core.pipeline.stats.get(school_id)

    def all_stats(self) -> dict[BudgetKey, SchoolStats]:
        """Counters of every school (and token digest) that sent a request."""
        return self._core.pipeline.stats.all()

    async def ping(self, *, oauth: bool = False, timeout: float = 10.0) -> float:
        """Seconds until the API host (``oauth=True``: the OAuth host) answered
        one GET that carries no token.

        Any HTTP answer counts, even an error status (the API answers this one
        401): the host can be reached. One attempt, no retry, no rate budget,
        at most ``timeout`` seconds, so a health check or a bulk job learns at
        once that the host cannot be reached at all: :class:`ConnectionFailed`
        (refused, unknown host) or :class:`RequestTimeout`, both
        :class:`TransportError`.
        """
        self._check_open()
        config = self.config
        request = probe_request(config.oauth_url if oauth else config.api_url,
                                "/oauth/token" if oauth else "/me",
                                version=config.api_version, user_agent=config.user_agent)
        started = time.perf_counter()
        await self._transport.send(request, timeouts=Timeouts(total=timeout, connect=timeout))
        return time.perf_counter() - started

    async def refresh_school_token(self, school_id: int) -> Token:
        """Refresh a school's token now and save it (the ``token refresh`` command)."""
        self._require_oauth()
        return await self._manager(school_id, None).refresh()

    async def client_credentials(self) -> Token:
        """The app token by client credentials, cached in the token store."""
        return await self._app_tokens().token()

    def _require_oauth(self) -> OAuthClient:
        if self._oauth is None:
            raise ConfigurationError("this needs client_id and client_secret")
        return self._oauth

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("the client is closed")

    async def aclose(self) -> None:
        """Close the connection pool if the client created it (idempotent)."""
        if not self._closed:
            self._closed = True
            try:
                await self._core.pipeline.aclose()
            finally:
                await self._transport.aclose()

    async def __aenter__(self) -> AssemblyClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
