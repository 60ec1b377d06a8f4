"""The client through its public API, with aiohttp mocked by aioresponses."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import aiohttp
import orjson
import pytest
from aioresponses import CallbackResult, aioresponses

import assembly_async as aa
from assembly_async.models import ResultEntry, Student

API = "https://api.assembly.education"
TOKEN = "tok-SECRET-123"
V11 = "application/vnd.assembly+json; version=1.1"


def student(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "object": "student",
        "id": i,
        "first_name": f"S{i}",
        "year_code": "7",
        "dob": "2012-05-01T00:00:00.000Z",
        **extra,
    }


def paging(page: int, pages: int, per_page: int, total: int) -> dict[str, str]:
    return {
        "Page": str(page),
        "Total": str(total),
        "Total-Pages": str(pages),
        "Per-Page": str(per_page),
        "Next-Page": str(page + 1) if page < pages else "",
        "Prev-Page": str(page - 1) if page > 1 else "",
    }


@pytest.fixture
def mocked() -> Any:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client() -> Any:
    # One mocked answer per request: retries are tested in test_pipeline.py.
    async with aa.AssemblyClient(environment="production", retries=0) as c:
        yield c


async def test_walks_every_page_into_typed_models(
    mocked: aioresponses, client: aa.AssemblyClient
) -> None:
    seen: list[dict[str, Any]] = []

    def answer(url: Any, **kw: Any) -> CallbackResult:
        seen.append({"url": url, "headers": kw["headers"]})
        page = int(url.query["page"])
        body = [student(page * 10 + i) for i in range(3 if page < 2 else 1)]
        return CallbackResult(
            body=orjson.dumps(body),
            headers={"Content-Type": "application/json", **paging(page, 2, 3, 4)},
        )

    mocked.get(
        re.compile(r"^https://api\.assembly\.education/students\?.*"), callback=answer, repeat=True
    )
    school = client.school(access_token=TOKEN)
    records = [s async for s in school.students.list(year_code="7", demographics=True)]
    assert [s.id for s in records] == [10, 11, 12, 20]
    assert all(isinstance(s, Student) for s in records)
    assert records[0].dob == dt.date(2012, 5, 1)  # a calendar date since issue 12
    assert len(seen) == 2
    first = seen[0]
    assert first["headers"]["Accept"] == V11
    assert first["headers"]["Authorization"] == f"Bearer {TOKEN}"
    # Walking asks for the API maximum so n records take ceil(n/1500) requests.
    assert first["url"].query["per_page"] == "1500"
    assert first["url"].query["year_code"] == "7" and first["url"].query["demographics"] == "true"


async def test_version_1_envelope(mocked: aioresponses) -> None:
    def answer(url: Any, **kw: Any) -> CallbackResult:
        assert kw["headers"]["Accept"].endswith("version=1")
        page = int(url.query["page"])
        body = {
            "object": "list",
            "total_count": 3,
            "total_pages": 2,
            "current_page": page,
            "prev_page": page - 1 or None,
            "next_page": 2 if page == 1 else None,
            "data": [student(page * 10), student(page * 10 + 1)][: 2 if page == 1 else 1],
        }
        return CallbackResult(body=orjson.dumps(body), content_type="application/json")

    mocked.get(re.compile(r".*/students\?.*"), callback=answer, repeat=True)
    async with aa.AssemblyClient(environment="production", api_version="1") as client:
        page = await client.school(access_token=TOKEN).students.list().page(1)
        assert page.info.total == 3 and page.info.total_pages == 2 and page.info.next_page == 2
        assert [s.id for s in page] == [10, 11]
        everything = await client.school(access_token=TOKEN).students.list().all()
        assert [s.id for s in everything] == [10, 11, 20]


async def test_get_one_and_per_call_version(
    mocked: aioresponses, client: aa.AssemblyClient
) -> None:
    def answer(url: Any, **kw: Any) -> CallbackResult:
        assert kw["headers"]["Accept"].endswith("version=1")
        return CallbackResult(
            body=orjson.dumps(student(15, unknown_new_field=1)), content_type="application/json"
        )

    mocked.get(f"{API}/students/15?demographics=true", callback=answer)
    s = await client.school(access_token=TOKEN).students.get(
        15, demographics=True, options=aa.CallOptions(api_version="1")
    )
    assert s.id == 15 and s.first_name == "S15"


async def test_406_is_unsupported_version(mocked: aioresponses, client: aa.AssemblyClient) -> None:
    mocked.get(f"{API}/school", status=406, payload={"error": "unsupported_version"})
    with pytest.raises(aa.UnsupportedVersion) as info:
        await client.school(access_token=TOKEN).details.get()
    assert info.value.status == 406 and info.value.error == "unsupported_version"
    assert info.value.url == f"{API}/school"
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value.__dict__)


async def test_html_502_is_a_server_error_with_text(
    mocked: aioresponses, client: aa.AssemblyClient
) -> None:
    mocked.get(
        f"{API}/school",
        status=502,
        body="<html><body><h1>502 Bad Gateway</h1></body></html>",
        content_type="text/html",
    )
    with pytest.raises(aa.ServerError) as info:
        await client.school(access_token=TOKEN).details.get()
    assert "502 Bad Gateway" in info.value.text
    assert info.value.body is None


async def test_200_html_is_unexpected_content_type(
    mocked: aioresponses, client: aa.AssemblyClient
) -> None:
    mocked.get(f"{API}/school", status=200, body="<html>login</html>", content_type="text/html")
    with pytest.raises(aa.UnexpectedContentType, match="text/html"):
        await client.school(access_token=TOKEN).details.get()


async def test_malformed_json_is_a_decode_error(
    mocked: aioresponses, client: aa.AssemblyClient
) -> None:
    mocked.get(f"{API}/school", status=200, body='{"name": "Trunc', content_type="application/json")
    with pytest.raises(aa.DecodeError) as info:
        await client.school(access_token=TOKEN).details.get()
    assert info.value.url == f"{API}/school"


async def test_invalid_date_names_schema_field_and_record(
    mocked: aioresponses, client: aa.AssemblyClient
) -> None:
    body = [student(1), student(2, dob="not-a-date")]
    mocked.get(
        re.compile(r".*/students\?.*"), body=orjson.dumps(body), content_type="application/json",
        repeat=True,
    )
    school = client.school(access_token=TOKEN)
    strict = aa.CallOptions(strict_decode=True, retries=0)
    with pytest.raises(aa.DecodeError) as info:
        await school.students.list(options=strict).page(1)
    err = info.value
    assert err.schema == "Student" and err.record_id == 2 and "dob" in (err.path or "")
    assert "Student" in str(err) and "dob" in str(err)
    # Since issue 12 the default keeps the record without the bad value and says so.
    page = await school.students.list().page(1)
    assert [s.id for s in page] == [1, 2] and page.items[1].dob is None
    [problem] = page.problems
    assert (problem.schema, problem.record_id, problem.path) == ("Student", 2, "$.dob")
    assert problem.raw == "not-a-date"


async def test_bad_arguments_fail_before_any_request(
    mocked: aioresponses, client: aa.AssemblyClient
) -> None:
    school = client.school(access_token=TOKEN)
    with pytest.raises(ValueError):
        school.teaching_groups.list(date="2024-01-01", academic_year_id=2)
    with pytest.raises(ValueError):
        school.students.list(per_page=5000)
    with pytest.raises(ValueError):
        await school.results.create(
            subject_id=1,
            facet_id=1,
            assessment_point_rank=1,
            assessment_id=1,
            results=[ResultEntry(student_id=i, grade_id=1) for i in range(51)],
        )
    assert not mocked.requests


async def test_write_sends_json_without_nulls(
    mocked: aioresponses, client: aa.AssemblyClient
) -> None:
    sent: dict[str, Any] = {}

    def answer(url: Any, **kw: Any) -> CallbackResult:
        sent.update(orjson.loads(kw["data"]))
        return CallbackResult(
            body=orjson.dumps([{"id": 9, "student_id": 1, "grade_id": 2}]),
            content_type="application/json",
        )

    mocked.post(f"{API}/results", callback=answer)
    out = await client.school(access_token=TOKEN).results.create(
        subject_id=1,
        facet_id=2,
        assessment_point_rank=3,
        assessment_id=4,
        results=[
            ResultEntry(
                student_id=1,
                grade_id=2,
                result_date=dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc),
            )
        ],
    )
    assert out[0].id == 9
    assert (
        sent["results"][0]["student_id"] == 1 and "2024-02-01" in sent["results"][0]["result_date"]
    )
    assert sent["subject_id"] == 1 and None not in sent.values()


async def test_borrowed_session_stays_open() -> None:
    async with aiohttp.ClientSession() as session:
        client = aa.AssemblyClient(session=session)
        await client.aclose()
        assert client.closed and not session.closed


async def test_a_closed_client_says_so_with_a_typed_error() -> None:
    """Using a closed client is the caller's mistake: UsageError, an AssemblyError
    (so ``except AssemblyError`` holds) and a RuntimeError, before anything is sent."""
    client = aa.AssemblyClient(api_url="http://127.0.0.1:9")
    session = client.school(access_token=TOKEN)
    await client.aclose()
    with pytest.raises(aa.UsageError) as caught:
        client.school(access_token=TOKEN)
    assert isinstance(caught.value, aa.AssemblyError) and isinstance(caught.value, RuntimeError)
    with pytest.raises(aa.UsageError):
        await session.students.get(1)


async def test_app_endpoints_need_an_app_session(client: aa.AssemblyClient) -> None:
    school = client.school(access_token=TOKEN)
    assert "SECRET" not in repr(school) and "SECRET" not in repr(client)
    with pytest.raises(ValueError):
        client.school()
    with pytest.raises(ValueError):
        aa.AssemblyClient(api_url="http://api.example.com")  # plain HTTP off loopback


async def test_per_page_falls_back_to_200_when_1500_is_refused(
    mocked: aioresponses, client: aa.AssemblyClient
) -> None:
    asked: list[str] = []

    def answer(url: Any, **kw: Any) -> CallbackResult:
        asked.append(url.query["per_page"])
        if url.query["per_page"] == "1500":
            return CallbackResult(status=400, body=b'{"error":"invalid_request",'
                                  b'"message":"per_page must be at most 200"}',
                                  content_type="application/json")
        return CallbackResult(body=orjson.dumps([student(1)]), content_type="application/json",
                              headers=paging(1, 1, 200, 1))

    mocked.get(re.compile(r".*/students\?.*"), callback=answer, repeat=True)
    records = await client.school(access_token=TOKEN).students.list().all()
    assert [s.id for s in records] == [1]
    assert asked == ["1500", "200"]


async def test_explicit_per_page_is_never_changed(
    mocked: aioresponses, client: aa.AssemblyClient
) -> None:
    mocked.get(re.compile(r".*/students\?.*"), status=400, payload={"error": "bad"})
    with pytest.raises(aa.BadRequest):
        await client.school(access_token=TOKEN).students.list(per_page=1500).page(1)
    assert len(mocked.requests) == 1


async def test_opening_thousands_of_school_sessions_is_cheap() -> None:
    from assembly_async.auth import MemoryTokenStore

    class CountingStore(MemoryTokenStore):
        reads = 0

        async def get(self, key: str) -> Any:
            CountingStore.reads += 1
            return await super().get(key)

    async with aa.AssemblyClient(client_id="id", client_secret="secret",
                                 token_store=CountingStore()) as client:
        sessions = [client.school(i) for i in range(3000)]
        assert CountingStore.reads == 0  # nothing is read until a request needs a token
        first = sessions[0]
        assert "students" not in vars(first)  # resources are built on first use
        assert first.students is first.students
        # One token manager per school.
        assert client.school(0).runner.provider is first.runner.provider
