"""The error tree of assembly_async.

Every error the SDK raises derives from :class:`AssemblyError`::

    AssemblyError
    ├── ConfigurationError          bad arguments, caught before any request
    ├── UsageError                  a closed client, a delta iterated twice, an engine
    │                               already running: the calling code's mistake
    ├── SinkError                   the sink's database failed or refused (PostgreSQL)
    ├── DecodeError                 a response body that does not fit its schema
    │   └── UnexpectedContentType   a 2xx answer that is not JSON (an HTML page)
    ├── ResponseTooLarge            a body over the client's ``max_body`` (after decompression)
    ├── StorageError                a local file (token store, sink, sync state) or the
    │                               Redis server holding shared state is unusable
    ├── PagingError                 a list walk whose paging evidence does not add up
    │                               (short, endless or repeating): never a silent truncation
    ├── JobFailed                   a sync job failed in another process (a distributed
    │                               worker): the error's class name and its message
    ├── TransportError              the request did not complete
    │   ├── ConnectionFailed        connect refused/reset, DNS, TLS, body cut short
    │   └── RequestTimeout          no (complete) answer within the timeout
    ├── AuthError                   OAuth and token problems on our side
    │   ├── TokenUnavailable        no usable token (store empty, marked unusable)
    │   │   └── RefreshInterrupted  a refresh's answer was lost after the server may have
    │   │                           rotated the refresh token: re-authorise the school
    │   ├── SchoolAuthRevoked       refresh answered invalid_grant: the school is gone
    │   └── OAuthError              the token endpoint refused a grant
    └── HTTPError                   the API answered with an error status
        ├── NotModified             304 where a body was required
        ├── BadRequest              400
        ├── Unauthorized            401
        │   ├── InvalidRequest      401 invalid_request (no token sent)
        │   ├── InvalidToken        401 invalid_token (bad or expired token)
        │   └── InsufficientScope   401 insufficient_scope
        ├── Forbidden               403
        ├── NotFound                404
        ├── UnsupportedVersion      406 unsupported_version
        ├── UnprocessableEntity     422
        ├── RateLimited             429 (carries ``retry_after`` seconds)
        │   └── BudgetExhausted     not sent: waiting for budget would pass the deadline
        ├── ServerError             5xx
        └── UnexpectedStatus        any other status

HTTP errors keep the evidence a user needs to act: the method, the URL (with
secrets redacted), the status, the response headers (auth headers removed), the
parsed ``error``/``message`` fields and the raw body text, truncated.

No error carries a token, a secret or a third-party exception that holds request
data: failures of aiohttp are summarised, never chained (their text holds the
URL, their ``request_info`` the Authorization header).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AssemblyError",
    "AuthError",
    "BadRequest",
    "BudgetExhausted",
    "ConfigurationError",
    "ConnectionFailed",
    "DecodeError",
    "Forbidden",
    "HTTPError",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "JobFailed",
    "NotFound",
    "NotModified",
    "OAuthError",
    "PagingError",
    "RateLimited",
    "RefreshInterrupted",
    "RequestTimeout",
    "ResponseTooLarge",
    "SchoolAuthRevoked",
    "ServerError",
    "SinkError",
    "StorageError",
    "TokenUnavailable",
    "TransportError",
    "Unauthorized",
    "UnexpectedContentType",
    "UnexpectedStatus",
    "UnprocessableEntity",
    "UnsupportedVersion",
]

#: How much of a raw error body an exception keeps (HTML pages can be large).
BODY_EXCERPT_LIMIT = 2000


class AssemblyError(Exception):
    """Root of every error raised by assembly_async.

    When a call was attempted more than once, ``attempts`` says how often and
    ``retry_history`` holds the errors of the earlier attempts, oldest first
    (the exception itself is the last one).
    """

    attempts: int = 1
    retry_history: tuple[BaseException, ...] = ()


class ConfigurationError(AssemblyError, ValueError):
    """Invalid arguments or configuration, detected before any request is sent."""


class UsageError(AssemblyError, RuntimeError):
    """The object cannot do this now: a closed client or transport, a delta
    iterated a second time, an engine already running. A mistake of the calling
    code, raised before anything is sent (also a :class:`RuntimeError`)."""


class SinkError(AssemblyError):
    """The sink's database failed or refused a statement (PostgreSQL).

    ``sqlstate`` is the server's five-character error code when there was one
    and ``reason`` the driver's error class. The message never carries the
    DSN's password nor the values of the rows (the server's ``DETAIL`` can
    quote a pupil's record, so it is left out, and the driver's exception is
    not chained).
    """

    def __init__(self, message: str, *, sqlstate: str | None = None,
                 reason: str | None = None) -> None:
        self.sqlstate = sqlstate
        self.reason = reason
        super().__init__(message)


class DecodeError(AssemblyError):
    """A response body could not be turned into the expected model.

    ``schema`` is the model name, ``path`` the field path inside the record
    (``$.demographics.is_pp``), ``record_id`` the ``id`` of the offending
    record when it has one, and ``url`` where the body came from.

    ``transient`` says whether fetching the body again may help: True for a
    body cut short, malformed JSON or a proxy's HTML page (retried on reads),
    False for well-formed JSON holding a wrong or impossible value (the same
    data comes back every time, so it is never retried).
    """

    def __init__(
        self,
        message: str,
        *,
        schema: str | None = None,
        path: str | None = None,
        record_id: Any = None,
        index: int | None = None,
        url: str | None = None,
        transient: bool = True,
    ) -> None:
        self.schema = schema
        self.path = path
        self.record_id = record_id
        self.index = index
        self.url = url
        self.transient = transient
        where = []
        if schema:
            where.append(f"schema {schema}")
        if index is not None:
            where.append(f"item {index}")
        if record_id is not None:
            where.append(f"record id {record_id!r}")
        if path:
            where.append(f"field {path}")
        if url:
            where.append(f"from {url}")
        detail = f" ({', '.join(where)})" if where else ""
        super().__init__(f"{message}{detail}")


class UnexpectedContentType(DecodeError):
    """A successful status with a body that is not JSON (a proxy's HTML page, say)."""

    def __init__(
        self, message: str, *, url: str, status: int, content_type: str, method: str
    ) -> None:
        self.status = status
        self.content_type = content_type
        self.method = method
        super().__init__(message, url=url)


class ResponseTooLarge(AssemblyError):
    """The response body grew past ``limit`` bytes (counted after decompression).

    The body was read in chunks and abandoned at the limit, so memory stayed
    bounded; it is not retried (the same request would get the same body).
    Raise the client's ``max_body`` if the API really sends bodies this large.
    """

    def __init__(self, *, method: str, url: str, status: int, limit: int) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.limit = limit
        super().__init__(
            f"{method} {url} answered {status} with a body over the {limit}-byte limit "
            "(after decompression); raise max_body if this is expected"
        )


class StorageError(AssemblyError):
    """A local file of the SDK (token store, SQLite sink, sync state, JSON Lines
    file) could not be opened, read or written; ``path`` names it. The Redis
    stores (``assembly_async.redis``) raise it too when Redis fails or cannot
    be reached: ``path`` is then the server's address (never its password) and
    the redis-py error is the ``__cause__``.

    A corrupted or foreign file ("file is not a database") is reported here,
    naming the file, instead of as a raw ``sqlite3`` error.
    """

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(message)
class PagingError(AssemblyError):
    """A list walk whose paging evidence does not add up, so its records cannot be
    trusted to be the whole list: fewer distinct records than the server's stated
    total, a page that repeats earlier records, or more pages than the first page
    announced (with slack for a list growing during the walk).

    ``url`` is the (redacted) URL of the page where the walk stopped, ``page``
    its number, ``reason`` what did not add up, and ``figures`` the evidence:
    ``total``, ``total_pages``, ``per_page`` (the page size the server used),
    ``asked_per_page``, ``received`` (distinct records), ``duplicates``,
    ``pages`` and ``page_bound``. Records received before the error were
    handed out; nothing may be removed on the strength of such a walk.
    """

    def __init__(self, reason: str, *, url: str | None, page: int | None,
                 figures: Mapping[str, Any] | None = None) -> None:
        self.reason = reason
        self.url = url
        self.page = page
        self.figures: dict[str, Any] = dict(figures or {})
        shown = ", ".join(f"{k}={v}" for k, v in self.figures.items() if v is not None)
        where = f"page {page}" if page is not None else "the walk"
        if url:
            where += f" of {url}"
        super().__init__(f"{reason} ({where}{'; ' + shown if shown else ''})")


class JobFailed(AssemblyError):
    """A sync job failed in another process: a distributed worker recorded the
    error in the run's ledger and this stands for it in the report. ``kind``
    is the class name of the error raised there (``"SchoolAuthRevoked"``,
    ``"PagingError"``), the message its text (SDK errors carry no secrets;
    other errors are recorded by class name only)."""

    def __init__(self, message: str, *, kind: str) -> None:
        self.kind = kind
        super().__init__(message)

    def __repr__(self) -> str:
        return f"JobFailed(kind={self.kind!r}, message={str(self)!r})"


class TransportError(AssemblyError):
    """The request did not complete: no HTTP status was received (or the body was cut).

    ``request_sent`` is False only when the request surely never reached the
    server (the connection was never established), which makes even a write
    safe to retry.
    """

    def __init__(self, message: str, *, method: str, url: str, request_sent: bool = True) -> None:
        self.method = method
        self.url = url
        self.request_sent = request_sent
        super().__init__(f"{message} ({method} {url})")


class ConnectionFailed(TransportError):
    """Connecting, sending or reading failed (refused, reset, DNS, TLS, payload cut short)."""


class RequestTimeout(TransportError):
    """No complete answer arrived within the configured timeout."""


class AuthError(AssemblyError):
    """Token handling failed on the client side."""


class TokenUnavailable(AuthError):
    """No usable token exists for this school or app (empty store, marked unusable)."""


class RefreshInterrupted(TokenUnavailable):
    """A refresh of this school's token was interrupted after the grant was sent, and
    the refresh token it used has since been refused.

    The worker that sent it died or lost the answer (timeout, reset, killed
    process), and the token endpoint had probably already swapped the refresh
    token for a new one that nobody kept. This is not proof that the school
    revoked access, but the school has no working refresh token either way. The
    token is marked unusable in the store (with the interruption remembered), so
    no worker keeps retrying. To make the school usable again, have its admin
    approve the app again and exchange the new code
    (:meth:`AssemblyClient.exchange_code`); that stores a fresh token.
    """

    def __init__(self, message: str, *, school_id: int | None) -> None:
        self.school_id = school_id
        super().__init__(message)


class OAuthError(AuthError):
    """The OAuth token endpoint refused a grant (``error`` holds its code)."""

    def __init__(self, message: str, *, error: str | None = None, status: int | None = None):
        self.error = error
        self.status = status
        super().__init__(message)


class SchoolAuthRevoked(OAuthError):
    """Refreshing a school's token answered ``invalid_grant``: the school revoked access.

    Only that school is affected; its token is marked unusable in the token store.
    """

    def __init__(self, message: str, *, school_id: int | None, status: int | None = None):
        self.school_id = school_id
        super().__init__(message, error="invalid_grant", status=status)


class HTTPError(AssemblyError):
    """The API answered with a status that is an error for this call."""

    def __init__(
        self,
        *,
        method: str,
        url: str,
        status: int,
        headers: Mapping[str, str],
        body: Any = None,
        text: str = "",
        error: str | None = None,
        message: str | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.headers = dict(headers)
        #: The parsed JSON body, or None when the body was not JSON.
        self.body = body
        #: The raw body text, truncated to ``BODY_EXCERPT_LIMIT`` characters.
        self.text = text[:BODY_EXCERPT_LIMIT]
        #: The API's ``error`` code (``invalid_token``, ``unsupported_version``...).
        self.error = error
        #: The API's human readable ``message``.
        self.message = message
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"{self.method} {self.url} answered {self.status}"]
        if self.error:
            parts.append(f"error={self.error!r}")
        if self.message:
            parts.append(f"message={self.message!r}")
        if not self.error and not self.message and self.text:
            excerpt = " ".join(self.text[:200].split())
            parts.append(f"body={excerpt!r}")
        return ", ".join(parts)


class NotModified(HTTPError):
    """304 Not Modified where the caller asked for a body."""


class BadRequest(HTTPError):
    """400: a parameter was rejected (for example a malformed date)."""


class Unauthorized(HTTPError):
    """401: missing, invalid or under-scoped token."""


class InvalidRequest(Unauthorized):
    """401 ``invalid_request``: no access token was sent."""


class InvalidToken(Unauthorized):
    """401 ``invalid_token``: the token is unknown, revoked or expired."""


class InsufficientScope(Unauthorized):
    """401 ``insufficient_scope``: the school did not grant the scope this call needs."""


class Forbidden(HTTPError):
    """403: the token may not see this resource (for example another school's data)."""


class NotFound(HTTPError):
    """404: unknown id or path."""


class UnsupportedVersion(HTTPError):
    """406 ``unsupported_version``: the Accept header names no version the API serves."""


class UnprocessableEntity(HTTPError):
    """422: a write failed validation; ``body`` holds the API's ``errors`` member."""


class RateLimited(HTTPError):
    """429: the token spent its budget; ``retry_after`` says how many seconds to wait."""

    def __init__(self, *, retry_after: float | None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)

    def _describe(self) -> str:
        base = super()._describe()
        if self.retry_after is not None:
            return f"{base}, retry after {self.retry_after:g}s"
        return base


class BudgetExhausted(RateLimited):
    """The request was *not sent*: the school's rate budget (or a 429 pause the
    server asked for) frees up only in ``retry_after`` seconds, later than the
    call's deadline allows, and the call did not opt into waiting
    (``CallOptions(wait_for_budget=True)`` / ``AssemblyClient(wait_for_budget=True)``).

    ``status`` is 429 because the budget stands in for the server's 429; no
    server answered, so ``headers`` and ``body`` are empty.
    """

    def __init__(self, *, method: str, url: str, retry_after: float, left: float) -> None:
        self.left = left
        super().__init__(retry_after=retry_after, method=method, url=url, status=429,
                         headers={}, body=None, text="", error=None, message=None)

    def _describe(self) -> str:
        return (f"{self.method} {self.url} not sent: the rate budget frees up in "
                f"{self.retry_after:g}s, after the call's deadline ({self.left:.3g}s left); "
                "pass wait_for_budget=True to wait")


class ServerError(HTTPError):
    """5xx: the API or a proxy in front of it failed."""


class UnexpectedStatus(HTTPError):
    """A status the API does not document for this call."""
