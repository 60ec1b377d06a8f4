"""Every fault the fake can inject, through the whole SDK: a retry that
succeeds, or a typed error that says what happened and where."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import assembly_async as aa
from assembly_async._http import retry as _retry
from assembly_async.models import ResultEntry
from assembly_async.testing import FakeAssembly


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "backoff", lambda attempt: 0.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAssembly]:
    async with FakeAssembly(schools=1, students_per_school=30, staff_per_school=4,
                            attendance_days=1, calendar_events=2, rooms=2) as f:
        yield f


def session(fake: FakeAssembly, **kw: Any) -> tuple[aa.AssemblyClient, aa.SchoolSession]:
    client = aa.AssemblyClient(api_url=str(fake.api_url), **kw)
    return client, client.school(access_token=fake.school_token(1).access_token, school_id=1)


def hits(fake: FakeAssembly, path: str, method: str = "GET") -> int:
    return len(fake.stats.requests(path=path, method=method))


@pytest.mark.parametrize("fault", ["503", "500", "502", "504", "reset", "truncated",
                                   "html502", "wrong_content_type", "delay:0.6"])
async def test_get_recovers_from_each_fault(fake: FakeAssembly, fault: str) -> None:
    client, school = session(fake, timeout=0.3)
    async with client:
        fake.faults.script("/students", [fault, fault])
        students = await school.students.list().all()
        assert len(students) == 30 and len({s.id for s in students}) == 30
        assert fake.faults.pending() == 0
        stats = client.stats(1)
        assert stats is not None and stats.retries >= 2


@pytest.mark.parametrize(
    ("fault", "error", "evidence"),
    [
        ("503", aa.ServerError, "service_unavailable"),
        ("html502", aa.ServerError, "502 Bad Gateway"),
        ("wrong_content_type", aa.UnexpectedContentType, "text/html"),
        ("truncated", aa.DecodeError, "/students"),
        ("reset", aa.ConnectionFailed, "/students"),
        ("delay:0.6", aa.RequestTimeout, "/students"),
        ("404", aa.NotFound, "not found"),
        ("403", aa.Forbidden, "forbidden"),
    ],
)
async def test_each_fault_without_retries_is_a_typed_error(
    fake: FakeAssembly, fault: str, error: type[Exception], evidence: str
) -> None:
    client, school = session(fake, timeout=0.3, retries=0)
    async with client:
        fake.faults.script("/students", [fault] * 3)
        with pytest.raises(error) as info:
            await school.students.list().page(1)
        text = str(info.value) + getattr(info.value, "text", "")
        assert evidence in text
        assert "/students" in str(info.value)
        assert fake.school_token(1).access_token not in text


async def test_attempts_are_bounded_and_history_kept(fake: FakeAssembly) -> None:
    client, school = session(fake, retries=2)
    async with client:
        fake.faults.script("/school", ["503"] * 5)
        with pytest.raises(aa.ServerError) as info:
            await school.details.get()
        assert info.value.attempts == 3 and len(info.value.retry_history) == 2
        assert hits(fake, "/school") == 3


async def test_client_errors_are_not_retried(fake: FakeAssembly) -> None:
    client, school = session(fake)
    async with client:
        with pytest.raises(aa.NotFound):
            await school.students.get(123)
        assert hits(fake, "/students/123") == 1


async def test_post_is_never_sent_twice(fake: FakeAssembly) -> None:
    client, school = session(fake)
    async with client:
        student = (await school.students.list(per_page=1).page(1)).items[0]
        for fault in ("reset", "503", "truncated"):
            fake.faults.script("/results", [fault], method="POST")
            before = hits(fake, "/results", "POST")
            with pytest.raises(aa.AssemblyError):
                await school.results.create(
                    subject_id=1, facet_id=1, assessment_point_rank=1, assessment_id=1,
                    results=[ResultEntry(student_id=student.id, grade_id=1)])
            assert hits(fake, "/results", "POST") == before + 1, fault


async def test_get_survives_five_percent_random_faults(fake: FakeAssembly) -> None:
    client, school = session(fake)
    async with client:
        fake.faults.random_errors(0.05, seed=7)
        for _ in range(20):
            students = await school.students.list(per_page=7).all()
            assert sorted(s.id for s in students) == sorted(fake.record_ids(1))
        assert fake.faults.injected, "the run injected no fault"


async def test_429_pauses_and_recovers(fake: FakeAssembly) -> None:
    client, school = session(fake)
    async with client:
        fake.set_rate_limit(limit=5, window=300.0, time_scale=1000.0)  # 0.3 s real window
        # The client's own budget is the API default (600), so the server's 429s
        # come through; the SDK pauses this school for data.period and retries.
        pages = [await school.students.list(per_page=3).page(n) for n in range(1, 9)]
        assert all(len(p) == 3 for p in pages)
        assert hits(fake, "/students") > 8  # some answered 429 and were retried


async def test_406_is_unsupported_version(fake: FakeAssembly) -> None:
    from assembly_async._core.operations import OPERATIONS
    from assembly_async._core.requests import build_request

    client, _ = session(fake)
    async with client:
        request = build_request(client.config.api_url, OPERATIONS["findSchool"], version="9")
        with pytest.raises(aa.UnsupportedVersion) as info:
            await client._core.pipeline.send(request, auth=aa.StaticToken(
                fake.school_token(1).access_token), timeouts=client.config.timeouts)
        assert info.value.error == "unsupported_version"


async def test_a_429_pauses_one_school_while_another_carries_on() -> None:
    import asyncio
    import time

    async with FakeAssembly(schools=2, students_per_school=10) as fake:
        # The server allows 3 requests per token per window; the window lasts 1 s.
        fake.set_rate_limit(limit=3, window=300.0, time_scale=300.0)
        async with aa.AssemblyClient(api_url=fake.api_url) as client:
            finished: dict[int, float] = {}
            start = time.monotonic()

            async def work(school_id: int, calls: int) -> None:
                token = fake.school_token(school_id).access_token
                school = client.school(school_id, access_token=token)
                for _ in range(calls):
                    assert (await school.details.status()) is not None
                finished[school_id] = time.monotonic() - start

            # School 1 needs a 4th request: its 429 pauses it for data.period.
            first = asyncio.create_task(work(1, 4))
            await asyncio.sleep(0.1)  # school 1 has spent its 3 and is paused now
            await work(2, 3)
            await first
            assert finished[2] < finished[1]
            assert finished[2] < 0.6  # school 2 never waited for school 1's pause
            assert finished[1] >= 0.5  # school 1 waited (most of) its window
            assert client.stats(1).rate_limited >= 1
            assert client.stats(2).rate_limited == 0
