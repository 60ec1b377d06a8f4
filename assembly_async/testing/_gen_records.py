"""Synthetic school records other than people and groups."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone

from . import _pools as P
from ._config import FakeConfig
from ._gen_people import initial_updated
from ._store import (
    ACADEMIC_YEARS,
    ASSESSMENT_POINTS,
    ASSESSMENTS,
    ATTENDANCE_SUMMARIES,
    ATTENDANCES,
    CALENDAR_EVENTS,
    CLOSURES,
    DIETARY_NEEDS,
    EXCLUSIONS,
    FACETS,
    GRADE_SETS,
    GROUPS,
    LEARNING_AIMS,
    LESSONS,
    MEDICAL_CONDITIONS,
    REGISTRATION,
    RESULTS,
    ROOMS,
    STAFF_ABSENCES,
    STAFF_CONTRACTS,
    STUDENTS,
    SUBJECTS,
    TEACHING,
    TIMETABLES,
    School,
)
from ._util import ACADEMIC_YEAR_START, SENTINEL_DT, Rec, as_date, iso_dt, school_days_before

GRADE_SETS_DEF = (
    ("GCSE 9-1", [(str(v), v) for v in range(9, 0, -1)] + [("U", 0)]),
    ("A Level", [(g, 6 - i) for i, g in enumerate(("A*", "A", "B", "C", "D", "E", "U"))]),
    ("Working At", [("Mastered", 4), ("Secure", 3), ("Developing", 2), ("Emerging", 1)]),
    ("KS2 Scaled Score", [(str(v), v) for v in range(120, 79, -5)]),
)
ASSESSMENTS_DEF = (
    ("KS2 SATs", "Key Stage 2", "KS2 Scaled Score", ["KS2 Reading", "KS2 Maths"]),
    ("GCSE", "GCSE", "GCSE 9-1", ["GCSE Grade"]),
    ("A Level", "GCE", "A Level", ["A Level Grade"]),
    ("Internal Tracking", "Internal", "Working At", ["Tracking Grade", "Effort"]),
)
NI_LETTERS = "ABCEGHJKLMNPRSTWXYZ"
FACETS_DEF = ("achieved", "target", "prediction", "baseline")
PERIOD_TIMES = (("08:50", "09:50"), ("09:50", "10:50"), ("11:10", "12:10"), ("13:00", "14:00"),
                ("14:00", "15:00"))
DAY_NAMES = (("Mon", "Monday"), ("Tue", "Tuesday"), ("Wed", "Wednesday"), ("Thu", "Thursday"),
             ("Fri", "Friday"))


def make_lookups(school: School) -> None:
    for code, name in P.DIETARY_NEEDS:
        school.put(DIETARY_NEEDS, {"object": "dietary_need", "id": school.next_id(DIETARY_NEEDS),
                                   "code": code, "name": name}, school.created)
    for code, name in P.MEDICAL_CONDITIONS:
        school.put(MEDICAL_CONDITIONS, {"object": "medical_condition",
                                        "id": school.next_id(MEDICAL_CONDITIONS), "code": code,
                                        "name": name}, school.created)
    for name, number, discount, qan in P.LEARNING_AIMS:
        school.put(LEARNING_AIMS, {"object": "learning_aim", "_id": school.next_id(LEARNING_AIMS),
                                   "qualification_name": name, "qualification_number": number,
                                   "discount_code": discount, "qan_subject": qan,
                                   "expiry_date": iso_dt(date(2027, 7, 31))}, school.created)


def make_assessment_data(school: School, cfg: FakeConfig) -> None:
    gs_ids: dict[str, int] = {}
    for name, grades in GRADE_SETS_DEF:
        gid = school.next_id(GRADE_SETS)
        gs_ids[name] = gid
        school.put(GRADE_SETS, {"object": "grade_set", "id": gid, "name": name, "grades": [
            {"object": "grade", "id": school.next_id("grades"), "name": g, "value": v}
            for g, v in grades]}, school.created)
    for name, family, gs, mis in ASSESSMENTS_DEF:
        school.put(ASSESSMENTS, {"object": "assessment", "id": school.next_id(ASSESSMENTS),
                                 "name": name, "family_id": school.next_id("families"),
                                 "family_name": family, "mis_assessments": mis,
                                 "_grade_set_id": gs_ids[gs]}, school.created)
    for facet in FACETS_DEF:
        school.put(FACETS, {"object": "facet", "id": school.next_id(FACETS), "name": facet},
                   school.created)
    points: list[tuple[int, str, str, str]] = [
        (61, "KS2 Results", "National", "6"), (111, "GCSE Results", "Examination", "11"),
        (131, "A Level Results", "Examination", "13")]
    for yc in cfg.year_codes:
        num = int(yc) if yc.isdigit() else 0
        for t, term in enumerate(("Autumn", "Spring", "Summer"), start=1):
            points.append((num * 10 + t + (200 if num * 10 + t in (61, 111, 131) else 0),
                           f"Year {yc} {term}", "Internal", yc))
    for rank, name, kind, yc in sorted(points):
        school.put(ASSESSMENT_POINTS, {"object": "assessment_point", "_id": rank, "rank": rank,
                                       "name": name, "type": kind, "year_code": yc}, school.created)


def grade_ids(school: School, assessment: Rec) -> list[int]:
    gs = school.get(GRADE_SETS, assessment["_grade_set_id"])
    return [g["id"] for g in gs["grades"]] if gs else []


def new_result(school: School, student_id: int, subject_id: int, assessment_id: int, rank: int,
               facet_id: int, grade_id: int, result_date: str | None, updated: int) -> Rec:
    stamp = iso_dt(datetime.fromtimestamp(updated, tz=timezone.utc))
    return school.put(RESULTS, {
        "object": "result", "id": school.next_id(RESULTS), "student_id": student_id,
        "subject_id": subject_id, "assessment_id": assessment_id, "assessment_point_rank": rank,
        "facet_id": facet_id, "grade_id": grade_id, "result_date": result_date,
        "created_at": stamp, "updated_at": stamp}, updated)


def make_results(school: School, cfg: FakeConfig, students: list[Rec]) -> None:
    rng = school.rng
    by_name = {a["name"]: a for a in school.coll(ASSESSMENTS).values()}
    facets = list(school.coll(FACETS).values())
    subjects = list(school.coll(SUBJECTS))
    for s in students:
        yc = s["year_code"]
        ranks = [p["rank"] for p in school.coll(ASSESSMENT_POINTS).values()
                 if p["year_code"] == yc and p["type"] == "Internal"]
        for i in range(cfg.results_per_student):
            a = by_name["GCSE"] if yc in ("10", "11") and i % 2 else by_name["Internal Tracking"]
            rank = ranks[0] if ranks else 111
            facet = facets[i % 2]
            u = initial_updated(rng)
            new_result(school, s["id"], rng.choice(subjects), a["id"], rank, facet["id"],
                       rng.choice(grade_ids(school, a)), iso_dt(date(ACADEMIC_YEAR_START, 12, 13)),
                       u)


def registration_group_of(school: School, student_id: int) -> int | None:
    for e in school.enrolments_of_student(student_id):
        g = school.get(GROUPS, e["group_id"])
        if g is not None and g["_kind"] == REGISTRATION:
            return int(g["id"])
    return None


def make_attendance(school: School, cfg: FakeConfig) -> None:
    rng = school.rng
    days = school_days_before(school.today, cfg.attendance_days)
    years = sorted(school.coll(ACADEMIC_YEARS).values(), key=lambda y: y["start_date"])
    for s in school.coll(STUDENTS).values():
        reg = registration_group_of(school, s["id"])
        left = as_date(s["end_date"])
        for day in days:
            if left is not None and day > left:
                break
            for session in ("AM", "PM"):
                mark = rng.choice(P.ATTENDANCE_MARKS)
                school.put(ATTENDANCES, {
                    "object": "attendance", "id": school.next_id(ATTENDANCES),
                    "student_id": s["id"],
                    "registration_group_id": reg, "group_id": reg, "session_date": iso_dt(day),
                    "session_name": session, "attendance_mark": mark,
                    "minutes_late": rng.randint(2, 25) if mark in ("L", "U") else None,
                    "comments": "Dentist appointment" if mark == "M" else None,
                }, int(datetime.combine(day, time(17), tzinfo=timezone.utc).timestamp()))
        for ay in years[-2:]:
            possible = float(rng.randint(150, 190) if ay["id"] != years[-1]["id"] else 180)
            attended = possible - rng.randint(0, 20)
            auth = float(rng.randint(0, int(possible - attended)))
            school.put(ATTENDANCE_SUMMARIES, {
                "object": "attendance_summary", "id": school.next_id(ATTENDANCE_SUMMARIES),
                "student_id": s["id"], "registration_group_id": reg, "group_id": reg,
                "academic_year_id": ay["id"],
                "start_date": iso_dt(as_date(ay["start_date"]) or date.min),
                "end_date": iso_dt(as_date(ay["end_date"]) or date.max),
                "possible_sessions": possible,
                "attended_sessions": attended, "late_sessions": float(rng.randint(0, 6)),
                "authorised_absence_sessions": auth,
                "unauthorised_absence_sessions": possible - attended - auth,
            }, initial_updated(rng))


def make_calendar(school: School, cfg: FakeConfig) -> None:
    rng = school.rng
    start = date(ACADEMIC_YEAR_START, 9, 2)
    for i in range(cfg.calendar_events):
        kind, name = P.CALENDAR_EVENTS[i % len(P.CALENDAR_EVENTS)]
        day = start + timedelta(days=rng.randrange(320))
        t0 = datetime.combine(day, time(9 if kind != "Meeting" else 16), tzinfo=timezone.utc)
        length = timedelta(days=5) if kind == "Holiday" else timedelta(hours=2)
        add_calendar_event(school, kind, name, t0, t0 + length, initial_updated(rng))


def add_calendar_event(school: School, kind: str, name: str, start: datetime, end: datetime,
                       updated: int | None = None) -> Rec:
    return school.put(CALENDAR_EVENTS, {
        "object": "calendar_event", "id": school.next_id(CALENDAR_EVENTS), "type": kind,
        "name": name, "description": None if kind == "Holiday" else f"{name} ({start:%B %Y})",
        "start_date": iso_dt(start), "end_date": iso_dt(end)}, updated)


def make_exclusions(school: School, cfg: FakeConfig) -> None:
    rng = school.rng
    students = list(school.coll(STUDENTS))
    for _ in range(min(cfg.exclusions_per_school, len(students))):
        start = date(ACADEMIC_YEAR_START, 9, 9) + timedelta(days=rng.randrange(120))
        length = rng.choice((1, 1, 2, 3, 5))
        kind = rng.choice(("Fixed Term", "Fixed Term", "Lunchtime", "Permanent"))
        school.put(EXCLUSIONS, {
            "object": "exclusion", "id": school.next_id(EXCLUSIONS),
            "student_id": rng.choice(students), "exclusion_type": kind,
            "exclusion_reason": rng.choice(P.EXCLUSION_REASONS), "exclusion_reason_2": None,
            "exclusion_reason_3": None, "start_date": iso_dt(start), "start_session": "AM",
            "end_date": iso_dt(start + timedelta(days=length - 1)), "end_session": "PM",
            "exclusion_length": 0 if kind == "Lunchtime" else length}, initial_updated(rng))


def make_contract(school: School, rng: random.Random, staff: Rec) -> None:
    post = staff["_post"]
    teacher = post[2]
    start = staff["start_date"]
    allowances = []
    if post[1] in ("Head of Department", "Head of Year"):
        allowances.append({"object": "staff_allowance", "id": school.next_id("allowances"),
                           "additional_payment_type": "TLR2", "additional_payment_amount":
                           float(rng.choice((3214, 4678, 6428))), "start_date": start,
                           "end_date": SENTINEL_DT})
    base = float(rng.randint(31650, 49084) if teacher else rng.randint(18000, 26000))
    school.put(STAFF_CONTRACTS, {
        "object": "staff_contract", "id": school.next_id(STAFF_CONTRACTS),
        "staff_member_id": staff["id"], "start_date": start, "end_date": None,
        "national_insurance_number": f"{rng.choice(NI_LETTERS)}{rng.choice(NI_LETTERS)}"
        f"{rng.randint(100000, 999999)}{rng.choice('ABCD')}",
        "payroll_number": f"P{staff['id'] % 1_000_000:05d}",
        "contract_type": "Permanent" if rng.random() < 0.85 else "Fixed Term", "post": post[0],
        "origin": rng.choice(("Another school in England", "Newly qualified", "Other employment")),
        "destination": None, "daily_rate": False,
        "pay_review_date": iso_dt(date(ACADEMIC_YEAR_START + 1, 9, 1)),
        "roles": [{"object": "staff_role", "id": school.next_id("roles"), "role_type": post[1],
                   "start_date": start, "end_date": SENTINEL_DT}],
        "salaries": [{"object": "staff_salary", "id": school.next_id("salaries"),
                      "hours_per_week": 32.5 if teacher else 30.0, "fte": 1.0 if teacher else 0.8,
                      "weeks_per_year": 52.14 if teacher else 39.0,
                      "pay_range": "MPR" if base < 43000 else "UPR", "start_date": start,
                      "end_date": None, "pay_scale_framework": "Teachers" if teacher else "Support",
                      "regional_spine": "Rest of England", "base_pay": base,
                      "actual_pay": base if teacher else round(base * 0.8, 2),
                      "safeguarded_salary": False}],
        "allowances": allowances}, staff["_u"])


def make_staff_absences(school: School, rng: random.Random, staff: Rec) -> None:
    for _ in range(rng.choice((0, 0, 1, 2))):
        cat, code, illness = rng.choice(P.ABSENCE_CATEGORIES)
        start = date(ACADEMIC_YEAR_START, 9, 9) + timedelta(days=rng.randrange(120))
        days = rng.choice((0.5, 1.0, 1.0, 2.0, 3.0))
        school.put(STAFF_ABSENCES, {
            "object": "staff_absence", "id": school.next_id(STAFF_ABSENCES),
            "staff_member_id": staff["id"], "start_date": iso_dt(start),
            "end_date": iso_dt(start + timedelta(days=max(int(days) - 1, 0))),
            "working_days_lost": days, "absence_category": cat, "absence_category_code": code,
            "illness_category": illness, "pay_rate": "Full"}, initial_updated(rng))


def _room_ref(room: Rec) -> Rec:
    return {"object": "room", "id": room["id"], "code": room["code"], "name": room["name"],
            "description": room["description"]}


def _group_ref(school: School, g: Rec) -> Rec:
    subj = school.get(SUBJECTS, g.get("_subject_id", 0))
    mis = next((m for m in subj["mis_subjects"] if m["id"] == g.get("_mis_subject_id")), None) \
        if subj else None
    return {"object": "group", "id": g["id"], "name": g["name"], "code": g["code"],
            "type": g["_kind"],
            "mis_subject": {k: mis[k] for k in ("id", "name", "code", "alt_name", "alt_code")}
            | {"object": "mis_subject"} if mis else None,
            "subject": {"object": "subject", "id": subj["id"], "code": subj["code"],
                        "name": subj["name"]} if subj else None}


def make_rooms_and_timetables(school: School, cfg: FakeConfig) -> None:
    rng = school.rng
    rooms = []
    for i in range(cfg.rooms):
        prefix, kind, cap = P.ROOM_KINDS[i % len(P.ROOM_KINDS)]
        room = {"object": "room", "id": school.next_id(ROOMS), "code": f"{prefix}{i + 1}",
                "name": f"{kind} {i + 1}",
                "description": f"{kind}, {'ground' if i % 2 else 'first'} floor",
                "maximum_capacity": cap}
        rooms.append(school.put(ROOMS, room, initial_updated(rng)))
        if rng.random() < 0.3:
            start = date(ACADEMIC_YEAR_START, 10, 21) + timedelta(days=rng.randrange(100))
            school.put(CLOSURES, {"object": "closure", "id": school.next_id(CLOSURES),
                                  "description": rng.choice(("Refurbishment", "Exams", "Flooding")),
                                  "start_date": iso_dt(start),
                                  "end_date": iso_dt(start + timedelta(days=rng.randint(1, 5))),
                                  "_room_id": room["id"]}, school.created)
    if not rooms:
        return
    teaching = school.groups_of(TEACHING)
    # weekly slots: (group, day index, period index, room, teacher)
    slots = []
    for g in teaching:
        for _ in range(2):
            slots.append((g, rng.randrange(5), rng.randrange(5), rng.choice(rooms),
                          g["_supervisors"][0][0] if g["_supervisors"] else None))
    today = school.today
    week_start = today - timedelta(days=today.weekday())
    for g, day, period, room, teacher in slots:
        for week in (-1, 0, 1):
            d = week_start + timedelta(days=7 * week + day)
            t_from, t_to = PERIOD_TIMES[period]
            t0 = datetime.combine(d, time.fromisoformat(t_from), tzinfo=timezone.utc)
            t1 = datetime.combine(d, time.fromisoformat(t_to), tzinfo=timezone.utc)
            kind = "Scheduled" if rng.random() < 0.95 else rng.choice(("RoomCover", "StaffCover"))
            school.put(LESSONS, {
                "object": "lesson", "id": school.next_id(LESSONS), "type": kind,
                "start_date": iso_dt(t0), "end_date": iso_dt(t1), "group": _group_ref(school, g),
                "supervisors": [{"object": "supervisor", "staff_member_id": teacher,
                                 "role": "Cover Teacher" if kind == "StaffCover" else "Teacher"}],
                "rooms": [_room_ref(room)], "_room_id": room["id"]}, school.created)
    ay = school.get(ACADEMIC_YEARS, school.current_academic_year_id)
    assert ay is not None
    for t in range(cfg.timetables):
        year = ACADEMIC_YEAR_START - t
        start, end = date(year, 9, 2), date(year + 1, 7, 23)
        days = []
        for di, (short, long) in enumerate(DAY_NAMES):
            first = start + timedelta(days=(di - start.weekday()) % 7)
            periods = []
            for pi, (t_from, t_to) in enumerate(PERIOD_TIMES):
                lessons = [{
                    "object": "lesson", "id": school.next_id("timetable_lessons"),
                    "type": "Scheduled", "group": _group_ref(school, g),
                    "start_date": iso_dt(start), "end_date": iso_dt(end),
                    "supervisors": [{"object": "supervisor", "staff_member_id": teacher,
                                     "role": "Teacher"}],
                    "rooms": [_room_ref(room)]} for g, d, p, room, teacher in slots
                    if d == di and p == pi and t == 0]
                periods.append({"object": "period", "id": school.next_id("periods"),
                                "short_name": f"P{pi + 1}", "long_name": f"Period {pi + 1}",
                                "start_time": t_from, "end_time": t_to, "display_order": pi + 1,
                                "lessons": lessons})
            days.append({"object": "day", "id": school.next_id("days"), "short_name": short,
                         "long_name": long, "display_order": di + 1,
                         "occurs_on": [(first + timedelta(weeks=w)).isoformat()
                                       for w in range(((end - first).days // 7) + 1)],
                         "periods": periods})
        school.put(TIMETABLES, {
            "object": "timetable", "id": school.next_id(TIMETABLES),
            "name": f"{year}/{year + 1} Timetable", "description": "One week timetable",
            "start_date": iso_dt(start), "end_date": iso_dt(end), "weeks": 1, "days_per_week": 5,
            "periods_per_day": len(PERIOD_TIMES), "days": days}, initial_updated(rng))
