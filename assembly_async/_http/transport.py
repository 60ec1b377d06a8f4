"""Transport: the only module that imports aiohttp.

It sends a :class:`~assembly_async._core.requests.Request` and returns a
:class:`Response` with the body fully read, mapping aiohttp's exceptions onto
the SDK's :class:`TransportError` family. It owns a ``ClientSession`` or
borrows the caller's, and closes only the one it created.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import aiohttp
import attrs
from aiohttp import ClientSession, TraceConfig

from .._core.config import Timeouts
from .._core.errors import ConnectionFailed, RequestTimeout
from .._core.redact import redact_url
from .._core.requests import Request

__all__ = ["AiohttpTransport", "ClientSession", "Response", "TraceConfig", "Transport"]


@attrs.frozen
class Response:
    """A complete HTTP response: status, lower-cased headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


@runtime_checkable
class Transport(Protocol):
    """Sends one request and returns the whole response; raises TransportError."""

    async def send(self, request: Request, *, timeouts: Timeouts) -> Response: ...

    async def aclose(self) -> None: ...


def _client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read
    )


class AiohttpTransport:
    """aiohttp-backed transport with one connection pool shared by every school."""

    def __init__(
        self,
        *,
        session: ClientSession | None = None,
        limit: int = 100,
        limit_per_host: int = 0,
        trace_configs: Sequence[TraceConfig] = (),
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._trace_configs = list(trace_configs)
        self._closed = False

    @property
    def owns_session(self) -> bool:
        """True when this transport created its session (and so closes it)."""
        return self._owns_session

    def _get_session(self) -> ClientSession:
        if self._closed:
            raise RuntimeError("the transport is closed")
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
                body = await resp.read()
                headers = {k.lower(): v for k, v in resp.headers.items()}
                return Response(status=resp.status, headers=headers, body=body, url=url_text)
        except aiohttp.ConnectionTimeoutError as exc:
            raise RequestTimeout(
                "could not connect within the timeout",
                method=request.method, url=url_text, request_sent=False,
            ) from exc
        except asyncio.TimeoutError as exc:
            raise RequestTimeout(
                "no complete answer within the timeout", method=request.method, url=url_text
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            # The connection was never established: the server cannot have seen the request.
            raise ConnectionFailed(
                f"could not connect: {exc.os_error.strerror or exc.os_error}",
                method=request.method, url=url_text, request_sent=False,
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            raise ConnectionFailed(
                f"the response body was cut short: {exc}", method=request.method, url=url_text
            ) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise ConnectionFailed(
                "the server closed the connection", method=request.method, url=url_text
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionFailed(
                f"{type(exc).__name__}: {exc}", method=request.method, url=url_text
            ) from exc

    async def aclose(self) -> None:
        """Close the session if this transport created it; a borrowed one stays open."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()
