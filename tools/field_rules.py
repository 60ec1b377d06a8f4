"""Field types the spec does not say well enough, and why: dates, and codes.

Read by ``tools/generate_models.py`` (standard library only).

Dates. The spec types
nearly every date as ``date-time`` (the PHP and Java SDKs it was built from
did), but a birth date is a day, not a moment. Every field of the spec with
``format: date-time`` or ``format: date``, and every string field whose name
says it is a date, must have a row here: the generator refuses to run
otherwise, so a new date field is a decision, not an accident.

* ``date``: ``datetime.date`` (the model annotation ``CalendarDate``). The API
  may write it bare (``1999-12-10``) or as a date-time
  (``2015-09-01T00:00:00.000Z``); the day is the date as written.
* ``instant``: a timezone-aware ``datetime.datetime`` (``Instant``); a bare
  date is midnight UTC, a date-time without an offset is UTC.

Sources: DEV = developers.assembly.education (v1 pages), H14 = the data model
help article, PA/JS = the PHP/Java SDK docs (see CONCEPTS.md).

Codes (:data:`CODE_RULES`). A string field the API may also send as a JSON
number is annotated ``Code`` (a ``str`` for type checkers): both decoders turn
the number into its text, the fast path included, so such a value neither
fails nor costs the record a fallback.
"""

from __future__ import annotations

DATE = "date"
INSTANT = "instant"

_PERIOD = "the first and last day of a period; a day, not a moment"
_GROUP = "a group's first and last day (DEV groups show 2015-09-01T00:00:00.000Z)"
_CONTRACT = "the first and last day of an employment record"
_UNTYPED = ("a day (the description says date); the spec, from PA/JS, leaves it an "
            "untyped string, so an unknown form is reported, never guessed")

#: (class, field) -> (kind, reason).
DATE_RULES: dict[tuple[str, str], tuple[str, str]] = {
    # -- people ------------------------------------------------------------
    ("Student", "dob"): (DATE, "a birth date; DEV students sends it bare: 1999-12-10"),
    ("Student", "start_date"): (DATE, "the day the student joined (DEV: a date-time)"),
    ("Student", "end_date"): (DATE, "the day the student left"),
    ("StaffMember", "dob"): (DATE, "a birth date"),
    ("StaffMember", "start_date"): (DATE, "the day the member of staff joined"),
    ("StaffMember", "end_date"): (DATE, "the day the member of staff left"),
    ("StudentLearningAims", "start_date"): (DATE, _PERIOD),
    ("StudentLearningAims", "planned_end_date"): (DATE, _PERIOD),
    ("StudentLearningAims", "actual_end_date"): (DATE, _PERIOD),
    ("StudentMedicalCondition", "information_received_on"): (
        DATE, "the day the school was told"),
    ("StudentMedicalNote", "last_modified_date"): (INSTANT, "when a note was edited"),
    ("PpEntitlement", "start_date"): (DATE, _UNTYPED),
    ("PpEntitlement", "end_date"): (DATE, _UNTYPED),
    ("FsmEntitlement", "start_date"): (DATE, _UNTYPED),
    ("FsmEntitlement", "end_date"): (DATE, _UNTYPED),
    ("SenCategory", "start_date"): (DATE, _UNTYPED),
    ("SenCategory", "end_date"): (DATE, _UNTYPED),
    ("SenNeed", "start_date"): (DATE, _UNTYPED),
    ("StudentDemographics", "fsm_review_date"): (DATE, _UNTYPED),
    # -- school year and calendar -----------------------------------------
    ("AcademicYear", "start_date"): (DATE, "H14 writes academic-year dates bare: 2015-09-01"),
    ("AcademicYear", "end_date"): (DATE, "H14 writes academic-year dates bare: 2016-07-21"),
    ("AcademicYearTerms", "start_date"): (
        DATE, "term dates are days; H14 writes them 2016-04-11T00:00:00.000Z"),
    ("AcademicYearTerms", "end_date"): (
        DATE, "H14 writes the last day at 23:59 (2016-07-22T23:59:00.000Z): the day is kept"),
    ("CalendarEvent", "start_date"): (INSTANT, "an event may start at a time of day"),
    ("CalendarEvent", "end_date"): (INSTANT, "an event may end at a time of day"),
    ("Closure", "start_date"): (INSTANT, "a room may close for part of a day"),
    ("Closure", "end_date"): (INSTANT, "a room may close for part of a day"),
    # -- attendance and behaviour -------------------------------------------
    ("Attendance", "session_date"): (DATE, "the day of a session; session_name says AM or PM"),
    ("AttendanceSummary", "start_date"): (DATE, _PERIOD),
    ("AttendanceSummary", "end_date"): (DATE, _PERIOD),
    ("Exclusion", "start_date"): (DATE, "a day; start_session says AM or PM"),
    ("Exclusion", "end_date"): (DATE, "a day; end_session says AM or PM"),
    # -- groups -----------------------------------------------------------------
    ("Enrolment", "start_date"): (DATE, "the first day of a group enrolment"),
    ("Enrolment", "end_date"): (DATE, "the last day of a group enrolment"),
    ("Group", "start_date"): (DATE, _GROUP),
    ("Group", "end_date"): (DATE, _GROUP),
    ("RegistrationGroup", "start_date"): (DATE, _GROUP),
    ("RegistrationGroup", "end_date"): (DATE, _GROUP),
    ("TeachingGroup", "start_date"): (DATE, _GROUP),
    ("TeachingGroup", "end_date"): (DATE, _GROUP),
    ("YearGroup", "start_date"): (DATE, _GROUP),
    ("YearGroup", "end_date"): (DATE, _GROUP),
    # -- assessment ---------------------------------------------------------------
    ("LearningAim", "expiry_date"): (DATE, "the last day a qualification is offered"),
    ("Result", "result_date"): (DATE, "the day a result was recorded"),
    ("Result", "created_at"): (INSTANT, "a record timestamp"),
    ("Result", "updated_at"): (INSTANT, "a record timestamp"),
    ("ResultEntry", "result_date"): (DATE, "the day of a result sent back (written YYYY-MM-DD)"),
    ("ResultUpdate", "result_date"): (DATE, "the day of a result sent back (written YYYY-MM-DD)"),
    # -- staff records ------------------------------------------------------------
    ("StaffAbsence", "start_date"): (
        INSTANT, "an absence may start mid-day (working_days_lost counts fractions)"),
    ("StaffAbsence", "end_date"): (
        INSTANT, "an absence may end mid-day (working_days_lost counts fractions)"),
    ("StaffAllowance", "start_date"): (DATE, _CONTRACT),
    ("StaffAllowance", "end_date"): (DATE, _CONTRACT),
    ("StaffContract", "start_date"): (DATE, _CONTRACT),
    ("StaffContract", "end_date"): (DATE, _CONTRACT),
    ("StaffContract", "pay_review_date"): (DATE, "the day pay is next reviewed"),
    ("StaffRole", "start_date"): (DATE, _CONTRACT),
    ("StaffRole", "end_date"): (DATE, _CONTRACT),
    ("StaffSalary", "start_date"): (DATE, _CONTRACT),
    ("StaffSalary", "end_date"): (DATE, _CONTRACT),
    # -- timetables -----------------------------------------------------------------
    ("Lesson", "start_date"): (INSTANT, "a lesson starts at a time of day"),
    ("Lesson", "end_date"): (INSTANT, "a lesson ends at a time of day"),
    ("TimetableLessons", "start_date"): (INSTANT, "a lesson starts at a time of day"),
    ("TimetableLessons", "end_date"): (INSTANT, "a lesson ends at a time of day"),
    ("Timetable", "start_date"): (DATE, "the first day a timetable is used"),
    ("Timetable", "end_date"): (DATE, "the last day a timetable is used"),
    ("TimetableStructure", "start_date"): (DATE, "the first day a structure is used"),
    ("TimetableStructure", "end_date"): (DATE, "the last day a structure is used"),
    ("TimetableDays", "occurs_on"): (DATE, "the days a timetable day falls on (format: date)"),
    ("TimetableStructureDays", "occurs_on"): (DATE, "the days a structure day falls on"),
    # -- the app and the school ---------------------------------------------------
    ("Me", "created_at"): (INSTANT, "a record timestamp"),
    ("Me", "updated_at"): (INSTANT, "a record timestamp"),
    ("SchoolStatus", "last_changes_at"): (INSTANT, "when the school's data last changed"),
    ("SchoolStatus", "last_sync_at"): (INSTANT, "when the school last synced its MIS"),
}

#: (class, field) -> reason: string fields that may arrive as JSON numbers.
CODE_RULES: dict[tuple[str, str], str] = {
    ("Student", "year_code"): "PA types the year_code parameter integer on some operations",
    ("AssessmentPoint", "year_code"): "PA types the year_code parameter integer on some operations",
}
