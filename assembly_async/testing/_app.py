"""The aiohttp application: routes from the spec, auth, limits, deltas, paging, faults."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import re
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import _oauth, _ops_assess, _ops_groups, _ops_people, _ops_school  # noqa: F401 (register)
from ._auth import Token
from ._core import HANDLERS, Body, Core, Ctx, Listing, Result
from ._faults import HTML_502, HTML_PAGE, Fault, status_body
from ._http import (
    PER_PAGE_MAX,
    ApiError,
    PageInfo,
    error_response,
    json_response,
    not_found,
    parse_paging,
    parse_query,
    parse_version,
)
from ._oddities import oddify
from ._opspec import OpInfo, operations
from ._stats import LoggedRequest
from ._util import Rec, dumps, http_date, parse_http_date, token_id

PHOTO = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
SECRET_PARAMS = frozenset({"access_token", "refresh_token", "code", "client_secret"})
log = logging.getLogger("assembly_async.testing")
_ETAG_RE = re.compile(r"-(\d+)\"?\s*$")
WebHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _unauthorized(err: ApiError) -> ApiError:
    desc = (err.message or "").replace('"', "'")
    err.headers["WWW-Authenticate"] = (
        f'Bearer realm="Assembly", error="{err.error}", error_description="{desc}"')
    return err


def authenticate(core: Core, request: web.Request, op: OpInfo) -> Token:
    value = _bearer(request)
    if value is None:
        raise _unauthorized(ApiError(401, "invalid_request", "an access_token is required."))
    try:
        tok = core.auth.authenticate(value)
    except ApiError as err:
        raise _unauthorized(err) from None
    core.limiter.hit(tok.id)
    if op.token_level == "school" and tok.level != "school":
        raise _unauthorized(ApiError(401, "invalid_token",
                                     "This endpoint needs a school access token, not an "
                                     "application token"))
    if op.token_level == "app" and tok.level != "app":
        raise _unauthorized(ApiError(401, "insufficient_scope",
                                     "This endpoint needs an application access token"))
    if tok.level == "school":
        missing = sorted(op.all_of - tok.scopes)
        if not missing and op.any_of and not op.any_of & tok.scopes:
            missing = sorted(op.any_of)
        if missing:
            message = "The access token lacks the scope " + " or ".join(missing)
            raise _unauthorized(ApiError(401, "insufficient_scope", message))
    return tok


def _since(request: web.Request) -> int | None:
    inm = request.headers.get("If-None-Match")
    if inm:
        m = _ETAG_RE.search(inm)
        if m:
            return int(m.group(1))
    ims = request.headers.get("If-Modified-Since")
    return parse_http_date(ims) if ims else None


def record_validators(ctx: Ctx, body: bytes) -> dict[str, str]:
    """``ETag`` and ``Last-Modified`` of a single-record answer: a digest of the
    exact body (so any change in what is rendered changes it, group members
    included) and the latest updated-at of the records looked up."""
    digest = hashlib.blake2b(body, digest_size=10).hexdigest()
    mark = max(rec.get("_u", 0) for rec in ctx.found)
    return {"ETag": f'"r-{digest}"', "Last-Modified": http_date(mark)}


def _still_fresh(request: web.Request, validators: dict[str, str], found: list[Rec]) -> bool:
    """RFC 9110 13.2.2: ``If-None-Match`` decides when sent; else ``If-Modified-Since``."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or validators["ETag"] in tags
    ims = request.headers.get("If-Modified-Since")
    since = parse_http_date(ims) if ims else None
    return since is not None and max(rec.get("_u", 0) for rec in found) <= since


def render(ctx: Ctx, result: Result, page: int, per_page: int) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    odd = ctx.core.cfg.oddities
    if isinstance(result, Body):
        if result.payload is None:
            return web.Response(status=result.status, headers=result.headers)
        payload = oddify(result.payload) if odd and result.status < 300 else result.payload
        if ctx.found and ctx.request.method == "GET" and result.status == 200:
            # A single record: validators, and 304 when the client's copy is current.
            body = dumps(payload)
            validated = {**result.headers, **record_validators(ctx, body)}
            if _still_fresh(ctx.request, validated, ctx.found):
                return web.Response(status=304, headers=validated)
            return web.Response(body=body, status=200, headers=validated,
                                content_type="application/json", charset="utf-8")
        return json_response(payload, result.status, result.headers)
    assert isinstance(result, Listing)
    headers: dict[str, str] = {}
    records = list(result.records)
    if ctx.op.conditional and result.collection is not None:
        school = ctx.school
        mark = school.watermark(result.collection)
        headers["Last-Modified"] = http_date(mark)
        headers["ETag"] = f'"{school.school_id}-{result.collection}-{mark}"'
        since = _since(ctx.request)
        if since is not None:
            records = [r for r in records if r["_u"] > since]
            if not records:
                return web.Response(status=304, headers=headers)
    info = PageInfo(len(records), page, per_page)
    data = [result.render(r) for r in records[info.start:info.stop]]
    if odd:
        data = oddify(data)
    if ctx.version == "1":
        return json_response(info.envelope(data), headers=headers)
    headers.update(info.headers())
    return json_response(data, headers=headers)


def make_handler(core: Core, op: OpInfo) -> WebHandler:
    fn = HANDLERS[op.operation_id]

    async def handle(request: web.Request) -> web.StreamResponse:
        version = "1.1"
        token = None
        if not op.is_oauth:
            found = parse_version(request.headers.get("Accept"))
            if found is None:
                raise ApiError(406, "unsupported_version")
            version = found
            token = authenticate(core, request, op)
        params = parse_query(op, request.query)
        cfg = core.cfg
        page, per_page = (parse_paging(request.query, cfg.max_per_page, cfg.over_max_per_page)
                          if op.paginated else (1, PER_PAGE_MAX))
        body = await request.read() if request.method in ("POST", "PATCH", "PUT") else b""
        ctx = Ctx(core, request, op, version, token, params, body)
        return render(ctx, fn(ctx), page, per_page)

    return handle


async def _call(request: web.Request, handler: WebHandler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err)
    except web.HTTPException as exc:
        if exc.status == 404:
            return error_response(not_found())
        if exc.status == 405:
            return error_response(ApiError(405, "method_not_allowed", "method not allowed"))
        raise
    except Exception:  # a bug in the fake: answer like a server would, but say so loudly
        log.exception("fake Assembly handler failed for %s %s", request.method, request.path)
        return error_response(ApiError(500, "internal_server_error", "fake server error"))


def safe_query(request: web.Request) -> str:
    """The query string with secrets (tokens, codes) masked, for the log."""
    if not any(k in SECRET_PARAMS for k in request.query):
        return request.query_string
    return urlencode([(k, "***" if k in SECRET_PARAMS else v) for k, v in request.query.items()])


def _fault_response(core: Core, fault: Fault) -> web.Response:
    if fault.kind == "html502":
        return web.Response(status=502, text=HTML_502, content_type="text/html")
    if fault.kind == "wrong_content_type":
        return web.Response(status=200, text=HTML_PAGE, content_type="text/html")
    status = fault.status or 500
    if status in (204, 304):
        return web.Response(status=status)
    if fault.body is not None:
        body = fault.body
    elif status == 429:
        limit = core.limiter.limit
        err = core.limiter.error(limit + 1, core.limiter.window_real)
        return json_response(err.payload(), 429, err.headers)
    else:
        body = status_body(status)
    return json_response(body, status)


def _copy_headers(resp: web.StreamResponse) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}


async def _reset(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    body = resp.body if isinstance(resp, web.Response) and isinstance(resp.body, bytes) else b""
    body = body or b'[{"object":"padding","data":"' + b"x" * 200 + b'"}]'
    out = web.StreamResponse(status=resp.status, headers=_copy_headers(resp))
    out.content_length = len(body)
    await out.prepare(request)
    await out.write(body[: len(body) // 2])
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.abort()
    return out


def _truncate(resp: web.StreamResponse) -> web.Response:
    body = resp.body if isinstance(resp, web.Response) and isinstance(resp.body, bytes) else b""
    return web.Response(status=200, body=body[: len(body) // 2], headers=_copy_headers(resp))


def front_middleware(core: Core) -> Middleware:
    @web.middleware
    async def front(request: web.Request, handler: WebHandler) -> web.StreamResponse:
        path = request.path
        if path.startswith(("/_control", "/_photos")):
            return await _call(request, handler)
        bearer = _bearer(request)
        tid = token_id(bearer) if bearer else None
        started = time.monotonic()
        core.stats.started(tid)
        fault = core.faults.next_fault(request.method, path)
        status = 0
        try:
            if fault is not None and fault.kind == "delay":
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(core.closing.wait(), fault.seconds)
            resp: web.StreamResponse
            if fault is not None and fault.kind in ("status", "html502", "wrong_content_type"):
                resp = _fault_response(core, fault)
            else:
                resp = await _call(request, handler)
                if fault is not None and fault.kind == "truncated":
                    resp = _truncate(resp)
                elif fault is not None and fault.kind == "reset":
                    resp = await _reset(request, resp)
            status = resp.status
            return resp
        finally:
            core.stats.finished(LoggedRequest(
                started, tid, request.method, path, safe_query(request), status,
                time.monotonic() - started, fault.describe() if fault else None))

    return front


async def photo(request: web.Request) -> web.Response:
    return web.Response(body=PHOTO, content_type="image/png")


def build_app(core: Core) -> web.Application:
    app = web.Application(middlewares=[front_middleware(core)])
    ops = sorted(operations(), key=lambda o: ("{" in o.path, o.path, o.method))
    missing = [o.operation_id for o in ops if o.operation_id not in HANDLERS]
    if missing:
        raise RuntimeError(f"operations without a fake handler: {missing}")
    for o in ops:
        app.router.add_route(o.method, o.path, make_handler(core, o))
    app.router.add_get("/_photos/{name}", photo)
    return app
