"""Fault injection: scripted kinds, matching rules, random error rates."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import aiohttp
import pytest

from assembly_async.testing import Fault

if TYPE_CHECKING:
    from fake_helpers import Api


async def test_scripted_statuses_then_normal(api: Api) -> None:
    api.fake.faults.script("/students", ["503", "503"])
    r1, r2, r3 = [await api.get("/students") for _ in range(3)]
    assert (r1.status, r2.status, r3.status) == (503, 503, 200)
    assert r1.body == {"error": "service_unavailable", "message": "Service unavailable"}
    assert api.fake.faults.pending() == 0
    assert [e.fault for e in api.fake.request_log] == ["503", "503", None]


async def test_status_kinds_have_documented_bodies(api: Api) -> None:
    api.fake.faults.script("/school", [429, "status:401", 500, "pass", 404,
                                       {"kind": "status", "status": 418, "body": {"x": 1}}])
    bodies = [await api.get("/school") for _ in range(6)]
    assert [b.status for b in bodies] == [429, 401, 500, 200, 404, 418]
    assert bodies[0].body["error"] == "too many requests"
    assert set(bodies[0].body["data"]) == {"count", "period", "limit"}
    assert bodies[1].body["error"] == "invalid_token"
    assert bodies[4].body == {"error": "not_found", "message": "not found"}
    assert bodies[5].body == {"x": 1}


async def test_reset_mid_body(api: Api) -> None:
    api.fake.faults.script("/students", ["reset"])
    with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ClientConnectionError)):
        await api.get("/students")
    assert (await api.get("/students")).status == 200


async def test_delay(api: Api) -> None:
    api.fake.faults.script("/school", ["delay:0.3"])
    started = time.monotonic()
    r = await api.get("/school")
    assert r.status == 200 and time.monotonic() - started >= 0.29


async def test_truncated_json(api: Api) -> None:
    api.fake.faults.script("/students", ["truncated"])
    r = await api.get("/students")
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.body is None  # the helper could not decode it
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.raw)
    assert len(r.raw) == int(r.headers["Content-Length"])


async def test_html_pages(api: Api) -> None:
    api.fake.faults.script("/students", ["html502", "wrong_content_type"])
    r1 = await api.get("/students")
    assert r1.status == 502 and r1.headers["Content-Type"].startswith("text/html")
    assert b"nginx" in r1.raw
    r2 = await api.get("/students")
    assert r2.status == 200 and r2.headers["Content-Type"].startswith("text/html")


async def test_matching_rules(api: Api) -> None:
    faults = api.fake.faults
    faults.script("/students/*", ["500"])                    # glob
    faults.script("/teaching", ["502"], match="prefix")      # prefix
    faults.script("/results", ["503"], method="POST")        # method filter
    assert (await api.get("/students")).status == 200      # glob needs a subpath
    sid = api.fake.record_ids(api.school_id, "students")[0]
    assert (await api.get(f"/students/{sid}")).status == 500
    assert (await api.get("/teaching_groups")).status == 502
    assert (await api.get("/results")).status == 200
    assert (await api.call("POST", "/results", json={})).status == 503
    assert faults.pending() == 0 and len(faults.injected) == 3


async def test_faults_on_token_endpoint(api: Api) -> None:
    api.fake.faults.script("/oauth/token", ["503"])
    async with api.session.post(str(api.fake.token_url)) as r:
        assert r.status == 503


async def test_random_errors_are_seeded(api: Api) -> None:
    api.fake.faults.random_errors(0.5, path="/school", seed=7)
    statuses = [(await api.get("/school")).status for _ in range(30)]
    failures = [s for s in statuses if s != 200]
    assert 5 < len(failures) < 25 and set(failures) <= {500, 502, 503, 504}
    api.fake.faults.clear()
    api.fake.faults.random_errors(0.5, path="/school", seed=7)
    assert [(await api.get("/school")).status for _ in range(30)] == statuses
    api.fake.faults.clear()
    api.fake.faults.random_errors(1.0, kinds=["html502"])   # global
    assert (await api.get("/subjects")).status == 502


def test_fault_parsing() -> None:
    assert Fault.parse("delay:2.5") == Fault("delay", seconds=2.5)
    assert Fault.parse(503) == Fault("status", status=503)
    assert Fault.parse("ok").kind == "pass"
    with pytest.raises(ValueError):
        Fault.parse("explode")
