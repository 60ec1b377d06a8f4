"""Generate one school's data set deterministically from ``Random(seed + school_id)``."""

from __future__ import annotations

import random
from datetime import date, timedelta

from . import _pools as P
from ._config import FakeConfig
from ._gen_people import initial_updated, make_staff, make_student
from ._gen_records import (
    make_assessment_data,
    make_attendance,
    make_calendar,
    make_contract,
    make_exclusions,
    make_lookups,
    make_results,
    make_rooms_and_timetables,
    make_staff_absences,
)
from ._store import (
    ACADEMIC_YEARS,
    ASSESSMENTS,
    ENROLMENTS,
    GROUPS,
    HOUSE,
    MIS_SUBJECTS,
    REGISTRATION,
    STAFF,
    STAFF_CONTRACTS,
    STUDENTS,
    SUBJECTS,
    TEACHING,
    USER,
    YEAR,
    School,
)
from ._util import ACADEMIC_YEAR_START, SENTINEL_DT, Rec, as_date, iso_date, iso_dt

TERMS = (("Autumn", (9, 2), (12, 20)), ("Spring", (1, 6), (4, 4)), ("Summer", (4, 22), (7, 23)))


def make_school_info(school: School, cfg: FakeConfig) -> None:
    rng = school.rng
    i = (school.school_id - 1) % len(P.SCHOOL_NAMES)
    la_code, la_name = P.LA_NAMES[i % len(P.LA_NAMES)]
    town = P.TOWNS[i % len(P.TOWNS)]
    name = P.SCHOOL_NAMES[i]
    if school.school_id > len(P.SCHOOL_NAMES):
        name += f" {school.school_id}"
    school.info = {
        "object": "school", "name": name,
        "slug": name.lower().replace("'", "").replace(" ", "-"),
        "urn": str(100000 + school.school_id * 37 + rng.randint(0, 30)),
        "mis_provider": rng.choice(P.MIS_PROVIDERS), "la_code": la_code, "la_name": la_name,
        "establishment_number": 4000 + rng.randint(0, 999),
        "establishment_type": "Academy converter",
        "phase": "Secondary" if any(yc.isdigit() and int(yc) >= 7 for yc in cfg.year_codes)
        else "Primary", "street": f"{rng.randint(1, 99)} {rng.choice(P.STREETS)}",
        "town": town[0], "postcode": f"{town[2]}{rng.randint(1, 20)} {rng.randint(1, 9)}AB",
        "head_teacher": f"{rng.choice(('Mrs', 'Mr', 'Dr'))} {rng.choice(P.SURNAMES)}",
    }


def make_academic_years(school: School) -> None:
    for year in (ACADEMIC_YEAR_START - 2, ACADEMIC_YEAR_START - 1, ACADEMIC_YEAR_START):
        terms = []
        for name, (sm, sd), (em, ed) in TERMS:
            sy = year if sm >= 9 else year + 1
            terms.append({"object": "term", "id": school.next_id("terms"), "name": name,
                          "start_date": iso_dt(date(sy, sm, sd)),
                          # H14 writes a term's last day at 23:59 (2016-07-22T23:59:00.000Z).
                          "end_date": iso_dt(date(year if em >= 9 else year + 1, em, ed))
                          .replace("T00:00:00", "T23:59:00")})
        rec: Rec = {"object": "academic_year", "id": school.next_id(ACADEMIC_YEARS),
               "name": f"{year}/{year + 1}", "start_date": iso_date(date(year, 9, 1)),
               "end_date": iso_date(date(year + 1, 8, 31)), "terms": terms}
        school.put(ACADEMIC_YEARS, rec, school.created)
        if year == ACADEMIC_YEAR_START:
            school.current_academic_year_id = rec["id"]


def make_subjects(school: School) -> None:
    for code, name in P.SUBJECTS:
        sid = school.next_id(SUBJECTS)
        ref = {"object": "subject", "id": sid, "code": code, "name": name}
        mis = [(name, code)] + ([("Further Mathematics", "FM")] if code == "MA" else [])
        mis_recs = []
        for mname, mcode in mis:
            m = {"object": "mis_subject", "id": school.next_id(MIS_SUBJECTS), "name": mname,
                 "code": mcode, "alt_name": mname.upper()[:12], "alt_code": mcode.lower(),
                 "subject": dict(ref)}
            mis_recs.append(dict(m))
            school.put(MIS_SUBJECTS, m, school.created)
        school.put(SUBJECTS, {**ref, "mis_subjects": mis_recs,
                              "_mis_ids": [m["id"] for m in mis_recs]}, school.created)


def _group(school: School, kind: str, name: str, code: str | None, start: str, end: str,
           year_code: str | None, supervisors: list[tuple[int, str]], **extra: object) -> Rec:
    rec: Rec = {"object": "group", "id": school.next_id(GROUPS), "name": name, "code": code,
                "start_date": start, "end_date": end, "_kind": kind, "_year_code": year_code,
                "_supervisors": supervisors, **extra}
    return school.put(GROUPS, rec, initial_updated(school.rng))


def make_groups(school: School, cfg: FakeConfig, teachers: list[int]) -> None:
    rng = school.rng
    ay = school.get(ACADEMIC_YEARS, school.current_academic_year_id)
    assert ay is not None
    ys = iso_dt(as_date(ay["start_date"]) or date.min)
    ye = iso_dt(as_date(ay["end_date"]) or date.max)
    autumn_end = ay["terms"][0]["end_date"]
    subjects = list(school.coll(SUBJECTS).values())
    assessments = {a["name"]: a["id"] for a in school.coll(ASSESSMENTS).values()}

    def teacher() -> int:
        return rng.choice(teachers)

    for yc in cfg.year_codes:
        _group(school, YEAR, f"Year {yc}", yc, ys, ye, yc, [(teacher(), "Head of Year")])
        for r in range(cfg.registration_groups_per_year):
            _group(school, REGISTRATION, f"{yc}{'ABCDEFGHJK'[r % 10]}{r // 10 or ''}",
                   f"{yc}{'ABCDEFGHJK'[r % 10]}", ys, ye, yc, [(teacher(), "Tutor")])
        num = int(yc) if yc.isdigit() else 0
        level = "GCSE" if num in (10, 11) else "A Level" if num in (12, 13) else None
        for t in range(cfg.teaching_groups_per_year):
            subj = subjects[(t + num) % len(subjects)]
            short = subj["code"].title()
            mis_id = subj["_mis_ids"][0]
            ends = autumn_end if rng.random() < 0.12 else ye
            _group(school, TEACHING, f"{yc}{'xy'[t % 2]}/{short}{t // 2 + 1}",
                   f"{yc}{short}{t + 1}",
                   ys, ends, yc, [(teacher(), "Teacher")] + ([(teacher(), "Teacher")]
                                                              if rng.random() < 0.2 else []),
                   _subject_id=subj["id"], _mis_subject_id=mis_id, _mis_level=level,
                   _academic_year_id=ay["id"],
                   _assessment_id=assessments.get("GCSE" if level == "GCSE" else "A Level")
                   if level else assessments.get("Internal Tracking"))
    for h in range(cfg.house_groups):
        name = P.HOUSES[h % len(P.HOUSES)]
        _group(school, HOUSE, f"{name} House", name[:3].upper(), iso_dt(date(2020, 9, 1)),
               SENTINEL_DT, None, [(teacher(), "Head of House")])
    for u in range(cfg.user_groups):
        start = iso_dt(date(ACADEMIC_YEAR_START, 10, 1) + timedelta(days=7 * u))
        _group(school, USER, P.USER_GROUPS[u % len(P.USER_GROUPS)], None, start,
               SENTINEL_DT if u % 2 == 0 else ye, None, [(teacher(), "Organiser")])


def enrol(school: School, group: Rec, student: Rec, updated: int | None = None) -> Rec:
    gs, ss = as_date(group["start_date"]), as_date(student["start_date"])
    start = max(d for d in (gs, ss, date.min) if d is not None)
    term_only = group["end_date"] != SENTINEL_DT and group["_kind"] == TEACHING and \
        (as_date(group["end_date"]) or date.max).month == 12
    rec = {"object": "enrolment", "id": school.next_id(ENROLMENTS), "student_id": student["id"],
           "group_id": group["id"], "start_date": iso_dt(start),
           "end_date": group["end_date"] if term_only else SENTINEL_DT}
    return school.put(ENROLMENTS, rec, student["_u"] if updated is None else updated)


def enrol_student(school: School, rng: random.Random, student: Rec,
                  updated: int | None = None) -> list[Rec]:
    """Put a student into their year group, one tutor group, some classes, a house."""
    yc = student["year_code"]
    by_kind: dict[str, list[Rec]] = {}
    for g in school.coll(GROUPS).values():
        if g["_year_code"] in (yc, None):
            by_kind.setdefault(g["_kind"], []).append(g)
    chosen: list[Rec] = list(by_kind.get(YEAR, []))
    if by_kind.get(REGISTRATION):
        chosen.append(rng.choice(by_kind[REGISTRATION]))
    chosen += [g for g in by_kind.get(TEACHING, []) if rng.random() < 0.6]
    if by_kind.get(HOUSE):
        chosen.append(rng.choice(by_kind[HOUSE]))
    chosen += [g for g in by_kind.get(USER, []) if rng.random() < 0.1]
    return [enrol(school, g, student, updated) for g in chosen]


def student_start(rng: random.Random, year_code: str) -> date:
    num = int(year_code) if year_code.isdigit() else 7
    if rng.random() < 0.05:
        return date(ACADEMIC_YEAR_START, 9, 16) + timedelta(days=rng.randrange(110))
    first_year = 12 if num >= 12 else 7 if num >= 7 else 0
    return date(ACADEMIC_YEAR_START - (num - first_year), 9, 4)


def pick_year(rng: random.Random, cfg: FakeConfig) -> str:
    weights = [0.6 if yc in ("12", "13") else 1.0 for yc in cfg.year_codes]
    return rng.choices(cfg.year_codes, weights=weights)[0]


def generate_school(cfg: FakeConfig, school_id: int) -> School:
    school = School(school_id, cfg.seed)
    rng = school.rng
    make_school_info(school, cfg)
    make_academic_years(school)
    make_subjects(school)
    make_lookups(school)
    make_assessment_data(school, cfg)
    n_staff = max(cfg.staff_per_school, 1)
    for i in range(n_staff + cfg.left_staff_per_school):
        post = P.STAFF_POSTS[0] if i < max(3, n_staff // 3) else rng.choice(P.STAFF_POSTS)
        staff = make_staff(school, rng, post)
        make_contract(school, rng, staff)
        make_staff_absences(school, rng, staff)
    teachers = [s["id"] for s in school.coll(STAFF).values() if s["is_teaching_staff"]]
    make_groups(school, cfg, teachers)
    for _ in range(cfg.students_per_school + cfg.left_students_per_school):
        yc = pick_year(rng, cfg)
        student = make_student(school, rng, yc, student_start(rng, yc))
        enrol_student(school, rng, student)
    # a few leavers, generated like everyone else, then taken off roll
    all_students = list(school.coll(STUDENTS).values())
    for s in all_students[len(all_students) - cfg.left_students_per_school:]:
        left_on = date(ACADEMIC_YEAR_START, 10, 1) + timedelta(days=rng.randrange(100))
        left_on = min(max(left_on, (as_date(s["start_date"]) or left_on) + timedelta(days=7)),
                      school.today - timedelta(days=1))
        mark_left(school, s, left_on, s["_u"])
    all_staff = list(school.coll(STAFF).values())
    for s in all_staff[len(all_staff) - cfg.left_staff_per_school:]:
        mark_left(school, s, date(ACADEMIC_YEAR_START, 12, 20), s["_u"])
    make_results(school, cfg, all_students)
    make_attendance(school, cfg)
    make_calendar(school, cfg)
    make_exclusions(school, cfg)
    make_rooms_and_timetables(school, cfg)
    return school


def mark_left(school: School, person: Rec, left_on: date, updated: int | None = None) -> list[int]:
    """Take a student or staff member off roll; returns the changed group ids."""
    when = school.clock if updated is None else updated
    person["end_date"] = iso_dt(left_on)
    person["_left"] = True
    person["_u"] = when
    changed: list[int] = []
    if person["object"] == "student":
        for e in school.enrolments_of_student(person["id"]):
            end = as_date(e["end_date"])
            if end is None or end > left_on:
                e["end_date"] = iso_dt(left_on)
                e["_u"] = when
                group = school.get(GROUPS, e["group_id"])
                if group is not None:
                    group["_u"] = max(group["_u"], when)
                    changed.append(group["id"])
    else:
        for c in school.coll(STAFF_CONTRACTS).values():
            if c["staff_member_id"] == person["id"]:
                c["end_date"] = iso_dt(left_on)
                c["_u"] = when
    return changed
