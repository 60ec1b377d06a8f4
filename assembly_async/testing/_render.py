"""Turn stored records into response payloads (include flags, group views)."""

from __future__ import annotations

from datetime import date
from typing import Any

from ._store import ASSESSMENTS, GRADE_SETS, REGISTRATION, SUBJECTS, TEACHING, YEAR, School
from ._util import Rec, public

STUDENT_FLAGS = ("demographics", "contacts", "sen_needs", "emails", "addresses", "care",
                 "ever_in_care", "languages", "photo", "medical")
_STUDENT_BLOCKS = {"demographics": "demographics", "contacts": "contacts", "emails": "emails",
                   "address": "addresses", "languages": "languages", "medical": "medical"}
_STAFF_BLOCKS = {"address": "addresses", "demographics": "demographics",
                 "qualification_info": "qualifications"}
_CONTRACT_BLOCKS = {"roles": "roles", "salaries": "salaries", "allowances": "allowances"}


def flags_of(params: dict[str, Any]) -> set[str]:
    return {k for k, v in params.items() if v is True}


def _blocks(rec: Rec, blocks: dict[str, str], flags: set[str]) -> Rec:
    return {k: v for k, v in rec.items()
            if not k.startswith("_") and (k not in blocks or blocks[k] in flags)}


def student(rec: Rec, flags: set[str], photo_base: str) -> Rec:
    out = _blocks(rec, _STUDENT_BLOCKS, flags)
    demo = rec["demographics"]
    if "demographics" in flags:
        d = dict(demo)
        for key, flag in (("sen_needs", "sen_needs"), ("in_care", "care"),
                          ("ever_in_care", "ever_in_care")):
            if flag not in flags:
                d.pop(key, None)
        out["demographics"] = d
    elif "sen_needs" in flags:
        out["demographics"] = {"object": demo["object"], "sen_needs": demo["sen_needs"]}
    if "photo" in flags:
        out["photo"] = {"object": "photo", "hash": rec["_photo"],
                        "url": f"{photo_base}/_photos/{rec['id']}.png?expires=3600&signature="
                               f"{rec['_photo'][:16]}"}
    return out


def staff(rec: Rec, flags: set[str]) -> Rec:
    return _blocks(rec, _STAFF_BLOCKS, flags)


def contract(rec: Rec, flags: set[str]) -> Rec:
    return _blocks(rec, _CONTRACT_BLOCKS, flags)


def contact(rec: Rec, flags: set[str]) -> Rec:
    return _blocks(rec, {"address": "addresses"}, flags)


def subject(rec: Rec) -> Rec:
    return public(rec)


def assessment(rec: Rec) -> Rec:
    return public(rec)


def assessment_v1_grade_set(school: School, rec: Rec) -> Rec:
    out = public(rec)
    gs = school.get(GRADE_SETS, rec["_grade_set_id"])
    out["grade_set"] = public(gs) if gs else None
    return out


def _supervisor_ids(g: Rec) -> list[int]:
    return [sid for sid, _role in g["_supervisors"]]


def group(school: School, g: Rec, view: str, when: date | Rec) -> Rec:
    """Render a stored group as ``group``/``teaching``/``registration``/``year``."""
    members = school.member_ids(g["id"], when)
    base = {"id": g["id"], "name": g["name"]}
    if view == "year" and g["_kind"] == YEAR:
        return {"object": "year_group", **base, "code": g["code"], "start_date": g["start_date"],
                "end_date": g["end_date"], "supervisor_ids": _supervisor_ids(g),
                "student_ids": members}
    if view == "registration" and g["_kind"] == REGISTRATION:
        return {"object": "registration_group", **base, "start_date": g["start_date"],
                "end_date": g["end_date"], "supervisor_ids": _supervisor_ids(g),
                "student_ids": members}
    subj = school.get(SUBJECTS, g.get("_subject_id", 0))
    if view == "teaching" and g["_kind"] == TEACHING:
        a = school.get(ASSESSMENTS, g.get("_assessment_id") or 0)
        return {"object": "teaching_group", **base, "start_date": g["start_date"],
                "end_date": g["end_date"], "academic_year_id": g.get("_academic_year_id"),
                "supervisor_ids": _supervisor_ids(g), "student_ids": members,
                "subject": public(subj) if subj else None, "mis_level": g.get("_mis_level"),
                "assessment": public(a) if a else None}
    mis = None
    if subj is not None:
        m = next((x for x in subj["mis_subjects"] if x["id"] == g.get("_mis_subject_id")), None)
        if m is not None:
            mis = {"object": "mis_subject", "id": m["id"], "name": m["name"], "code": m["code"],
                   "subject": {"object": "subject", "id": subj["id"], "code": subj["code"],
                               "name": subj["name"], "alt_name": subj["name"].upper(),
                               "alt_code": subj["code"].lower()}}
    return {"object": "group", **base, "code": g["code"], "type": g["_kind"], "mis_subject": mis,
            "start_date": g["start_date"], "end_date": g["end_date"],
            "supervisors": [{"object": "supervisor", "staff_member_id": sid, "role": role}
                            for sid, role in g["_supervisors"]],
            "student_ids": members}
