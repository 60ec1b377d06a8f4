"""``assembly-async token``: OAuth helpers and the token store by hand.

``authorize-url``, ``exchange``, ``refresh`` and ``client-credentials`` talk
to the OAuth host; ``add`` puts a token you already have into the store (read
from stdin, never from the command line, where ``ps`` and shell history would
show it), ``list`` shows what the store holds (never a token), ``remove``
deletes one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any

import attrs
import orjson

from .._core.config import ClientConfig
from .._core.errors import AssemblyError
from ..auth import APP_KEY, Token, authorization_url, make_state, school_key
from ._common import (
    CLIError,
    add_api_options,
    add_store_option,
    env,
    environment,
    make_client,
    parse_school_ids,
    probe,
    require,
    stored_school_ids,
)
from ._stores import open_store, shown
from ._ui import UI

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser(
        "token", help="OAuth helpers and the token store",
        description="OAuth helpers (authorize-url, exchange, refresh, client-credentials "
        "talk to the OAuth host) and the token store by hand (add reads a token from "
        "stdin, list never shows one, remove deletes one).")
    tsub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION",
                                parser_class=type(token))
    url = tsub.add_parser("authorize-url", help="print the URL a school admin must visit")
    url.add_argument("--redirect-uri", required=True, metavar="URI",
                     help="your app's callback URL, exactly as registered with Assembly")
    url.add_argument("--scopes", required=True, metavar="SCOPES",
                     help="space or comma separated scopes (name or name:optional)")
    url.add_argument("--state", dest="oauth_state", metavar="STATE",
                     help="OAuth state to embed (default: random)")
    env_api = [url]
    exch = tsub.add_parser("exchange", help="trade an authorization code for a school token")
    exch.add_argument("--code", required=True, help="the code your callback received")
    exch.add_argument("--redirect-uri", required=True, metavar="URI",
                      help="the redirect URI the code was issued for")
    ref = tsub.add_parser("refresh", help="refresh stored school tokens now")
    ref.add_argument("--schools", metavar="IDS",
                     help="comma-separated school ids (default: every school in the store)")
    creds = tsub.add_parser("client-credentials", help="get and store an app token")
    add = tsub.add_parser(
        "add", help="store a token you already have (read from stdin)",
        description="Store a token read from stdin: the JSON answer of the token endpoint "
        '({"access_token": ..., "refresh_token": ..., "expires_in": ...}) or a bare '
        "access token on one line.")
    who = add.add_mutually_exclusive_group(required=True)
    who.add_argument("--school-id", type=int, metavar="ID", help="the school the token is for")
    who.add_argument("--app", action="store_true", help="an app token (client credentials)")
    add.add_argument("--expires-in", type=float, metavar="SECONDS",
                     help="lifetime of a bare access token (default: never expires)")
    add.add_argument("--scopes", metavar="SCOPES",
                     help="scopes of a bare access token, space or comma separated")
    lst = tsub.add_parser("list", help="what the store holds (never the tokens)")
    rem = tsub.add_parser("remove", help="delete a token from the store")
    gone = rem.add_mutually_exclusive_group(required=True)
    gone.add_argument("--school-id", type=int, metavar="ID", help="the school whose token goes")
    gone.add_argument("--app", action="store_true", help="the app token")
    for p in (exch, ref, creds, add, lst, rem):
        add_store_option(p)
    for p in (*env_api, exch, ref, creds):
        add_api_options(p)


def _scopes(text: str | None) -> list[str]:
    return [s for s in (text or "").replace(",", " ").split() if s]


def _read_token(args: argparse.Namespace, text: str) -> Token:
    """The token given on stdin, for the school (or the app) named by the options."""
    text = text.strip()
    if not text:
        raise CLIError("no token on stdin")
    now = time.time()
    if text.startswith("{"):
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise CLIError("stdin is not valid JSON") from None
        if not isinstance(body, dict):
            raise CLIError("stdin holds JSON that is not an object")
        body = {**body, "level": "app" if args.app else "school"}
        if args.app and args.school_id is None:
            body.pop("school_id", None)
        try:
            token = Token.from_response(body, now=now)
        except AssemblyError as exc:
            raise CLIError(f"not a token: {exc}") from None
        if args.school_id is None:
            return token
        # Compared as read (an id sent as "7" is school 7).
        if token.school_id not in (None, args.school_id):
            raise CLIError(f"the token is for school {token.school_id}, not {args.school_id}")
        return attrs.evolve(token, school_id=args.school_id)
    if len(text.split()) != 1:
        raise CLIError("stdin must hold one access token, or the token endpoint's JSON")
    return Token(access_token=text, refresh_token=None, token_type="bearer",
                 level="app" if args.app else "school",
                 expires_at=None if args.expires_in is None else now + args.expires_in,
                 school_id=args.school_id, scopes=_scopes(args.scopes))


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")


async def _list(store: Any, ui: UI) -> int:
    keys = await store.keys()
    tokens = await store.get_many(keys)
    now = time.time()
    entries = [{"key": key, "level": t.level, "school_id": t.school_id,
                "expires_at": _iso(t.expires_at), "expired": t.is_expired(now),
                "refreshable": t.refresh_token is not None, "usable": t.usable,
                "scopes": list(t.scopes)} for key, t in sorted(tokens.items())]
    if ui.json:
        ui.emit({"command": "token list", "tokens": entries})
        return 0
    rows = [[e["key"], e["level"], e["expires_at"] or "never",
             "yes" if e["refreshable"] else "no",
             "revoked" if not e["usable"] else "expired" if e["expired"] else "ok",
             len(e["scopes"])] for e in entries]
    ui.table(f"Tokens ({len(rows)})", ["key", "level", "expires (UTC)", "refreshable",
                                       "status", "scopes"], rows)
    return 0


def _result(ui: UI, document: dict[str, Any], text: str) -> None:
    if ui.json:
        ui.emit(document)
    else:
        ui.line(text)


async def run(args: argparse.Namespace, ui: UI) -> int:
    command = args.token_command
    if command == "authorize-url":
        config = ClientConfig.create(environment=environment(), api_url=args.api_url,
                                     oauth_url=args.oauth_url)
        scopes = _scopes(args.scopes)
        if not scopes:
            raise CLIError("--scopes is empty")
        state = args.oauth_state or make_state()
        url = authorization_url(oauth_base=str(config.oauth_url),
                                client_id=env("ASSEMBLY_CLIENT_ID"),
                                redirect_uri=args.redirect_uri, scopes=scopes, state=state)
        if ui.json:
            ui.emit({"command": "token authorize-url", "url": url, "state": state})
        else:
            ui.line(url)
            ui.line(f"state: {state}")
        return 0
    store_arg = require(args, "token_store")
    creates = command in ("exchange", "client-credentials", "add")
    async with open_store(store_arg, create=creates) as store:
        if command == "list":
            return await _list(store, ui)
        if command == "add":
            token = _read_token(args, sys.stdin.read())
            key = APP_KEY if args.app else school_key(args.school_id)
            await store.set(key, token)
            _result(ui, {"command": "token add", "key": key},
                    f"stored the {token.level} token under {key!r} in {shown(store_arg)}")
            return 0
        if command == "remove":
            key = APP_KEY if args.app else school_key(args.school_id)
            delete = getattr(store, "delete", None)
            if delete is None:
                raise CLIError(f"token store {shown(store_arg)!r} cannot remove tokens")
            if not await delete(key):
                raise CLIError(f"no token under {key!r} in {shown(store_arg)!r}")
            _result(ui, {"command": "token remove", "key": key},
                    f"removed {key!r} from {shown(store_arg)}")
            return 0
        client = make_client(args, store)
        async with client:
            await probe(client, oauth=True)
            if command == "exchange":
                token = await client.exchange_code(args.code, redirect_uri=args.redirect_uri)
                _result(ui, {"command": "token exchange", "school_id": token.school_id,
                             "scopes": list(token.scopes)},
                        f"stored the token of school {token.school_id} "
                        f"({len(token.scopes)} scopes) in {shown(store_arg)}")
                return 0
            if command == "client-credentials":
                await client.client_credentials()
                _result(ui, {"command": "token client-credentials", "key": APP_KEY},
                        f"stored the app token in {shown(store_arg)}")
                return 0
            ids = parse_school_ids(args.schools) or await stored_school_ids(store)
            if not ids:
                raise CLIError(f"no school tokens in {shown(store_arg)!r}")
            results: list[dict[str, Any]] = []
            for sid in ids:
                try:
                    await client.refresh_school_token(sid)
                    results.append({"school_id": sid, "ok": True, "error": None})
                    ui.line(f"school {sid}: refreshed")
                except AssemblyError as exc:
                    results.append({"school_id": sid, "ok": False, "error": exc})
                    ui.line(f"school {sid}: {type(exc).__name__}: {' '.join(str(exc).split())}")
            failed = sum(1 for r in results if not r["ok"])
            if ui.json:
                ui.emit({"command": "token refresh", "ok": not failed, "schools": results})
            return 1 if failed else 0
