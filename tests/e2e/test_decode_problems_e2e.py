"""A record with the documentation's impossible date, through the whole SDK.

The fake with ``oddities=True`` serves ``"start_date": "2015-02-31T00:00:00.000Z"``
(DEV students' own example) on every 50th student, numbers as text and
booleans as 1/0 on others. A walk, a ``get``, a delta and a bulk sync each
keep every record, report the bad value (hooks, log, page, delta, report) and
never show it anywhere but on the problems handed back with the data.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

import assembly_async as aa
from assembly_async.sinks import MemorySink
from assembly_async.testing import FakeAssembly
from assembly_async.testing._oddities import IMPOSSIBLE_DATE
from assembly_async.testing.pytest_plugin import school_token

STUDENTS = 120


@pytest.fixture
async def fake() -> AsyncIterator[FakeAssembly]:
    async with FakeAssembly(schools=2, students_per_school=STUDENTS, staff_per_school=4,
                            left_students_per_school=0, left_staff_per_school=0,
                            attendance_days=1, calendar_events=2, rooms=2,
                            oddities=True) as f:
        yield f


def odd_ids(fake: FakeAssembly, school_id: int) -> list[int]:
    return [i for i in fake.record_ids(school_id) if i % 50 == 0]


def client_for(fake: FakeAssembly, **kw: Any) -> aa.AssemblyClient:
    return aa.AssemblyClient(api_url=str(fake.api_url), **kw)


async def bulk_client(fake: FakeAssembly, **kw: Any) -> aa.AssemblyClient:
    """A client with every school's token in its store (what the engine uses)."""
    client = client_for(fake, **kw)
    for sid in fake.school_ids:
        await client.add_token(school_token(fake, sid))
    return client


def school(client: aa.AssemblyClient, fake: FakeAssembly, sid: int = 1) -> aa.SchoolSession:
    return client.school(access_token=fake.school_token(sid).access_token, school_id=sid)


async def test_a_walk_keeps_every_record(fake: FakeAssembly,
                                         caplog: pytest.LogCaptureFixture) -> None:
    events: list[aa.Event] = []
    odd = odd_ids(fake, 1)
    assert odd, "the fake should hold a student with the impossible date"
    async with client_for(fake, hooks=aa.Hooks(on_decode_problem=events.append)) as client:
        students, problems = [], []
        with caplog.at_level(logging.WARNING, logger="assembly_async"):
            async with school(client, fake).students.list(per_page=50).pages() as pages:
                async for page in pages:
                    students.extend(page.items)
                    problems.extend(page.problems)
    assert len(students) == len(fake.record_ids(1)) == STUDENTS
    by_id = {s.id: s for s in students}
    for sid in odd:
        assert by_id[sid].start_date is None and by_id[sid].dob is not None
    # Everything else was read, oddities included (numbers as text, 1/0 booleans).
    normal = [s for s in students if s.id not in odd]
    assert all(isinstance(s.start_date, datetime.date) for s in normal)
    assert all(isinstance(s.year_code, str) for s in students)
    assert {(p.record_id, p.path, p.raw) for p in problems} == {
        (sid, "$.start_date", IMPOSSIBLE_DATE) for sid in odd}
    assert [e.problem.record_id for e in events if e.problem] == [p.record_id for p in problems]
    assert all(e.kind == "decode_problem" and e.school_id == 1 for e in events)
    assert all(e.problem is not None and e.problem.raw is aa.models.NO_VALUE for e in events)
    logged = [r for r in caplog.records if r.name == "assembly_async.decode"]
    assert len(logged) == len(odd)
    for text in [r.getMessage() for r in logged] + [repr(e) for e in events]:
        assert "2015-02-31" not in text
        assert "a string of 24 characters" in text


async def test_a_get_returns_the_record_without_the_bad_value(fake: FakeAssembly) -> None:
    [sid, *_] = odd_ids(fake, 1)
    events: list[aa.Event] = []
    async with client_for(fake, hooks=aa.Hooks(on_event=events.append)) as client:
        student = await school(client, fake).students.get(sid)
        assert student.id == sid and student.start_date is None
        [event] = [e for e in events if e.kind == "decode_problem"]
        assert event.problem is not None and event.problem.path == "$.start_date"
        assert event.operation_id == "findStudent" and event.method == "GET"
        strict = aa.CallOptions(strict_decode=True, retries=0)
        with pytest.raises(aa.DecodeError) as info:
            await school(client, fake).students.get(sid, options=strict)
        assert info.value.path == "$.start_date" and info.value.record_id == sid
        assert "2015-02-31" not in str(info.value)


async def test_a_strict_client_raises(fake: FakeAssembly) -> None:
    async with client_for(fake, strict_decode=True, retries=0) as client:
        with pytest.raises(aa.DecodeError):
            await school(client, fake).students.list().all()
        lenient = aa.CallOptions(strict_decode=False)
        assert len(await school(client, fake).students.list(options=lenient).all()) == STUDENTS


async def test_a_delta_collects_the_problems(fake: FakeAssembly) -> None:
    state = aa.MemorySyncState()
    async with client_for(fake) as client:
        delta = school(client, fake).changes("students", state=state)
        async with delta:
            records = [s async for s in delta]
        assert len(records) == STUDENTS
        assert {p.record_id for p in delta.problems} == set(odd_ids(fake, 1))
        assert delta.complete and await state.get(delta.key) is not None  # the watermark moved
        raw_delta = school(client, fake).changes("students", state=aa.MemorySyncState())
        async with raw_delta:
            raw = [r async for page in raw_delta.raw_pages() for r in page]
        assert len(raw) == STUDENTS
        assert {p.record_id for p in raw_delta.problems} == set(odd_ids(fake, 1))


async def test_a_bulk_sync_stores_the_raw_value_and_counts_per_school(
    fake: FakeAssembly,
) -> None:
    sink = MemorySink()
    async with await bulk_client(fake) as client:
        engine = aa.SyncEngine(client, sink, resources=["students", "staff_members"])
        report = await engine.run([1, 2])
    assert report.ok
    for sid in (1, 2):
        result = report.schools[sid]
        odd = odd_ids(fake, sid)
        assert result.resources["students"].records == STUDENTS
        assert result.decode_problems == len(odd) == result.resources["students"].decode_problems
        kept = result.resources["students"].problems
        assert {p.record_id for p in kept} == set(odd)
        assert all(p.raw is aa.models.NO_VALUE for p in kept)  # the report is not the data
        for record_id in odd:  # the sink keeps the value as sent
            assert sink.data["students"][(sid, record_id)]["start_date"] == IMPOSSIBLE_DATE
    assert report.decode_problems == sum(len(odd_ids(fake, sid)) for sid in (1, 2))
    assert "2015-02-31" not in repr(report)


async def test_a_strict_bulk_sync_fails_the_job_and_keeps_the_watermark(
    fake: FakeAssembly,
) -> None:
    sink, state = MemorySink(), aa.MemorySyncState()
    async with await bulk_client(fake, strict_decode=True, retries=0) as client:
        engine = aa.SyncEngine(client, sink, state, resources=["students"])
        report = await engine.run([1])
    result = report.schools[1].resources["students"]
    assert result.state == "failed" and isinstance(result.error, aa.DecodeError)
    assert await state.get(aa.sync_key(1, "getStudents", {})) is None


async def test_without_the_switch_the_fake_serves_the_documented_shapes() -> None:
    async with FakeAssembly(schools=1, students_per_school=60, staff_per_school=2) as fake:
        events: list[aa.Event] = []
        async with client_for(fake, hooks=aa.Hooks(on_decode_problem=events.append)) as client:
            students = await school(client, fake).students.list().all()
        assert len(students) == 60 and not events
        assert all(isinstance(s.dob, datetime.date) for s in students)
