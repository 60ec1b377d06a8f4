"""Realistic, deterministic API records for benchmarks (and tests that want bulk data).

``students(n, seed, shape=...)`` builds ``Student`` JSON objects the way API 1.1
returns them with demographics, contacts, emails, address, languages and photo
asked for: nested histories and a realistic share of nulls (MIS data is
patchy). Same seed, same records; the shape only changes how values are
written:

* ``documented`` (default): as the API's documentation shows them: ``dob`` a
  bare date (``"dob": "1999-12-10"``, DEV students), enrolment dates as
  date-times (``2015-09-01T00:00:00.000Z``), entitlement periods bare dates;
* ``datetime``: every date a full date-time (what the fake sent before);
* ``oddities``: documented, plus what real MIS data adds on some records (see
  :data:`ODDITIES`): the documentation's impossible ``2015-02-31`` start date,
  date-times without milliseconds or with an offset, ``year_code`` as a
  number, booleans as ``1``/``0`` and as text.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

__all__ = ["ODDITIES", "SHAPES", "student", "students", "students_page"]

SHAPES = ("documented", "datetime", "oddities")
#: Every how many records an oddity appears (by record id), in ``oddities``.
#: The same as the fake's (assembly_async/testing/_oddities.py), on the same ids.
ODDITIES = {
    "impossible start date": 50,  # DEV students: "start_date": "2015-02-31T00:00:00.000Z"
    "date-time without milliseconds": 7,
    "date-time with an offset": 11,
    "year_code as a number": 5,  # PA types year_code integer on some operations
    "booleans as 1/0 and text": 3,  # NET sends booleans as 1/0
}

_FIRST = [
    "Oliver",
    "Amelia",
    "George",
    "Isla",
    "Harry",
    "Ava",
    "Noah",
    "Mia",
    "Jack",
    "Ivy",
    "Leo",
    "Lily",
    "Arthur",
    "Freya",
    "Muhammad",
    "Grace",
    "Oscar",
    "Sophia",
    "Charlie",
    "Willow",
    "Jacob",
    "Evie",
    "Thomas",
    "Aisha",
    "Zara",
    "Kacper",
    "Priya",
    "Chidi",
]
_LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Khan",
    "Hall",
    "Wood",
    "Nowak",
    "Okafor",
    "Singh",
    "O'Brien",
    "Hughes",
    "Clarke",
]
_TOWNS = ["Leeds", "Bristol", "Norwich", "Derby", "Reading", "York", "Luton", "Exeter"]
_ETHNICITIES = [
    ("WBRI", "White"),
    ("WOTH", "White"),
    ("ABAN", "Asian or Asian British"),
    ("APKN", "Asian or Asian British"),
    ("BAFR", "Black or Black British"),
    ("MWBC", "Mixed / Dual Background"),
    ("CHNE", "Chinese"),
    ("REFU", None),
]
_LANGUAGES = [
    ("ENG", "English"),
    ("POL", "Polish"),
    ("URD", "Urdu"),
    ("PNJ", "Panjabi"),
    ("BEN", "Bengali"),
    ("ARA", "Arabic"),
    ("ROM", "Romanian"),
]
_RELATIONSHIPS = ["Mother", "Father", "Carer", "Grandparent", "Aunt", "Step-father", "Other"]
_SEN_NEEDS = [
    ("SPLD", "Specific Learning Difficulty", "COGL", "Cognition and Learning"),
    ("ASD", "Autistic Spectrum Disorder", "COMM", "Communication and Interaction"),
    ("SEMH", "Social, Emotional and Mental Health", "SEMH", "SEMH"),
]


def _maybe(rng: random.Random, p_null: float, value: Any) -> Any:
    return None if rng.random() < p_null else value


def _full(day: str) -> str:
    return f"{day}T00:00:00.000Z"


def _date(rng: random.Random, start_year: int, end_year: int, *, bare: bool = False) -> str:
    """A random day, as a bare date or as the API's date-time."""
    year, month, day_ = rng.randint(start_year, end_year), rng.randint(1, 12), rng.randint(1, 28)
    day = f"{year:04d}-{month:02d}-{day_:02d}"
    return day if bare else _full(day)


def _day(day: str, shape: str) -> str:
    """A day the documentation writes bare: bare, unless every date is a date-time."""
    return _full(day) if shape == "datetime" else day


def _periods(
    rng: random.Random, kind: str, count: int, next_id: list[int], shape: str
) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        next_id[0] += 1
        year = rng.randint(2015, 2023)
        out.append(
            {
                "object": kind,
                "id": next_id[0],
                "start_date": _day(f"{year}-09-01", shape),
                "end_date": _maybe(rng, 0.4, _day(f"{year + 1}-07-20", shape)),
            }
        )
    return out


def student(rng: random.Random, student_id: int, shape: str = "documented") -> dict[str, Any]:
    """One ``Student`` JSON object (``shape``: see the module docstring)."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    year = rng.randint(7, 13)
    ids = [student_id * 100]
    eth_code, eth_group = rng.choice(_ETHNICITIES)
    home = rng.choice(_LANGUAGES) if rng.random() < 0.3 else _LANGUAGES[0]
    sen = rng.random() < 0.15
    record = {
        "object": "student",
        "id": student_id,
        "year_code": str(year),
        "upn": f"A{rng.randrange(10**11, 10**12)}B",
        "former_upn": _maybe(rng, 0.95, f"A{rng.randrange(10**11, 10**12)}C"),
        "uln": _maybe(rng, 0.5, str(rng.randrange(10**9, 10**10))),
        "mis_id": str(rng.randrange(1000, 99999)),
        "pan": _maybe(rng, 0.7, str(rng.randrange(10**5, 10**6))),
        "first_name": first,
        "legal_first_name": first,
        "middle_name": _maybe(rng, 0.5, rng.choice(_FIRST)),
        "last_name": last,
        "legal_last_name": last,
        "former_last_name": _maybe(rng, 0.97, rng.choice(_LAST)),
        "dob": _date(rng, 2005, 2013, bare=shape != "datetime"),
        "start_date": _date(rng, 2016, 2023),
        "end_date": _maybe(rng, 0.95, _date(rng, 2024, 2025)),
        "enrolment_status": rng.choice(["C", "C", "C", "M", "S"]),
        "demographics": {
            "object": "student_demographics",
            "ethnicity_code": eth_code,
            "ethnicity_group": eth_group,
            "gender": rng.choice(["M", "F"]),
            "is_pp": rng.random() < 0.25,
            "pp_history": _periods(rng, "pp_entitlement", rng.randint(0, 3), ids, shape),
            "is_eal": home[0] != "ENG",
            "sen_category": rng.choice(["K", "E"]) if sen else None,
            "sen_category_history": _periods(rng, "sen_category", 1 if sen else 0, ids, shape),
            "country_of_birth": _maybe(rng, 0.2, rng.choice(["GBR", "GBR", "POL", "PAK", "NGA"])),
            "nationalities": rng.choice(
                [["British"], ["British"], ["Polish"], ["British", "Irish"]]
            ),
            "fsm_review_date": _maybe(rng, 0.8, _day("2024-04-01", shape)),
            "is_fsm": rng.random() < 0.2,
            "is_fsm6": rng.random() < 0.3,
            "fsm_history": _periods(rng, "fsm_entitlement", rng.randint(0, 2), ids, shape),
            "in_care": _maybe(rng, 0.3, rng.random() < 0.02),
            "ever_in_care": _maybe(rng, 0.3, rng.random() < 0.04),
            "service_child": _maybe(rng, 0.3, rng.random() < 0.03),
            "sen_needs": [
                {
                    "object": "sen_need",
                    "id": ids[0] + 50 + i,
                    "start_date": _day(f"{rng.randint(2016, 2023)}-01-10", shape),
                    "sen_need_type_code": need[0],
                    "sen_need_type_name": need[1],
                    "sen_broad_need_type_code": need[2],
                    "sen_broad_need_type_name": need[3],
                    "priority": i + 1,
                }
                for i, need in enumerate(rng.sample(_SEN_NEEDS, rng.randint(1, 2)) if sen else [])
            ],
        },
        "medical": None,  # needs the students.medical.* scopes; usually not granted
        "contacts": [
            {
                "object": "student_contact",
                "contact_id": student_id * 10 + i,
                "relationship": {
                    "object": "relationship",
                    "relationship_type": rng.choice(_RELATIONSHIPS),
                    "priority": i + 1,
                    "parental_responsibility": _maybe(rng, 0.1, i < 2),
                },
            }
            for i in range(rng.randint(1, 3))
        ],
        "emails": [
            {
                "object": "email",
                "id": student_id * 10 + i,
                "email": f"{first.lower()}.{last.lower()}{i}@example.sch.uk",
                "type": rng.choice(["Home", "Work", "Other", None]),
                "is_primary": i == 0,
            }
            for i in range(rng.choice([0, 1, 1, 2]))
        ],
        "address": _maybe(
            rng,
            0.05,
            {
                "object": "address",
                "address_line_1": f"{rng.randint(1, 200)} {rng.choice(_LAST)} Road",
                "address_line_2": _maybe(rng, 0.7, "Flat 2"),
                "town_city": rng.choice(_TOWNS),
                "county": _maybe(rng, 0.4, "Yorkshire"),
                "country": "United Kingdom",
                "postcode": f"LS{rng.randint(1, 29)} {rng.randint(1, 9)}AB",
            },
        ),
        "languages": {
            "object": "student_languages",
            "home_language_code": home[0],
            "home_language_name": home[1],
            "first_language_code": home[0],
            "first_language_name": home[1],
            "proficiency_in_english_code": None if home[0] == "ENG" else rng.choice("ABCDE"),
            "proficiency_in_english_name": None,
        },
        "learning_aims": None,
        "photo": _maybe(
            rng,
            0.1,
            {
                "object": "photo",
                "url": f"https://photos.example/{student_id}.jpg?signature={rng.getrandbits(64):x}",
                "hash": f"{rng.getrandbits(128):032x}",
            },
        ),
    }
    return _odd(record) if shape == "oddities" else record


def _odd(record: dict[str, Any]) -> dict[str, Any]:
    """Add the oddities of :data:`ODDITIES` that fall on this record's id."""
    sid = record["id"]
    if sid % ODDITIES["impossible start date"] == 0:
        record["start_date"] = "2015-02-31T00:00:00.000Z"
    elif sid % ODDITIES["date-time without milliseconds"] == 0:
        record["start_date"] = record["start_date"].replace(".000Z", "Z")
    elif sid % ODDITIES["date-time with an offset"] == 0:
        record["start_date"] = record["start_date"].replace(".000Z", "+01:00")
    if sid % ODDITIES["year_code as a number"] == 0:
        record["year_code"] = int(record["year_code"])
    if sid % ODDITIES["booleans as 1/0 and text"] == 0:
        demographics = record["demographics"]
        for key, value in demographics.items():
            if isinstance(value, bool):
                demographics[key] = int(value) if key.startswith("is_") else str(value).lower()
    return record


def students(
    n: int, seed: int = 0, first_id: int = 1, shape: str = "documented"
) -> list[dict[str, Any]]:
    """``n`` students from a ``random.Random(seed)``."""
    rng = random.Random(seed)
    return [student(rng, first_id + i, shape) for i in range(n)]


def students_page(n: int = 1500, seed: int = 0, shape: str = "documented") -> bytes:
    """A version 1.1 page body: a bare JSON array of ``n`` students."""
    return orjson.dumps(students(n, seed, first_id=seed * n + 1, shape=shape))
