"""Synthetic people: students (with their include blocks), contacts, staff."""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta

from . import _pools as P
from ._store import CONTACTS, STAFF, STUDENTS, School
from ._util import ACADEMIC_YEAR_START, BASE_EPOCH, Rec, iso_date, iso_dt

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def upn(la: int, est: int, year: int, serial: int) -> str:
    """A Unique Pupil Number with a valid check letter."""
    body = f"{la:03d}{est:04d}{year % 100:02d}{serial % 1000:03d}"
    total = sum(int(c) * (i + 2) for i, c in enumerate(body))
    return UPN_LETTERS[total % 23] + body


def initial_updated(rng: random.Random) -> int:
    return BASE_EPOCH - rng.randrange(1, 60 * 86400)


def address(rng: random.Random, town: tuple[str, str, str] | None = None) -> Rec:
    t = town or rng.choice(P.TOWNS)
    return {
        "object": "address",
        "address_line_1": f"{rng.randint(1, 180)} {rng.choice(P.STREETS)}",
        "address_line_2": None if rng.random() < 0.8 else f"Flat {rng.randint(1, 12)}",
        "town_city": t[0],
        "county": t[1],
        "country": "United Kingdom",
        "postcode": f"{t[2]}{rng.randint(1, 28)} {rng.randint(1, 9)}"
        f"{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}",
    }


def email(school: School, rng: random.Random, addr: str, kind: str, primary: bool) -> Rec:
    return {"object": "email", "id": school.next_id("emails"), "email": addr, "type": kind,
            "is_primary": primary}


def phone(school: School, rng: random.Random, kind: str, primary: bool) -> Rec:
    number = f"07{rng.randint(100, 999)} {rng.randint(100000, 999999)}" if kind == "Mobile" \
        else f"0{rng.randint(113, 199)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
    return {"object": "telephone_number", "id": school.next_id("phones"), "type": kind,
            "telephone_number": number, "is_primary": primary}


def _period(school: School, rng: random.Random, obj: str, start: date, end: date | None) -> Rec:
    return {"object": obj, "id": school.next_id(obj), "start_date": iso_dt(start),
            "end_date": iso_dt(end) if end else None}


def _demographics(school: School, rng: random.Random, female: bool, start: date) -> Rec:
    eth = rng.choice(P.ETHNICITIES)
    is_pp = rng.random() < 0.25
    is_fsm = is_pp and rng.random() < 0.7
    sen = rng.random() < 0.15
    cat = rng.choice(P.SEN_CATEGORIES) if sen else None
    nat = rng.randrange(len(P.NATIONALITIES)) if rng.random() < 0.2 else 0
    needs = []
    if sen:
        for prio in range(1, rng.randint(1, 2) + 1):
            code, name, bcode, bname = rng.choice(P.SEN_NEEDS)
            needs.append({"object": "sen_need", "id": school.next_id("sen_need"),
                          "start_date": iso_dt(start + timedelta(days=rng.randrange(200))),
                          "sen_need_type_code": code, "sen_need_type_name": name,
                          "sen_broad_need_type_code": bcode, "sen_broad_need_type_name": bname,
                          "priority": prio})
    return {
        "object": "student_demographics",
        "ethnicity_code": eth[0],
        "ethnicity_group": eth[1],
        "gender": "F" if female else "M",
        "is_pp": is_pp,
        "pp_history": [_period(school, rng, "pp_entitlement", start, None)] if is_pp else [],
        "is_eal": nat != 0 or rng.random() < 0.05,
        "sen_category": cat[0] if cat else None,
        "sen_category_history": [
            {"object": "sen_category", "id": school.next_id("sen_category"), "code": cat[0],
             "description": cat[1], "start_date": iso_dt(start), "end_date": None}
        ] if cat else [],
        "country_of_birth": P.COUNTRIES[nat],
        "nationalities": [P.NATIONALITIES[nat]],
        "fsm_review_date": iso_dt(date(ACADEMIC_YEAR_START + 1, 3, 31)) if is_fsm else None,
        "is_fsm": is_fsm,
        "is_fsm6": is_pp,
        "fsm_history": [_period(school, rng, "fsm_entitlement", start, None)] if is_fsm else [],
        "in_care": rng.random() < 0.02,
        "ever_in_care": rng.random() < 0.04,
        "service_child": rng.random() < 0.03,
        "sen_needs": needs,
    }


def _medical(school: School, rng: random.Random, female: bool, staff_ids: list[int]) -> Rec:
    conditions = []
    if rng.random() < 0.2:
        code, name = rng.choice(P.MEDICAL_CONDITIONS)
        author = rng.choice(staff_ids) if staff_ids else None
        note = {"object": "student_medical_note", "id": school.next_id("medical_note"),
                "status": "Active", "summary": f"{name} care plan", "detail": None
                if rng.random() < 0.5 else "Inhaler kept in school office.",
                "created_by_id": author, "last_modified_by_id": author,
                "last_modified_date": iso_dt(date(2024, 9, 2))}
        conditions.append({"object": "student_medical_condition",
                           "id": school.next_id("student_medical_condition"),
                           "information_received_on": iso_dt(date(2024, 9, 2)), "code": code,
                           "name": name, "notes": [note]})
    return {
        "object": "student_medical",
        "nhs_number": f"{rng.randint(400, 499)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "is_pregnant": False if female else None,
        "has_emergency_consent": rng.random() < 0.9,
        "conditions": conditions,
        "dietary_needs": [rng.choice(P.DIETARY_NEEDS)[1]] if rng.random() < 0.15 else [],
        "notes": [],
    }


def make_contact(school: School, rng: random.Random, student_id: int, last: str,
                 priority: int) -> Rec:
    rel, gender = rng.choice(P.RELATIONSHIPS[:2] if priority == 1 else P.RELATIONSHIPS)
    first = rng.choice(P.FIRST_F if gender == "F" else P.FIRST_M)
    title = rng.choice(("Mrs", "Ms", "Miss")) if gender == "F" else "Mr"
    relationship = {"object": "relationship", "relationship_type": rel, "priority": priority,
                    "parental_responsibility": rel in ("Mother", "Father", "Carer")}
    cid = school.next_id(CONTACTS)
    rec: Rec = {
        "object": "contact", "id": cid, "mis_id": str(50000 + cid % 100000),
        "first_name": first, "middle_name": None, "last_name": last, "gender": gender,
        "title": title, "salutation": f"{title} {last}", "address": address(rng),
        "emails": [email(school, rng, f"{first.lower()}.{last.lower()}@example.com", "Home", True)],
        "telephone_numbers": [phone(school, rng, "Mobile", True)],
        "students": [{"object": "contact_student", "student_id": student_id,
                      "relationship": relationship}],
    }
    school.put(CONTACTS, rec, initial_updated(rng))
    return rec


def make_student(school: School, rng: random.Random, year_code: str, start: date,
                 updated: int | None = None) -> Rec:
    sid = school.next_id(STUDENTS)
    n = sid % 1_000_000
    female = rng.random() < 0.5
    legal_first = rng.choice(P.FIRST_F if female else P.FIRST_M)
    first = P.NICKNAMES.get(legal_first, legal_first) if rng.random() < 0.3 else legal_first
    last = rng.choice(P.SURNAMES)
    yc = int(year_code) if year_code.isdigit() else 7
    dob = date(ACADEMIC_YEAR_START - yc - 5, 9, 1) + timedelta(days=rng.randrange(365))
    la = school.info.get("la_code") or 900
    est = school.info.get("establishment_number") or 4000
    staff_ids = list(school.coll(STAFF))
    contacts = [make_contact(school, rng, sid, last, 1)]
    if rng.random() < 0.6:
        contacts.append(make_contact(school, rng, sid, last, 2))
    lang = rng.choice(P.LANGUAGES)
    prof = P.PROFICIENCY[-1] if lang[0] == "ENG" else rng.choice(P.PROFICIENCY)
    rec: Rec = {
        "object": "student", "id": sid, "year_code": year_code,
        "upn": upn(int(la), int(est), dob.year + 5, n),
        "former_upn": None if rng.random() < 0.97 else upn(int(la), 2000, dob.year + 4, n),
        "uln": str(rng.randint(1_000_000_000, 9_999_999_999)) if yc >= 10 else None,
        "mis_id": str(10000 + n), "pan": f"{n:06d}",
        "first_name": first, "legal_first_name": legal_first,
        "middle_name": rng.choice(P.FIRST_F if female else P.FIRST_M)
        if rng.random() < 0.5 else None,
        "last_name": last, "legal_last_name": last,
        "former_last_name": None if rng.random() < 0.97 else rng.choice(P.SURNAMES),
        # DEV students sends dob bare ("1999-12-10"), enrolment dates as date-times.
        "dob": iso_date(dob), "start_date": iso_dt(start), "end_date": None,
        "enrolment_status": "C" if rng.random() < 0.98 else "M",
        "demographics": _demographics(school, rng, female, start),
        "medical": _medical(school, rng, female, staff_ids),
        "contacts": [{"object": "student_contact", "contact_id": c["id"],
                      "relationship": c["students"][0]["relationship"]} for c in contacts],
        "emails": [email(school, rng, f"{first[0].lower()}{last.lower().replace(chr(39), '')}"
                                      f"{n}@students.example.sch.uk", "Other", True)],
        "address": dict(contacts[0]["address"], object="address"),
        "languages": {"object": "student_languages", "home_language_code": lang[0],
                      "home_language_name": lang[1], "first_language_code": lang[0],
                      "first_language_name": lang[1], "proficiency_in_english_code": prof[0],
                      "proficiency_in_english_name": prof[1]},
        "learning_aims": None,
        "_left": False,
        "_photo": hashlib.sha1(f"{sid}-0".encode()).hexdigest(),
    }
    if yc >= 12:
        rec["learning_aims"] = {
            "object": "learning_aim_learner", "learning_aim_source_id": school.next_id("aim_src"),
            "start_date": iso_dt(start),
            "planned_end_date": iso_dt(date(ACADEMIC_YEAR_START + 14 - yc, 6, 30)),
            "actual_end_date": None, "completion_status": "Continuing",
            "withdrawal_reason": None, "core_aim_indicator": rng.random() < 0.3,
        }
    school.put(STUDENTS, rec, initial_updated(rng) if updated is None else updated)
    return rec


def make_staff(school: School, rng: random.Random, post: tuple[str, str, bool],
               updated: int | None = None) -> Rec:
    sid = school.next_id(STAFF)
    n = sid % 1_000_000
    female = rng.random() < 0.6
    first = rng.choice(P.FIRST_F if female else P.FIRST_M)
    last = rng.choice(P.SURNAMES)
    middle = rng.choice(P.FIRST_F if female else P.FIRST_M) if rng.random() < 0.4 else None
    title = rng.choice(P.STAFF_TITLES_F if female else P.STAFF_TITLES_M)
    teacher = post[2]
    start = date(rng.randint(2005, ACADEMIC_YEAR_START), 9, 1)
    eth = rng.choice(P.ETHNICITIES)
    slug = school.info.get("slug", "school")
    quals = [{"object": "staff_qualification", "id": school.next_id("staff_qualification"),
              "qualification_code": q[0], "degree_class": q[1], "first_subject_code": q[2],
              "first_subject_name": q[3], "second_subject_code": None, "second_subject_name": None}
             for q in rng.sample(P.QUALIFICATIONS, k=2 if teacher else 1)]
    rec: Rec = {
        "object": "staff_member", "id": sid, "mis_id": str(70000 + n),
        "staff_code": (first[0] + last[:2]).upper() + (str(n % 10) if n > 9 else ""),
        "first_name": first, "legal_first_name": first, "middle_name": middle,
        "last_name": last, "legal_last_name": last,
        "former_last_name": rng.choice(P.SURNAMES) if female and rng.random() < 0.2 else None,
        "title": title, "salutation": f"{title} {last}",
        "dob": iso_date(date(rng.randint(1962, 1999), rng.randint(1, 12), rng.randint(1, 28))),
        "address": dict(address(rng), object="address"),
        "email": f"{first[0].lower()}.{last.lower().replace(chr(39), '')}{n}@{slug}.sch.uk",
        "emails": [], "telephone_numbers": [phone(school, rng, "Mobile", True)],
        "is_teaching_staff": teacher, "included_in_census": rng.random() < 0.95,
        "start_date": iso_dt(start), "end_date": None,
        "demographics": {"object": "staff_demographics", "ethnicity_code": eth[0],
                         "ethnicity_group": eth[1], "gender": "F" if female else "M",
                         "disability": "No" if rng.random() < 0.93 else "Yes",
                         "disability_cdoe": None},
        "qualification_info": {
            "object": "staff_qualification_info",
            "teacher_number": str(rng.randint(1_000_000, 9_999_999)) if teacher else None,
            "qt_status": teacher, "hlta_status": (not teacher) and rng.random() < 0.3,
            "qts_route": "PGCE" if teacher else None, "qualifications": quals,
        },
        "_left": False, "_post": post,
    }
    demo = rec["demographics"]
    demo["disability_cdoe"] = "Y" if demo["disability"] == "Yes" else "N"
    rec["emails"] = [email(school, rng, rec["email"], "Work", True)]
    school.put(STAFF, rec, initial_updated(rng) if updated is None else updated)
    return rec
