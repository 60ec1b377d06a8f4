"""Walks against a hostile loopback server: every record exactly once, or a typed
error, within the request bound; the page size a server enforces is learned once."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from _paging_anomalies import ANOMALIES, N, walk
from _paging_server import BODY_MODES, FACT_MODES, HostileAssembly, Scenario, ThreadedHostile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assembly_async as aa
from assembly_async._core import paging
from assembly_async._core.paging import UNSTATED_PAGE_LIMIT, page_bound


@pytest.mark.parametrize(("name", "version", "scenario", "expected"), ANOMALIES,
                         ids=[a[0] for a in ANOMALIES])
async def test_each_anomaly_of_the_issue(name: str, version: str, scenario: Scenario,
                                         expected: str) -> None:
    async with HostileAssembly(scenario, max_requests=UNSTATED_PAGE_LIMIT + 10) as server:
        outcome = await walk(server, version)
    assert outcome.kind(N) == expected, outcome.describe(N)
    if outcome.error is not None:
        error = outcome.error
        assert isinstance(error, aa.PagingError)
        assert error.url and "/students?" in error.url and error.page
        assert "received" in error.figures and "pages" in error.figures
    # Never more requests than the pages of the first page's total allow (+1 refused).
    size = min(1500, scenario.cap or 1500, scenario.refuse_above or 1500)
    announced: int | None = max(1, math.ceil(N / size))
    if not scenario.headers or (scenario.total == scenario.total_pages == "absent"):
        announced = None  # nothing stated: the fixed limit for such walks
    assert outcome.requests <= page_bound(announced) + (1 if scenario.refuse_above else 0)


# -- property: any mix of lying facts and bodies, both versions -------------------------

scenarios = st.builds(
    Scenario,
    records=st.integers(0, 150),
    cap=st.none() | st.sampled_from([1, 7, 50, 100]),
    refuse_above=st.none() | st.sampled_from([200, 500]),
    default_per_page=st.just(100),
    headers=st.booleans(),
    total=st.sampled_from(FACT_MODES["total"]),
    total_pages=st.sampled_from(FACT_MODES["total_pages"]),
    per_page=st.sampled_from(FACT_MODES["per_page"]),
    next_page=st.sampled_from(FACT_MODES["next_page"]),
    page=st.sampled_from(FACT_MODES["page"]),
    body=st.sampled_from(BODY_MODES),
)


@pytest.fixture(scope="module")
def threaded() -> Iterator[HostileAssembly]:
    with ThreadedHostile() as server:
        yield server


async def _walk(server: HostileAssembly, version: str, per_page: int | None,
                concurrency: int) -> tuple[list[int], BaseException | None, Any, int]:
    ids: list[int] = []
    error: BaseException | None = None
    async with aa.AssemblyClient(api_url=server.url, api_version=version, retries=0,
                                 rate_limit=None) as client:
        paginator = client.school(1, access_token="t").students.list(per_page=per_page)
        paginator.concurrent(concurrency)
        try:
            async for student in paginator:
                ids.append(student.id)  # type: ignore[arg-type]
        except aa.AssemblyError as exc:
            error = exc
        # every fetch was awaited or cancelled: nothing of the walk is left running
        assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    return ids, error, paginator.last_walk, server.requests


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=scenarios, version=st.sampled_from(["1.1", "1"]),
       per_page=st.none() | st.sampled_from([10, 60]), concurrency=st.integers(1, 3))
def test_every_record_once_or_a_typed_error_within_the_bound(
        threaded: HostileAssembly, scenario: Scenario, version: str, per_page: int | None,
        concurrency: int) -> None:
    threaded.reset(scenario)
    with mock.patch.object(paging, "UNSTATED_PAGE_LIMIT", 40):
        ids, error, summary, requests = asyncio.run(
            _walk(threaded, version, per_page, concurrency))
    n = scenario.records
    refused = scenario.refuse_above is not None and per_page is None
    # At most once, in page order.
    assert ids == sorted(set(ids))
    # A typed error or none (a refused explicit size is the caller's BadRequest).
    assert error is None or isinstance(error, aa.PagingError) or (
        isinstance(error, aa.BadRequest) and scenario.refuse_above is not None)
    # Never beyond the bound the first page allowed (plus the refused 1500)...
    if summary is not None and summary.bound is not None:
        assert requests <= summary.bound + int(refused)
    # ... which is what its true total allows at the page size really served.
    size = min(per_page or 1500, scenario.cap or 1500)
    if scenario.refuse_above is not None and per_page is None:
        size = min(size, 200)
    first_page_true = scenario.body in ("ok", "overlap", "stuck", "repeat_previous",
                                        "dry_after_2", "grow_front")
    if scenario.headers and scenario.total == "ok" and first_page_true:
        assert requests <= page_bound(math.ceil(n / size)) + int(refused)
    elif not scenario.headers:
        assert requests <= 40 + int(refused)  # the (patched) limit when nothing is stated
    if error is not None:
        return
    truth = list(range(1, n + 1))
    if summary.proven and scenario.truthful_total:
        # "Proven complete" is never wrong while the stated total is the truth (a
        # server that lies about its total consistently describes another list).
        assert ids == truth
    honest_body = scenario.body in ("ok", "overlap") or (
        scenario.body == "dry_after_2" and n <= 2 * size) or (
        scenario.body in ("stuck", "repeat_previous") and n <= size)
    if scenario.truthful_total and honest_body:
        assert ids == truth  # a stated or unstated total: every record, or an error
    if scenario.headers and scenario.total == "ok" and scenario.body in (
            "stuck", "repeat_previous", "dry_after_2", "blank") and n > 2 * size:
        pytest.fail(f"a misread walk passed silently: {len(ids)} of {n}")


# -- the page size a server enforces is learned once per client --------------------------

async def test_a_refused_page_size_is_learned_once_per_client() -> None:
    async with HostileAssembly(Scenario(records=450, refuse_above=200)) as server:
        async with aa.AssemblyClient(api_url=server.url, retries=0, rate_limit=None) as client:
            school = client.school(1, access_token="t")
            # five walks at once: one probe pays for the refusal, the others wait for it
            walks = await asyncio.gather(*(school.students.list().all() for _ in range(5)))
            assert all([s.id for s in w] == list(range(1, 451)) for w in walks)
            assert [p for p in server.log if p[1] == 1500] == [(1, 1500)]
            server.log.clear()
            assert len(await school.students.list().all()) == 450
            assert server.log == [(1, 200), (2, 200), (3, 200)]
            assert school.students.list().per_page == 200
            # an explicit per_page is the caller's: sent as is, and refused
            with pytest.raises(aa.BadRequest):
                await school.students.list(per_page=1500).all()
        # a new client learns afresh: no module-level memory
        server.reset()
        async with aa.AssemblyClient(api_url=server.url, retries=0, rate_limit=None) as other:
            assert len(await other.school(1, access_token="t").students.list().all()) == 450
            assert server.log[:2] == [(1, 1500), (1, 200)]


async def test_a_silent_cap_is_learned_from_the_first_page() -> None:
    async with HostileAssembly(Scenario(records=450, cap=100)) as server:
        async with aa.AssemblyClient(api_url=server.url, retries=0, rate_limit=None) as client:
            school = client.school(1, access_token="t")
            assert len(await school.students.list().all()) == 450
            assert {p[1] for p in server.log} == {1500}
            server.log.clear()
            paginator = school.students.list()
            assert len(await paginator.all()) == 450
            assert {p[1] for p in server.log} == {100} and len(server.log) == 5
            assert paginator.last_walk is not None and paginator.last_walk.proven


async def test_a_record_left_out_by_the_decoder_still_counts_as_served() -> None:
    """The page size learned is what the server sent, not what decoded: a first
    page of 4 (the server's cap) holding one record without a usable id teaches
    4, not 3."""
    import orjson
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    records: list[dict[str, Any]] = [{"id": i} for i in range(1, 9)]
    records[1] = {"id": "not-an-id"}
    asked: list[tuple[int, int]] = []

    async def students(request: web.Request) -> web.Response:
        per_page = min(int(request.query.get("per_page", "4")), 4)
        number = int(request.query.get("page", "1"))
        asked.append((number, int(request.query.get("per_page", "0"))))
        chunk = records[(number - 1) * per_page:number * per_page]
        return web.Response(body=orjson.dumps(chunk), content_type="application/json",
                            headers={"Total": str(len(records))})

    app = web.Application()
    app.router.add_get("/students", students)
    async with TestServer(app, host="127.0.0.1") as server:
        url = str(server.make_url("")).rstrip("/")
        async with aa.AssemblyClient(api_url=url, retries=0, rate_limit=None) as client:
            school = client.school(1, access_token="t")
            first = await school.students.list().all()
            assert [s.id for s in first] == [1, 3, 4, 5, 6, 7, 8]
            assert client._core.page_sizes.get((str(client.config.api_url), "getStudents")) == 4
            asked.clear()
            paginator = school.students.list()
            assert [s.id for s in await paginator.all()] == [1, 3, 4, 5, 6, 7, 8]
            assert asked == [(1, 4), (2, 4)]
            page = await school.students.list().page(1)
            assert page.received == 4 and len(page) == 3 and page.has_next


async def test_a_failed_probe_releases_the_waiting_walks() -> None:
    async with HostileAssembly(Scenario(records=10, refuse_above=0)) as server:
        async with aa.AssemblyClient(api_url=server.url, retries=0, rate_limit=None) as client:
            school = client.school(1, access_token="t")
            results = await asyncio.gather(*(school.students.list().all() for _ in range(3)),
                                           return_exceptions=True)
            assert all(isinstance(r, aa.BadRequest) for r in results)
            assert client._core.page_sizes.get((server.url, "getStudents")) is None


# -- a decode error that cannot heal is not fetched again ---------------------------------

@pytest.mark.parametrize(("body", "requests", "transient"), [
    (b'["not a record"]', 1, False),  # well-formed JSON, impossible record: fails at once
    (b'[{"id": 1, "first_na', 4, True),  # cut short: a transient fault, retried
])
async def test_only_decode_errors_that_can_heal_are_retried(
        monkeypatch: pytest.MonkeyPatch, body: bytes, requests: int, transient: bool) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    import assembly_async._http.retry as retry_mod

    monkeypatch.setattr(retry_mod, "backoff", lambda attempt: 0.0)
    hits: list[int] = []

    async def students(request: web.Request) -> web.Response:
        hits.append(1)
        return web.Response(body=body, content_type="application/json",
                            headers={"Total": "1", "Total-Pages": "1"})

    app = web.Application()
    app.router.add_get("/students", students)
    async with TestServer(app, host="127.0.0.1") as server:
        url = str(server.make_url("")).rstrip("/")
        # strict_decode: since issue 12 a record that cannot be decoded is left
        # out of its page (and reported) by default; strict mode raises as before.
        async with aa.AssemblyClient(api_url=url, retries=3, rate_limit=None,
                                     strict_decode=True) as client:
            with pytest.raises(aa.DecodeError) as caught:
                await client.school(1, access_token="t").students.list().all()
        assert caught.value.transient is transient
        assert len(hits) == requests
        if not transient:  # the default: the page comes back without the record, once
            hits.clear()
            async with aa.AssemblyClient(api_url=url, retries=3, rate_limit=None) as client:
                pages = client.school(1, access_token="t").students.list().pages()
                async with pages:
                    [page] = [p async for p in pages]
            assert page.items == [] and page.left_out == 1 and len(hits) == 1
            assert [(p.path, p.kept) for p in page.problems] == [("$", False)]
