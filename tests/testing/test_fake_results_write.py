"""Writing results: validation (400/422), readback, bulk and single updates, deltas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fake_helpers import Api


def refs(api: Api) -> dict[str, Any]:
    fake, sid = api.fake, api.school_id
    assessment = next(fake.record(sid, "assessments", a)
                      for a in fake.record_ids(sid, "assessments")
                      if fake.record(sid, "assessments", a)["name"] == "Internal Tracking")
    grades = [g["id"] for g in fake.record(sid, "grade_sets",
                                           assessment["_grade_set_id"])["grades"]]
    return {"assessment_id": assessment["id"], "grades": grades,
            "subject_id": fake.record_ids(sid, "subjects")[0],
            "facet_id": fake.record_ids(sid, "facets")[0],
            "assessment_point_rank": fake.record_ids(sid, "assessment_points")[0],
            "students": fake.record_ids(sid, "students")[:3]}


def body_for(r: dict[str, Any], n: int = 3) -> dict[str, Any]:
    return {"subject_id": r["subject_id"], "facet_id": r["facet_id"],
            "assessment_point_rank": r["assessment_point_rank"],
            "assessment_id": r["assessment_id"],
            "results": [{"student_id": r["students"][i % len(r["students"])],
                         "grade_id": r["grades"][i % len(r["grades"])],
                         "result_date": "2025-01-15"} for i in range(n)]}


async def test_post_results_and_read_back(api: Api) -> None:
    r = refs(api)
    first = await api.get("/results")
    created = await api.call("POST", "/results", json=body_for(r))
    assert created.status == 200 and len(created.body) == 3
    new_ids = {x["id"] for x in created.body}
    assert all(x["result_date"] == "2025-01-15T00:00:00.000Z" for x in created.body)
    got = await api.get("/results", params={"students": " ".join(map(str, r["students"])),
                                            "per_page": "1500"})
    assert new_ids <= {x["id"] for x in got.body}
    assert {x["student_id"] for x in got.body} <= set(r["students"])
    by_assessment = await api.walk(f"/assessments/{r['assessment_id']}/results", 500)
    assert new_ids <= {x["id"] for x in by_assessment}
    by_point = await api.walk(f"/assessment_points/{r['assessment_point_rank']}/results", 500)
    assert new_ids <= {x["id"] for x in by_point}
    delta = await api.get("/results", headers={"If-Modified-Since": first.headers["Last-Modified"]},
                          params={"per_page": "1500"})
    assert {x["id"] for x in delta.body} == new_ids


async def test_students_filter_accepts_bracket_syntax(api: Api) -> None:
    r = refs(api)
    got = await api.get("/results", params=[("students[]", str(r["students"][0])),
                                            ("students[]", str(r["students"][1]))])
    assert got.body and {x["student_id"] for x in got.body} <= set(r["students"][:2])


async def test_post_results_validation(api: Api) -> None:
    r = refs(api)
    bad = await api.call("POST", "/results", data=b"{not json",
                         headers={"Content-Type": "application/json"})
    assert bad.status == 400 and bad.body["error"] == "bad_request"
    too_many = await api.call("POST", "/results", json=body_for(r, 51))
    assert too_many.status == 422 and "results" in too_many.body["errors"]
    wrong = body_for(r, 2)
    wrong["subject_id"] = 1
    wrong["results"][0]["student_id"] = 42
    wrong["results"][1]["grade_id"] = -5
    res = await api.call("POST", "/results", json=wrong)
    assert res.status == 422
    assert set(res.body["errors"]) == {"subject_id", "results[0].student_id",
                                       "results[1].grade_id"}
    missing = await api.call("POST", "/results", json={"results": []})
    assert missing.status == 422
    assert {"subject_id", "facet_id", "assessment_id", "assessment_point_rank",
            "results"} <= set(missing.body["errors"])
    ok = await api.call("POST", "/results", json=body_for(r, 50))
    assert ok.status == 200 and len(ok.body) == 50


async def test_patch_results(api: Api) -> None:
    r = refs(api)
    created = (await api.call("POST", "/results", json=body_for(r, 2))).body
    a, b = created
    new_grade = r["grades"][-1]
    bulk = await api.call("PATCH", "/results", json={"results": [
        {"result_id": a["id"], "student_id": a["student_id"], "grade_id": new_grade,
         "result_date": "2025-01-17"}]})
    assert bulk.status == 200 and "message" in bulk.body
    single = await api.call("PATCH", f"/results/{b['id']}",
                            json={"student_id": b["student_id"], "grade_id": new_grade})
    assert single.status == 200 and single.body["grade_id"] == new_grade
    assert single.body["updated_at"] > b["updated_at"]
    got = {x["id"]: x for x in (await api.get(
        "/results", params={"students": f"{a['student_id']}+{b['student_id']}",
                            "per_page": "1500"})).body}
    assert got[a["id"]]["grade_id"] == new_grade
    assert got[a["id"]]["result_date"] == "2025-01-17T00:00:00.000Z"
    unknown = await api.call("PATCH", "/results", json={"results": [{"result_id": 1}]})
    assert unknown.status == 422 and "results[0].result_id" in unknown.body["errors"]
    assert (await api.call("PATCH", "/results/1", json={})).status == 404
    bad_grade = await api.call("PATCH", f"/results/{a['id']}", json={"grade_id": 1})
    assert bad_grade.status == 422


async def test_write_needs_write_scope(api: Api) -> None:
    r = refs(api)
    read_only = api.fake.issue_school_token(api.school_id, ["assessments.internal"])
    res = await api.call("POST", "/results", json=body_for(r), token=read_only.access_token)
    assert res.status == 401 and res.body["error"] == "insufficient_scope"
