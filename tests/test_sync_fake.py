"""End to end on the shipped fake server: concurrent walks and incremental sync."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest

import assembly_async as aa
from assembly_async import MemorySyncState, Snapshot, sync_key
from assembly_async._core.errors import AssemblyError

testing = pytest.importorskip("assembly_async.testing")

N = 3100  # three pages of 1500


@pytest.fixture
async def fake() -> AsyncIterator[Any]:
    async with testing.FakeAssembly(schools=1, students_per_school=N, staff_per_school=5,
                                    teaching_groups_per_year=1, attendance_days=1,
                                    results_per_student=0) as f:
        yield f


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    import assembly_async._http.retry as retry_mod

    monkeypatch.setattr(retry_mod, "backoff", lambda attempt: 0.0)


def _school(fake: Any, client: aa.AssemblyClient) -> Any:
    sid = fake.school_ids[0]
    return client.school(sid, access_token=fake.school_token(sid).access_token)


def _lists(fake: Any, path: str) -> list[Any]:
    return [r for r in fake.request_log if r.path == path]


@pytest.mark.parametrize("version", ["1.1", "1"])
async def test_fake_full_unchanged_and_delta(fake: Any, version: str) -> None:
    sid = fake.school_ids[0]
    state = MemorySyncState()
    async with aa.AssemblyClient(api_url=str(fake.api_url), api_version=version) as client:
        school = _school(fake, client)
        delta = school.changes("students", state=state)
        async with delta:
            ids = [s.id async for s in delta]
        assert ids == fake.record_ids(sid) and len(set(ids)) == N
        assert delta.full and delta.requests == math.ceil(N / 1500) == 3
        assert await state.get(sync_key(sid, "getStudents", {}))

        fake.reset_stats()
        again = school.changes("students", state=state)
        async with again:
            assert [s async for s in again] == []
        assert again.not_modified and again.left_ids == []
        assert again.requests == 2 and len(fake.request_log) == 2  # list 304 + left 304

        fake.advance_clock(sid, 5)
        changed = fake.change(sid, count=3)
        added = fake.add(sid, count=2)
        left = fake.leave(sid, count=1)
        delta3 = school.changes("students", state=state)
        async with delta3:
            got = sorted([s.id async for s in delta3])
        assert set(changed) | set(added) <= set(got)
        assert delta3.left_ids == left and left[0] not in got


async def test_fake_failure_midway_keeps_watermark(fake: Any, no_backoff: None) -> None:
    sid = fake.school_ids[0]
    state = MemorySyncState()
    async with aa.AssemblyClient(api_url=str(fake.api_url)) as client:
        school = _school(fake, client)
        fake.faults.script("/students", ["ok"] + [500] * 20)
        delta = school.changes("students", state=state)
        with pytest.raises(AssemblyError):
            async with delta:
                async for _ in delta:
                    pass
        assert await state.get(sync_key(sid, "getStudents", {})) is None
        fake.faults.clear()
        async with school.changes("students", state=state) as retry:  # type: ignore[attr-defined]
            assert len([s async for s in retry]) == N
        assert await state.get(sync_key(sid, "getStudents", {}))


async def test_fake_transient_faults_every_record_once(fake: Any, no_backoff: None) -> None:
    sid = fake.school_ids[0]
    async with aa.AssemblyClient(api_url=str(fake.api_url)) as client:
        fake.faults.random_errors(0.3, path="/students", seed=3)
        ids = [s.id async for s in _school(fake, client).students.list(per_page=200)]
    assert ids == fake.record_ids(sid)


async def test_fake_break_leaves_no_task(fake: Any) -> None:
    async with aa.AssemblyClient(api_url=str(fake.api_url)) as client:
        def mine() -> set[asyncio.Task[Any]]:
            return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()
                    and not getattr(t.get_coro(), "__qualname__", "").startswith(
                        "RequestHandler")}

        before = mine()
        async for s in _school(fake, client).students.list(per_page=100):
            if s.id is not None:
                break
        for _ in range(5):
            await asyncio.sleep(0)
        assert mine() == before


async def test_fake_snapshot_and_raw(fake: Any) -> None:
    sid = fake.school_ids[0]
    async with aa.AssemblyClient(api_url=str(fake.api_url)) as client:
        school = _school(fake, client)
        snap: Snapshot[Any] = Snapshot(school, "students")
        await snap.refresh()
        fake.advance_clock(sid, 5)
        fake.change(sid, count=2)
        fake.add(sid, count=1)
        fake.leave(sid, count=2)
        await snap.refresh()
        assert sorted(snap.records) == sorted(fake.record_ids(sid))
        pages = [p async for p in school.staff_members.list().raw_pages()]
        assert [r["id"] for p in pages for r in p] == fake.record_ids(sid, "staff_members")


async def test_fake_delta_that_changes_during_the_walk_keeps_the_watermark(fake: Any) -> None:
    sid = fake.school_ids[0]
    state = MemorySyncState()
    key = sync_key(sid, "getStudents", {})
    async with aa.AssemblyClient(api_url=str(fake.api_url)) as client:
        school = _school(fake, client)
        async with school.changes("students", state=state) as full:  # type: ignore[attr-defined]
            assert len([s async for s in full]) == N
        before = await state.get(key)
        assert before
        fake.advance_clock(sid, seconds=5)
        first_wave = set(fake.change(sid, "students", count=30))
        delta = school.changes("students", state=state, per_page=7, concurrency=1)
        seen: set[int] = set()
        second_wave: set[int] = set()
        async with delta:
            async for student in delta:
                seen.add(student.id)
                if len(seen) == 7 and not second_wave:
                    # More changes land while we walk: the delta grows under us.
                    fake.advance_clock(sid, seconds=5)
                    second_wave = set(fake.change(sid, "students", count=10))
        assert delta.shifted and delta.complete
        assert await state.get(key) == before  # not advanced past what we may have missed
        again = school.changes("students", state=state)
        async with again:
            ids = {s.id async for s in again}
        assert first_wave | second_wave <= ids | seen
        assert first_wave | second_wave <= ids  # nothing lost: the whole window again
        assert await state.get(key) != before
