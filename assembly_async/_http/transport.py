"""Transport: the only module that imports aiohttp.

It sends a :class:`~assembly_async._core.requests.Request` and returns a
:class:`Response` with the body fully read, mapping aiohttp's exceptions onto
the SDK's :class:`TransportError` family. It owns a ``ClientSession`` or
borrows the caller's, and closes only the one it created.

Two promises hold here, at the only place they can:

* **Bounded memory.** The body is read in chunks, after decompression, and
  abandoned with :class:`ResponseTooLarge` once it passes ``max_body`` bytes
  (aiohttp >= 3.13.3 inflates a compressed body a chunk at a time, so a 1 MiB
  gzip bomb never becomes 1 GiB in memory).
* **No request data in errors.** aiohttp's exceptions carry the full URL in
  their text (OAuth grant parameters, when sent in the query) and the request
  headers in ``request_info`` (the Bearer token, the Basic credentials). They
  are summarised into fixed messages with the redacted URL and *not chained*:
  neither ``__cause__`` nor ``__context__`` of an SDK error points at them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import aiohttp
import attrs
from aiohttp import ClientSession, TraceConfig

from .._core.config import DEFAULT_MAX_BODY, Timeouts
from .._core.errors import (
    AssemblyError,
    ConnectionFailed,
    RequestTimeout,
    ResponseTooLarge,
    UsageError,
)
from .._core.redact import redact_url
from .._core.requests import Request

__all__ = ["AiohttpTransport", "ClientSession", "Response", "TraceConfig", "Transport"]

#: Bytes per read of a response body.
READ_CHUNK = 64 * 1024


@attrs.frozen
class Response:
    """A complete HTTP response: status, lower-cased headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


@runtime_checkable
class Transport(Protocol):
    """Sends one request and returns the whole response; raises TransportError
    (and :class:`ResponseTooLarge` for a body over its limit)."""

    async def send(self, request: Request, *, timeouts: Timeouts) -> Response: ...

    async def aclose(self) -> None: ...


def _client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read
    )


def _summary(exc: BaseException, method: str, url: str) -> AssemblyError:
    """An SDK error for an aiohttp/OS failure, built only from safe parts (the
    class name, an errno text): never the exception's text, which may hold the
    URL with its query, nor its ``request_info``, which holds the headers."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return RequestTimeout("could not connect within the timeout", method=method, url=url,
                              request_sent=False)
    if isinstance(exc, asyncio.TimeoutError):
        return RequestTimeout("no complete answer within the timeout", method=method, url=url)
    if isinstance(exc, aiohttp.ClientConnectorError):
        # The connection was never established: the server cannot have seen the request.
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        return ConnectionFailed(f"could not connect: {reason}", method=method, url=url,
                                request_sent=False)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ConnectionFailed("the response body was cut short", method=method, url=url)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ConnectionFailed("the server closed the connection", method=method, url=url)
    if isinstance(exc, aiohttp.ClientResponseError):
        return ConnectionFailed(f"the answer was not valid HTTP ({type(exc).__name__})",
                                method=method, url=url)
    if isinstance(exc, OSError) and exc.strerror:
        return ConnectionFailed(f"{type(exc).__name__}: {exc.strerror}", method=method, url=url)
    return ConnectionFailed(type(exc).__name__, method=method, url=url)


class AiohttpTransport:
    """aiohttp-backed transport with one connection pool shared by every school.

    ``max_body`` caps every response body in bytes, counted after
    decompression (:class:`ResponseTooLarge` above it).
    """

    def __init__(
        self,
        *,
        session: ClientSession | None = None,
        limit: int = 100,
        limit_per_host: int = 0,
        trace_configs: Sequence[TraceConfig] = (),
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._trace_configs = list(trace_configs)
        self._closed = False
        self.max_body = max_body

    @property
    def owns_session(self) -> bool:
        """True when this transport created its session (and so closes it)."""
        return self._owns_session

    def _get_session(self) -> ClientSession:
        if self._closed:
            raise UsageError("the transport is closed")
        if self._session is None:
            # Created lazily so that constructing a client needs no running loop.
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit_per_host)
            self._session = ClientSession(
                connector=connector,
                trace_configs=self._trace_configs or None,
                auto_decompress=True,
            )
        return self._session

    async def send(self, request: Request, *, timeouts: Timeouts) -> Response:
        session = self._get_session()
        url_text = redact_url(request.url)
        try:
            async with session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=_client_timeout(timeouts),
                allow_redirects=False,
            ) as resp:
                headers = {k.lower(): v for k, v in resp.headers.items()}
                body = await self._read(resp, request.method, url_text, headers)
                return Response(status=resp.status, headers=headers, body=body, url=url_text)
        except ResponseTooLarge:
            raise
        except Exception as exc:  # aiohttp's ClientError family, OSError, timeouts, the rest
            failure = _summary(exc, request.method, url_text)
        # Raised outside the except block: no __context__ leads back to aiohttp's exception.
        raise failure

    async def _read(self, resp: aiohttp.ClientResponse, method: str, url: str,
                    headers: Mapping[str, str]) -> bytes:
        """The body, read in chunks after decompression, at most ``max_body`` bytes."""
        limit = self.max_body
        declared = resp.content_length
        if (declared is not None and not headers.get("content-encoding")
                and not headers.get("transfer-encoding")):
            if declared > limit:
                raise ResponseTooLarge(method=method, url=url, status=resp.status, limit=limit)
            # A plain body of a known length within the limit: aiohttp reads exactly that much.
            return await resp.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(READ_CHUNK):
            size += len(chunk)
            if size > limit:
                # Leaving the response unread closes its connection: nothing more is read.
                raise ResponseTooLarge(method=method, url=url, status=resp.status, limit=limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the session if this transport created it; a borrowed one stays open."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()
