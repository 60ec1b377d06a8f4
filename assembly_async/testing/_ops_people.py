"""Handlers: students, contacts, staff, attendance, exclusions."""

from __future__ import annotations

from . import _render as R
from ._core import Body, Ctx, Listing, op
from ._render import flags_of
from ._store import (
    ATTENDANCE_SUMMARIES,
    ATTENDANCES,
    CONTACTS,
    EXCLUSIONS,
    STAFF,
    STAFF_ABSENCES,
    STAFF_CONTRACTS,
    STUDENTS,
)
from ._util import Rec, as_date, overlaps, public, spans


def student_listing(ctx: Ctx, records: list[Rec]) -> Listing:
    flags = flags_of(ctx.params)
    base = ctx.core.base_url
    if "students" in ctx.params:
        wanted = set(ctx.params["students"])
        records = [r for r in records if r["id"] in wanted]
    if "year_code" in ctx.params:
        records = [r for r in records if r["year_code"] == ctx.params["year_code"]]
    return Listing(records, lambda r: R.student(r, flags, base), STUDENTS)


@op("getStudents")
def get_students(ctx: Ctx) -> Listing:
    school = ctx.school
    if "date" in ctx.params:
        day = ctx.params["date"]
        recs = [s for s in school.coll(STUDENTS).values()
                if spans(s["start_date"], s["end_date"], day)]
    else:
        recs = school.current_students()
    return student_listing(ctx, recs)


@op("getLeftStudents")
def get_left_students(ctx: Ctx) -> Listing:
    day = ctx.day
    recs = [s for s in ctx.school.coll(STUDENTS).values()
            if s["_left"] and (as_date(s["end_date"]) or day) <= day]
    return student_listing(ctx, recs)


@op("findStudent")
def find_student(ctx: Ctx) -> Body:
    return Body(R.student(ctx.find(STUDENTS), flags_of(ctx.params), ctx.core.base_url))


@op("getContacts")
def get_contacts(ctx: Ctx) -> Listing:
    recs = list(ctx.school.coll(CONTACTS).values())
    if "student_id" in ctx.params:
        sid = ctx.params["student_id"]
        recs = [c for c in recs if any(x["student_id"] == sid for x in c["students"])]
    flags = flags_of(ctx.params)
    return Listing(recs, lambda r: R.contact(r, flags))


def staff_listing(ctx: Ctx, left: bool) -> Listing:
    recs = [s for s in ctx.school.coll(STAFF).values() if s["_left"] is left]
    if ctx.flag("teachers_only"):
        recs = [s for s in recs if s["is_teaching_staff"]]
    flags = flags_of(ctx.params)
    return Listing(recs, lambda r: R.staff(r, flags), STAFF)


@op("getStaffMembers")
def get_staff_members(ctx: Ctx) -> Listing:
    return staff_listing(ctx, False)


@op("getLeftStaffMembers")
def get_left_staff_members(ctx: Ctx) -> Listing:
    return staff_listing(ctx, True)


@op("findStaffMember")
def find_staff_member(ctx: Ctx) -> Body:
    return Body(R.staff(ctx.find(STAFF), flags_of(ctx.params)))


@op("getStaffAbsences")
def get_staff_absences(ctx: Ctx) -> Listing:
    lo, hi = ctx.date_range()
    recs = [a for a in ctx.school.coll(STAFF_ABSENCES).values()
            if overlaps(a["start_date"], a["end_date"], lo, hi)
            and ctx.params.get("staff_member_id", a["staff_member_id"]) == a["staff_member_id"]]
    return Listing(recs, public)


@op("getStaffContracts")
def get_staff_contracts(ctx: Ctx) -> Listing:
    recs = [c for c in ctx.school.coll(STAFF_CONTRACTS).values()
            if ctx.params.get("staff_member_id", c["staff_member_id"]) == c["staff_member_id"]]
    if "date" in ctx.params:
        recs = [c for c in recs if spans(c["start_date"], c["end_date"], ctx.params["date"])]
    flags = flags_of(ctx.params)
    return Listing(recs, lambda r: R.contract(r, flags))


@op("getExclusions")
def get_exclusions(ctx: Ctx) -> Listing:
    lo, hi = ctx.date_range()
    recs = [e for e in ctx.school.coll(EXCLUSIONS).values()
            if overlaps(e["start_date"], e["end_date"], lo, hi)
            and ctx.params.get("student_id", e["student_id"]) == e["student_id"]]
    return Listing(recs, public)


def _match(ctx: Ctx, rec: Rec, *names: str) -> bool:
    return all(ctx.params.get(n, rec[n]) == rec[n] for n in names)


@op("getAttendances")
def get_attendances(ctx: Ctx) -> Listing:
    lo, hi = ctx.date_range()
    recs = [a for a in ctx.school.coll(ATTENDANCES).values()
            if _match(ctx, a, "student_id", "registration_group_id", "group_id")
            and overlaps(a["session_date"], a["session_date"], lo, hi)]
    return Listing(recs, public, ATTENDANCES)


@op("getAttendanceSummaries")
def get_attendance_summaries(ctx: Ctx) -> Listing:
    recs = [a for a in ctx.school.coll(ATTENDANCE_SUMMARIES).values()
            if _match(ctx, a, "student_id", "registration_group_id", "group_id",
                      "academic_year_id")]
    return Listing(recs, public, ATTENDANCE_SUMMARIES)
