"""The engine with a sink that shares its database with the sync state: each job's
records and watermark commit in one transaction (PostgreSQL, and SQLite when sink
and state are one file)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from assembly_async import AssemblyClient, SQLiteSyncState, sync_key
from assembly_async._sync.engine import SyncEngine
from assembly_async.cli._demo import fake_client
from assembly_async.sinks import PostgresSink, SQLiteSink
from assembly_async.testing import FakeAssembly

SIZES: dict[str, Any] = {
    "students_per_school": 40, "staff_per_school": 6, "teaching_groups_per_year": 1,
    "registration_groups_per_year": 1, "attendance_days": 1, "calendar_events": 1,
    "rooms": 1, "results_per_student": 0,
}
RESOURCES = ("students", "staff_members")


@pytest.fixture
async def fake() -> AsyncIterator[FakeAssembly]:
    async with FakeAssembly(schools=4, **SIZES) as f:
        yield f


@pytest.fixture
async def client(fake: FakeAssembly) -> AsyncIterator[AssemblyClient]:
    c = await fake_client(fake)
    async with c:
        yield c


Opener = Callable[[], Any]


@pytest.fixture(params=["postgres", "sqlite"])
def open_target(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """An async context manager factory yielding (sink, state) sharing one database."""
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")

        @asynccontextmanager
        async def pg() -> AsyncIterator[tuple[Any, Any]]:
            async with PostgresSink(dsn) as sink:
                yield sink, sink.sync_state()

        return pg

    @asynccontextmanager
    async def lite() -> AsyncIterator[tuple[Any, Any]]:
        path = tmp_path / "one.db"
        async with SQLiteSink(path) as sink, SQLiteSyncState(path) as state:
            yield sink, state

    return lite


def key(sid: int, resource: str) -> str:
    return sync_key(sid, {"students": "getStudents", "staff_members": "getStaffMembers"}[resource],
                    {})


async def stored(sink: Any, fake: FakeAssembly) -> dict[tuple[int, str], set[Any]]:
    return {(sid, r): await sink.ids(r, sid) for sid in fake.school_ids for r in RESOURCES}


def expected(fake: FakeAssembly) -> dict[tuple[int, str], set[Any]]:
    return {(sid, r): set(fake.record_ids(sid, r)) for sid in fake.school_ids for r in RESOURCES}


async def test_full_then_incremental(fake: FakeAssembly, client: AssemblyClient,
                                     open_target: Opener) -> None:
    async with open_target() as (sink, state):
        engine = SyncEngine(client, sink, state, resources=RESOURCES, concurrency=3)
        first = await engine.run(fake.school_ids)
        assert first.ok, first.schools
        assert await stored(sink, fake) == expected(fake)
        for sid in fake.school_ids:
            for r in RESOURCES:
                assert await state.get(key(sid, r)) is not None
        second = await engine.run(fake.school_ids)
        assert second.ok and second.records == 0
        changed = fake.change(1, "students", count=3)
        before = {i: await sink.get("students", 1, i) for i in changed}
        fake.add(2, "students", count=2)
        left = fake.leave(3, "students", count=2)
        third = await engine.run(fake.school_ids)
        assert third.ok and third.schools[3].removals == len(left)
        assert third.schools[1].resources["students"].records >= len(changed)
        assert await stored(sink, fake) == expected(fake)
        for i in changed:  # the changed records were rewritten
            assert await sink.get("students", 1, i) != before[i]


async def test_failed_job_commits_nothing(fake: FakeAssembly, client: AssemblyClient,
                                          open_target: Opener) -> None:
    async with open_target() as (sink, state):
        # The first school's students fail on their second request (page 1 passes).
        fake.faults.script("/students", ["pass", "400"])
        engine = SyncEngine(client, sink, state, resources=("students",), concurrency=1,
                            params={"students": {"per_page": 10}})  # 4 pages a school
        report = await engine.run(fake.school_ids)
        assert report.failed == [fake.school_ids[0]]
        first = fake.school_ids[0]
        assert report.schools[first].resources["students"].records == 10  # page 1 was written
        assert await sink.ids("students", first) == set()  # nothing half-committed
        assert await state.get(key(first, "students")) is None
        for sid in fake.school_ids[1:]:
            assert await sink.ids("students", sid) == set(fake.record_ids(sid, "students"))
        again = await engine.run([first])  # a rerun completes the data
        assert again.ok
        assert await sink.ids("students", first) == set(fake.record_ids(first, "students"))
        assert await state.get(key(first, "students")) is not None


async def test_cancelled_run_commits_nothing_and_leaks_nothing(
        fake: FakeAssembly, client: AssemblyClient, open_target: Opener) -> None:
    async with open_target() as (sink, state):
        # Every school's second page hangs long enough for the run to be cancelled.
        for _ in fake.school_ids:
            fake.faults.script("/students", ["pass", "delay:30"])
        engine = SyncEngine(client, sink, state, resources=("students",), concurrency=4,
                            params={"students": {"per_page": 10}})
        written = asyncio.Event()

        def progress(event: Any) -> None:
            if event.records:
                written.set()

        engine.on_progress = progress
        task = asyncio.create_task(engine.run(fake.school_ids))
        await asyncio.wait_for(written.wait(), 30)  # a first page is in a transaction
        engine.cancel()
        report = await asyncio.wait_for(task, 30)
        assert report.cancelled
        for sid in fake.school_ids:
            assert await sink.ids("students", sid) == set()
            assert await state.get(key(sid, "students")) is None
        if isinstance(sink, PostgresSink):
            pool = sink.pool()
            assert pool.get_size() - pool.get_idle_size() == 0  # every connection came back
        fake.faults.clear()
        again = await engine.run(fake.school_ids)
        assert again.ok, [r.error for s in again.schools.values() for r in s.resources.values()]
        assert await stored(sink, fake) == {k: v for k, v in expected(fake).items()
                                            if k[1] == "students"} | {
            (sid, "staff_members"): set() for sid in fake.school_ids}


async def test_job_writer_seam(tmp_path: Path) -> None:
    """The engine's seam: transactional only when the sink's database holds the state;
    a rollback that fails is logged, never raised over the job's own outcome."""
    from assembly_async import MemorySyncState
    from assembly_async._sync.jobs import open_job
    from assembly_async.sinks import MemorySink

    memory = await open_job(MemorySink(), MemorySyncState(), 1, "students")
    assert not memory.transactional and memory.can_list
    path = tmp_path / "one.db"
    async with SQLiteSink(path) as sink, SQLiteSyncState(tmp_path / "other.db") as elsewhere:
        plain = await open_job(sink, elsewhere, 1, "students")
        assert not plain.transactional and plain.state is elsewhere
        async with SQLiteSyncState(path) as same:
            job = await open_job(sink, same, 1, "students")
            assert job.transactional and job.state is not same
            await job.write([{"id": 1}])
            await sink.close()  # the rollback will fail: the connection is gone
            await job.close()


async def test_pool_smaller_than_concurrency(fake: FakeAssembly, client: AssemblyClient,
                                             pg_dsn: str) -> None:
    """One connection for four concurrent jobs: they take turns, none deadlocks."""
    async with PostgresSink(pg_dsn, pool_size=1) as sink:
        engine = SyncEngine(client, sink, sink.sync_state(), resources=RESOURCES,
                            concurrency=4, per_school=2)
        report = await asyncio.wait_for(engine.run(fake.school_ids), 60)
        assert report.ok
        assert await stored(sink, fake) == expected(fake)


async def test_job_streams_pages_without_holding_them(pg_dsn: str) -> None:
    """A job's memory does not grow with its size: pages go into the transaction
    as they come (20 pages peak no higher than 5 pages, give or take)."""
    import sys
    import tracemalloc

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from _records import students

    async def peak_for(sid: int, pages: int) -> int:
        job = await sink.begin_job(sid, "students", sink.sync_state())
        assert job is not None
        await job.write(students(10, seed=99, first_id=10**6))  # connect before measuring
        tracemalloc.start()
        try:
            for page in range(pages):
                await job.write(students(500, seed=page, first_id=page * 500 + 1))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await job.commit("k", None)
        assert await sink.count("students", sid) == pages * 500 + 10
        return peak

    async with PostgresSink(pg_dsn) as sink:
        small = await peak_for(1, 5)
        large = await peak_for(2, 20)  # four times the data: about 22 MB of JSON
    assert large < small * 1.5, (small, large)
