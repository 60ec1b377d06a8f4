"""Filters really filter; generated data is deterministic, realistic and collision-free."""

from __future__ import annotations

import re

import aiohttp
from fake_helpers import Api

from assembly_async.testing import FakeAssembly

ISO_DT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def test_student_filters(api: Api) -> None:
    everyone = await api.walk("/students", 100)
    year = everyone[0]["year_code"]
    r = await api.get("/students", params={"year_code": year})
    assert r.body and all(s["year_code"] == year for s in r.body)
    assert len(r.body) == sum(s["year_code"] == year for s in everyone)
    ids = [everyone[1]["id"], everyone[3]["id"]]
    for params in ({"students": f"{ids[0]} {ids[1]}"}, [("students[]", str(i)) for i in ids],
                   {"students": f"{ids[0]},{ids[1]}"}):
        got = await api.get("/students", params=params)
        assert sorted(s["id"] for s in got.body) == sorted(ids)
    # raw '+' separated, as the docs write it
    got = await api.get(f"/students?students={ids[0]}+{ids[1]}")
    assert sorted(s["id"] for s in got.body) == sorted(ids)
    # on a past date leavers are back and later joiners are not there yet
    fake, sid = api.fake, api.school_id
    left = [i for i in fake.left_ids(sid)
            if fake.record(sid, "students", i)["start_date"] <= "2024-09-05T"]
    then = await api.walk("/students", 100, params={"date": "2024-09-05"})
    then_ids = {s["id"] for s in then}
    assert left and set(left) <= then_ids
    assert all(s["start_date"] <= "2024-09-05T" for s in then)


async def test_group_date_and_academic_year_filters(api: Api) -> None:
    today = await api.walk("/teaching_groups", 100)
    autumn = await api.walk("/teaching_groups", 100, params={"date": "2024-10-01"})
    years = (await api.get("/academic_years")).body
    current = next(y for y in years if y["name"] == "2024/2025")
    whole = await api.walk("/teaching_groups", 100,
                           params={"academic_year_id": str(current["id"])})
    assert {g["id"] for g in today} <= {g["id"] for g in whole}
    assert {g["id"] for g in autumn} == {g["id"] for g in whole}
    assert len(today) < len(whole)  # some classes ended at Christmas
    old = next(y for y in years if y["name"] == "2022/2023")
    assert (await api.get("/teaching_groups", params={"academic_year_id": str(old["id"])})
            ).body == []
    assert (await api.get("/teaching_groups", params={"date": "2030-01-01"})).body == []
    houses = (await api.get("/groups", params={"type": "HouseGroup"})).body
    assert houses and all(g["type"] == "HouseGroup" for g in houses)
    assert all(g["end_date"] == "2079-06-06T00:00:00.000Z" for g in houses)
    years7 = (await api.get("/registration_groups", params={"year_code": "7"})).body
    assert years7 and all(g["name"].startswith("7") for g in years7)


async def test_enrolment_and_attendance_filters(api: Api) -> None:
    groups = (await api.get("/registration_groups")).body
    gid = next(g["id"] for g in groups if g["student_ids"])
    enrol = (await api.get("/groups/enrolments", params={"groups": str(gid)})).body
    assert enrol and all(e["group_id"] == gid for e in enrol)
    att = await api.walk("/attendances", 500)
    day = att[0]["session_date"][:10]
    one_day = await api.walk("/attendances", 500, params={"start_date": day, "end_date": day})
    assert one_day and all(a["session_date"].startswith(day) for a in one_day)
    assert len(one_day) < len(att)
    sid = att[0]["student_id"]
    mine = (await api.get("/attendances", params={"student_id": str(sid)})).body
    assert mine and all(a["student_id"] == sid for a in mine)
    by_group = (await api.get("/attendances", params={"registration_group_id": str(gid)})).body
    assert all(a["registration_group_id"] == gid for a in by_group)


async def test_staff_and_misc_filters(api: Api) -> None:
    teachers = (await api.get("/staff_members", params={"teachers_only": "1"})).body
    everyone = (await api.get("/staff_members", params={"teachers_only": "0"})).body
    assert teachers and all(s["is_teaching_staff"] for s in teachers)
    assert len(teachers) < len(everyone)
    holidays = (await api.get("/calendar_events", params={"type": "Holiday"})).body
    assert all(e["type"] == "Holiday" for e in holidays)
    points = (await api.get("/assessment_points", params={"type": "Internal",
                                                          "year_code": "9"})).body
    assert points and all(p["year_code"] == "9" and p["type"] == "Internal" for p in points)


async def test_data_quirks_and_realism(api: Api) -> None:
    years = (await api.get("/academic_years")).body
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", y["start_date"]) for y in years)
    assert all(ISO_DT.match(t["start_date"]) for y in years for t in y["terms"])
    # H14: a term's last day at 23:59.
    assert all(t["end_date"].endswith("T23:59:00.000Z") for y in years for t in y["terms"])
    students = await api.walk("/students", 100, params={"demographics": "true"})
    assert {s["year_code"] for s in students} <= {str(n) for n in range(7, 14)}
    for s in students:
        assert re.fullmatch(r"[A-Z]\d{12}", s["upn"])
        # DEV students: dob a bare date, enrolment dates full date-times (since issue 12).
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", s["dob"]) and ISO_DT.match(s["start_date"])
        assert s["end_date"] is None
        assert s["demographics"]["gender"] in ("M", "F")
    enrol = (await api.get("/groups/enrolments", params={"per_page": "50"})).body
    assert any(e["end_date"] == "2079-06-06T00:00:00.000Z" for e in enrol)
    assert any(s["middle_name"] is None for s in students)


def test_same_seed_same_data_and_unique_ids() -> None:
    a = FakeAssembly(schools=3, seed=5, students_per_school=20, staff_per_school=4)
    b = FakeAssembly(schools=3, seed=5, students_per_school=20, staff_per_school=4)
    c = FakeAssembly(schools=3, seed=6, students_per_school=20, staff_per_school=4)
    for sid in a.school_ids:
        assert a.record(sid, "students", a.record_ids(sid)[0]) == \
            b.record(sid, "students", b.record_ids(sid)[0])
    assert a.record(1, "students", a.record_ids(1)[0])["upn"] != \
        c.record(1, "students", c.record_ids(1)[0])["upn"]
    assert a.school_token(1) == b.school_token(1)
    for resource in ("students", "staff_members", "teaching_groups", "results", "attendances"):
        ids = [i for sid in a.school_ids for i in a.record_ids(sid, resource, include_left=True)]
        assert len(ids) == len(set(ids)), resource
        assert all(i < 2**31 for i in ids)


async def test_oddities_switch() -> None:
    plain = FakeAssembly(schools=1, students_per_school=60, staff_per_school=2)
    odd = FakeAssembly(schools=1, students_per_school=60, staff_per_school=2, oddities=True)
    async with plain, odd, aiohttp.ClientSession() as session:
        base = await Api(session, plain).walk("/students", 100, params={"demographics": "true"})
        served = await Api(session, odd).walk("/students", 100, params={"demographics": "true"})
    assert [s["id"] for s in base] == [s["id"] for s in served]
    assert not any(s["start_date"].startswith("2015-02-31") for s in base)
    impossible = {s["id"] for s in served if s["start_date"] == "2015-02-31T00:00:00.000Z"}
    assert impossible == {s["id"] for s in base if s["id"] % 50 == 0} != set()
    assert any(isinstance(s["year_code"], int) for s in served)
    assert any(s["demographics"]["is_pp"] in (0, 1) for s in served)
    assert any(s["start_date"].endswith("+01:00") for s in served)
    assert all(isinstance(s["year_code"], str) for s in base)
