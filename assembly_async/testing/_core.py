"""The in-process state of a fake server and the handler plumbing shared by all routes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web

from ._auth import AuthRegistry, Token
from ._config import FakeConfig
from ._faults import FaultInjector
from ._gen_school import generate_school
from ._http import ApiError, bad_request, not_found
from ._opspec import OpInfo
from ._ratelimit import RateLimiter
from ._stats import Stats
from ._store import ACADEMIC_YEARS, School
from ._util import Rec


class Core:
    """Data, tokens, limits, faults and stats of one fake server."""

    def __init__(self, cfg: FakeConfig) -> None:
        self.cfg = cfg
        self.schools: dict[int, School] = {sid: generate_school(cfg, sid) for sid in cfg.school_ids}
        self.auth = AuthRegistry(cfg)
        self.limiter = RateLimiter(cfg.rate_limit, cfg.rate_window, cfg.time_scale,
                                   retry_after=cfg.retry_after_header)
        self.faults = FaultInjector(cfg.seed)
        self.stats = Stats()
        self.base_url = ""
        self.closing = asyncio.Event()  # set on close: ends injected delays at once

    def school(self, school_id: int) -> School:
        try:
            return self.schools[school_id]
        except KeyError:
            raise KeyError(f"unknown school {school_id}; known: {list(self.schools)}") from None


@dataclass
class Listing:
    """A list answer: filtered records, how to render one, and the delta collection."""

    records: Sequence[Rec]
    render: Callable[[Rec], Any]
    collection: str | None = None


@dataclass
class Body:
    payload: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Result = Listing | Body | web.StreamResponse


@dataclass
class Ctx:
    core: Core
    request: web.Request
    op: OpInfo
    version: str
    token: Token | None
    params: dict[str, Any]
    body: bytes = b""
    #: The stored records this request looked up by id (a single-record answer
    #: carries validators derived from them).
    found: list[Rec] = field(default_factory=list)

    @property
    def school(self) -> School:
        if self.token is None or self.token.school_id is None:
            raise ApiError(401, "invalid_token", "a school access token is required")
        return self.core.school(self.token.school_id)

    def path_int(self, name: str = "id") -> int:
        raw = self.request.match_info.get(name, "")
        try:
            return int(raw)
        except ValueError:
            raise not_found() from None

    def find(self, collection: str, name: str = "id") -> Rec:
        rec = self.school.get(collection, self.path_int(name))
        if rec is None:
            raise not_found()
        self.found.append(rec)
        return rec

    def flag(self, name: str) -> bool:
        return self.params.get(name) is True

    @property
    def day(self) -> date:
        """The ``date`` parameter, or the school's today."""
        d = self.params.get("date")
        return d if isinstance(d, date) else self.school.today

    def when(self) -> date | Rec:
        """A day, or the academic year named by ``academic_year_id``."""
        if "academic_year_id" in self.params:
            year = self.school.get(ACADEMIC_YEARS, self.params["academic_year_id"])
            if year is None:
                return {"start_date": "0001-01-01", "end_date": "0001-01-01"}
            return year
        return self.day

    def date_range(self) -> tuple[date | None, date | None]:
        lo, hi = self.params.get("start_date"), self.params.get("end_date")
        if "date" in self.params:
            lo = hi = self.params["date"]
        if lo is not None and hi is not None and lo > hi:
            raise bad_request("start_date must not be after end_date")
        return lo, hi


Handler = Callable[[Ctx], Result]
HANDLERS: dict[str, Handler] = {}


def op(operation_id: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[operation_id] = fn
        return fn

    return register
