"""Data changes driven by the control API: change, add, leave (each ticks the clock)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta, timezone

from . import _pools as P
from ._config import FakeConfig
from ._gen_people import make_staff, make_student
from ._gen_records import add_calendar_event, grade_ids, make_contract, new_result
from ._gen_school import enrol_student, mark_left, pick_year
from ._store import (
    ASSESSMENTS,
    ATTENDANCES,
    CONTACTS,
    GROUP_VIEWS,
    GROUPS,
    RESULTS,
    ROOMS,
    STAFF,
    STUDENTS,
    SUBJECTS,
    School,
)
from ._util import Rec, iso_dt, iso_epoch, key_of

PEOPLE = (STUDENTS, STAFF)


def _collection(resource: str) -> tuple[str, str | None]:
    if resource in GROUP_VIEWS:
        return GROUPS, GROUP_VIEWS[resource]
    return resource, None


def candidates(school: School, resource: str) -> list[Rec]:
    name, kind = _collection(resource)
    if name not in school.collections:
        raise ValueError(f"unknown resource {resource!r}")
    recs = list(school.coll(name).values())
    if kind is not None:
        recs = [r for r in recs if r["_kind"] == kind]
    if name in PEOPLE:
        recs = [r for r in recs if not r["_left"]]
    return recs


def _pick(school: School, resource: str, count: int, ids: Iterable[int] | None) -> list[Rec]:
    pool = candidates(school, resource)
    if ids is not None:
        by_id = {key_of(r): r for r in pool}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise KeyError(f"no current {resource} with ids {missing}")
        return [by_id[i] for i in ids]
    if count > len(pool):
        raise ValueError(f"only {len(pool)} {resource} available, asked for {count}")
    return sorted(school.mut_rng.sample(pool, count), key=key_of)


def _revise(rec: Rec) -> None:
    rev = rec.get("_rev", 0) + 1
    rec["_rev"] = rev
    base = rec.setdefault("_base_name", rec.get("name"))
    if isinstance(base, str):
        rec["name"] = f"{base} (v{rev})"


def _modify(school: School, name: str, rec: Rec) -> None:
    rng = school.mut_rng
    if name == STUDENTS:
        pool = P.FIRST_F if rec["demographics"]["gender"] == "F" else P.FIRST_M
        rec["middle_name"] = rng.choice([n for n in pool if n != rec["middle_name"]])
    elif name == STAFF:
        rec["title"] = "Dr" if rec["title"] != "Dr" else "Mx"
        rec["salutation"] = f"{rec['title']} {rec['last_name']}"
    elif name == CONTACTS:
        rec["telephone_numbers"][0]["telephone_number"] = f"07{rng.randint(100, 999)} " \
            f"{rng.randint(100000, 999999)}"
    elif name == ATTENDANCES:
        rec["attendance_mark"] = "L" if rec["attendance_mark"] != "L" else "/"
        rec["minutes_late"] = rng.randint(2, 25) if rec["attendance_mark"] == "L" else None
    elif name == RESULTS:
        a = school.get(ASSESSMENTS, rec["assessment_id"])
        choices = [g for g in (grade_ids(school, a) if a else []) if g != rec["grade_id"]]
        if choices:
            rec["grade_id"] = rng.choice(choices)
        rec["updated_at"] = iso_epoch(school.clock)
    elif name == ROOMS:
        rec["maximum_capacity"] = (rec["maximum_capacity"] or 0) + 1
    elif "description" in rec and "name" not in rec:
        rec["_rev"] = rec.get("_rev", 0) + 1
        rec["description"] = f"{rec['description'] or ''} (rev {rec['_rev']})".strip()
    else:
        _revise(rec)


def change(school: School, resource: str, count: int = 1, ids: Iterable[int] | None = None
           ) -> list[int]:
    """Modify ``count`` records (or the given ids); they become part of the next delta."""
    recs = _pick(school, resource, count, None if ids is None else list(ids))
    name, _ = _collection(resource)
    school.tick()
    for rec in recs:
        _modify(school, name, rec)
        school.touch(rec)
    return [key_of(r) for r in recs]


def add(school: School, cfg: FakeConfig, resource: str, count: int = 1,
        year_code: str | None = None) -> list[int]:
    """Create ``count`` new records (students, staff_members, calendar_events, results, rooms)."""
    rng = school.mut_rng
    now = school.tick()
    out: list[int] = []
    for _ in range(count):
        if resource == STUDENTS:
            yc = year_code or pick_year(rng, cfg)
            s = make_student(school, rng, yc, school.today, updated=now)
            for c in school.coll(CONTACTS).values():
                if any(x["student_id"] == s["id"] for x in c["students"]):
                    school.touch(c)
            for e in enrol_student(school, rng, s, updated=now):
                group = school.get(GROUPS, e["group_id"])
                if group is not None:
                    school.touch(group)
            out.append(s["id"])
        elif resource == STAFF:
            staff = make_staff(school, rng, rng.choice(P.STAFF_POSTS), updated=now)
            staff["start_date"] = iso_dt(school.today)
            make_contract(school, rng, staff)
            out.append(staff["id"])
        elif resource == "calendar_events":
            kind, name = rng.choice(P.CALENDAR_EVENTS)
            t0 = datetime.combine(school.today + timedelta(days=rng.randint(1, 60)), time(18),
                                  tzinfo=timezone.utc)
            out.append(add_calendar_event(school, kind, name, t0, t0 + timedelta(hours=2))["id"])
        elif resource == RESULTS:
            student = rng.choice(school.current_students())
            a = next(x for x in school.coll(ASSESSMENTS).values()
                     if x["name"] == "Internal Tracking")
            facet = next(iter(school.coll("facets")))
            rank = next(iter(school.coll("assessment_points")))
            out.append(new_result(school, student["id"], rng.choice(list(school.coll(SUBJECTS))),
                                  a["id"], rank, facet, rng.choice(grade_ids(school, a)),
                                  iso_dt(school.today), now)["id"])
        elif resource == ROOMS:
            rid_ = school.next_id(ROOMS)
            out.append(school.put(ROOMS, {"object": "room", "id": rid_, "code": f"N{rid_ % 1000}",
                                          "name": f"New Room {rid_ % 1000}",
                                          "description": "Temporary classroom",
                                          "maximum_capacity": 30})["id"])
        else:
            raise ValueError("add() supports students, staff_members, calendar_events, results, "
                             f"rooms; not {resource!r}")
    return out


def leave(school: School, resource: str, count: int = 1, ids: Iterable[int] | None = None
          ) -> list[int]:
    """Take students or staff off roll: their last day is yesterday (school clock)."""
    if resource not in PEOPLE:
        raise ValueError("leave() supports students and staff_members")
    recs = _pick(school, resource, count, None if ids is None else list(ids))
    school.tick()
    last_day = school.today - timedelta(days=1)
    for rec in recs:
        mark_left(school, rec, last_day)
    return [r["id"] for r in recs]
