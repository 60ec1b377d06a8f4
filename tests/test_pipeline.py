"""The pipeline over real loopback HTTP: budgets, retries, options, observability.

A tiny aiohttp server of our own (precise fault scripts) serves most tests; the
shipped fake server (``assembly_async.testing.FakeAssembly``) serves the
end-to-end ones.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections import Counter, deque
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

import assembly_async as aa
from assembly_async._core.requests import Request
from assembly_async._http import retry as _retry
from assembly_async._http.events import Event, Hooks

TOKEN_A = "tok-A-SECRET-aaaaaaaa"
TOKEN_B = "tok-B-SECRET-bbbbbbbb"
SCHOOL = {"object": "school", "name": "Loopback High", "urn": "100001"}
N_STUDENTS = 230


def _student(i: int) -> dict[str, Any]:
    return {"object": "student", "id": i, "first_name": f"S{i}", "year_code": "7"}


class Loopback:
    """A programmable API on 127.0.0.1.

    ``script[(method, path)]`` holds actions for the next matching requests:
    ``"reset"`` (drop the connection after the request arrived), a status such
    as ``"503"``, ``"429:<period>"``, ``"html502"``, ``"truncated"``,
    ``"sleep:<s>"``, ``"401"`` (invalid_token) or ``"ok"``. ``error_rate``
    answers that fraction of GETs with a random 5xx. ``limit``/``window`` is a
    fixed window per token, like the real API.
    """

    def __init__(self) -> None:
        self.script: dict[tuple[str, str], deque[str]] = {}
        self.hits: Counter[tuple[str, str]] = Counter()
        self.tokens: list[str] = []
        self.accepts: list[str] = []
        self.error_rate = 0.0
        self.rng = random.Random(7)
        self.limit = 0
        self.window = 1.0
        self.windows: dict[str, list[float]] = {}
        self.too_many = 0
        self.valid_tokens: set[str] | None = None
        self.url = ""
        self.runner: web.AppRunner | None = None

    def add(self, method: str, path: str, *actions: str) -> None:
        self.script.setdefault((method, path), deque()).extend(actions)

    async def start(self, port: int = 0) -> Loopback:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        bound = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{bound}"
        return self

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _rate(self, token: str) -> web.Response | None:
        if not self.limit:
            return None
        now = time.monotonic()
        w = self.windows.get(token)
        if w is None or now - w[0] >= self.window:
            w = self.windows[token] = [now, 0]
        w[1] += 1
        if w[1] > self.limit:
            self.too_many += 1
            return self._429(w[0] + self.window - now)
        return None

    @staticmethod
    def _429(period: float) -> web.Response:
        return web.json_response({"error": "too many requests",
                                  "data": {"count": 601, "period": round(period, 3),
                                           "limit": 600}}, status=429)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        key = (request.method, request.path)
        self.hits[key] += 1
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.tokens.append(token)
        self.accepts.append(request.headers.get("Accept", ""))
        limited = self._rate(token)
        if limited is not None:
            return limited
        queue = self.script.get(key)
        action = queue.popleft() if queue else "ok"
        if action == "ok" and request.method == "GET" and self.rng.random() < self.error_rate:
            action = self.rng.choice(["500", "502", "503", "504"])
        if action.startswith("sleep:"):
            await asyncio.sleep(float(action.split(":")[1]))
            action = "ok"
        if action == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if action.startswith("429"):
            return self._429(float(action.split(":")[1]) if ":" in action else 1.0)
        if action == "html502":
            return web.Response(status=502, text="<html><h1>502 Bad Gateway</h1></html>",
                                content_type="text/html")
        if action == "401" or (self.valid_tokens is not None
                               and token not in self.valid_tokens):
            return web.json_response({"error": "invalid_token"}, status=401)
        if action.isdigit():
            return web.json_response({"error": "boom", "message": "injected"},
                                     status=int(action))
        body = self.body(request)
        if action == "truncated":
            return web.Response(body=body[: len(body) // 2], content_type="application/json")
        if action == "wrong_content_type":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        if request.path == "/students":
            return self.students(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=body, content_type="application/json",
                            headers={"ETag": '"v1"'})

    def body(self, request: web.Request) -> bytes:
        if request.path == "/students":
            return orjson.dumps([_student(i) for i in range(1, 40)])
        if request.path == "/school/sync":
            return b'{"object": "sync", "status": "queued"}'
        return orjson.dumps(SCHOOL)

    def students(self, request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("per_page", "100"))
        pages = -(-N_STUDENTS // per_page)
        items = [_student(i) for i in range((page - 1) * per_page + 1,
                                             min(page * per_page, N_STUDENTS) + 1)]
        headers = {"Page": str(page), "Per-Page": str(per_page), "Total": str(N_STUDENTS),
                   "Total-Pages": str(pages), "Next-Page": str(page + 1) if page < pages else "",
                   "Prev-Page": str(page - 1) if page > 1 else ""}
        return web.Response(body=orjson.dumps(items), content_type="application/json",
                            headers=headers)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "backoff", lambda attempt: 0.0)


@pytest.fixture
async def server() -> AsyncIterator[Loopback]:
    srv = await Loopback().start()
    yield srv
    await srv.close()


@pytest.fixture
async def client(server: Loopback) -> AsyncIterator[aa.AssemblyClient]:
    async with aa.AssemblyClient(api_url=server.url) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- rate budget


async def test_a_sync_never_exceeds_the_budget(server: Loopback) -> None:
    server.limit, server.window = 5, 0.3
    async with aa.AssemblyClient(api_url=server.url, rate_limit=5, rate_window=0.3) as client:
        school = client.school(1, access_token=TOKEN_A)
        t0 = time.monotonic()
        results = await asyncio.gather(*(school.details.get() for _ in range(16)))
        elapsed = time.monotonic() - t0
        stats = client.stats(1)
    assert all(r.name == "Loopback High" for r in results)
    assert server.too_many == 0 and stats.rate_limited == 0
    assert elapsed >= 0.9  # 16 requests at 5 per 0.3 s: three waits
    assert stats.requests == 16 and stats.statuses == {200: 16}
    assert stats.rate_limit_waits >= 3 and stats.waited > 0


async def test_remaining_budget_is_readable_at_run_time(server: Loopback) -> None:
    async with aa.AssemblyClient(api_url=server.url, rate_limit=10, rate_window=60) as client:
        assert client.remaining_budget(7) == 10
        await client.school(7, access_token=TOKEN_A).details.get()
        assert client.remaining_budget(7) == 9 and client.remaining_budget(8) == 10
    async with aa.AssemblyClient(api_url=server.url, rate_limit=None) as client:
        assert client.remaining_budget(7) is None


async def test_a_429_pauses_only_that_school(server: Loopback) -> None:
    server.add("GET", "/school", "429:0.5")
    waits: list[Event] = []
    hooks = Hooks(on_rate_limit_wait=waits.append)
    async with aa.AssemblyClient(api_url=server.url, hooks=hooks) as client:
        a = client.school(1, access_token=TOKEN_A)
        b = client.school(2, access_token=TOKEN_B)
        t0 = time.monotonic()
        task_a = asyncio.create_task(a.details.get())
        await asyncio.sleep(0.1)  # school 1 got its 429 and is paused now
        assert client.remaining_budget(1) == 0
        for _ in range(5):
            await b.details.get()
        b_done = time.monotonic() - t0
        result = await task_a
        a_done = time.monotonic() - t0
        stats_a, stats_b = client.stats(1), client.stats(2)
    assert result.name == "Loopback High"
    assert b_done < 0.4 <= 0.45 <= a_done
    assert stats_a.rate_limited == 1 and stats_a.statuses == {429: 1, 200: 1}
    assert stats_a.retries == 1 and stats_b.rate_limited == 0 and stats_b.rate_limit_waits == 0
    assert [(e.school_id, e.status) for e in waits] == [(1, 429)]
    assert waits[0].wait is not None and waits[0].wait >= 0.3


# ------------------------------------------------------------------- retries


async def test_gets_recover_from_random_5xx_with_every_record_once(server: Loopback) -> None:
    server.error_rate = 0.05
    async with aa.AssemblyClient(api_url=server.url, retries=5) as client:
        school = client.school(1, access_token=TOKEN_A)
        seen: list[int] = []
        for _ in range(6):
            seen.extend([s.id async for s in school.students.list(per_page=10)])
        stats = client.stats(1)
    assert sorted(seen) == sorted(list(range(1, N_STUDENTS + 1)) * 6)
    failures = sum(n for status, n in stats.statuses.items() if status >= 500)
    assert failures > 0 and stats.retries == failures  # faults really happened


@pytest.mark.parametrize("fault", ["503", "html502", "truncated", "wrong_content_type",
                                   "reset", "500", "504"])
async def test_a_get_recovers_from_one_fault(
    server: Loopback, client: aa.AssemblyClient, fault: str
) -> None:
    server.add("GET", "/school", fault)
    school = await client.school(1, access_token=TOKEN_A).details.get()
    assert school.urn == "100001" and server.hits["GET", "/school"] == 2
    # aiohttp itself replays an idempotent request once when a pooled connection drops.
    assert client.stats(1).retries == (0 if fault == "reset" else 1)


@pytest.mark.parametrize("fault", ["reset", "503", "504", "html502", "truncated"])
async def test_a_post_is_never_sent_twice(
    server: Loopback, client: aa.AssemblyClient, fault: str
) -> None:
    server.add("POST", "/school/sync", fault)
    with pytest.raises(aa.AssemblyError) as info:
        await client.school(1, access_token=TOKEN_A).details.request_sync()
    assert server.hits["POST", "/school/sync"] == 1
    assert info.value.attempts == 1 and client.stats(1).retries == 0


async def test_a_post_is_retried_when_the_connection_was_refused() -> None:
    port = _free_port()
    started: list[Loopback] = []

    async def start_server(event: Event) -> None:  # nothing listens until the first retry
        if not started:
            started.append(await Loopback().start(port))

    hooks = Hooks(on_retry=start_server)
    try:
        async with aa.AssemblyClient(api_url=f"http://127.0.0.1:{port}", hooks=hooks) as client:
            await client.school(1, access_token=TOKEN_A).details.request_sync()
            stats = client.stats(1)
        assert started[0].hits["POST", "/school/sync"] == 1
        assert stats.errors == {"ConnectionFailed": 1} and stats.retries == 1
    finally:
        for srv in started:
            await srv.close()


async def test_retry_writes_opts_into_retrying_a_post(
    server: Loopback, client: aa.AssemblyClient
) -> None:
    server.add("POST", "/school/sync", "503", "reset")
    await client.school(1, access_token=TOKEN_A).details.request_sync(
        options=aa.CallOptions(retry_writes=True))
    assert server.hits["POST", "/school/sync"] == 3


async def test_max_attempts_then_the_last_typed_error_with_its_history(
    server: Loopback
) -> None:
    server.add("GET", "/school", "truncated", "html502", "503", "503", "503")
    async with aa.AssemblyClient(api_url=server.url, retries=3) as client:
        with pytest.raises(aa.ServerError) as info:
            await client.school(1, access_token=TOKEN_A).details.get()
    err = info.value
    assert server.hits["GET", "/school"] == 4 and err.status == 503 and err.attempts == 4
    assert [type(e).__name__ for e in err.retry_history] == [
        "DecodeError", "ServerError", "ServerError"]
    assert "502 Bad Gateway" in err.retry_history[1].text  # type: ignore[attr-defined]


async def test_the_deadline_bounds_the_whole_call(server: Loopback) -> None:
    server.add("GET", "/school", *["sleep:0.3"] * 10)
    async with aa.AssemblyClient(api_url=server.url, retries=10, deadline=0.5) as client:
        t0 = time.monotonic()
        with pytest.raises(aa.RequestTimeout) as info:
            await client.school(1, access_token=TOKEN_A).details.get(
                options=aa.CallOptions(timeout=0.2))
        elapsed = time.monotonic() - t0
    assert 0.45 <= elapsed < 0.9
    assert info.value.attempts >= 2  # 0.2 s, 0.2 s, then what is left of 0.5 s


async def test_the_deadline_stops_a_long_backoff(
    server: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_retry, "backoff", lambda attempt: 10.0)
    server.add("GET", "/school", "503", "503")
    async with aa.AssemblyClient(api_url=server.url, deadline=2.0) as client:
        t0 = time.monotonic()
        with pytest.raises(aa.ServerError):
            await client.school(1, access_token=TOKEN_A).details.get()
    assert time.monotonic() - t0 < 1.0 and server.hits["GET", "/school"] == 1


# --------------------------------------------------------------- call options


async def test_per_call_options(server: Loopback, client: aa.AssemblyClient) -> None:
    school = client.school(1, access_token=TOKEN_A)
    server.add("GET", "/school", "503")
    with pytest.raises(aa.ServerError):
        await school.details.get(options=aa.CallOptions(retries=0))
    assert server.hits["GET", "/school"] == 1

    server.add("GET", "/school", "sleep:0.5")
    with pytest.raises(aa.RequestTimeout):
        await school.details.get(options=aa.CallOptions(timeout=0.1, retries=0))

    await school.details.get(options=aa.CallOptions(api_version="1"))
    assert server.accepts[-1].endswith("version=1")
    await school.details.get()
    assert server.accepts[-1].endswith("version=1.1")


# ------------------------------------------------------------ observability


class RefreshingProvider:
    def __init__(self) -> None:
        self.token = TOKEN_A

    async def access_token(self) -> str:
        return self.token

    async def token_rejected(self, token: str) -> bool:
        self.token = TOKEN_B
        return True


async def test_hooks_see_every_step_and_a_refresh_is_not_a_retry(server: Loopback) -> None:
    server.valid_tokens = {TOKEN_B}
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    async with aa.AssemblyClient(api_url=server.url, retries=0,
                                 hooks=Hooks(on_event=record)) as client:
        school = client.school(3, token_provider=RefreshingProvider())
        await school.details.get()
        stats = client.stats(3)
    assert [(e.kind, e.attempt, e.status) for e in events] == [
        ("request", 1, None), ("response", 1, 401), ("refresh", 1, 401),
        ("request", 1, None), ("response", 1, 200)]
    assert all(e.school_id == 3 and e.operation_id == "findSchool" for e in events)
    assert stats.refreshes == 1 and stats.retries == 0 and stats.statuses == {401: 1, 200: 1}


async def test_not_modified_event(server: Loopback, client: aa.AssemblyClient) -> None:
    seen: list[Event] = []
    client._core.pipeline.hooks = Hooks(on_not_modified=seen.append)
    request = Request("GET", client.config.api_url.with_path("/school"),
                      {"Accept": "application/vnd.assembly+json; version=1.1",
                       "If-None-Match": '"v1"'}, operation_id="findSchool")
    resp = await client._core.pipeline.send(
        request, auth=aa.StaticToken(TOKEN_A), timeouts=client.config.timeouts,
        accept_not_modified=True, school_id=5)
    assert resp.status == 304 and [(e.kind, e.school_id) for e in seen] == [("not_modified", 5)]


async def test_a_failing_listener_never_breaks_a_request(
    server: Loopback, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    async with aa.AssemblyClient(api_url=server.url, hooks=Hooks(on_response=broken)) as client:
        with caplog.at_level(logging.ERROR, logger="assembly_async.events"):
            assert (await client.school(1, access_token=TOKEN_A).details.get()).urn == "100001"
    assert "listener bug" in caplog.text


async def test_tokens_never_reach_logs_or_errors(
    server: Loopback, caplog: pytest.LogCaptureFixture
) -> None:
    server.add("GET", "/school", "503", "429:0.05", "reset", "html502", "truncated", "401")
    errors: list[BaseException] = []
    with caplog.at_level(logging.DEBUG, logger="assembly_async"):
        async with aa.AssemblyClient(api_url=server.url, retries=10,
                                     hooks=Hooks(on_retry=lambda e: None)) as client:
            school = client.school(1, access_token=TOKEN_A)
            with pytest.raises(aa.InvalidToken) as info:
                await school.details.get()
            errors.extend([info.value, *info.value.retry_history])
            server.add("POST", "/school/sync", "reset")
            with pytest.raises(aa.ConnectionFailed) as post:
                await school.details.request_sync()
            errors.append(post.value)
    assert len(errors) >= 6  # (aiohttp may absorb the GET reset by replaying it itself)
    text = caplog.text
    assert "GET" in text and "/school" in text and "school=1" in text and "attempt=" in text
    assert "429" in text and "retrying" in text
    for secret in (TOKEN_A, "SECRET"):
        assert secret not in text
        for err in errors:
            assert secret not in str(err) and secret not in repr(vars(err))


# ------------------------------------------------------ end to end, FakeAssembly


async def test_e2e_sync_through_faults_and_a_scaled_budget() -> None:
    from assembly_async import testing

    async with testing.FakeAssembly(schools=2, students_per_school=120, rate_limit=30,
                                    rate_window=300.0, time_scale=1000.0) as fake:
        fake.faults.random_errors(0.05, path="/students", seed=3)
        ids = fake.school_ids
        async with aa.AssemblyClient(api_url=fake.api_url, oauth_url=fake.oauth_url,
                                     rate_limit=30, rate_window=0.3, retries=6) as client:

            async def walk(school_id: int) -> list[int]:
                token = fake.school_token(school_id).access_token
                school = client.school(school_id, access_token=token)
                out: list[int] = []
                for _ in range(3):
                    out.extend([s.id async for s in school.students.list(per_page=5)])
                return out

            results = await asyncio.gather(*(walk(i) for i in ids))
            stats = {i: client.stats(i) for i in ids}
        for school_id, seen in zip(ids, results, strict=True):
            expected = fake.record_ids(school_id)
            assert sorted(seen) == sorted(list(expected) * 3)
            assert stats[school_id].rate_limited == 0  # the budget prevented every 429
        assert sum(s.retries for s in stats.values()) > 0
