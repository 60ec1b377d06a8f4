"""Every SDK operation against the shipped fake server, in both API versions.

Each call goes over real loopback HTTP through the whole stack (sans-I/O
request building, pipeline, transport, decoding into the generated models);
a schema mismatch between the fake's spec-shaped payloads and the models
would surface here as a DecodeError.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest

import assembly_async as aa
from assembly_async import models as m
from assembly_async._client.resources import SDK_CALLS
from assembly_async.testing import FakeAssembly

Check = Callable[[aa.SchoolSession, aa.AppSession, dict[str, Any]], Awaitable[Any]]


async def first(paginator: aa.Paginator[Any]) -> Any:
    page = await paginator.page(1)
    assert page.items, "expected at least one record"
    return page.items[0]


def checks() -> dict[str, Check]:
    """operationId -> a call through the SDK that asserts on the typed result."""

    async def ids(s: aa.SchoolSession) -> list[int]:
        return [x.id for x in (await s.students.list(per_page=5).page(1)).items]

    async def create(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        subject = await first(s.subjects.list())
        facet = await first(s.facets.list())
        point = await first(s.assessment_points.list())
        assessment = await first(s.assessments.list())
        grades = await s.assessments.grade_set(assessment.id)
        student_ids = await ids(s)
        out = await s.results.create(
            subject_id=subject.id, facet_id=facet.id, assessment_point_rank=point.rank,
            assessment_id=assessment.id,
            results=[m.ResultEntry(student_id=i, grade_id=grades.grades[0].id)
                     for i in student_ids[:3]])
        assert len(out) == 3 and all(isinstance(r, m.Result) for r in out)
        c["result"] = out[0]
        c["grade_ids"] = [g.id for g in grades.grades]
        return out

    async def update(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        if "result" not in c:
            await create(s, a, c)
        r = c["result"]
        out = await s.results.update(r.id, student_id=r.student_id, grade_id=c["grade_ids"][-1])
        assert isinstance(out, m.Result) and out.grade_id == c["grade_ids"][-1]

    async def update_many(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        if "result" not in c:
            await create(s, a, c)
        r = c["result"]
        out = await s.results.update_many(results=[m.ResultUpdate(
            result_id=r.id, student_id=r.student_id, grade_id=c["grade_ids"][0])])
        assert isinstance(out, m.BulkResultResponse)

    def lst(attr: str, model: type, method: str = "list", **kw: Any) -> Check:
        async def run(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
            rec = await first(getattr(getattr(s, attr), method)(**kw))
            assert isinstance(rec, model)
            c[attr] = rec
        return run

    def get(attr: str, model: type, key: str = "id", list_model: type | None = None) -> Check:
        async def run(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
            rec = await first(getattr(s, attr).list())
            one = await getattr(s, attr).get(getattr(rec, key))
            assert isinstance(one, model) and getattr(one, key) == getattr(rec, key)
        return run

    def sub(attr: str, method: str, model: type, key: str = "id", **kw: Any) -> Check:
        async def run(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
            parent = await first(getattr(s, attr).list())
            if "students" in kw:
                kw["students"] = await ids(s)
            result = getattr(getattr(s, attr), method)(getattr(parent, key), **kw)
            if isinstance(result, aa.Paginator):
                result = await result.all()
                assert all(isinstance(x, model) for x in result)
            else:
                result = await result
                assert isinstance(result, model)
        return run

    async def results_list(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        out = await s.results.list(students=await ids(s)).all()
        assert out and all(isinstance(r, m.Result) for r in out)

    async def enrolments(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        group = await first(s.groups.list())
        out = await s.groups.enrolments(groups=[group.id]).all()
        assert all(isinstance(x, m.Enrolment) for x in out)

    async def details(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        assert isinstance(await s.details.get(), m.School)

    async def status(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        assert isinstance(await s.details.status(), m.SchoolStatus)

    async def request_sync(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        assert await s.details.request_sync() is None

    async def me(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        assert isinstance(await a.me(), (m.Me, m.MeV1))
        assert isinstance(await s.me(), (m.Me, m.MeV1))

    async def registered(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        schools = await a.registered_schools().all()
        assert schools and all(isinstance(x, dict) for x in schools)

    async def authorizations(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        out = await a.authorizations()
        assert isinstance(out, m.AuthorizationsV1) and out.data

    async def learning_aim(s: aa.SchoolSession, a: aa.AppSession, c: dict[str, Any]) -> Any:
        # The LearningAim schema has no id field; the fake knows the ids.
        aim_id = c["fake"].record_ids(1, "learning_aims")[0]
        assert isinstance(await s.learning_aims.get(aim_id), m.LearningAim)

    return {
        "getAcademicYears": lst("academic_years", m.AcademicYear),
        "findAcademicYear": get("academic_years", m.AcademicYear),
        "getAssessmentPoints": lst("assessment_points", m.AssessmentPoint),
        "findAssessmentPoint": get("assessment_points", m.AssessmentPoint, key="rank"),
        "getAssessmentPointResults": sub("assessment_points", "results", m.Result, key="rank",
                                         students=True),
        "getAssessments": lst("assessments", m.Assessment),
        "findAssessment": get("assessments", m.Assessment),
        "findAssessmentGradeSet": sub("assessments", "grade_set", m.GradeSet),
        "getAssessmentResults": sub("assessments", "results", m.Result, students=True),
        "getAttendances": lst("attendances", m.Attendance),
        "getAttendanceSummaries": lst("attendances", m.AttendanceSummary, "summaries"),
        "getCalendarEvents": lst("calendar_events", m.CalendarEvent),
        "getContacts": lst("contacts", m.Contact),
        "getExclusions": lst("exclusions", m.Exclusion),
        "getFacets": lst("facets", m.Facet),
        "findFacet": get("facets", m.Facet),
        "getGradeSets": lst("grade_sets", m.GradeSet),
        "findGradeSet": get("grade_sets", m.GradeSet),
        "getGroups": lst("groups", m.Group),
        "getGroupEnrolments": enrolments,
        "findGroup": get("groups", m.Group),
        "getGroupStudents": sub("groups", "students", m.Student),
        "getMisSubjects": lst("mis_subjects", m.MisSubject),
        "getRegistrationGroups": lst("registration_groups", m.RegistrationGroup),
        "findRegistrationGroup": get("registration_groups", m.RegistrationGroup),
        "getRegistrationGroupStudents": sub("registration_groups", "students", m.Student),
        "createResult": create,
        "updateResults": update,
        "bulkUpdateResults": update_many,
        "getResults": results_list,
        "getRooms": lst("rooms", m.Room),
        "findRoom": get("rooms", m.Room),
        "getClosures": sub("rooms", "closures", m.Closure),
        "getLessons": sub("rooms", "lessons", m.Lesson),
        "findSchool": details,
        "status": status,
        "sync": request_sync,
        "getDietaryNeeds": lst("dietary_needs", m.DietaryNeed),
        "findDietaryNeed": get("dietary_needs", m.DietaryNeed),
        "getLearningAims": lst("learning_aims", m.LearningAim),
        "findLearningAim": learning_aim,
        "getMedicalConditions": lst("medical_conditions", m.MedicalCondition),
        "findMedicalCondition": get("medical_conditions", m.MedicalCondition),
        "getStaffAbsences": lst("staff_absences", m.StaffAbsence),
        "getStaffContracts": lst("staff_contracts", m.StaffContract, roles=True, salaries=True),
        "getStaffMembers": lst("staff_members", m.StaffMember, demographics=True),
        "getLeftStaffMembers": lst("staff_members", m.StaffMember, "left"),
        "findStaffMember": get("staff_members", m.StaffMember),
        "getStudents": lst("students", m.Student, demographics=True, contacts=True, care=True),
        "getLeftStudents": lst("students", m.Student, "left"),
        "findStudent": get("students", m.Student),
        "getSubjects": lst("subjects", m.Subject),
        "getTeachingGroups": lst("teaching_groups", m.TeachingGroup),
        "findTeachingGroup": get("teaching_groups", m.TeachingGroup),
        "getTeachingGroupStudents": sub("teaching_groups", "students", m.Student),
        "getTimetables": lst("timetables", m.Timetable),
        "findTimetable": get("timetables", m.Timetable),
        "getYearGroups": lst("year_groups", m.YearGroup),
        "findYearGroup": get("year_groups", m.YearGroup),
        "getYearGroupStudents": sub("year_groups", "students", m.Student),
        "getMe": me,
        "getRegisteredSchools": registered,
        "getAuthorizations": authorizations,
    }


def test_every_sdk_operation_has_an_e2e_check() -> None:
    # deauthorize revokes the school and has its own test below.
    assert set(checks()) | {"deauthorize"} == set(SDK_CALLS)


@pytest.mark.parametrize("version", ["1.1", "1"])
async def test_every_operation_returns_typed_models(version: str) -> None:
    async with FakeAssembly(schools=1, students_per_school=30, staff_per_school=6,
                            attendance_days=1, calendar_events=4, rooms=3) as fake:
        async with aa.AssemblyClient(api_url=str(fake.api_url), oauth_url=str(fake.oauth_url),
                                     api_version=version, client_id=fake.client_id,
                                     client_secret=fake.client_secret) as client:
            school = client.school(access_token=fake.school_token(1).access_token)
            app = client.app()
            context: dict[str, Any] = {"fake": fake}
            failures = {}
            for op_id, check in checks().items():
                try:
                    await check(school, app, context)
                except Exception as exc:  # collect all, report together
                    failures[op_id] = f"{type(exc).__name__}: {exc}"
            assert not failures, failures


async def test_deauthorize_revokes_the_school(fake_assembly: FakeAssembly) -> None:
    async with aa.AssemblyClient(api_url=str(fake_assembly.api_url)) as client:
        school = client.school(access_token=fake_assembly.school_token(1).access_token)
        assert await school.details.deauthorize() is None
        with pytest.raises(aa.InvalidToken):
            await school.details.get()


def test_models_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        m.Student(id=1).id = 2  # type: ignore[misc]
