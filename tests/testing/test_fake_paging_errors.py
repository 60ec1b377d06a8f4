"""Paging in both versions, Accept handling, 4xx bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assembly_async.testing._http import PageInfo

if TYPE_CHECKING:
    from fake_helpers import Api


@settings(max_examples=60, deadline=None)
@given(total=st.integers(0, 5000), per_page=st.integers(1, 1500))
def test_page_math_covers_every_index_once(total: int, per_page: int) -> None:
    seen: list[int] = []
    page: int | None = 1
    while page is not None:
        info = PageInfo(total, page, per_page)
        seen.extend(range(total)[info.start:info.stop])
        assert info.total_pages == -(-total // per_page)
        page = info.next_page
    assert seen == list(range(total))


@pytest.mark.parametrize("version", ["1.1", "1"])
@pytest.mark.parametrize("per_page", [1, 7, 30, 1500])
async def test_walk_every_student_exactly_once(api: Api, version: str, per_page: int) -> None:
    items = await api.walk("/students", per_page, version)
    ids = [s["id"] for s in items]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(api.fake.record_ids(api.school_id, "students"))


async def test_v11_paging_headers(api: Api) -> None:
    total = len(api.fake.record_ids(api.school_id, "students"))
    first = await api.get("/students", params={"per_page": "7"})
    assert first.headers["Page"] == "1" and first.headers["Prev-Page"] == ""
    assert first.headers["Next-Page"] == "2" and first.headers["Per-Page"] == "7"
    assert first.headers["Total"] == str(total)
    pages = int(first.headers["Total-Pages"])
    assert pages == -(-total // 7)
    last = await api.get("/students", params={"per_page": "7", "page": str(pages)})
    assert last.headers["Next-Page"] == "" and last.headers["Prev-Page"] == str(pages - 1)
    beyond = await api.get("/students", params={"per_page": "7", "page": str(pages + 3)})
    assert beyond.status == 200 and beyond.body == []
    assert beyond.headers["Next-Page"] == "" and beyond.headers["Prev-Page"] == ""


async def test_v1_envelope(api: Api) -> None:
    r = await api.get("/students", version="1", params={"per_page": "10", "page": "2"})
    env = r.body
    assert env["object"] == "list" and env["current_page"] == 2
    assert env["prev_page"] == 1 and env["next_page"] == 3 and len(env["data"]) == 10
    assert "Page" not in r.headers
    last = (await api.get("/students", version="1",
                          params={"per_page": "1000"})).body
    assert last["next_page"] is None and last["prev_page"] is None and last["total_pages"] == 1


@pytest.mark.parametrize("accept", [None, "application/json", "*/*",
                                    "application/vnd.assembly+json",
                                    "application/vnd.assembly+json; version=2",
                                    "application/vnd.assembly+json; version=1.0"])
async def test_406_on_bad_accept(api: Api, accept: str | None) -> None:
    r = await api.get("/students", version=accept)
    assert r.status == 406
    assert r.body == {"error": "unsupported_version"}


async def test_accept_variants_that_work(api: Api) -> None:
    for accept in ("application/vnd.assembly+json;version=1.1",
                   'application/json, application/vnd.assembly+json; version="1"'):
        assert (await api.get("/school", version=accept)).status == 200


@pytest.mark.parametrize(("params", "fragment"), [
    ({"per_page": "1501"}, "per_page"), ({"per_page": "0"}, "per_page"),
    ({"per_page": "ten"}, "per_page"), ({"page": "0"}, "page"),
    ({"date": "2025-01-01", "academic_year_id": "1"}, "cannot be used together"),
    ({"date": "01/02/2025"}, "date"), ({"date": "2025-02-30"}, "date"),
    ({"academic_year_id": "abc"}, "academic_year_id"),
])
async def test_400_bad_parameters(api: Api, params: dict[str, str], fragment: str) -> None:
    r = await api.get("/teaching_groups", params=params)
    assert r.status == 400
    assert r.body["error"] == "bad_request" and fragment in r.body["message"]


async def test_400_other_parameters(api: Api) -> None:
    r = await api.get("/students", params={"students": "1", "year_code": "7"})
    assert r.status == 400 and "students and year_code" in r.body["message"]
    r = await api.get("/students", params={"demographics": "yes"})
    assert r.status == 400 and "demographics" in r.body["message"]
    r = await api.get("/students", params={"students": "1+x"})
    assert r.status == 400


async def test_404_unknown_ids_and_paths(api: Api) -> None:
    for path in ("/students/999", "/students/abc", "/teaching_groups/1",
                 "/no_such_endpoint", "/assessment_points/99999"):
        r = await api.get(path)
        assert r.status == 404, path
        assert r.body == {"error": "not_found", "message": "not found"}
    # a teaching group id is not a year group id
    tg = api.fake.record_ids(api.school_id, "teaching_groups")[0]
    assert (await api.get(f"/year_groups/{tg}")).status == 404
    assert (await api.get(f"/groups/{tg}")).status == 200


async def test_records_of_other_schools_are_invisible(api: Api) -> None:
    other = api.fake.school_ids[1]
    sid = api.fake.record_ids(other, "students")[0]
    assert (await api.get(f"/students/{sid}")).status == 404
    other_token = api.fake.school_token(other).access_token
    assert (await api.get(f"/students/{sid}", token=other_token)).status == 200
