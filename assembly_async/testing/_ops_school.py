"""Handlers: school, calendar, subjects, lookups, rooms, timetables, app endpoints."""

from __future__ import annotations

from typing import Any

from ._core import Body, Ctx, Listing, op
from ._store import (
    ACADEMIC_YEARS,
    CALENDAR_EVENTS,
    CLOSURES,
    DIETARY_NEEDS,
    LEARNING_AIMS,
    LESSONS,
    MEDICAL_CONDITIONS,
    MIS_SUBJECTS,
    ROOMS,
    SUBJECTS,
    TIMETABLES,
)
from ._util import Rec, iso_epoch, overlaps, public


def _all(ctx: Ctx, collection: str, delta: bool = False) -> Listing:
    return Listing(list(ctx.school.coll(collection).values()), public,
                   collection if delta else None)


def _one(ctx: Ctx, collection: str) -> Body:
    return Body(public(ctx.find(collection)))


@op("getAcademicYears")
def get_academic_years(ctx: Ctx) -> Listing:
    return _all(ctx, ACADEMIC_YEARS)


@op("findAcademicYear")
def find_academic_year(ctx: Ctx) -> Body:
    return _one(ctx, ACADEMIC_YEARS)


@op("getCalendarEvents")
def get_calendar_events(ctx: Ctx) -> Listing:
    kind = ctx.params.get("type")
    recs = [e for e in ctx.school.coll(CALENDAR_EVENTS).values()
            if kind is None or str(e["type"]).lower() == kind.lower()]
    return Listing(recs, public, CALENDAR_EVENTS)


@op("getSubjects")
def get_subjects(ctx: Ctx) -> Listing:
    return _all(ctx, SUBJECTS)


@op("getMisSubjects")
def get_mis_subjects(ctx: Ctx) -> Listing:
    return _all(ctx, MIS_SUBJECTS)


@op("findSchool")
def find_school(ctx: Ctx) -> Body:
    return Body(dict(ctx.school.info))


@op("status")
def school_status(ctx: Ctx) -> Body:
    s = ctx.school
    return Body({"object": "school_status", "last_changes_at": iso_epoch(s.data_watermark()),
                 "last_sync_at": iso_epoch(s.last_sync_at), "last_sync_status": s.last_sync_status})


@op("sync")
def school_sync(ctx: Ctx) -> Body:
    s = ctx.school
    s.last_sync_at = s.clock
    s.last_sync_status = "success"
    return Body(None, 204)


@op("deauthorize")
def school_deauthorize(ctx: Ctx) -> Body:
    ctx.core.auth.revoke_school(ctx.school.school_id)
    return Body(None, 204)


@op("getDietaryNeeds")
def get_dietary_needs(ctx: Ctx) -> Listing:
    return _all(ctx, DIETARY_NEEDS)


@op("findDietaryNeed")
def find_dietary_need(ctx: Ctx) -> Body:
    return _one(ctx, DIETARY_NEEDS)


@op("getMedicalConditions")
def get_medical_conditions(ctx: Ctx) -> Listing:
    return _all(ctx, MEDICAL_CONDITIONS)


@op("findMedicalCondition")
def find_medical_condition(ctx: Ctx) -> Body:
    return _one(ctx, MEDICAL_CONDITIONS)


@op("getLearningAims")
def get_learning_aims(ctx: Ctx) -> Listing:
    return _all(ctx, LEARNING_AIMS)


@op("findLearningAim")
def find_learning_aim(ctx: Ctx) -> Body:
    return _one(ctx, LEARNING_AIMS)


@op("getRooms")
def get_rooms(ctx: Ctx) -> Listing:
    return _all(ctx, ROOMS, delta=True)


@op("findRoom")
def find_room(ctx: Ctx) -> Body:
    return _one(ctx, ROOMS)


@op("getClosures")
def get_closures(ctx: Ctx) -> Listing:
    room = ctx.find(ROOMS)
    lo, hi = ctx.date_range()
    recs = [c for c in ctx.school.coll(CLOSURES).values()
            if c["_room_id"] == room["id"] and overlaps(c["start_date"], c["end_date"], lo, hi)]
    return Listing(recs, public)


@op("getLessons")
def get_lessons(ctx: Ctx) -> Listing:
    room = ctx.find(ROOMS)
    lo, hi = ctx.date_range()
    recs = [x for x in ctx.school.coll(LESSONS).values()
            if x["_room_id"] == room["id"] and overlaps(x["start_date"], x["start_date"], lo, hi)]
    return Listing(recs, public)


@op("getTimetables")
def get_timetables(ctx: Ctx) -> Listing:
    return _all(ctx, TIMETABLES, delta=True)


@op("findTimetable")
def find_timetable(ctx: Ctx) -> Body:
    tt = public(ctx.find(TIMETABLES))
    lo, hi = ctx.date_range()
    if lo is not None or hi is not None:
        days = []
        for day in tt["days"]:
            occurs = [d for d in day["occurs_on"] if overlaps(d, d, lo, hi)]
            days.append({**day, "occurs_on": occurs})
        tt["days"] = days
    return Body(tt)


# ---- app-level endpoints ------------------------------------------------------

def _school_summary(ctx: Ctx, school_id: int) -> Rec:
    info = ctx.core.school(school_id).info
    return {"id": school_id, "urn": info["urn"], "name": info["name"], "slug": info["slug"],
            "la_code": info["la_code"], "establishment_number": info["establishment_number"],
            "phase": info["phase"]}


@op("getMe")
def get_me(ctx: Ctx) -> Body:
    cfg = ctx.core.cfg
    tok = ctx.token
    assert tok is not None
    scopes = sorted(tok.scopes)
    if ctx.version == "1":
        body: dict[str, Any] = {"level": tok.level, "app": {"id": cfg.app_id, "name": cfg.app_name}}
        if tok.school_id is not None:
            body["school"] = {**_school_summary(ctx, tok.school_id), "scopes": scopes}
        return Body(body)
    created = iso_epoch(ctx.core.schools[cfg.school_ids[0]].created - 400 * 86400)
    return Body({
        "object": "application", "id": cfg.app_id, "name": cfg.app_name,
        "decription": "A fake Assembly application used for testing",
        "website_uri": "https://app.example.com", "support_uri": "https://app.example.com/support",
        "privacy_policy_uri": "https://app.example.com/privacy",
        "redirect_uri": cfg.redirect_uri or "http://127.0.0.1/callback",
        "install_uri": "https://app.example.com/install", "listed": False, "sandbox": True,
        "force_urn_check": False, "created_at": created, "updated_at": created,
        "token": {"access_level": tok.level, "scopes": scopes},
    })


@op("getAuthorizations")
def get_authorizations(ctx: Ctx) -> Body:
    cfg = ctx.core.cfg
    data = []
    for sid in ctx.core.auth.authorized_schools():
        info = ctx.core.school(sid).info
        data.append({"object": "authorization", "school_id": sid, "school_name": info["name"],
                     "school_urn": info["urn"]})
    return Body({"object": "authorizations", "id": cfg.app_id, "name": cfg.app_name, "data": data})


@op("getRegisteredSchools")
def get_registered_schools(ctx: Ctx) -> Listing:
    recs = [{"object": "school", **_school_summary(ctx, sid), "_u": 0}
            for sid in ctx.core.auth.authorized_schools()]
    return Listing(recs, public)
