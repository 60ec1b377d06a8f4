"""Every operation of the spec answers its documented success with spec-shaped data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fake_helpers import basic

from assembly_async._core.spec import load_spec
from assembly_async.testing import FakeAssembly, SchemaChecker

if TYPE_CHECKING:
    from fake_helpers import Api

CHECKER = SchemaChecker()
SPEC = load_spec()
OPS = [(path, method, op) for path, item in SPEC["paths"].items()
       for method, op in item.items() if method in ("get", "post", "patch", "put", "delete")]

# which stored collection supplies the path id of an operation
ID_SOURCE = {
    "AcademicYear": "academic_years", "Assessment": "assessments", "Facet": "facets",
    "GradeSet": "grade_sets", "Group": "teaching_groups", "RegistrationGroup":
    "registration_groups", "TeachingGroup": "teaching_groups", "YearGroup": "year_groups",
    "Room": "rooms", "Closures": "rooms", "Lessons": "rooms", "DietaryNeed": "dietary_needs",
    "LearningAim": "learning_aims", "MedicalCondition": "medical_conditions",
    "StaffMember": "staff_members", "Student": "students", "Timetable": "timetables",
    "Results": "results",
}
NO_BODY = {"sync", "deauthorize", "oauthAuthorize"}


def test_schema_checker_catches_problems() -> None:
    student = {"object": "student", "id": 1, "year_code": "7", "demographics": None}
    assert CHECKER.check(CHECKER.ref("Student"), student) == []
    assert CHECKER.check(CHECKER.ref("Student"), {**student, "id": "1"})
    assert CHECKER.check(CHECKER.ref("Student"), {**student, "id": None})
    assert CHECKER.check(CHECKER.ref("Student"), {**student, "shoe_size": 9})
    assert CHECKER.check(CHECKER.ref("Student"), {**student, "demographics": {"is_pp": "yes"}})
    assert CHECKER.check(CHECKER.ref("Facet"), {"name": "guess"})
    assert CHECKER.check_response("getStudents", [student]) == []
    assert CHECKER.check_response("getStudents", {"data": [student]})
    envelope = {"object": "list", "total_count": 1, "total_pages": 1, "current_page": 1,
                "prev_page": None, "next_page": None, "data": [student]}
    assert CHECKER.check_response("getStudents", envelope, version="1") == []
    assert CHECKER.check_response("getStudents", {**envelope, "object": "array"}, version="1")


def test_spec_has_66_operations() -> None:
    assert len(OPS) == 66
    assert len({op["operationId"] for _, _, op in OPS}) == 66


def _path_id(fake: FakeAssembly, sid: int, op_id: str) -> int:
    first_result = fake.record(sid, "results", fake.record_ids(sid, "results")[0])
    if "AssessmentPoint" in op_id:
        return int(first_result["assessment_point_rank"])
    if "Assessment" in op_id:
        return int(first_result["assessment_id"])
    if op_id in ("getClosures", "findRoom", "getLessons"):
        closures = fake.record_ids(sid, "closures")
        if closures:
            return int(fake.record(sid, "closures", closures[0])["_room_id"])
    if "Group" in op_id and op_id != "getGroupEnrolments":
        kind = ID_SOURCE[max((k for k in ID_SOURCE if k in op_id), key=len)]
        return max(fake.record_ids(sid, kind),
                   key=lambda g: len(fake.group_member_ids(sid, g)))
    if op_id == "updateResults":
        return fake.record_ids(sid, "results")[0]
    for suffix, resource in ID_SOURCE.items():
        if op_id.endswith(suffix) or op_id[4:].startswith(suffix) or op_id[3:].startswith(suffix):
            return fake.record_ids(sid, resource)[0]
    raise AssertionError(f"no id source for {op_id}")


def _bool_params(op: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: "true" for p in op.get("parameters", [])
            if p.get("in") == "query" and p.get("schema", {}).get("type") == "boolean"
            and p["name"] != "teachers_only"}


def _write_body(fake: FakeAssembly, sid: int, op_id: str) -> Any:
    result = fake.record(sid, "results", fake.record_ids(sid, "results")[0])
    grades = fake.record(sid, "grade_sets", fake.record(sid, "assessments",
                                                         result["assessment_id"])["_grade_set_id"])
    grade = grades["grades"][0]["id"]
    if op_id == "createResult":
        return {"subject_id": result["subject_id"], "facet_id": result["facet_id"],
                "assessment_point_rank": result["assessment_point_rank"],
                "assessment_id": result["assessment_id"],
                "results": [{"student_id": result["student_id"], "grade_id": grade,
                             "result_date": "2025-01-10"}]}
    if op_id == "bulkUpdateResults":
        return {"results": [{"result_id": result["id"], "student_id": result["student_id"],
                             "grade_id": grade, "result_date": "2025-01-11"}]}
    return {"student_id": result["student_id"], "grade_id": grade, "result_date": "2025-01-12"}


@pytest.mark.parametrize("version", ["1.1", "1"])
async def test_every_operation_returns_spec_shaped_data(api: Api, version: str) -> None:
    fake = api.fake
    sid = api.school_id
    seen: set[str] = set()
    for path, method, op in OPS:
        op_id = op["operationId"]
        level = op.get("x-token-level")
        token: str | None = api.token
        if level == "app":
            token = fake.app_token
        if op_id == "deauthorize":
            token = fake.issue_school_token(fake.school_ids[1]).access_token
        url_path = path
        if "{" in path:
            name = path[path.index("{") + 1:path.index("}")]
            url_path = path.replace("{" + name + "}", str(_path_id(fake, sid, op_id)))
        if op_id == "oauthToken":
            async with api.session.post(
                    str(fake.url) + path, params={"grant_type": "client_credentials"},
                    headers=basic(fake.client_id, fake.client_secret)) as r:
                assert r.status == 200
                assert CHECKER.check_response(op_id, await r.json()) == []
            seen.add(op_id)
            continue
        if op_id == "oauthAuthorize":
            r2 = await api.get(path, version=None, token=None, allow_redirects=False,
                               params={"client_id": fake.client_id, "state": "s",
                                       "redirect_uri": "http://127.0.0.1:1/cb", "scope": "school"})
            assert r2.status == 302
            seen.add(op_id)
            continue
        body = _write_body(fake, sid, op_id) if method in ("post", "patch") and \
            "results" in path else None
        r3 = await api.call(method.upper(), url_path, token=token, version=version,
                            params=_bool_params(op), json=body)
        expected = 204 if op_id in NO_BODY else 200
        assert r3.status == expected, (op_id, r3.status, r3.raw[:300])
        if op_id not in NO_BODY:
            errors = CHECKER.check_response(op_id, r3.body, version=version)
            assert errors == [], (op_id, errors[:5])
            data = r3.body["data"] if version == "1" and op.get("x-paginated") else r3.body
            if isinstance(data, list):
                assert data, f"{op_id} returned an empty list; the check would be vacuous"
        seen.add(op_id)
    assert len(seen) == 66


async def test_list_headers_and_conditional_headers(api: Api) -> None:
    r = await api.get("/students")
    for h in ("Page", "Total", "Total-Pages", "Per-Page", "Next-Page", "Prev-Page",
              "Last-Modified", "ETag"):
        assert h in r.headers
    r = await api.get("/subjects")
    assert "Last-Modified" not in r.headers  # not an x-conditional operation
    assert r.headers["Per-Page"] == "100"


async def test_v1_grade_set_is_combined_and_v11_is_grade_set_only(api: Api) -> None:
    aid = api.fake.record_ids(api.school_id, "assessments")[0]
    v11 = await api.get(f"/assessments/{aid}/grade_set")
    v1 = await api.get(f"/assessments/{aid}/grade_set", version="1")
    assert v11.body["object"] == "grade_set"
    assert v1.body["object"] == "assessment" and v1.body["grade_set"] == v11.body


async def test_me_differs_by_version_and_token_level(api: Api) -> None:
    fake = api.fake
    school_v1 = (await api.get("/me", version="1")).body
    assert school_v1["level"] == "school" and school_v1["school"]["id"] == api.school_id
    app_v1 = (await api.get("/me", version="1", token=fake.app_token)).body
    assert app_v1["level"] == "app" and "school" not in app_v1
    app_v11 = (await api.get("/me", token=fake.app_token)).body
    assert app_v11["object"] == "application" and app_v11["token"]["access_level"] == "app"
    school_v11 = (await api.get("/me")).body
    assert "students.basic" in school_v11["token"]["scopes"]


async def test_include_blocks_only_when_asked(api: Api) -> None:
    bare = (await api.get("/students", params={"per_page": "5"})).body
    for key in ("demographics", "contacts", "emails", "address", "languages", "photo", "medical"):
        assert all(key not in s for s in bare)
    full = (await api.get("/students", params={
        "per_page": "5", "demographics": "true", "care": "1", "ever_in_care": "true",
        "sen_needs": "true", "contacts": "true", "emails": "true", "addresses": "true",
        "languages": "true", "photo": "true", "medical": "true"})).body
    for s in full:
        for key in ("demographics", "contacts", "emails", "address", "languages", "photo",
                    "medical"):
            assert key in s
        assert {"in_care", "ever_in_care", "sen_needs"} <= set(s["demographics"])
    no_care = (await api.get("/students", params={"per_page": "5", "demographics": "true"})).body
    assert all("in_care" not in s["demographics"] for s in no_care)
    staff = (await api.get("/staff_members", params={"qualifications": "true"})).body
    assert all("qualification_info" in s and "address" not in s for s in staff)
    contracts = (await api.get("/staff_contracts", params={"roles": "true"})).body
    assert all("roles" in c and "salaries" not in c for c in contracts)


async def test_photo_url_is_served(api: Api) -> None:
    s = (await api.get("/students", params={"per_page": "1", "photo": "true"})).body[0]
    async with api.session.get(s["photo"]["url"]) as r:
        assert r.status == 200
        assert (await r.read()).startswith(b"\x89PNG")
