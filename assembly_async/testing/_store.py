"""Per-school data store: collections, the school's data clock, watermarks.

Every stored record carries an internal ``_u`` (updated-at, epoch seconds on
the school's clock).  The clock starts at a fixed instant; each mutation moves
it forward by at least one second, so "changed after the watermark" is exact.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date
from typing import Any

from ._util import BASE_EPOCH, Rec, as_date, epoch_date, key_of, rid, spans

# collection names
STUDENTS = "students"
STAFF = "staff_members"
CONTACTS = "contacts"
GROUPS = "groups"
ENROLMENTS = "enrolments"
ATTENDANCES = "attendances"
ATTENDANCE_SUMMARIES = "attendance_summaries"
CALENDAR_EVENTS = "calendar_events"
EXCLUSIONS = "exclusions"
ACADEMIC_YEARS = "academic_years"
ASSESSMENTS = "assessments"
ASSESSMENT_POINTS = "assessment_points"
GRADE_SETS = "grade_sets"
FACETS = "facets"
RESULTS = "results"
SUBJECTS = "subjects"
MIS_SUBJECTS = "mis_subjects"
ROOMS = "rooms"
CLOSURES = "closures"
LESSONS = "lessons"
TIMETABLES = "timetables"
STAFF_ABSENCES = "staff_absences"
STAFF_CONTRACTS = "staff_contracts"
DIETARY_NEEDS = "dietary_needs"
MEDICAL_CONDITIONS = "medical_conditions"
LEARNING_AIMS = "learning_aims"

COLLECTIONS: tuple[str, ...] = (
    STUDENTS, STAFF, CONTACTS, GROUPS, ENROLMENTS, ATTENDANCES, ATTENDANCE_SUMMARIES,
    CALENDAR_EVENTS, EXCLUSIONS, ACADEMIC_YEARS, ASSESSMENTS, ASSESSMENT_POINTS, GRADE_SETS,
    FACETS, RESULTS, SUBJECTS, MIS_SUBJECTS, ROOMS, CLOSURES, LESSONS, TIMETABLES,
    STAFF_ABSENCES, STAFF_CONTRACTS, DIETARY_NEEDS, MEDICAL_CONDITIONS, LEARNING_AIMS,
)

# group kinds (the Group.type values)
YEAR = "YearGroup"
REGISTRATION = "RegistrationGroup"
TEACHING = "TeachingGroup"
HOUSE = "HouseGroup"
USER = "UserGroup"

# resource names accepted by change()/add()/leave() that are views of GROUPS
GROUP_VIEWS = {
    "teaching_groups": TEACHING,
    "registration_groups": REGISTRATION,
    "year_groups": YEAR,
}


class School:
    """All data of one school plus its clock."""

    def __init__(self, school_id: int, seed: int) -> None:
        self.school_id = school_id
        self.rng = random.Random(seed + school_id)
        self.mut_rng = random.Random((seed + school_id) * 7919 + 17)
        self.clock = BASE_EPOCH
        self.created = BASE_EPOCH - 120 * 86400
        self.info: Rec = {}
        self.last_sync_at = BASE_EPOCH - 3600
        self.last_sync_status = "success"
        self.current_academic_year_id = 0
        self.collections: dict[str, dict[int, Rec]] = {name: {} for name in COLLECTIONS}
        self._counters: dict[str, int] = {}
        self._enrol_by_group: dict[int, list[int]] = {}
        self._enrol_by_student: dict[int, list[int]] = {}

    # ---- ids and clock -------------------------------------------------
    def next_id(self, kind: str) -> int:
        n = self._counters.get(kind, 0) + 1
        self._counters[kind] = n
        return rid(self.school_id, n)

    @property
    def today(self) -> date:
        return epoch_date(self.clock)

    def tick(self, seconds: int = 1) -> int:
        """Move the clock forward (at least 1 s) and return the new time."""
        self.clock += max(1, int(seconds))
        return self.clock

    # ---- collections -----------------------------------------------------
    def coll(self, name: str) -> dict[int, Rec]:
        return self.collections[name]

    def put(self, name: str, rec: Rec, updated: int | None = None) -> Rec:
        rec["_u"] = self.clock if updated is None else updated
        self.collections[name][key_of(rec)] = rec
        if name == ENROLMENTS:
            self._enrol_by_group.setdefault(rec["group_id"], []).append(rec["id"])
            self._enrol_by_student.setdefault(rec["student_id"], []).append(rec["id"])
        return rec

    def touch(self, rec: Rec) -> None:
        """Mark a record changed now (call after :meth:`tick`)."""
        rec["_u"] = self.clock

    def get(self, name: str, record_id: int) -> Rec | None:
        return self.collections[name].get(record_id)

    def watermark(self, name: str, records: Iterable[Rec] | None = None) -> int:
        recs = self.collections[name].values() if records is None else records
        return max((r["_u"] for r in recs), default=self.created)

    def data_watermark(self) -> int:
        return max(self.watermark(name) for name in COLLECTIONS)

    # ---- groups and memberships -------------------------------------------
    def groups_of(self, kind: str | None) -> list[Rec]:
        return [g for g in self.collections[GROUPS].values() if kind is None or g["_kind"] == kind]

    def enrolments_of_group(self, group_id: int) -> list[Rec]:
        coll = self.collections[ENROLMENTS]
        return [coll[i] for i in self._enrol_by_group.get(group_id, ())]

    def enrolments_of_student(self, student_id: int) -> list[Rec]:
        coll = self.collections[ENROLMENTS]
        return [coll[i] for i in self._enrol_by_student.get(student_id, ())]

    def member_ids(self, group_id: int, when: Any) -> list[int]:
        """Student ids of a group on a day, or over an academic year (a Rec)."""
        out: list[int] = []
        for e in self.enrolments_of_group(group_id):
            if isinstance(when, date):
                ok = spans(e["start_date"], e["end_date"], when)
            else:
                ys, ye = as_date(when["start_date"]), as_date(when["end_date"])
                es, ee = as_date(e["start_date"]), as_date(e["end_date"])
                ok = (es is None or ye is None or es <= ye) and \
                    (ee is None or ys is None or ee >= ys)
            if ok and e["student_id"] not in out:
                out.append(e["student_id"])
        return out

    def current_students(self) -> list[Rec]:
        return [s for s in self.collections[STUDENTS].values() if not s["_left"]]

    def current_staff(self) -> list[Rec]:
        return [s for s in self.collections[STAFF].values() if not s["_left"]]
