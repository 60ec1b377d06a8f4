"""The GET cache against the shipped fake, which sends ETag/Last-Modified on
single records and answers 304 while the client's copy is current."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assembly_async as aa
from assembly_async.testing import ACCEPT_V1_1, FakeAssembly
from assembly_async.testing.pytest_plugin import school_token

SCHOOL = 1


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAssembly]:
    async with FakeAssembly(schools=1, students_per_school=8, staff_per_school=3,
                            teaching_groups_per_year=1, attendance_days=1) as f:
        yield f


def client_for(fake: FakeAssembly) -> aa.AssemblyClient:
    return aa.AssemblyClient(api_url=fake.api_url, oauth_url=fake.oauth_url, rate_limit=None)


async def test_fake_sends_validators_and_304s_on_single_records(fake: FakeAssembly) -> None:
    sid = fake.record_ids(SCHOOL)[0]
    token = fake.school_token(SCHOOL).access_token
    headers = {"Accept": ACCEPT_V1_1, "Authorization": f"Bearer {token}"}
    url = f"{fake.api_url}/students/{sid}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers) as resp:
            assert resp.status == 200
            etag, modified = resp.headers["ETag"], resp.headers["Last-Modified"]
            first = await resp.read()
        assert etag.startswith('"') and modified.endswith("GMT")
        async with http.get(url, headers={**headers, "If-None-Match": etag}) as resp:
            assert resp.status == 304 and resp.headers["ETag"] == etag
        async with http.get(url, headers={**headers, "If-Modified-Since": modified}) as resp:
            assert resp.status == 304
        # Another representation of the same record has another ETag.
        async with http.get(url, params={"demographics": "true"},
                            headers={**headers, "If-None-Match": etag}) as resp:
            assert resp.status == 200 and resp.headers["ETag"] != etag
        fake.change(SCHOOL, "students", ids=[sid])
        async with http.get(url, headers={**headers, "If-None-Match": etag}) as resp:
            assert resp.status == 200 and resp.headers["ETag"] != etag
            assert await resp.read() != first
        async with http.get(url, headers={**headers, "If-Modified-Since": modified}) as resp:
            assert resp.status == 200
        # Lists keep their delta validators; a write carries none.
        async with http.get(f"{fake.api_url}/students", headers=headers) as resp:
            assert resp.headers["ETag"].startswith(f'"{SCHOOL}-students-')


async def test_second_get_is_revalidated_and_served_from_the_cache(fake: FakeAssembly) -> None:
    sid = fake.record_ids(SCHOOL)[0]
    async with client_for(fake) as client:
        school = client.school(SCHOOL, access_token=fake.school_token(SCHOOL).access_token)
        first = await school.students.get(sid, demographics=True)
        before = fake.stats.not_modified
        second = await school.students.get(sid, demographics=True)
        assert second == first
        assert fake.stats.not_modified == before + 1
        assert client._core.get_cache.hits == 1
        raw = await school.students.with_raw_response.get(sid, demographics=True)
        assert raw.status == 304 and raw.from_cache and raw.parsed == first
        fake.change(SCHOOL, "students", ids=[sid])
        third = await school.students.with_raw_response.get(sid, demographics=True)
        assert third.status == 200 and not third.from_cache
        assert third.parsed != first and third.parsed.id == sid
        assert client._core.get_cache.hits == 2


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["get", "get_demo", "change", "tick"]),
                          st.integers(0, 2)), min_size=1, max_size=12))
def test_cached_reads_always_match_a_fresh_client(
        steps: list[tuple[str, int]]) -> None:
    """Whatever the interleaving of reads and changes, a read through the cache
    returns what a client without any cache reads at the same moment."""

    async def scenario() -> None:
        async with FakeAssembly(schools=1, students_per_school=3, staff_per_school=1,
                                teaching_groups_per_year=1, attendance_days=1) as fake, \
                client_for(fake) as cached:
            ids = fake.record_ids(SCHOOL)
            token = fake.school_token(SCHOOL).access_token
            school = cached.school(SCHOOL, access_token=token)
            for action, i in steps:
                sid = ids[i]
                if action == "change":
                    fake.change(SCHOOL, "students", ids=[sid])
                    continue
                if action == "tick":
                    fake.advance_clock(SCHOOL, 3600)
                    continue
                demo = action == "get_demo"
                got = await school.students.get(sid, demographics=demo)
                async with client_for(fake) as fresh:
                    want = await fresh.school(SCHOOL, access_token=token).students.get(
                        sid, demographics=demo)
                assert got == want

    asyncio.run(scenario())


@pytest.mark.parametrize("version", ["1.1", "1"])
async def test_every_single_record_get_revalidates(fake: FakeAssembly, version: str) -> None:
    """Each single-record GET of the school answers 304 the second time."""
    async with aa.AssemblyClient(api_url=fake.api_url, oauth_url=fake.oauth_url,
                                 api_version=version, client_id=fake.client_id,
                                 client_secret=fake.client_secret) as client:
        await client.add_token(school_token(fake, SCHOOL))
        school = client.school(SCHOOL)
        student = fake.record_ids(SCHOOL)[0]
        staff = fake.record_ids(SCHOOL, "staff_members")[0]
        group = fake.record_ids(SCHOOL, "teaching_groups")[0]
        calls = [lambda: school.students.get(student), lambda: school.staff_members.get(staff),
                 lambda: school.teaching_groups.get(group), lambda: school.groups.get(group)]
        for call in calls:
            before = fake.stats.not_modified
            assert await call() == await call()
            assert fake.stats.not_modified == before + 1
