"""OAuth routes: ``POST /oauth/token`` (three grants) and ``GET /oauth/authorize``."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from yarl import URL

from ._auth import parse_scope_param
from ._core import Body, Ctx, op
from ._http import ApiError

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def decode_basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, sep, password = text.partition(":")
    return (login, password) if sep else None


def _check_client(ctx: Ctx) -> None:
    cfg = ctx.core.cfg
    creds = decode_basic(ctx.request.headers.get("Authorization", ""))
    ok = creds is not None and hmac.compare_digest(creds[0], cfg.client_id) and \
        hmac.compare_digest(creds[1], cfg.client_secret)
    if not ok:
        raise ApiError(401, None, body={"error": "invalid_client"},
                       headers={"WWW-Authenticate": 'Basic realm="Assembly"'})


def _grant_params(ctx: Ctx) -> dict[str, str]:
    """Query parameters (documented), topped up from a form or JSON body."""
    out: dict[str, str] = {k: v for k, v in ctx.request.query.items()}
    if not ctx.body:
        return out
    extra: dict[str, Any] = {}
    if "json" in ctx.request.content_type:
        try:
            loaded = orjson.loads(ctx.body)
        except orjson.JSONDecodeError:
            raise ApiError(400, "invalid_request", "The request body is not valid JSON") from None
        extra = loaded if isinstance(loaded, dict) else {}
    else:
        extra = dict(parse_qsl(ctx.body.decode("utf-8", "replace")))
    for k, v in extra.items():
        if k not in out and v is not None:
            out[k] = str(v)
    return out


@op("oauthToken")
def oauth_token(ctx: Ctx) -> Body:
    _check_client(ctx)
    params = _grant_params(ctx)
    grant = params.get("grant_type")
    auth = ctx.core.auth
    if grant == "client_credentials":
        body = auth.client_credentials()
    elif grant == "authorization_code":
        body = auth.exchange_code(params.get("code"), params.get("redirect_uri"))
    elif grant == "refresh_token":
        body = auth.refresh(params.get("refresh_token"))
        ctx.core.stats.refreshes_by_school[body["school_id"]] += 1
    elif not grant:
        raise ApiError(400, "invalid_request", "grant_type is required")
    else:
        raise ApiError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
    return Body(body, headers=dict(NO_STORE))


@op("oauthAuthorize")
def oauth_authorize(ctx: Ctx) -> web.Response:
    q = ctx.request.query
    cfg = ctx.core.cfg
    if q.get("client_id") != cfg.client_id:
        raise ApiError(400, "invalid_client", "Unknown client_id")
    redirect = q.get("redirect_uri")
    if not redirect:
        raise ApiError(400, "invalid_request", "redirect_uri is required")
    if cfg.redirect_uri is not None and redirect != cfg.redirect_uri:
        raise ApiError(400, "invalid_request", "redirect_uri does not match the application")
    school_id = cfg.authorize_school_id or cfg.school_ids[0]
    code = ctx.core.auth.issue_code(school_id, parse_scope_param(q.get("scope")), redirect)
    target = URL(redirect).update_query({"code": code, **({"state": q["state"]} if "state" in q
                                                          else {})})
    return web.Response(status=302, headers={"Location": str(target)})
