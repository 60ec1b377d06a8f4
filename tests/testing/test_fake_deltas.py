"""Conditional requests: Last-Modified/ETag, deltas after change/add/leave, 304."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fake_helpers import Api, Reply


async def since(api: Api, path: str, first: Reply, etag: bool = False, **kw: object) -> Reply:
    header = {"If-None-Match": first.headers["ETag"]} if etag else \
        {"If-Modified-Since": first.headers["Last-Modified"]}
    return await api.get(path, headers=header, **kw)  # type: ignore[arg-type]


async def test_unchanged_gives_304_with_validators(api: Api) -> None:
    first = await api.get("/students")
    parsedate_to_datetime(first.headers["Last-Modified"])  # a valid HTTP-date
    for etag in (False, True):
        r = await since(api, "/students", first, etag)
        assert r.status == 304 and r.raw == b""
        assert r.headers["Last-Modified"] == first.headers["Last-Modified"]
    assert api.fake.stats.not_modified == 2


async def test_change_add_leave_then_delta_is_exactly_those(api: Api) -> None:
    fake, sid = api.fake, api.school_id
    first = await api.get("/students", params={"per_page": "1500"})
    changed = fake.change(sid, "students", count=3)
    added = fake.add(sid, "students", count=2)
    left = fake.leave(sid, "students", count=1)
    delta = await since(api, "/students", first, params={"per_page": "1500"})
    assert delta.status == 200
    got = {s["id"] for s in delta.body}
    assert got == (set(changed) | set(added)) - set(left)
    assert delta.headers["Total"] == str(len(got))
    assert delta.headers["Last-Modified"] != first.headers["Last-Modified"]
    # leavers disappear from /students and show up in /students/left with end_date set
    assert left[0] not in {s["id"] for s in await api.walk("/students", 100)}
    left_first = await api.get("/students/left")
    assert left[0] in {s["id"] for s in left_first.body}
    leaver = next(s for s in left_first.body if s["id"] == left[0])
    assert leaver["end_date"] is not None
    # a second delta from the new watermark is empty -> 304; ETag path too
    assert (await since(api, "/students", delta)).status == 304
    assert (await since(api, "/students", delta, etag=True)).status == 304
    # changes made later show up via ETag as well
    again = fake.change(sid, "students", count=1)
    r = await since(api, "/students", delta, etag=True)
    assert [s["id"] for s in r.body] == again


async def test_delta_is_paged_and_v1_enveloped(api: Api) -> None:
    first = await api.get("/students")
    changed = api.fake.change(api.school_id, "students", count=5)
    r = await since(api, "/students", first, version="1", params={"per_page": "2"})
    assert r.body["total_count"] == 5 and r.body["total_pages"] == 3
    ids = []
    for page in (1, 2, 3):
        rr = await since(api, "/students", first, version="1",
                         params={"per_page": "2", "page": str(page)})
        ids += [s["id"] for s in rr.body["data"]]
    assert sorted(ids) == sorted(changed)


async def test_staff_leavers_and_group_membership(api: Api) -> None:
    fake, sid = api.fake, api.school_id
    staff_first = await api.get("/staff_members/left")
    [gone] = fake.leave(sid, "staff_members", count=1)
    assert gone not in {s["id"] for s in (await api.get("/staff_members")).body}
    r = await since(api, "/staff_members/left", staff_first)
    assert [s["id"] for s in r.body] == [gone] and r.body[0]["end_date"]
    groups_first = await api.get("/teaching_groups")
    members = {g["id"]: g["student_ids"] for g in groups_first.body}
    in_class = next(ids[0] for ids in members.values() if ids)
    [student] = fake.leave(sid, "students", ids=[in_class])
    r = await since(api, "/teaching_groups", groups_first)
    assert r.status == 200
    assert all(student not in g["student_ids"] for g in r.body)
    assert {g["id"] for g in r.body} == {g for g, ids in members.items() if student in ids}


async def test_other_collections_have_deltas(api: Api) -> None:
    fake, sid = api.fake, api.school_id
    for path, resource in (("/attendances", "attendances"), ("/rooms", "rooms"),
                           ("/calendar_events", "calendar_events"), ("/groups", "groups"),
                           ("/timetables", "timetables"), ("/results", "results"),
                           ("/registration_groups", "registration_groups")):
        first = await api.get(path)
        assert (await since(api, path, first)).status == 304, path
        ids = fake.change(sid, resource, count=1)
        r = await since(api, path, first)
        assert r.status == 200 and [x["id"] for x in r.body] == ids, path


async def test_advance_clock_moves_time_not_data(api: Api) -> None:
    first = await api.get("/students")
    api.fake.advance_clock(seconds=3600)
    assert (await since(api, "/students", first)).status == 304
    [changed] = api.fake.change(api.school_id, "students")
    r = await since(api, "/students", first)
    assert [s["id"] for s in r.body] == [changed]
    status = (await api.get("/school/status")).body
    assert status["last_changes_at"] > "2025-01-20T09:59"  # clock moved by an hour first
