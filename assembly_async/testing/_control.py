"""Control API: Python methods (inherited by FakeAssembly) and ``/_control/...`` HTTP routes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import date
from typing import Any

import orjson
from aiohttp import web

from . import _mutations
from ._auth import TokenPair
from ._core import Core
from ._faults import FaultInjector
from ._http import json_response
from ._stats import LoggedRequest, Stats
from ._store import GROUP_VIEWS, GROUPS, STAFF, STUDENTS
from ._util import key_of, token_id


class Controller:
    """Everything a test can do to or learn from a fake server besides calling the API."""

    core: Core

    # ---- credentials ---------------------------------------------------------
    @property
    def client_id(self) -> str:
        return self.core.cfg.client_id

    @property
    def client_secret(self) -> str:
        return self.core.cfg.client_secret

    @property
    def app_token(self) -> str:
        """A pre-issued application (``level: app``) token; it never expires."""
        return self.core.auth.app_token

    @property
    def school_ids(self) -> list[int]:
        return list(self.core.schools)

    def school_token(self, school_id: int) -> TokenPair:
        """The access + refresh token pair issued to a school when the fake started."""
        return self.core.auth.initial[school_id]

    def issue_school_token(self, school_id: int, scopes: Iterable[str] | None = None) -> TokenPair:
        """A fresh pair (all scopes unless ``scopes`` is given), as after an authorization."""
        return self.core.auth.issue_school(school_id, scopes)

    def issue_code(self, school_id: int, scopes: Iterable[str] | None = None,
                   redirect_uri: str | None = None) -> str:
        """An authorization code for the ``authorization_code`` grant (single use)."""
        return self.core.auth.issue_code(school_id, scopes, redirect_uri)

    def expire_access_tokens(self, school_id: int | None = None) -> int:
        """Make current school access tokens expired (all schools when None)."""
        return self.core.auth.expire(school_id)

    def revoke_school(self, school_id: int) -> None:
        """As if the school deauthorized the app: tokens, refresh tokens and codes die."""
        self.core.auth.revoke_school(school_id)

    def token_id(self, token: str) -> str:
        """The short hash under which a token appears in logs and stats."""
        return token_id(token)

    # ---- data ---------------------------------------------------------------------
    def change(self, school_id: int, resource: str = STUDENTS, count: int = 1,
               ids: Iterable[int] | None = None) -> list[int]:
        return _mutations.change(self.core.school(school_id), resource, count, ids)

    def add(self, school_id: int, resource: str = STUDENTS, count: int = 1,
            year_code: str | None = None) -> list[int]:
        return _mutations.add(self.core.school(school_id), self.core.cfg, resource, count,
                              year_code)

    def leave(self, school_id: int, resource: str = STUDENTS, count: int = 1,
              ids: Iterable[int] | None = None) -> list[int]:
        return _mutations.leave(self.core.school(school_id), resource, count, ids)

    def advance_clock(self, school_id: int | None = None, seconds: int = 1) -> None:
        """Move data clocks forward (all schools when None) without changing data."""
        for sid in ([school_id] if school_id is not None else self.school_ids):
            self.core.school(sid).tick(seconds)

    def record_ids(self, school_id: int, resource: str = STUDENTS,
                   include_left: bool = False) -> list[int]:
        """Ids of stored records, in the order lists return them."""
        school = self.core.school(school_id)
        if resource in GROUP_VIEWS:
            return [g["id"] for g in school.groups_of(GROUP_VIEWS[resource])]
        recs = list(school.coll(resource).values())
        if resource in (STUDENTS, STAFF) and not include_left:
            recs = [r for r in recs if not r["_left"]]
        return [key_of(r) for r in recs]

    def group_member_ids(self, school_id: int, group_id: int, day: date | None = None
                         ) -> list[int]:
        """Student ids in a group on a day (the school's today by default)."""
        school = self.core.school(school_id)
        return school.member_ids(group_id, day or school.today)

    def left_ids(self, school_id: int, resource: str = STUDENTS) -> list[int]:
        return [r["id"] for r in self.core.school(school_id).coll(resource).values() if r["_left"]]

    def record(self, school_id: int, resource: str, record_id: int) -> dict[str, Any]:
        """A stored record (internal ``_`` keys included) - read-only use please."""
        name = GROUPS if resource in GROUP_VIEWS else resource
        rec = self.core.school(school_id).get(name, record_id)
        if rec is None:
            raise KeyError(f"no {resource} {record_id} in school {school_id}")
        return rec

    # ---- limits, faults, stats -----------------------------------------------------
    def set_rate_limit(self, limit: int | None = None, window: float | None = None,
                       time_scale: float | None = None) -> None:
        self.core.limiter.configure(limit=limit, window=window, time_scale=time_scale)

    @property
    def faults(self) -> FaultInjector:
        return self.core.faults

    @property
    def stats(self) -> Stats:
        return self.core.stats

    @property
    def request_log(self) -> list[LoggedRequest]:
        return self.core.stats.log

    def reset_stats(self) -> None:
        self.core.stats.reset()
        self.core.faults.injected.clear()

    def info(self) -> dict[str, Any]:
        return {"url": self.core.base_url, "api_url": self.core.base_url,
                "oauth_url": self.core.base_url, "client_id": self.client_id,
                "client_secret": self.client_secret, "app_token": self.app_token,
                "schools": [asdict(self.school_token(sid)) for sid in self.school_ids]}


# ---- HTTP -------------------------------------------------------------------------

def _commands(c: Controller) -> dict[str, Callable[..., Any]]:
    def script(path: str, steps: list[Any], method: str | None = None,
               match: str | None = None) -> int:
        return len(c.faults.script(path, steps, method=method, match=match).steps)

    def random_errors(rate: float, **kw: Any) -> float:
        return c.faults.random_errors(rate, **kw).rate

    return {
        "school_token": lambda school_id: asdict(c.school_token(school_id)),
        "issue_school_token": lambda school_id, scopes=None: asdict(
            c.issue_school_token(school_id, scopes)),
        "issue_code": lambda school_id, scopes=None, redirect_uri=None: {
            "code": c.issue_code(school_id, scopes, redirect_uri)},
        "expire_access_tokens": lambda school_id=None: {
            "expired": c.expire_access_tokens(school_id)},
        "revoke_school": c.revoke_school,
        "change": lambda **kw: {"ids": c.change(**kw)},
        "add": lambda **kw: {"ids": c.add(**kw)},
        "leave": lambda **kw: {"ids": c.leave(**kw)},
        "advance_clock": c.advance_clock,
        "record_ids": lambda **kw: {"ids": c.record_ids(**kw)},
        "set_rate_limit": c.set_rate_limit,
        "faults/script": lambda **kw: {"steps": script(**kw)},
        "faults/random": lambda **kw: {"rate": random_errors(**kw)},
        "faults/clear": c.faults.clear,
        "reset_stats": c.reset_stats,
    }


def add_control_routes(app: web.Application, c: Controller) -> None:
    commands = _commands(c)

    async def get_info(request: web.Request) -> web.Response:
        return json_response(c.info())

    async def get_stats(request: web.Request) -> web.Response:
        return json_response({**c.stats.summary(), "faults_injected": len(c.faults.injected),
                              "faults_pending": c.faults.pending()})

    async def get_log(request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "1000"))
        return json_response([e.as_dict() for e in c.request_log[-limit:]])

    async def post_command(request: web.Request) -> web.Response:
        name = request.match_info["command"]
        fn = commands.get(name)
        if fn is None:
            return json_response({"error": "not_found", "message": f"no command {name!r}",
                                  "commands": sorted(commands)}, 404)
        raw = await request.read()
        try:
            kwargs = orjson.loads(raw) if raw.strip() else {}
            if not isinstance(kwargs, dict):
                raise TypeError("the body must be a JSON object of keyword arguments")
            result = fn(**kwargs)
        except (TypeError, ValueError, KeyError, orjson.JSONDecodeError) as exc:
            return json_response({"error": "bad_control_request", "message": str(exc)}, 400)
        return json_response({"ok": True} if result is None else result)

    app.router.add_get("/_control/info", get_info)
    app.router.add_get("/_control/stats", get_stats)
    app.router.add_get("/_control/log", get_log)
    app.router.add_post("/_control/{command:.+}", post_command)
