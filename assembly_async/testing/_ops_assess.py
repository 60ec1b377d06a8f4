"""Handlers: assessments, grade sets, facets, assessment points, results (read and write)."""

from __future__ import annotations

from typing import Any

import orjson

from . import _render as R
from ._core import Body, Ctx, Listing, op
from ._gen_records import grade_ids, new_result
from ._http import ApiError, bad_request, not_found
from ._store import ASSESSMENT_POINTS, ASSESSMENTS, FACETS, GRADE_SETS, RESULTS, STUDENTS, SUBJECTS
from ._util import Rec, as_date, iso_dt, iso_epoch, public

MAX_RESULTS = 50


@op("getAssessments")
def get_assessments(ctx: Ctx) -> Listing:
    return Listing(list(ctx.school.coll(ASSESSMENTS).values()), R.assessment)


@op("findAssessment")
def find_assessment(ctx: Ctx) -> Body:
    return Body(R.assessment(ctx.find(ASSESSMENTS)))


@op("findAssessmentGradeSet")
def find_assessment_grade_set(ctx: Ctx) -> Body:
    a = ctx.find(ASSESSMENTS)
    if ctx.version == "1":
        return Body(R.assessment_v1_grade_set(ctx.school, a))
    gs = ctx.school.get(GRADE_SETS, a["_grade_set_id"])
    if gs is None:
        raise not_found()
    return Body(public(gs))


@op("getGradeSets")
def get_grade_sets(ctx: Ctx) -> Listing:
    return Listing(list(ctx.school.coll(GRADE_SETS).values()), public)


@op("findGradeSet")
def find_grade_set(ctx: Ctx) -> Body:
    return Body(public(ctx.find(GRADE_SETS)))


@op("getFacets")
def get_facets(ctx: Ctx) -> Listing:
    return Listing(list(ctx.school.coll(FACETS).values()), public)


@op("findFacet")
def find_facet(ctx: Ctx) -> Body:
    return Body(public(ctx.find(FACETS)))


@op("getAssessmentPoints")
def get_assessment_points(ctx: Ctx) -> Listing:
    recs = [p for p in ctx.school.coll(ASSESSMENT_POINTS).values()
            if ctx.params.get("year_code", p["year_code"]) == p["year_code"]
            and str(ctx.params.get("type", p["type"])).lower() == p["type"].lower()]
    return Listing(recs, public)


@op("findAssessmentPoint")
def find_assessment_point(ctx: Ctx) -> Body:
    return Body(public(ctx.find(ASSESSMENT_POINTS, "assessment_point_rank")))


def result_listing(ctx: Ctx, **match: int) -> Listing:
    recs = [r for r in ctx.school.coll(RESULTS).values()
            if all(r[k] == v for k, v in match.items())]
    if "students" in ctx.params:
        wanted = set(ctx.params["students"])
        recs = [r for r in recs if r["student_id"] in wanted]
    return Listing(recs, public, RESULTS)


@op("getResults")
def get_results(ctx: Ctx) -> Listing:
    return result_listing(ctx)


@op("getAssessmentResults")
def get_assessment_results(ctx: Ctx) -> Listing:
    return result_listing(ctx, assessment_id=ctx.find(ASSESSMENTS)["id"])


@op("getAssessmentPointResults")
def get_assessment_point_results(ctx: Ctx) -> Listing:
    point = ctx.find(ASSESSMENT_POINTS, "assessment_point_rank")
    return result_listing(ctx, assessment_point_rank=point["rank"])


# ---- writes -----------------------------------------------------------------

def _json_object(ctx: Ctx) -> dict[str, Any]:
    try:
        body = orjson.loads(ctx.body) if ctx.body else None
    except orjson.JSONDecodeError:
        raise bad_request("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _result_date(value: Any, errors: dict[str, list[str]], key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        d = as_date(value)
        if d is not None:
            return iso_dt(d)
    errors.setdefault(key, []).append("is not a valid date")
    return None


def _check_grade(ctx: Ctx, assessment: Rec | None, grade: Any, errors: dict[str, list[str]],
                 key: str) -> None:
    if _int(grade) is None:
        errors.setdefault(key, []).append("is not a number")
    elif assessment is not None and grade not in grade_ids(ctx.school, assessment):
        errors.setdefault(key, []).append("is not a grade of the assessment's grade set")


def _unprocessable(errors: dict[str, list[str]]) -> ApiError:
    return ApiError(422, None, body={"errors": errors})


@op("createResult")
def create_result(ctx: Ctx) -> Body:
    body = _json_object(ctx)
    school = ctx.school
    errors: dict[str, list[str]] = {}
    refs = {"subject_id": SUBJECTS, "facet_id": FACETS, "assessment_id": ASSESSMENTS,
            "assessment_point_rank": ASSESSMENT_POINTS}
    for key, coll in refs.items():
        value = _int(body.get(key))
        if value is None:
            errors[key] = ["can't be blank" if body.get(key) is None else "is not a number"]
        elif school.get(coll, value) is None:
            errors[key] = ["does not exist"]
    assessment = school.get(ASSESSMENTS, _int(body.get("assessment_id")) or 0)
    entries = body.get("results")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_RESULTS:
        errors["results"] = [f"must be a list of 1 to {MAX_RESULTS} results"]
        entries = []
    dates: list[str | None] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            errors[f"results[{i}]"] = ["must be an object"]
            dates.append(None)
            continue
        if school.get(STUDENTS, _int(entry.get("student_id")) or 0) is None:
            errors[f"results[{i}].student_id"] = ["does not exist"]
        _check_grade(ctx, assessment, entry.get("grade_id"), errors, f"results[{i}].grade_id")
        dates.append(_result_date(entry.get("result_date"), errors, f"results[{i}].result_date"))
    if errors:
        raise _unprocessable(errors)
    now = school.tick()
    created = [new_result(school, e["student_id"], body["subject_id"], body["assessment_id"],
                          body["assessment_point_rank"], body["facet_id"], e["grade_id"], d, now)
               for e, d in zip(entries, dates, strict=True)]
    return Body([public(r) for r in created])


def _apply_update(ctx: Ctx, rec: Rec, entry: dict[str, Any], errors: dict[str, list[str]],
                  prefix: str) -> dict[str, Any]:
    sid = entry.get("student_id")
    if sid is not None and sid != rec["student_id"]:
        errors[prefix + "student_id"] = ["does not match the result"]
    change: dict[str, Any] = {}
    if "grade_id" in entry:
        _check_grade(ctx, ctx.school.get(ASSESSMENTS, rec["assessment_id"]), entry["grade_id"],
                     errors, prefix + "grade_id")
        change["grade_id"] = entry["grade_id"]
    if "result_date" in entry:
        change["result_date"] = _result_date(entry["result_date"], errors, prefix + "result_date")
    return change


def _commit(ctx: Ctx, updates: list[tuple[Rec, dict[str, Any]]]) -> None:
    now = ctx.school.tick()
    for rec, change in updates:
        rec.update(change)
        rec["updated_at"] = iso_epoch(now)
        ctx.school.touch(rec)


@op("bulkUpdateResults")
def bulk_update_results(ctx: Ctx) -> Body:
    body = _json_object(ctx)
    entries = body.get("results")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_RESULTS:
        raise _unprocessable({"results": [f"must be a list of 1 to {MAX_RESULTS} results"]})
    errors: dict[str, list[str]] = {}
    updates = []
    for i, entry in enumerate(entries):
        rec = ctx.school.get(RESULTS, _int(entry.get("result_id")) or 0) \
            if isinstance(entry, dict) else None
        if rec is None or not isinstance(entry, dict):
            errors[f"results[{i}].result_id"] = ["does not exist"]
            continue
        updates.append((rec, _apply_update(ctx, rec, entry, errors, f"results[{i}].")))
    if errors:
        raise _unprocessable(errors)
    _commit(ctx, updates)
    return Body({"message": f"{len(updates)} results updated"})


@op("updateResults")
def update_result(ctx: Ctx) -> Body:
    rec = ctx.find(RESULTS)
    body = _json_object(ctx)
    errors: dict[str, list[str]] = {}
    change = _apply_update(ctx, rec, body, errors, "")
    if errors:
        raise _unprocessable(errors)
    _commit(ctx, [(rec, change)])
    return Body(public(rec))
