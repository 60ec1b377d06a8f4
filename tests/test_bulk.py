"""SyncEngine / sync_many against the fake server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from assembly_async import AssemblyClient, MemorySyncState, SinkError
from assembly_async._sync.engine import ProgressEvent, SyncEngine, sync_many
from assembly_async.cli._demo import fake_client
from assembly_async.sinks import (
    JSONLinesSink,
    MemorySink,
    SQLiteSink,
    has_usable_id,
    record_json,
)
from assembly_async.testing import FakeAssembly

SIZES: dict[str, Any] = {
    "students_per_school": 30,
    "staff_per_school": 6,
    "teaching_groups_per_year": 1,
    "registration_groups_per_year": 1,
    "attendance_days": 1,
    "calendar_events": 2,
    "rooms": 2,
    "results_per_student": 1,
}
RESOURCES = ("students", "staff_members")


@pytest.fixture
async def fake() -> AsyncIterator[FakeAssembly]:
    async with FakeAssembly(schools=5, **SIZES) as f:
        yield f


@pytest.fixture
async def client(fake: FakeAssembly) -> AsyncIterator[AssemblyClient]:
    c = await fake_client(fake)
    async with c:
        yield c


def expected(fake: FakeAssembly) -> dict[str, set[tuple[int, int]]]:
    return {r: {(sid, i) for sid in fake.school_ids for i in fake.record_ids(sid, r)}
            for r in RESOURCES}


def stored(sink: MemorySink) -> dict[str, set[tuple[int, Any]]]:
    return {r: set(sink.data.get(r, {})) for r in RESOURCES}


async def test_all_records_land_once(fake: FakeAssembly, client: AssemblyClient) -> None:
    sink = MemorySink()
    events: list[ProgressEvent] = []
    report = await sync_many(client, fake.school_ids, RESOURCES, sink, MemorySyncState(),
                             concurrency=3, on_progress=events.append)
    assert report.ok and not report.cancelled
    want = expected(fake)
    assert stored(sink) == want
    assert sink.writes == sum(len(v) for v in want.values())  # each record written exactly once
    assert sink.opened and sink.closed
    for sid, school in report.schools.items():
        assert school.records == len(fake.record_ids(sid, "students")) + len(
            fake.record_ids(sid, "staff_members"))
        assert school.requests >= 2 and school.not_modified == 0 and not school.errors
        assert all(r.full for r in school.resources.values())
        assert school.elapsed > 0
    assert {r.school_id for r in sink.runs} == set(fake.school_ids)
    finals = [e for e in events if e.final]
    assert len(finals) == len(fake.school_ids) * len(RESOURCES)


async def test_second_run_is_incremental(fake: FakeAssembly, client: AssemblyClient) -> None:
    sink = MemorySink()
    engine = SyncEngine(client, sink, resources=RESOURCES)  # engine keeps its own state
    first = await engine.run(fake.school_ids)
    assert first.ok
    before = fake.stats.not_modified
    second = await engine.run(fake.school_ids)
    assert second.ok and second.records == 0
    # Every HTTP 304 the fake sent is counted (the list and its `left` endpoint).
    assert second.not_modified == fake.stats.not_modified - before
    assert second.not_modified >= len(fake.school_ids) * len(RESOURCES)
    assert second.requests == second.not_modified
    assert all(r.state == "not_modified" for s in second.schools.values()
               for r in s.resources.values())

    changed = fake.change(1, "students", count=3)
    added = fake.add(2, "students", count=2)
    left = fake.leave(3, "students", count=2)
    before = sink.writes
    third = await engine.run(fake.school_ids)
    assert third.ok
    assert stored(sink) == expected(fake)
    assert not any((3, i) in sink.data["students"] for i in left)
    assert (3, left[0]) in sink.removed["students"]
    assert third.schools[1].resources["students"].records >= len(changed)
    assert third.schools[2].resources["students"].records >= len(added)
    assert third.schools[3].removals == len(left)
    # A delta, not a full sync: far fewer writes than the first run.
    assert sink.writes - before < first.records // 4
    untouched = third.schools[5]  # 304 for both lists and both `left` endpoints
    assert untouched.not_modified == untouched.requests == 4
    assert all(r.state == "not_modified" for r in untouched.resources.values())


async def test_revoked_school_reported_others_finish(fake: FakeAssembly,
                                                     client: AssemblyClient) -> None:
    fake.revoke_school(2)
    sink = MemorySink()
    report = await sync_many(client, fake.school_ids, RESOURCES, sink, MemorySyncState(),
                             concurrency=2)
    assert report.failed == [2]
    bad = report.schools[2]
    assert bad.revoked and bad.errors
    assert "SchoolAuthRevoked" in bad.errors[0] or "TokenUnavailable" in bad.errors[0]
    assert bad.resources["staff_members"].state == "skipped"
    for sid in fake.school_ids:
        if sid != 2:
            assert report.schools[sid].ok
            assert sink.count("students", sid) == len(fake.record_ids(sid, "students"))
    assert sink.count("students", 2) == 0
    run = {r.school_id: r for r in sink.runs}[2]
    assert not run.ok and run.error


class BlockingSink(MemorySink):
    """Writes of ``blocked`` schools wait until ``gate`` is set."""

    def __init__(self, blocked: set[int]) -> None:
        super().__init__()
        self.blocked = blocked
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def write(self, school_id: int, resource: str, records: list[dict[str, Any]]) -> None:
        if school_id in self.blocked:
            self.waiting.set()
            await self.gate.wait()
        await super().write(school_id, resource, records)


def _server_side(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and "web_protocol" in code.co_filename  # the fake's keep-alive


def _other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks()
            if t is not asyncio.current_task() and not _server_side(t)}


async def test_engine_cancel_leaves_no_tasks_and_no_watermark(
        fake: FakeAssembly, client: AssemblyClient) -> None:
    tasks_before = _other_tasks()
    sink = BlockingSink({1})
    state = MemorySyncState()
    engine = SyncEngine(client, sink, state, resources=RESOURCES, concurrency=2)
    run = asyncio.create_task(engine.run(fake.school_ids))
    await asyncio.wait_for(sink.waiting.wait(), 10)
    # let the other worker get through some schools
    for _ in range(200):
        await asyncio.sleep(0.01)
        if len(state) >= 2:
            break
    engine.cancel()
    report = await asyncio.wait_for(run, 10)
    assert report.cancelled and not report.ok
    assert report.schools[1].resources["students"].state == "cancelled"
    committed = len(state)
    finished = sum(1 for s in report.schools.values() for r in s.resources.values()
                   if r.state in ("done", "not_modified"))
    assert committed == finished  # a watermark exactly for each finished job
    assert all(r.state != "queued" for s in report.schools.values()
               for r in s.resources.values())
    await asyncio.sleep(0)
    assert _other_tasks() - tasks_before == set()
    # The cancelled school starts from scratch next time: a full sync.
    sink.blocked.clear()
    again = await engine.run(fake.school_ids)
    assert again.ok
    assert again.schools[1].resources["students"].full is True
    assert stored(sink) == expected(fake)


async def test_outer_cancellation_propagates(fake: FakeAssembly, client: AssemblyClient) -> None:
    tasks_before = _other_tasks()
    sink = BlockingSink(set(fake.school_ids))
    state = MemorySyncState()
    run = asyncio.create_task(SyncEngine(client, sink, state, resources=RESOURCES).run(
        fake.school_ids))
    await asyncio.wait_for(sink.waiting.wait(), 10)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert len(state) == 0
    await asyncio.sleep(0)
    assert _other_tasks() - tasks_before == set()


async def test_fairness_slow_school_does_not_starve_others(
        fake: FakeAssembly, client: AssemblyClient) -> None:
    sink = BlockingSink({1})
    running: dict[int, int] = {}
    peak_per_school = 0
    order: list[int] = []

    def progress(ev: ProgressEvent) -> None:
        nonlocal peak_per_school
        if ev.state == "running" and ev.records == 0:
            running[ev.school_id] = running.get(ev.school_id, 0) + 1
            peak_per_school = max(peak_per_school, running[ev.school_id])
            order.append(ev.school_id)
        elif ev.final:
            running[ev.school_id] -= 1

    engine = SyncEngine(client, sink, MemorySyncState(), resources=RESOURCES, concurrency=2,
                        on_progress=progress)
    async def watch() -> None:
        # School 1 stays blocked until every other school finished: if the slow
        # school starved the others, the run would time out.
        while True:
            await asyncio.sleep(0.01)
            done = {sid for sid in fake.school_ids if sid != 1
                    and sum(1 for r in RESOURCES if sink.count(r, sid)) == len(RESOURCES)}
            if done == set(fake.school_ids) - {1}:
                sink.gate.set()
                return

    watcher = asyncio.create_task(watch())
    report = await asyncio.wait_for(engine.run(fake.school_ids), 20)
    await watcher
    assert report.ok
    assert peak_per_school == 1  # one job per school at a time
    assert set(order) == set(fake.school_ids)  # every school progressed
    assert stored(sink) == expected(fake)


async def test_sqlite_sink_end_to_end(fake: FakeAssembly, client: AssemblyClient,
                                      tmp_path: Any) -> None:
    sink = SQLiteSink(tmp_path / "out.db")
    state = MemorySyncState()
    report = await sync_many(client, fake.school_ids, RESOURCES, sink, state)
    assert report.ok
    async with sink:
        for sid in fake.school_ids:
            assert await sink.ids("students", sid) == set(fake.record_ids(sid, "students"))
        runs = await sink.last_runs()
    assert set(runs) == set(fake.school_ids)


async def test_bad_arguments(client: AssemblyClient) -> None:
    from assembly_async import ConfigurationError

    with pytest.raises(ConfigurationError):
        SyncEngine(client, MemorySink(), resources="students")
    with pytest.raises(ConfigurationError):
        SyncEngine(client, MemorySink(), resources=["Students; DROP"])
    with pytest.raises(ConfigurationError):
        SyncEngine(client, MemorySink(), resources=["students"], concurrency=0)
    report = await SyncEngine(client, MemorySink(), resources=["no_such_resource"]).run([1])
    assert report.failed == [1]
    assert "no conditional list" in report.schools[1].errors[0]


@pytest.mark.parametrize("kind", ["memory", "sqlite", "jsonl"])
async def test_a_full_resync_removes_what_the_school_no_longer_lists(
    fake: FakeAssembly, client: AssemblyClient, tmp_path: Any, kind: str
) -> None:
    from assembly_async.sinks import JSONLinesSink

    sink: Any = {"memory": MemorySink(), "sqlite": SQLiteSink(tmp_path / "s.db"),
                 "jsonl": JSONLinesSink(tmp_path / "out")}[kind]
    await sink.open()
    try:
        report = await SyncEngine(client, sink, MemorySyncState(), resources=RESOURCES).run(
            fake.school_ids)
        assert report.ok
        gone = fake.leave(1, "students", count=3)
        # The sync state is lost (a new process, a deleted file): the next sync is
        # a full one, which never asks the `left` endpoint.
        again = await SyncEngine(client, sink, MemorySyncState(), resources=RESOURCES).run(
            fake.school_ids)
        assert again.ok and again.schools[1].removals == 3
        for sid in fake.school_ids:
            for resource in RESOURCES:
                assert await sink.ids(resource, sid) == set(fake.record_ids(sid, resource))
        assert not set(gone) & await sink.ids("students", 1)
    finally:
        await sink.close()


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    top = node
    for _ in range(depth - 1):
        node["a"] = {}
        node = node["a"]
    return top


@pytest.mark.parametrize("depth", [300, 900])
async def test_a_record_nested_deeper_than_orjson_writes_is_stored_as_sent(
        fake: FakeAssembly, client: AssemblyClient, tmp_path: Path, depth: int) -> None:
    """orjson writes 255 levels, the API's JSON may nest deeper (the decoder reads
    1024): the sinks still store the record exactly as sent, and the job succeeds."""
    sid = fake.school_ids[0]
    victim = fake.record_ids(sid, "students")[0]
    fake.record(sid, "students", victim)["mis_extra"] = _nested(depth)  # test-only mutation
    sqlite = SQLiteSink(tmp_path / f"{depth}.db")
    jsonl = JSONLinesSink(tmp_path / f"j{depth}")
    for sink in (sqlite, jsonl):
        report = await sync_many(client, [sid], ["students"], sink, MemorySyncState())
        assert report.ok, report.schools[sid].errors
    async with SQLiteSink(tmp_path / f"{depth}.db") as reopened:
        stored = await reopened.get("students", sid, victim)
    assert stored is not None and stored["mis_extra"] == _nested(depth)
    lines = [orjson.loads(line) for line in jsonl.path("students").read_bytes().splitlines()]
    assert [line["record"]["mis_extra"] for line in lines
            if line["id"] == victim] == [_nested(depth)]


def test_record_json_falls_back_then_fails_typed() -> None:
    deep = {"id": 7, "x": _nested(300)}
    assert orjson.loads(record_json(deep)) == deep
    with pytest.raises(SinkError) as caught:
        record_json({"id": 7, "x": _nested(5000)})
    assert "7" in str(caught.value) and "'a'" not in str(caught.value)


@pytest.mark.parametrize(("record", "usable"), [
    ({"id": 1}, True), ({"id": "ab"}, True), ({"id": None}, False), ({}, False),
    ({"id": {"x": 1}}, False), ({"id": [1]}, False), ({"id": True}, False), ([1], False),
])
def test_has_usable_id(record: Any, usable: bool) -> None:
    assert has_usable_id(record) is usable
