"""A tiny conditional-list server on 127.0.0.1 for the pagination/sync tests.

Stands in for ``assembly_async.testing.FakeAssembly`` until that imports:
``/students``, ``/students/left``, ``/rooms``, ``/students/{id}``; v1 envelope
or v1.1 headers by Accept; ``If-Modified-Since`` gives only records modified
after it (or 304); ``If-None-Match`` equal to the current ETag gives 304.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

BASE = dt.datetime(2024, 9, 2, 8, 0, tzinfo=dt.timezone.utc)


def http_date(minute: int) -> str:
    return email.utils.format_datetime(BASE + dt.timedelta(minutes=minute), usegmt=True)


def minute_of(value: str) -> int | None:
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return int((moment - BASE).total_seconds() // 60)


class MiniAssembly:
    def __init__(self, students: int = 10, rooms: int = 5, *, totals: bool = True) -> None:
        self.clock = 0
        self.coll: dict[str, dict[int, tuple[dict[str, Any], int]]] = {
            "students": {}, "left": {}, "rooms": {}}
        for i in range(1, students + 1):
            self.coll["students"][i] = (self._student(i), 0)
        for i in range(1, rooms + 1):
            self.coll["rooms"][i] = ({"object": "room", "id": i, "name": f"R{i}"}, 0)
        self.totals = totals
        self.log: list[dict[str, Any]] = []
        self.faults: dict[tuple[str, int], list[int]] = {}
        self.delay = 0.0
        self.in_flight = 0
        self.peak = 0
        self.server: TestServer | None = None

    @staticmethod
    def _student(i: int, tag: str = "") -> dict[str, Any]:
        return {"object": "student", "id": i, "first_name": f"S{i}{tag}", "year_code": "7",
                "dob": "2012-05-01T00:00:00.000Z"}

    # -- mutations (each advances the clock by one minute) ---------------------------
    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def change(self, *ids: int) -> None:
        now = self.tick()
        for i in ids:
            rec, _ = self.coll["students"][i]
            self.coll["students"][i] = ({**rec, "first_name": rec["first_name"] + "*"}, now)

    def add(self, *ids: int) -> None:
        now = self.tick()
        for i in ids:
            self.coll["students"][i] = (self._student(i, "+"), now)

    def leave(self, *ids: int) -> None:
        now = self.tick()
        for i in ids:
            rec, _ = self.coll["students"].pop(i)
            self.coll["left"][i] = (rec, now)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.log if r["path"] == path]

    # -- HTTP ------------------------------------------------------------------------
    async def __aenter__(self) -> MiniAssembly:
        app = web.Application()
        app.router.add_get("/students/left", self._list("left"))
        app.router.add_get("/students/{id}", self._one)
        app.router.add_get("/students", self._list("students"))
        app.router.add_get("/rooms", self._list("rooms"))
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        await self.server.close()

    def _list(self, name: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                if self.delay:
                    await asyncio.sleep(self.delay)
                return self._answer(request, name)
            finally:
                self.in_flight -= 1
        return handler

    def _answer(self, request: web.Request, name: str) -> web.Response:
        version = "1" if request.headers.get("Accept", "").endswith("version=1") else "1.1"
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("per_page", "100"))
        self.log.append({"path": request.path, "page": page, "per_page": per_page,
                         "ims": request.headers.get("If-Modified-Since"),
                         "inm": request.headers.get("If-None-Match"), "version": version})
        steps = self.faults.get((request.path, page))
        if steps:
            status = steps.pop(0)
            return web.json_response({"error": "boom", "message": "injected"}, status=status)
        coll = self.coll[name]
        newest = max((m for _, m in coll.values()), default=0)
        validators = {"Last-Modified": http_date(self.clock), "ETag": f'"{name}-{newest}"'}
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        since = minute_of(ims) if ims else None
        if inm is not None and inm == validators["ETag"]:
            return web.Response(status=304, headers=validators)
        recs = [rec for _, (rec, m) in sorted(coll.items()) if since is None or m > since]
        if since is not None and not recs:
            return web.Response(status=304, headers=validators)
        total = len(recs)
        pages = max(1, -(-total // per_page))
        chunk = recs[(page - 1) * per_page: page * per_page]
        if version == "1":
            body = {"object": "list", "current_page": page, "data": chunk,
                    "next_page": page + 1 if page < pages else None,
                    "prev_page": page - 1 if page > 1 else None}
            if self.totals:
                body.update(total_count=total, total_pages=pages)
            return web.Response(body=orjson.dumps(body), content_type="application/json",
                                headers=validators)
        headers = {**validators, "Page": str(page), "Per-Page": str(per_page),
                   "Next-Page": str(page + 1) if page < pages else "",
                   "Prev-Page": str(page - 1) if page > 1 else ""}
        if self.totals:
            headers.update({"Total": str(total), "Total-Pages": str(pages)})
        else:
            headers.pop("Next-Page")
        return web.Response(body=orjson.dumps(chunk), content_type="application/json",
                            headers=headers)

    async def _one(self, request: web.Request) -> web.Response:
        sid = int(request.match_info["id"])
        self.log.append({"path": "/students/{id}", "inm": request.headers.get("If-None-Match"),
                         "ims": request.headers.get("If-Modified-Since")})
        rec, m = self.coll["students"][sid]
        etag = f'"s{sid}-{m}"'
        headers = {"ETag": etag, "Last-Modified": http_date(m)}
        if request.headers.get("If-None-Match") == etag:
            self.log[-1]["status"] = 304
            return web.Response(status=304, headers=headers)
        self.log[-1]["status"] = 200
        return web.Response(body=orjson.dumps(rec), content_type="application/json",
                            headers=headers)
