"""The typed columns of the PostgreSQL sink: which fields of a record get a
column of their own, and how a raw value becomes that column's value.

Every resource table holds ``school_id``, ``id`` and the whole record as
``raw`` (JSONB, the values exactly as the API sent them). A few fields that
people filter and join on are copied into typed columns beside it:

================  ==========================================================
resource          typed columns (besides school_id, id)
================  ==========================================================
students          year_code, enrolment_status, start_date, end_date
staff_members     is_teaching_staff, start_date, end_date
attendances       student_id, registration_group_id, session_date,
                  session_name, attendance_mark
results           student_id, subject_id, assessment_id, result_date,
                  updated_at
teaching_groups   academic_year_id, start_date, end_date
year_groups       code, start_date, end_date
registration_groups, groups: start_date, end_date
calendar_events   type, start_date, end_date
other resources   none
================  ==========================================================

A value that does not fit its column (an impossible date such as
``2019-02-30``, ``"12"`` in an integer field, a date-time the API wrote
oddly) leaves the typed column NULL; ``raw`` still has it as sent. So one
odd value never fails a page, and nothing is silently rewritten.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["COLUMNS", "Column", "columns_for", "json_for_postgres"]

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?)?$", re.ASCII,  # ASCII: an Arabic-Indic digit is no digit here
)
_INT64 = 2**63


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    # PostgreSQL text cannot hold NUL; such a value stays in raw only.
    return None if "\x00" in value else value


def _bigint(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if -_INT64 <= value < _INT64 else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _date(value: Any) -> _dt.date | None:
    return _parse_date(value) if isinstance(value, str) else None


# A school's records repeat the same few dates (term starts, leaving dates):
# parse each distinct string once.
@functools.lru_cache(maxsize=4096)
def _parse_date(value: str) -> _dt.date | None:
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        return None
    head = value[:10]
    digits = head[:4] + head[5:7] + head[8:]
    if not head.isascii() or not digits.isdigit():
        return None
    try:
        return _dt.date(int(head[:4]), int(head[5:7]), int(head[8:]))
    except ValueError:  # 2019-02-30, 0000-00-00
        return None


def _timestamptz(value: Any) -> _dt.datetime | None:
    return _parse_timestamptz(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=4096)
def _parse_timestamptz(value: str) -> _dt.datetime | None:
    m = _DATETIME.match(value)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    tz = _dt.timezone.utc
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        try:
            tz = _dt.timezone(sign * _dt.timedelta(hours=int(digits[:2]),
                                                   minutes=int(digits[2:])))
        except ValueError:  # an offset of 24 hours or more
            return None
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return _dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                            int(second or 0), micro, tzinfo=tz)
    except ValueError:
        return None


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "bigint": _bigint,
    "boolean": _bool,
    "date": _date,
    "timestamptz": _timestamptz,
}


@attrs.frozen
class Column:
    """A typed column: ``name`` (also the record's field), its SQL ``type``, and
    whether it gets an index on ``(school_id, name)``."""

    name: str
    type: str
    indexed: bool = False

    def value(self, record: dict[str, Any]) -> Any:
        """This column's value for ``record`` (None when absent or not fitting)."""
        return _CONVERT[self.type](record.get(self.name))

    @property
    def convert(self) -> Callable[[Any], Any]:
        """The function from a raw value to this column's value."""
        return _CONVERT[self.type]


def _cols(*spec: str) -> tuple[Column, ...]:
    out = []
    for item in spec:
        name, _, typ = item.partition(":")
        indexed = typ.endswith("!")
        out.append(Column(name, typ.rstrip("!"), indexed))
    return tuple(out)


#: Typed columns per resource (``!`` marks an indexed one). Changing this
#: table changes the schema: add a migration in ``_pg_schema.py`` with it.
COLUMNS: dict[str, tuple[Column, ...]] = {
    "students": _cols("year_code:text!", "enrolment_status:text", "start_date:date",
                      "end_date:date"),
    "staff_members": _cols("is_teaching_staff:boolean", "start_date:date", "end_date:date"),
    "attendances": _cols("student_id:bigint!", "registration_group_id:bigint",
                         "session_date:date!", "session_name:text", "attendance_mark:text"),
    "results": _cols("student_id:bigint!", "subject_id:bigint", "assessment_id:bigint",
                     "result_date:date", "updated_at:timestamptz"),
    "teaching_groups": _cols("academic_year_id:bigint", "start_date:date", "end_date:date"),
    "year_groups": _cols("code:text", "start_date:date", "end_date:date"),
    "registration_groups": _cols("start_date:date", "end_date:date"),
    "groups": _cols("start_date:date", "end_date:date"),
    "calendar_events": _cols("type:text", "start_date:date", "end_date:date"),
}


def columns_for(resource: str) -> tuple[Column, ...]:
    """The typed columns of ``resource`` (none for a resource not in :data:`COLUMNS`)."""
    return COLUMNS.get(resource, ())


# orjson writes U+0000 as the escape \u0000, which PostgreSQL's JSONB refuses;
# an even run of backslashes before it means the escape is real (not "\\u0000").
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def json_for_postgres(data: bytes) -> bytes:
    """``data`` (orjson output) with U+0000 written as U+FFFD, the one character
    JSONB cannot store; every other byte is kept."""
    if b"u0000" not in data:
        return data
    return _NUL_ESCAPE.sub(rb"\1\\ufffd", data)
