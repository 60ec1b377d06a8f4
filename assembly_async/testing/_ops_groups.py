"""Handlers: groups, teaching/registration/year groups and their students."""

from __future__ import annotations

from datetime import date

from . import _render as R
from ._core import Body, Ctx, Listing, op
from ._http import not_found
from ._ops_people import student_listing
from ._store import ENROLMENTS, GROUPS, REGISTRATION, STUDENTS, SUBJECTS, TEACHING, YEAR
from ._util import Rec, overlaps, public, spans

VIEWS = {TEACHING: "teaching", REGISTRATION: "registration", YEAR: "year"}


def _in_scope(g: Rec, when: date | Rec) -> bool:
    if isinstance(when, date):
        return spans(g["start_date"], g["end_date"], when)
    return overlaps(g["start_date"], g["end_date"], _d(when["start_date"]), _d(when["end_date"]))


def _d(text: str) -> date:
    return date.fromisoformat(text[:10])


def group_listing(ctx: Ctx, kind: str | None) -> Listing:
    school = ctx.school
    when = ctx.when()
    recs = [g for g in school.groups_of(kind) if _in_scope(g, when)]
    if "year_code" in ctx.params:
        recs = [g for g in recs if g["_year_code"] == ctx.params["year_code"]]
    if "type" in ctx.params:
        recs = [g for g in recs if g["_kind"] == ctx.params["type"]]
    if "subject_code" in ctx.params:
        codes = {s["id"] for s in school.coll(SUBJECTS).values()
                 if s["code"].lower() == ctx.params["subject_code"].lower()}
        recs = [g for g in recs if g.get("_subject_id") in codes]
    view = VIEWS.get(kind or "", "group")
    return Listing(recs, lambda g: R.group(school, g, view, when), GROUPS)


def find_group_of(ctx: Ctx, kind: str | None) -> Rec:
    g = ctx.find(GROUPS)
    if kind is not None and g["_kind"] != kind:
        raise not_found()
    return g


def group_body(ctx: Ctx, kind: str | None) -> Body:
    g = find_group_of(ctx, kind)
    return Body(R.group(ctx.school, g, VIEWS.get(kind or "", "group"), ctx.day))


def group_students(ctx: Ctx, kind: str | None) -> Listing:
    g = find_group_of(ctx, kind)
    ids = set(ctx.school.member_ids(g["id"], ctx.when()))
    recs = [s for sid, s in ctx.school.coll(STUDENTS).items() if sid in ids]
    return student_listing(ctx, recs)


@op("getGroups")
def get_groups(ctx: Ctx) -> Listing:
    return group_listing(ctx, None)


@op("findGroup")
def find_group(ctx: Ctx) -> Body:
    return group_body(ctx, None)


@op("getGroupStudents")
def get_group_students(ctx: Ctx) -> Listing:
    return group_students(ctx, None)


@op("getGroupEnrolments")
def get_group_enrolments(ctx: Ctx) -> Listing:
    school = ctx.school
    when = ctx.when()
    wanted = set(ctx.params.get("groups", ()))
    recs = [e for e in school.coll(ENROLMENTS).values()
            if (not wanted or e["group_id"] in wanted) and _in_scope(e, when)]
    return Listing(recs, public, ENROLMENTS)


@op("getTeachingGroups")
def get_teaching_groups(ctx: Ctx) -> Listing:
    return group_listing(ctx, TEACHING)


@op("findTeachingGroup")
def find_teaching_group(ctx: Ctx) -> Body:
    return group_body(ctx, TEACHING)


@op("getTeachingGroupStudents")
def get_teaching_group_students(ctx: Ctx) -> Listing:
    return group_students(ctx, TEACHING)


@op("getRegistrationGroups")
def get_registration_groups(ctx: Ctx) -> Listing:
    return group_listing(ctx, REGISTRATION)


@op("findRegistrationGroup")
def find_registration_group(ctx: Ctx) -> Body:
    return group_body(ctx, REGISTRATION)


@op("getRegistrationGroupStudents")
def get_registration_group_students(ctx: Ctx) -> Listing:
    return group_students(ctx, REGISTRATION)


@op("getYearGroups")
def get_year_groups(ctx: Ctx) -> Listing:
    return group_listing(ctx, YEAR)


@op("findYearGroup")
def find_year_group(ctx: Ctx) -> Body:
    return group_body(ctx, YEAR)


@op("getYearGroupStudents")
def get_year_group_students(ctx: Ctx) -> Listing:
    return group_students(ctx, YEAR)
