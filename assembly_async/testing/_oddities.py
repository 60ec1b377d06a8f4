"""Real-world oddities the fake can serve (``FakeAssembly(oddities=True)``).

By default the fake answers in the shapes the documentation shows: ``dob`` a
bare date, enrolment dates as ``2015-09-01T00:00:00.000Z``, academic years
bare and term ends at 23:59. With the switch on, some records (chosen by id,
so the same ones every time) also carry what the documentation and the other
SDKs show real data to contain. The stored data is untouched: filters, deltas
and ids behave as without the switch; only the answers change.
"""

from __future__ import annotations

from typing import Any

from ._util import Rec

__all__ = ["IMPOSSIBLE_DATE", "ODDITIES", "oddify"]

#: DEV students' own example: a day that does not exist.
IMPOSSIBLE_DATE = "2015-02-31T00:00:00.000Z"

#: name -> (every how many records by id, where it comes from).
ODDITIES: dict[str, tuple[int, str]] = {
    "impossible start date": (50, 'DEV students: "start_date": "2015-02-31T00:00:00.000Z"'),
    "date-time without milliseconds": (7, "CONCEPTS: date-times with and without parts"),
    "date-time with an offset": (11, "CONCEPTS: older pages write an offset"),
    "year_code as a number": (5, "PA types year_code integer on some operations"),
    "booleans as 1/0 and text": (3, "NET sends booleans as 1/0"),
}


def _every(rec: Rec, name: str) -> bool:
    rid = rec.get("id")
    return isinstance(rid, int) and rid % ODDITIES[name][0] == 0


def _odd_student(rec: Rec) -> Rec:
    out = dict(rec)
    start = out.get("start_date")
    if isinstance(start, str):
        if _every(rec, "impossible start date"):
            out["start_date"] = IMPOSSIBLE_DATE
        elif _every(rec, "date-time without milliseconds"):
            out["start_date"] = start.replace(".000Z", "Z")
        elif _every(rec, "date-time with an offset"):
            out["start_date"] = start.replace(".000Z", "+01:00")
    code = out.get("year_code")
    if _every(rec, "year_code as a number") and isinstance(code, str) and code.isdigit():
        out["year_code"] = int(code)
    demographics = out.get("demographics")
    if _every(rec, "booleans as 1/0 and text") and isinstance(demographics, dict):
        demographics = dict(demographics)
        for key, value in demographics.items():
            if isinstance(value, bool):
                demographics[key] = int(value) if key.startswith("is_") else str(value).lower()
        out["demographics"] = demographics
    return out


def _odd_staff(rec: Rec) -> Rec:
    out = dict(rec)
    start = out.get("start_date")
    if isinstance(start, str) and _every(rec, "date-time without milliseconds"):
        out["start_date"] = start.replace(".000Z", "Z")
    return out


_BY_TAG = {"student": _odd_student, "staff_member": _odd_staff}


def oddify(payload: Any) -> Any:
    """``payload`` (one rendered record or a list of them) with its oddities."""
    if isinstance(payload, list):
        return [oddify(item) for item in payload]
    if isinstance(payload, dict):
        odd = _BY_TAG.get(payload.get("object"))  # type: ignore[arg-type]
        if odd is not None:
            return odd(payload)
    return payload
