"""Observability (log, counts, concurrency) and the HTTP control API."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fake_helpers import Api


async def test_request_log_and_counts(api: Api) -> None:
    fake = api.fake
    await api.get("/students", params={"per_page": "5"})
    await api.get("/students/1")
    await api.get("/school", token=None)
    log = fake.request_log
    assert [(e.method, e.path, e.status) for e in log] == [
        ("GET", "/students", 200), ("GET", "/students/1", 404), ("GET", "/school", 401)]
    assert log[0].query == "per_page=5" and log[0].time <= log[1].time
    tid = fake.token_id(api.token)
    assert log[0].token_id == tid and log[2].token_id is None
    assert fake.stats.requests_by_token[tid] == 2
    assert api.token not in repr(log) and api.token not in repr(fake.stats.summary())
    assert fake.stats.requests(path="/students") == log[:1]
    pair = fake.school_token(api.school_id)
    async with api.session.post(str(fake.token_url), params={
            "grant_type": "refresh_token", "refresh_token": pair.refresh_token}) as r:
        assert r.status == 401  # no client credentials
    assert fake.request_log[-1].query == "grant_type=refresh_token&refresh_token=%2A%2A%2A"
    assert pair.refresh_token not in repr(fake.request_log)
    fake.reset_stats()
    assert fake.request_log == [] and fake.stats.requests_by_token == {}


async def test_peak_concurrency(api: Api) -> None:
    fake = api.fake
    fake.faults.script("/school", ["delay:0.2"] * 4)
    other = fake.school_token(fake.school_ids[1]).access_token
    await asyncio.gather(*(api.get("/school") for _ in range(3)), api.get("/school", token=other))
    assert fake.stats.peak_in_flight == 4
    assert fake.stats.peak_in_flight_by_token[fake.token_id(api.token)] == 3
    assert fake.stats.peak_in_flight_by_token[fake.token_id(other)] == 1
    assert fake.stats.in_flight == 0


async def control(api: Api, command: str, **kwargs: Any) -> tuple[int, Any]:
    async with api.session.post(f"{api.fake.url}/_control/{command}", json=kwargs) as r:
        return r.status, await r.json()


async def test_http_control_api(api: Api) -> None:
    fake, sid = api.fake, api.school_id
    async with api.session.get(f"{fake.url}/_control/info") as r:
        info = await r.json()
    assert info["api_url"] == str(fake.api_url) and info["client_id"] == fake.client_id
    assert info["schools"][0]["access_token"] == fake.school_token(sid).access_token
    first = await api.get("/students")
    status, out = await control(api, "change", school_id=sid, resource="students", count=2)
    assert status == 200 and len(out["ids"]) == 2
    delta = await api.get("/students",
                          headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert sorted(s["id"] for s in delta.body) == sorted(out["ids"])
    status, out = await control(api, "add", school_id=sid, resource="staff_members")
    assert status == 200 and out["ids"][0] in fake.record_ids(sid, "staff_members")
    status, out = await control(api, "leave", school_id=sid, count=1)
    assert status == 200 and out["ids"][0] in fake.left_ids(sid)
    assert (await control(api, "advance_clock", seconds=5))[0] == 200
    status, out = await control(api, "issue_code", school_id=sid)
    assert status == 200 and out["code"].startswith("code_")
    status, out = await control(api, "issue_school_token", school_id=sid, scopes=["school"])
    assert status == 200 and "school" in out["scopes"]
    assert (await control(api, "faults/script", path="/school", steps=["503"]))[0] == 200
    assert (await api.get("/school")).status == 503
    assert (await control(api, "faults/random", rate=1.0, path="/subjects"))[0] == 200
    assert (await api.get("/subjects")).status in (500, 502, 503, 504)
    assert (await control(api, "faults/clear"))[0] == 200
    assert (await api.get("/subjects")).status == 200
    async with api.session.get(f"{fake.url}/_control/stats") as r:
        stats = await r.json()
    assert stats["requests"] == 5 and stats["faults_injected"] == 2
    async with api.session.get(f"{fake.url}/_control/log", params={"limit": "2"}) as r:
        log = await r.json()
    assert [e["path"] for e in log] == ["/subjects", "/subjects"]
    assert (await control(api, "expire_access_tokens", school_id=sid))[1]["expired"] >= 1
    assert (await api.get("/school")).status == 401
    assert (await control(api, "revoke_school", school_id=sid))[0] == 200
    assert (await control(api, "reset_stats"))[0] == 200
    assert (await control(api, "set_rate_limit", limit=1))[0] == 200
    status, out = await control(api, "nope")
    assert status == 404 and "change" in out["commands"]
    status, out = await control(api, "change", school_id=999)
    assert status == 400 and out["error"] == "bad_control_request"
    status, out = await control(api, "change", school_id=sid, resource="nonsense")
    assert status == 400
