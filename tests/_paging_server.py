"""A hostile list server on 127.0.0.1: paging facts and bodies that lie on purpose.

``/students`` serves ``records`` students (ids 1..records) in pages, in API
version 1.1 (bare array + headers) or 1 (envelope) by the Accept header, with
each paging fact and the body bent by a :class:`Scenario`: ``Next-Page``
pointing back or never ending, ``Total-Pages`` growing, ``Page`` stuck at 1,
no headers at all, a page size silently capped or 1500 refused, pages that
repeat, run dry or never end. ``/students/left`` answers an empty list.

Used by the property and anomaly tests and by ``tools/paging_anomalies.py``.
:class:`HostileAssembly` runs in the caller's loop; :class:`ThreadedHostile`
runs it in a thread of its own, for hypothesis tests that call
``asyncio.run`` once per example.
"""

from __future__ import annotations

import asyncio
import math
import threading
from dataclasses import dataclass, replace
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

FACT_MODES: dict[str, tuple[str, ...]] = {
    "total": ("ok", "absent", "low", "high", "grow"),
    "total_pages": ("ok", "absent", "from_request", "grow", "one"),
    "per_page": ("ok", "absent", "requested"),
    "next_page": ("ok", "absent", "empty", "same", "back", "forever", "cycle"),
    "page": ("ok", "absent", "stuck"),
}
BODY_MODES = ("ok", "stuck", "repeat_previous", "overlap", "dry_after_2", "endless",
              "blank", "grow_front")


@dataclass(frozen=True)
class Scenario:
    """How the server bends the truth. ``records`` is the truth."""

    records: int = 500
    cap: int | None = None  # silently serve at most this many a page
    refuse_above: int | None = None  # 400 when per_page is above this
    default_per_page: int = 100
    headers: bool = True  # False: no paging facts at all
    total: str = "ok"
    total_pages: str = "ok"
    per_page: str = "ok"
    next_page: str = "ok"
    page: str = "ok"
    body: str = "ok"

    def but(self, **changes: Any) -> Scenario:
        return replace(self, **changes)

    @property
    def truthful_total(self) -> bool:
        """Every stated total is the real one (the body may still misbehave)."""
        return self.total in ("ok", "absent") or not self.headers


def student(i: int) -> dict[str, Any]:
    return {"object": "student", "id": i, "first_name": f"S{i}", "year_code": "7"}


class HostileAssembly:
    """The server; ``scenario`` may be replaced between walks."""

    def __init__(self, scenario: Scenario | None = None, *, max_requests: int = 10_000) -> None:
        self.scenario = scenario or Scenario()
        self.max_requests = max_requests
        #: (page, per_page asked) of this epoch's requests.
        self.log: list[tuple[int, int | None]] = []
        self.server: TestServer | None = None
        # Each reset starts an epoch with its own URL prefix, so a request of an
        # earlier walk still in the server's hands never counts for the next one.
        self.epoch = 0

    @property
    def url(self) -> str:
        """The API URL of the current epoch."""
        assert self.server is not None
        return f"{str(self.server.make_url('')).rstrip('/')}/e{self.epoch}"

    @property
    def requests(self) -> int:
        return len(self.log)

    def reset(self, scenario: Scenario | None = None) -> None:
        if scenario is not None:
            self.scenario = scenario
        self.epoch += 1
        self.log = []

    async def __aenter__(self) -> HostileAssembly:
        app = web.Application()
        app.router.add_get("/e{epoch}/students/left", self._left)
        app.router.add_get("/e{epoch}/students", self._students)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        await self.server.close()

    async def _left(self, request: web.Request) -> web.Response:
        return web.Response(body=b"[]", content_type="application/json",
                            headers={"Total": "0", "Total-Pages": "0", "Page": "1",
                                     "Next-Page": ""})

    async def _students(self, request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        asked = int(request.query["per_page"]) if "per_page" in request.query else None
        if request.match_info["epoch"] != str(self.epoch):
            return web.json_response({"error": "gone", "message": "old epoch"}, status=410)
        self.log.append((page, asked))
        if len(self.log) > self.max_requests:
            return web.json_response({"error": "gone", "message": "request limit"}, status=410)
        version = "1" if request.headers.get("Accept", "").endswith("version=1") else "1.1"
        sc = self.scenario
        if sc.refuse_above is not None and asked is not None and asked > sc.refuse_above:
            return web.json_response(
                {"error": "invalid_request",
                 "message": f"per_page must be at most {sc.refuse_above}"}, status=400)
        size = asked or sc.default_per_page
        if sc.cap is not None:
            size = min(size, sc.cap)
        records, body_total = self._body(page, size)
        facts = self._facts(page, size, asked or sc.default_per_page, body_total)
        if version == "1":
            envelope: dict[str, Any] = {"object": "list", "data": records}
            names = {"page": "current_page", "total": "total_count",
                     "total_pages": "total_pages", "next_page": "next_page",
                     "prev_page": "prev_page"}
            for fact, key in names.items():
                if fact in facts:
                    envelope[key] = facts[fact]
            return web.Response(body=orjson.dumps(envelope), content_type="application/json")
        headers = {}
        names = {"page": "Page", "per_page": "Per-Page", "total": "Total",
                 "total_pages": "Total-Pages", "next_page": "Next-Page",
                 "prev_page": "Prev-Page"}
        for fact, header in names.items():
            if fact in facts:
                value = facts[fact]
                headers[header] = "" if value is None else str(value)
        body = b"" if sc.body == "blank" else orjson.dumps(records)
        return web.Response(body=body, content_type="application/json", headers=headers)

    def _body(self, page: int, size: int) -> tuple[list[dict[str, Any]], int]:
        """The page's records and the true size of the list right now."""
        sc, n = self.scenario, self.scenario.records
        ids = list(range(1, n + 1))
        start = (page - 1) * size
        mode = sc.body
        if mode == "grow_front" and page > 1:
            ids = [n + 1, *ids]  # a record inserted at the front after page 1
        if mode == "blank":
            return [], n
        if mode == "stuck":
            start = 0
        elif mode == "repeat_previous" and page > 1:
            start = (page - 2) * size
        elif mode == "overlap" and page > 1:
            start -= 1
        elif mode == "dry_after_2" and page > 2:
            return [], n
        elif mode == "endless":
            return [student(i) for i in range(start + 1, start + size + 1)], n
        return [student(i) for i in ids[start:start + size]], len(ids)

    def _facts(self, page: int, size: int, asked: int, n: int) -> dict[str, int | None]:
        sc = self.scenario
        if not sc.headers:
            return {}
        pages = math.ceil(n / size) if n else 0
        out: dict[str, int | None] = {}
        total = {"ok": n, "low": max(0, n - size // 2 - 1), "high": n + size,
                 "grow": n + page}.get(sc.total)
        if total is not None:
            out["total"] = total
        tp = {"ok": pages, "from_request": math.ceil(n / asked) if n else 0,
              "grow": pages + page, "one": 1}.get(sc.total_pages)
        if tp is not None:
            out["total_pages"] = tp
        per = {"ok": size, "requested": asked}.get(sc.per_page)
        if per is not None:
            out["per_page"] = per
        if sc.next_page != "absent":
            out["next_page"] = {
                "ok": page + 1 if page < pages else None, "empty": None, "same": page,
                "back": page - 1 or None, "forever": page + 1, "cycle": page % 3 + 1,
            }[sc.next_page]
        if sc.page != "absent":
            out["page"] = 1 if sc.page == "stuck" else page
        out["prev_page"] = page - 1 or None
        return out


class ThreadedHostile:
    """A :class:`HostileAssembly` served from a thread with its own event loop."""

    def __init__(self) -> None:
        self.hostile = HostileAssembly()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> HostileAssembly:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.hostile.__aenter__(), self._loop).result(10)
        return self.hostile

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.hostile.__aexit__(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
