"""A programmable, hostile server on 127.0.0.1 for the hardening tests.

Both the API and the token endpoint (``/oauth/token``) answer from queues of
:class:`Reply` values, so a test (or hypothesis) decides every byte: status,
headers, body, real or claimed compression, a dropped connection, a hang, or
raw bytes that are not HTTP at all. When a queue runs out the server answers
``404 {"error": "not found"}``, which ends any walk.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections import deque
from collections.abc import Iterable
from typing import Any

import attrs
import orjson
from aiohttp import web


@attrs.define
class Reply:
    """One answer. ``encoding`` compresses ``body`` for real ("gzip", "deflate");
    ``headers`` may claim any Content-Encoding on top. ``action`` "reset" drops
    the connection, "hang" never answers, "raw" writes ``body`` as the whole
    HTTP response (status line included)."""

    status: int = 200
    headers: dict[str, str] = attrs.Factory(dict)
    body: bytes = b""
    encoding: str | None = None
    action: str = "reply"

    @classmethod
    def json(cls, data: Any, status: int = 200, **headers: str) -> Reply:
        return cls(status, {"Content-Type": "application/json", **headers}, orjson.dumps(data))


def compress(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=1)
    if encoding == "deflate":
        return zlib.compress(body, 1)
    return body


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzipped (about 1000:1)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    parts = [c.compress(chunk[: min(len(chunk), size - i)]) for i in range(0, size, len(chunk))]
    return b"".join([*parts, c.flush()])


class HostileServer:
    def __init__(self) -> None:
        self.api: deque[Reply] = deque()
        self.token: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.release = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.url = ""

    def serve(self, api: Iterable[Reply] = (), token: Iterable[Reply] = ()) -> None:
        self.api.clear()
        self.token.clear()
        self.api.extend(api)
        self.token.extend(token)

    async def __aenter__(self) -> HostileServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self.runner is not None
        await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        token_endpoint = request.path == "/oauth/token"
        self.requests.append({"path": request.path, "query": request.query_string,
                              "headers": dict(request.headers), "body": body})
        queue = self.token if token_endpoint else self.api
        reply = queue.popleft() if queue else Reply.json({"error": "not found"}, 404)
        if reply.action == "hang":
            await self.release.wait()
            return web.Response(status=503)
        if reply.action in ("reset", "raw"):
            assert request.transport is not None
            if reply.action == "raw":
                request.transport.write(reply.body)
                await asyncio.sleep(0)
            request.transport.close() if reply.action == "raw" else request.transport.abort()
            return web.Response()
        data = compress(reply.body, reply.encoding)
        headers = dict(reply.headers)
        if reply.encoding:
            headers.setdefault("Content-Encoding", reply.encoding)
        return web.Response(status=reply.status, headers=headers, body=data)
