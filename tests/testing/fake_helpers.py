"""Helpers shared by the fake-server tests (imported by conftest and tests)."""

from __future__ import annotations

import base64
import json as jsonlib
from dataclasses import dataclass
from typing import Any

import aiohttp

from assembly_async.testing import ACCEPT_V1, ACCEPT_V1_1, FakeAssembly

SMALL: dict[str, Any] = {
    "schools": 2,
    "students_per_school": 30,
    "left_students_per_school": 2,
    "staff_per_school": 8,
    "left_staff_per_school": 1,
    "teaching_groups_per_year": 2,
    "registration_groups_per_year": 1,
    "attendance_days": 2,
    "calendar_events": 5,
    "rooms": 3,
    "results_per_student": 1,
}


def basic(login: str, password: str) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    raw = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@dataclass
class Reply:
    status: int
    headers: Any
    body: Any
    raw: bytes


class Api:
    """Calls the fake with the right Accept header and a bearer token."""

    def __init__(self, session: aiohttp.ClientSession, fake: FakeAssembly) -> None:
        self.session = session
        self.fake = fake
        self.school_id = fake.school_ids[0]
        self.token = fake.school_token(self.school_id).access_token

    async def call(self, method: str, path: str, *, token: str | bool | None = True,
                   version: str | None = "1.1", params: Any = None, json: Any = None,
                   data: Any = None, headers: dict[str, str] | None = None,
                   allow_redirects: bool = True) -> Reply:
        hdrs: dict[str, str] = {}
        if version is not None:
            hdrs["Accept"] = ACCEPT_V1 if version == "1" else (
                ACCEPT_V1_1 if version == "1.1" else version)
        tok = self.token if token is True else token
        if tok:
            hdrs["Authorization"] = f"Bearer {tok}"
        hdrs.update(headers or {})
        url = str(self.fake.url) + path
        async with self.session.request(method, url, params=params, json=json, data=data,
                                        headers=hdrs, allow_redirects=allow_redirects) as r:
            raw = await r.read()
            body: Any = None
            if raw and r.content_type == "application/json":
                try:
                    body = jsonlib.loads(raw)
                except ValueError:
                    body = None  # e.g. a truncated body (fault injection)
            return Reply(r.status, r.headers, body, raw)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def walk(self, path: str, per_page: int, version: str = "1.1",
                   params: dict[str, str] | None = None) -> list[Any]:
        """All items of a list, following Next-Page / next_page."""
        out: list[Any] = []
        page: int | None = 1
        while page is not None:
            r = await self.get(path, version=version,
                               params={**(params or {}), "page": str(page),
                                       "per_page": str(per_page)})
            assert r.status == 200, r.body
            if version == "1":
                out += r.body["data"]
                page = r.body["next_page"]
            else:
                out += r.body
                page = int(r.headers["Next-Page"]) if r.headers["Next-Page"] else None
        return out
