"""Token managers: OAuth grants over the transport, and single-flight refresh.

:class:`OAuthClient` sends the grants that :mod:`assembly_async.auth` builds,
retrying the failures that surely did not use the grant up, within a deadline.
:class:`SchoolTokenManager` is the token provider of one school: it refreshes
shortly before expiry and after a 401 ``invalid_token``, single-flight per
school (in the process, and across processes with a leasing token store, see
:mod:`._refresh`), so 100 concurrent requests on an expired token cause
exactly one refresh; the new token is written to the token store *before* it
is used, so a restart never loses it. :class:`AppTokenManager` gets and caches the app token
by client credentials.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import attrs
from yarl import URL

from .._core.config import DEFAULT_MAX_RETRY_AFTER, Timeouts
from .._core.errors import (
    AssemblyError,
    ConfigurationError,
    OAuthError,
    SchoolAuthRevoked,
    TokenUnavailable,
    TransportError,
)
from .._core.requests import Request
from .._core.responses import retry_after_seconds
from .._http import retry as _retry
from .._http.transport import Transport
from . import (
    APP_KEY,
    Token,
    TokenRecord,
    TokenRequest,
    TokenStore,
    client_credentials_grant,
    code_grant,
    grant_surely_unused,
    leasing,
    read_token_response,
    refresh_grant,
    school_key,
)
from ._oauth import ParamsIn
from ._refresh import Refresher

__all__ = ["AppTokenManager", "OAuthClient", "RefreshHook", "SchoolTokenManager"]

log = logging.getLogger("assembly_async.auth")

#: Called after each refresh with (school_id, seconds it took); never sees the token.
RefreshHook = Callable[[int | None, float], Awaitable[None] | None]


class OAuthClient:
    """Sends token grants: HTTP Basic client auth, the grant parameters in a
    form body (``grant_params="body"``, the default) or the query string.

    A failure that surely did not use the grant up (the connection was
    refused, 429/502/503/504, a proxy's HTML page: :func:`grant_surely_unused`)
    is sent again after a backoff, at most ``max_attempts`` attempts within
    ``deadline`` seconds; any other failure reaches the caller at once, with
    the earlier attempts' errors in ``retry_history``.
    """

    def __init__(
        self,
        *,
        transport: Transport,
        oauth_url: URL,
        client_id: str,
        client_secret: str,
        timeouts: Timeouts,
        clock: Callable[[], float] = time.time,
        grant_params: ParamsIn = "body",
        max_attempts: int = 4,
        deadline: float | None = 120.0,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if grant_params not in ("body", "query"):
            raise ConfigurationError(
                f"grant_params must be 'body' or 'query', got {grant_params!r}")
        self._transport = transport
        self._base = str(oauth_url).rstrip("/")
        self._client_id = client_id
        self._secret = client_secret
        self._timeouts = timeouts
        self._clock = clock
        self._params_in: ParamsIn = grant_params
        self._max_attempts = max(1, max_attempts)
        self._deadline = deadline
        self._max_retry_after = max_retry_after
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<OAuthClient oauth_url={self._base!r} client_id={self._client_id!r}>"

    async def _send(self, grant: TokenRequest, *, previous: Token | None = None,
                    school_id: int | None = None) -> Token:
        url = URL(grant.url)
        if grant.params_in == "query":
            url = url.with_query(dict(grant.params))
        request = Request(method=grant.method, url=url, headers=grant.send_headers,
                          body=grant.body, operation_id="oauthToken")
        started = time.monotonic()
        history: list[AssemblyError] = []
        while True:
            token, failure, hint = await self._attempt(request, grant, previous, school_id,
                                                       started)
            if token is not None:
                return token
            assert failure is not None
            history.append(failure)
            attempt = len(history)
            delay = max(_retry.backoff(attempt), hint)
            left = self._left(started)
            if attempt >= self._max_attempts or (left is not None and delay >= left):
                failure.attempts = attempt
                failure.retry_history = tuple(history[:-1])
                raise failure
            log.info("token endpoint: the %s grant failed (%s) but was surely not used; "
                     "retrying in %.3fs (attempt %d/%d)", grant.grant_type,
                     type(failure).__name__, delay, attempt, self._max_attempts)
            await self._sleep(delay)

    def _left(self, started: float) -> float | None:
        if self._deadline is None:
            return None
        return self._deadline - (time.monotonic() - started)

    async def _attempt(
        self, request: Request, grant: TokenRequest, previous: Token | None,
        school_id: int | None, started: float,
    ) -> tuple[Token | None, AssemblyError | None, float]:
        """One attempt: the token, or the error of a failure worth retrying
        (with the server's wait hint); any other failure is raised."""
        timeouts = self._timeouts
        left = self._left(started)
        if left is not None and (timeouts.total is None or left < timeouts.total):
            timeouts = attrs.evolve(timeouts, total=max(left, 0.001))
        try:
            resp = await self._transport.send(request, timeouts=timeouts)
        except TransportError as exc:
            if exc.request_sent:
                raise  # it may have reached the platform: never sent twice
            return None, exc, 0.0
        try:
            token = read_token_response(resp.status, resp.headers, resp.body,
                                        now=self._clock(), previous=previous,
                                        school_id=school_id, request=grant)
        except SchoolAuthRevoked:
            raise
        except OAuthError as exc:
            if not grant_surely_unused(resp.status, resp.headers, resp.body):
                raise
            hint = 0.0
            if resp.status == 429:
                hint = retry_after_seconds(resp.headers, None, cap=self._max_retry_after) or 0.0
            return None, exc, hint
        return token, None, 0.0

    async def exchange_code(self, code: str, redirect_uri: str) -> Token:
        """Trade an authorization code for a school token (authorization_code grant)."""
        grant = code_grant(oauth_base=self._base, client_id=self._client_id,
                           client_secret=self._secret, code=code, redirect_uri=redirect_uri,
                           params_in=self._params_in)
        return await self._send(grant)

    async def refresh(self, token: Token) -> Token:
        """A new access token for ``token``'s school (refresh_token grant)."""
        if not token.refresh_token:
            raise TokenUnavailable(f"school {token.school_id}: the token has no refresh token")
        grant = refresh_grant(oauth_base=self._base, client_id=self._client_id,
                              client_secret=self._secret, refresh_token=token.refresh_token,
                              params_in=self._params_in)
        return await self._send(grant, previous=token, school_id=token.school_id)

    async def client_credentials(self) -> Token:
        """An app token (client_credentials grant)."""
        grant = client_credentials_grant(oauth_base=self._base, client_id=self._client_id,
                                         client_secret=self._secret,
                                         params_in=self._params_in)
        return await self._send(grant)


class SchoolTokenManager:
    """The token provider of one school, backed by a token store.

    One instance per school per client (the client caches them). Its refresh
    is single-flight in the process (one shared task, shielded from callers'
    cancellation, that saves the new token before anyone uses it) and, with a
    :class:`LeasingTokenStore`, across every process sharing the store
    (:mod:`._refresh`). ``lease_ttl`` is how long a refresh lease lasts: the
    longest a dead worker can hold up the others; a grant is cut off after
    ``lease_ttl`` minus two margins (60 s of the default 70 s, the time the
    :class:`OAuthClient` may spend on a grant with its retries).
    """

    def __init__(
        self,
        *,
        school_id: int,
        store: TokenStore,
        oauth: OAuthClient | None,
        leeway: float = 300.0,
        clock: Callable[[], float] = time.time,
        on_refresh: RefreshHook | None = None,
        lease_ttl: float = 70.0,
    ) -> None:
        if not lease_ttl > 0:
            raise ConfigurationError(f"lease_ttl must be positive seconds, got {lease_ttl!r}")
        self.school_id = school_id
        self._key = school_key(school_id)
        self._store = store
        self._leasing = leasing(store)
        self._clock = clock
        self._leeway = leeway
        self._on_refresh = on_refresh
        self._refresher = Refresher(school_id=school_id, key=self._key, store=store,
                                    granter=oauth, leeway=leeway, lease_ttl=lease_ttl,
                                    clock=clock)
        self._flight: asyncio.Future[Token] | None = None
        self._current: Token | None = None

    def __repr__(self) -> str:
        return f"<SchoolTokenManager school_id={self.school_id}>"

    @property
    def refresh_count(self) -> int:
        """How many refresh grants this manager sent (observability and tests)."""
        return self._refresher.grants

    @property
    def owner(self) -> str:
        """This manager's refresh lease owner id (host/pid/random; no secret)."""
        return self._refresher.owner

    def use(self, token: Token, *, replace: bool = True) -> None:
        """Use ``token`` from now on (already saved by the caller); with
        ``replace=False`` only when no token is loaded yet."""
        if replace or self._current is None:
            self._current = token

    async def current(self) -> Token:
        """The token in use, loaded from the store on first use (and re-read while
        it is marked unusable, so a new code exchange anywhere makes it usable)."""
        token = self._current
        if token is None or not token.usable:
            token = await self._load()
        return token

    async def _load(self) -> Token:
        record: TokenRecord | None = None
        if self._leasing is not None:
            record = await self._leasing.read(self._key)
            token = record.token if record is not None else None
        else:
            token = await self._store.get(self._key)
        if token is None:
            raise TokenUnavailable(f"no token stored for school {self.school_id}")
        if not token.usable:
            self._current = None
            raise self._refresher.unusable(record)
        self._current = token
        return token

    async def refresh(self) -> Token:
        """Refresh now, whatever the expiry (single-flight like any refresh)."""
        return await self._refresh(await self.current())

    async def access_token(self) -> str:
        token = await self.current()
        if token.expires_within(self._leeway, self._clock()):
            token = await self._refresh(token)
        return token.access_token

    def ready_token(self) -> str | None:
        """The token :meth:`access_token` would return now without I/O, or None
        (not loaded yet, unusable, or due for a refresh): the pipeline's fast path."""
        token = self._current
        if token is None or not token.usable or token.expires_within(self._leeway,
                                                                       self._clock()):
            return None
        return token.access_token

    async def token_rejected(self, token: str) -> bool:
        current = await self.current()
        if current.access_token != token:
            return True  # another coroutine refreshed already: replay with the new one
        if self._refresher.granter is None or not current.refresh_token:
            return False
        await self._refresh(current)
        return True

    async def _refresh(self, stale: Token) -> Token:
        flight = self._flight
        if flight is None or flight.done():
            current = self._current
            if current is not None and current.usable \
                    and current.access_token != stale.access_token:
                return current  # refreshed since the caller read its token
            flight = self._flight = asyncio.ensure_future(self._fly(stale))
            flight.add_done_callback(self._landed)
        # Shielded: a cancelled caller leaves the refresh (and its save) running.
        return await asyncio.shield(flight)

    def _landed(self, flight: asyncio.Future[Token]) -> None:
        if self._flight is flight:
            self._flight = None
        if not flight.cancelled():
            flight.exception()  # retrieved here, so no "never retrieved" warning

    async def _fly(self, stale: Token) -> Token:
        grants = self._refresher.grants
        started = time.monotonic()
        try:
            new = await self._refresher.run(stale)
        except (TokenUnavailable, SchoolAuthRevoked):
            self._current = None  # the next call re-reads the store's verdict
            raise
        self._current = new
        if self._refresher.grants != grants:
            elapsed = time.monotonic() - started
            log.info("refreshed the token of school %s in %.3fs", self.school_id, elapsed)
            if self._on_refresh is not None:
                result = self._on_refresh(self.school_id, elapsed)
                if result is not None:
                    await result
        return new


class AppTokenManager:
    """The app token, by client credentials, cached in the store and reused."""

    def __init__(self, *, store: TokenStore, oauth: OAuthClient) -> None:
        self._store = store
        self._oauth = oauth
        self._lock = asyncio.Lock()
        self._current: Token | None = None
        self.grant_count = 0

    def __repr__(self) -> str:
        return "<AppTokenManager>"

    async def _fetch(self, stale: str | None) -> Token:
        async with self._lock:
            current = self._current or await self._store.get(APP_KEY)
            if current is not None and current.usable and current.access_token != stale \
                    and not current.is_expired():
                self._current = current
                return current
            new = await self._oauth.client_credentials()
            self.grant_count += 1
            await self._store.set(APP_KEY, new)
            self._current = new
            return new

    async def token(self) -> Token:
        """The app token: cached, or a new one by client credentials."""
        token = self._current
        if token is None or token.is_expired():
            token = await self._fetch(None)
        return token

    async def access_token(self) -> str:
        token = self._current
        if token is None or token.is_expired():
            token = await self._fetch(None)
        return token.access_token

    def ready_token(self) -> str | None:
        """The cached app token when it is still valid (the pipeline's fast path)."""
        token = self._current
        return None if token is None or token.is_expired() else token.access_token

    async def token_rejected(self, token: str) -> bool:
        await self._fetch(token)
        return True
