"""Raw access to typed calls: ``with_raw_response``, ``raw_response()``, Page.status/headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

import assembly_async as aa
from assembly_async.models import ResultEntry, Student
from assembly_async.testing import FakeAssembly

SCHOOL = 1


@pytest_asyncio.fixture
async def school(fake_assembly: FakeAssembly) -> AsyncIterator[aa.SchoolSession]:
    async with aa.AssemblyClient(api_url=fake_assembly.api_url,
                                 oauth_url=fake_assembly.oauth_url) as client:
        yield client.school(SCHOOL,
                            access_token=fake_assembly.school_token(SCHOOL).access_token)


async def test_with_raw_response_gives_status_headers_and_the_same_model(
        fake_assembly: FakeAssembly, school: aa.SchoolSession) -> None:
    sid = fake_assembly.record_ids(SCHOOL)[0]
    raw = await school.students.with_raw_response.get(sid, demographics=True)
    assert isinstance(raw, aa.RawResponse)
    assert isinstance(raw.parsed, Student) and raw.parsed.id == sid
    assert raw.status == 200 and not raw.from_cache
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.validators.etag == raw.headers["etag"]
    assert f"/students/{sid}" in raw.url and "demographics=true" in raw.url
    token = fake_assembly.school_token(SCHOOL).access_token
    assert token not in repr(raw) and token not in raw.url


async def test_raw_response_wraps_any_awaitable_call(school: aa.SchoolSession) -> None:
    me = await aa.raw_response(school.me)()
    assert me.status == 200 and me.parsed.object is not None
    status = await aa.raw_response(school.details.status)()
    assert status.status == 200
    assert aa.raw_response(school.students.get).__name__ == "get"


async def test_writes_and_empty_answers_have_raw_responses(
        fake_assembly: FakeAssembly, school: aa.SchoolSession) -> None:
    student = fake_assembly.record_ids(SCHOOL)[0]
    subject = (await school.subjects.list().all())[0]
    facet = (await school.facets.list().all())[0]
    point = (await school.assessment_points.list().all())[0]
    assessment = (await school.assessments.list().all())[0]
    grades = await school.assessments.grade_set(assessment.id)
    created = await school.results.with_raw_response.create(
        subject_id=subject.id, facet_id=facet.id, assessment_point_rank=point.rank,
        assessment_id=assessment.id,
        results=[ResultEntry(student_id=student, grade_id=grades.grades[0].id)])
    assert 200 <= created.status < 300 and created.parsed[0].student_id == student
    sync = await school.details.with_raw_response.request_sync()
    assert sync.parsed is None and sync.status == 204


async def test_the_final_attempt_is_reported(fake_assembly: FakeAssembly,
                                             school: aa.SchoolSession) -> None:
    sid = fake_assembly.record_ids(SCHOOL)[0]
    fake_assembly.faults.script(f"/students/{sid}", ["503", "503"])
    raw = await school.students.with_raw_response.get(sid)
    assert raw.status == 200 and raw.parsed.id == sid


async def test_errors_still_raise(school: aa.SchoolSession) -> None:
    with pytest.raises(aa.NotFound):
        await school.students.with_raw_response.get(999)


async def test_list_calls_are_not_wrapped_but_pages_carry_the_answer(
        school: aa.SchoolSession) -> None:
    assert not hasattr(school.students.with_raw_response, "list")
    with pytest.raises(aa.UsageError):
        await aa.raw_response(school.students.list().all)()
    page = await school.students.list(per_page=5).page(2)
    assert page.status == 200
    assert page.headers["page"] == "2" and page.headers["per-page"] == "5"


async def test_concurrent_raw_calls_do_not_mix_answers(fake_assembly: FakeAssembly,
                                                       school: aa.SchoolSession) -> None:
    """The capture is per task: concurrent calls each get their own answer."""
    ids = fake_assembly.record_ids(SCHOOL)[:10]
    raws = await asyncio.gather(*(school.students.with_raw_response.get(i) for i in ids))
    for sid, raw in zip(ids, raws, strict=True):
        assert raw.parsed.id == sid and raw.url.endswith(f"/students/{sid}")
