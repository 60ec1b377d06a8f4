"""Concurrent pagination, raw pages, incremental sync and the GET cache, over loopback."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from _mini_server import MiniAssembly

import assembly_async as aa
from assembly_async import CHANGE_OPERATIONS, MemorySyncState, Snapshot, sync_key
from assembly_async._client.pagination import PageWalker
from assembly_async._core.errors import ServerError
from assembly_async._core.responses import Validators
from assembly_async._sync.sqlite_state import SQLiteSyncState
from assembly_async.models import Room, Student

SCHOOL = 7


async def _open(fake: MiniAssembly, version: str = "1.1") -> aa.AssemblyClient:
    return aa.AssemblyClient(api_url=fake.url, api_version=version)


@pytest.fixture(params=["1.1", "1"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def big() -> AsyncIterator[MiniAssembly]:
    async with MiniAssembly(students=4000) as fake:
        yield fake


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries (when the pipeline has them) without sleeping."""
    try:
        import assembly_async._http.retry as retry_mod
    except ImportError:  # pragma: no cover - before retries landed
        return
    monkeypatch.setattr(retry_mod, "backoff", lambda attempt: 0.0)


#: Enough 500s on one page to outlast any retry policy.
FAIL = [500] * 10


def _tasks() -> set[asyncio.Task[Any]]:
    """Client-side tasks (the loopback server's connection handlers share the loop)."""
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()
            and not getattr(t.get_coro(), "__qualname__", "").startswith("RequestHandler")}


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# -- concurrent walking ------------------------------------------------------------------

async def test_every_record_once_in_order_with_ceil_requests(big: MiniAssembly,
                                                             version: str) -> None:
    async with await _open(big, version) as client:
        school = client.school(SCHOOL, access_token="t")
        paginator = school.students.list()
        ids = [s.id async for s in paginator]
    assert ids == list(range(1, 4001))
    assert paginator.requests == math.ceil(4000 / 1500) == len(big.log)
    assert {r["per_page"] for r in big.log} == {1500}


async def test_window_bounds_requests_in_flight(version: str) -> None:
    async with MiniAssembly(students=1050) as fake:
        fake.delay = 0.01
        async with await _open(fake, version) as client:
            paginator = client.school(SCHOOL, access_token="t").students.list(per_page=50)
            paginator.concurrent(3)
            records = await paginator.all()
    assert [s.id for s in records] == list(range(1, 1051))
    assert len(fake.log) == 21 and sorted(r["page"] for r in fake.log) == list(range(1, 22))
    assert fake.peak == 3


async def test_unknown_total_prefetches_and_stops(version: str) -> None:
    async with MiniAssembly(students=1050, totals=False) as fake:
        async with await _open(fake, version) as client:
            paginator = client.school(SCHOOL, access_token="t").students.list(per_page=100)
            ids = [s.id async for s in paginator]
    assert ids == list(range(1, 1051))
    # 11 pages of data; at most one window of speculative pages past the end.
    assert 11 <= len(fake.log) <= 11 + paginator.concurrency


async def test_break_leaves_no_task_behind(big: MiniAssembly) -> None:
    big.delay = 0.05
    async with await _open(big) as client:
        before = _tasks()
        paginator = client.school(SCHOOL, access_token="t").students.list(per_page=10)
        async for student in paginator:
            if student.id == 15:
                break
        await _settle()
        assert _tasks() == before
        pages = paginator.pages()
        async with pages:
            async for _page in pages:
                break
        assert _tasks() == before


async def test_cancelling_the_consumer_cancels_fetches(big: MiniAssembly) -> None:
    big.delay = 0.05
    async with await _open(big) as client:
        before = _tasks()
        seen: list[int] = []

        async def consume() -> None:
            async for s in client.school(SCHOOL, access_token="t").students.list(per_page=10):
                seen.append(s.id)  # type: ignore[arg-type]

        task = asyncio.create_task(consume())
        while len(seen) < 25:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _settle()
        assert _tasks() == before
        assert seen == list(range(1, len(seen) + 1))


async def test_transient_faults_still_give_every_record_once(
        big: MiniAssembly, no_backoff: None) -> None:
    big.faults[("/students", 2)] = [500]
    big.faults[("/students", 5)] = [502, 503]
    async with await _open(big) as client:
        ids = [s.id async for s in client.school(SCHOOL, access_token="t").students.list(
            per_page=500)]
    assert ids == list(range(1, 4001))
    assert len(big.log) == 8 + 3


async def test_fault_on_page_two_propagates_and_cleans_up(
        big: MiniAssembly, no_backoff: None) -> None:
    big.faults[("/students", 2)] = list(FAIL)
    async with await _open(big) as client:
        before = _tasks()
        seen: list[int] = []
        with pytest.raises(ServerError):
            async for s in client.school(SCHOOL, access_token="t").students.list(per_page=500):
                seen.append(s.id)  # type: ignore[arg-type]
        await _settle()
        assert _tasks() == before
    assert seen == list(range(1, 501))


async def test_raw_pages(big: MiniAssembly, version: str) -> None:
    async with await _open(big, version) as client:
        paginator = client.school(SCHOOL, access_token="t").students.list()
        pages = [p async for p in paginator.raw_pages()]
    assert [len(p) for p in pages] == [1500, 1500, 1000]
    assert all(type(r) is dict for p in pages for r in p)
    assert [r["id"] for p in pages for r in p] == list(range(1, 4001))


async def test_walker_rejects_bad_concurrency() -> None:
    async def fetch(n: int) -> Any:
        raise AssertionError

    with pytest.raises(ValueError):
        PageWalker(lambda: fetch(1), fetch, concurrency=0)


# -- incremental sync --------------------------------------------------------------------

async def test_full_then_unchanged_then_delta(big: MiniAssembly, version: str) -> None:
    state = MemorySyncState()
    async with await _open(big, version) as client:
        school = client.school(SCHOOL, access_token="t")
        delta = school.changes("students", state=state, demographics=True)
        async with delta:
            ids = [s.id async for s in delta]
        assert delta.full and not delta.not_modified and delta.left_ids == []
        assert ids == list(range(1, 4001)) and delta.requests == 3
        key = sync_key(SCHOOL, "getStudents", {"demographics": True})
        assert await state.get(key) == Validators(last_modified=big.log[0] and
                                                  "Mon, 02 Sep 2024 08:00:00 GMT",
                                                  etag='"students-0"')

        big.log.clear()
        again = school.changes("students", state=state, demographics=True)
        async with again:
            assert [s async for s in again] == []
        assert again.not_modified and not again.full
        # the list answers 304; the left endpoint is asked too (students/staff only)
        assert again.requests == 2 and len(big.log) == 2
        assert big.log[0]["ims"] == "Mon, 02 Sep 2024 08:00:00 GMT"

        big.change(10, 3000)
        big.add(4001)
        big.leave(20)
        big.log.clear()
        delta3 = school.changes("students", state=state, demographics=True)
        async with delta3:
            got = {s.id: s for s in [s async for s in delta3]}
        assert sorted(got) == [10, 3000, 4001]
        assert got[10].first_name == "S10*" and got[4001].first_name == "S4001+"
        assert delta3.left_ids == [20] and delta3.requests == 2
        assert (await state.get(key)).last_modified == "Mon, 02 Sep 2024 08:03:00 GMT"  # type: ignore[union-attr]


async def test_leavers_sent_with_ids_as_text_are_not_lost() -> None:
    """A leaver's id as digits in a string is read as the models read ids (a
    record ``"id": "15"`` is student 15): dropping it would keep the leaver in
    the sink for ever. Values that are not ids are skipped."""
    import orjson
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    watermark = "Mon, 02 Sep 2024 08:00:00 GMT"

    async def students(request: web.Request) -> web.Response:
        assert request.headers.get("If-Modified-Since") == watermark
        return web.Response(status=304)

    async def left(request: web.Request) -> web.Response:
        body = [{"id": "15"}, {"id": 16}, {"id": " 17 "}, {"id": "x"}, {"id": True}, {}]
        return web.Response(body=orjson.dumps(body), content_type="application/json",
                            headers={"Total": "6"})

    app = web.Application()
    app.router.add_get("/students", students)
    app.router.add_get("/students/left", left)
    state = MemorySyncState()
    async with TestServer(app, host="127.0.0.1") as server:
        url = str(server.make_url("")).rstrip("/")
        async with aa.AssemblyClient(api_url=url, rate_limit=None, retries=0) as client:
            school = client.school(SCHOOL, access_token="t")
            await state.set(sync_key(SCHOOL, "getStudents", {}),
                            Validators(last_modified=watermark))
            delta = school.students.changes(state=state)
            async with delta:
                assert [s async for s in delta] == []
            assert delta.not_modified and delta.left_ids == [15, 16, 17]


async def test_watermark_untouched_when_sync_fails_midway(
        big: MiniAssembly, no_backoff: None) -> None:
    state = MemorySyncState()
    async with await _open(big) as client:
        school = client.school(SCHOOL, access_token="t")
        async with school.changes("students", state=state) as first:  # type: ignore[attr-defined]
            async for _ in first:
                pass
        key = sync_key(SCHOOL, "getStudents", {})
        mark = await state.get(key)
        big.change(*range(1, 2001))  # a 2-page delta
        big.faults[("/students", 2)] = list(FAIL)
        delta = school.changes("students", state=state)
        with pytest.raises(ServerError):
            async with delta:
                async for _ in delta:
                    pass
        assert await state.get(key) == mark
        big.faults.clear()
        # early stop: not consumed, so not committed either
        partial = school.changes("students", state=state)
        async with partial:
            async for _ in partial:
                break
        assert await state.get(key) == mark
        # the retry sees the whole delta again: nothing was lost
        retry = school.changes("students", state=state)
        async with retry:
            ids = [s.id async for s in retry]
        assert ids == list(range(1, 2001))
        assert await state.get(key) != mark


async def test_changes_made_during_the_walk_come_back_next_time(big: MiniAssembly) -> None:
    state = MemorySyncState()
    async with await _open(big) as client:
        school = client.school(SCHOOL, access_token="t")
        delta = school.changes("students", state=state, concurrency=1)
        async with delta:
            async for s in delta:
                if s.id == 1:
                    big.change(2)  # after page 1 was served
        again = school.changes("students", state=state)
        async with again:
            assert [s.id async for s in again] == [2]


async def test_delta_raw_pages_and_other_resources(version: str) -> None:
    async with MiniAssembly(students=3, rooms=4) as fake:
        async with await _open(fake, version) as client:
            school = client.school(SCHOOL, access_token="t")
            state = MemorySyncState()
            delta = school.changes("rooms", state=state)
            async with delta:
                pages = [p async for p in delta.raw_pages()]
            assert pages == [[{"object": "room", "id": i, "name": f"R{i}"} for i in range(1, 5)]]
            again = school.changes("rooms", state=state)
            async with again:
                assert [r async for r in again] == []
            assert again.not_modified and again.requests == 1 and again.left_ids == []
            with pytest.raises(aa.ConfigurationError):
                school.changes("subjects")
            with pytest.raises(aa.ConfigurationError):
                school.changes("students", students="x")  # wrong type: fails at the call site
            rooms = [r async for r in school.changes("rooms")]
            assert all(isinstance(r, Room) for r in rooms)


async def test_snapshot_applies_changes_and_removals(big: MiniAssembly) -> None:
    async with await _open(big) as client:
        snap: Snapshot[Student] = Snapshot(client.school(SCHOOL, access_token="t"), "students")
        await snap.refresh()
        assert len(snap) == 4000
        big.change(5)
        big.add(5000)
        big.leave(6, 7)
        delta = await snap.refresh()
        assert delta.requests == 2
        assert len(snap) == 3999 and 6 not in snap.records and 5000 in snap.records
        assert snap.records[5].first_name == "S5*"
        assert sorted(s.id for s in snap.values()) == sorted(  # type: ignore[type-var]
            big.coll["students"])


async def test_sqlite_state_persists_across_reopen(big: MiniAssembly, tmp_path: Path) -> None:
    path = tmp_path / "sync.db"
    async with await _open(big) as client:
        school = client.school(SCHOOL, access_token="t")
        async with SQLiteSyncState(path) as state:
            async with school.changes("students", state=state) as delta:  # type: ignore[attr-defined]
                n = len([s async for s in delta])
            assert n == 4000
            assert len(await state.keys()) == 1
        big.log.clear()
        async with SQLiteSyncState(path) as state:
            async with school.changes("students", state=state) as delta:  # type: ignore[attr-defined]
                assert [s async for s in delta] == []
            assert delta.not_modified and not delta.full
            await state.delete(sync_key(SCHOOL, "getStudents", {}))
            assert await state.keys() == []


def test_sync_key_is_normalised() -> None:
    a = sync_key(1, "getStudents", {"students": [3, 1, 3], "year_code": "7", "date": None})
    b = sync_key(1, "getStudents", {"year_code": "7", "students": (1, 3)})
    assert a == b
    assert a != sync_key(1, "getStudents", {"year_code": "8", "students": (1, 3)})
    assert a != sync_key(2, "getStudents", {"year_code": "7", "students": (1, 3)})
    assert "students" in CHANGE_OPERATIONS and "teaching_groups.students" in CHANGE_OPERATIONS


# -- single-resource GET cache ---------------------------------------------------------

async def test_get_revalidates_with_cached_body() -> None:
    async with MiniAssembly(students=3) as fake:
        async with await _open(fake) as client:
            school = client.school(SCHOOL, access_token="t")
            first = await school.students.get(2)
            second = await school.students.get(2)
            assert first == second and isinstance(second, Student)
            assert [r["inm"] for r in fake.log] == [None, '"s2-0"']
            assert [r["status"] for r in fake.log] == [200, 304]
            fake.change(2)
            third = await school.students.get(2)
            assert third.first_name == "S2*" and fake.log[-1]["status"] == 200
            assert client._core.get_cache.hits == 1
