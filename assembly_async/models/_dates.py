"""Reading and writing the API's dates; one parser for both decoding paths.

CONCEPTS "Data quirks": the API writes dates as ``2015-09-01``, as
``2015-09-01T00:00:00.000Z`` and (older pages) with an offset or without
one, in any date field. Both the msgspec fast path (through its ``dec_hook``)
and the cattrs converter call :func:`parse_date` / :func:`parse_datetime`, so
they give the same value for the same text by construction.

Error messages never quote the text: a date may be a pupil's birth date
(personal data). They say what was wrong and how long the text was.
"""

from __future__ import annotations

import datetime
import re
import sys
from typing import Any

from ._kinds import json_kind

__all__ = [
    "format_date",
    "format_datetime",
    "parse_date",
    "parse_datetime",
    "structure_date",
    "structure_instant",
]

_UTC = datetime.timezone.utc
_DATE_FROMISO = datetime.date.fromisoformat
_DATETIME_FROMISO = datetime.datetime.fromisoformat
#: Python 3.11+ reads a trailing ``Z``; 3.10 does not (then the regex path runs).
_FROMISO_Z = sys.version_info >= (3, 11)

# YYYY-MM-DD, then optionally [T|t| ]HH:MM[:SS[.fraction]] and an offset
# (Z, z, +HH:MM, +HHMM, +HH). A superset of what msgspec's own parser accepts.
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?",
    re.ASCII,
)

_EXPECTED_DATETIME = "expected a date-time (YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM]) or a date"
_EXPECTED_DATE = "expected a date (YYYY-MM-DD) or a date-time"


def _length(value: str) -> str:
    return f"a string of {len(value)} character{'' if len(value) == 1 else 's'}"


def _range_reason(exc: Exception) -> str:
    """The datetime module's reason, without any number from the input."""
    text = str(exc)
    if "day is out of range" in text:
        return "the day does not exist in that month"
    for unit in ("year", "month", "hour", "minute", "second"):
        if unit in text:
            return f"the {unit} is out of range"
    return "a part is out of range"


def _fast_datetime(value: str) -> datetime.datetime | None:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (what the API sends) by the C parser, else None."""
    if (
        _FROMISO_Z
        and len(value) == 24
        and value[23] == "Z"
        and value[10] == "T"
        and value[19] == "."
        and value[4] == "-" == value[7]
        and value[13] == ":" == value[16]
        and value.isascii()
    ):
        try:
            return _DATETIME_FROMISO(value)
        except ValueError:
            return None  # the regex path gives the precise message
    return None


def parse_datetime(value: str) -> datetime.datetime:
    """Parse an API date-time; always returns an aware datetime.

    Accepts ``YYYY-MM-DD`` (midnight UTC), ``YYYY-MM-DDTHH:MM[:SS[.f]]`` with
    ``Z``, ``+HH:MM``, ``+HHMM``, ``+HH`` or no offset (UTC). Fractions beyond
    microseconds are rounded half up, as msgspec does. Raises ValueError
    (whose message does not contain the text).
    """
    fast = _fast_datetime(value)
    if fast is not None:
        return fast
    if len(value) == 10 and value.isascii() and value[4] == "-" == value[7]:
        try:
            day = _DATE_FROMISO(value)
        except ValueError:
            pass  # the regex path below gives the precise message
        else:
            return datetime.datetime(day.year, day.month, day.day, tzinfo=_UTC)
    match = _DATETIME_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"invalid date-time ({_length(value)}): {_EXPECTED_DATETIME}")
    year, month, day_, hour, minute, second, frac, _zulu, sign, off_h, off_m = match.groups()
    micro = 0
    carry = 0
    if frac:
        micro = int(frac[:6].ljust(6, "0"))
        if len(frac) > 6 and frac[6] >= "5":
            micro += 1
            if micro == 1_000_000:
                micro, carry = 0, 1
    tz = _UTC
    if sign is not None:
        hours, minutes = int(off_h), int(off_m or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"invalid date-time ({_length(value)}): the offset is out of range")
        offset = datetime.timedelta(hours=hours, minutes=minutes)
        if offset:
            tz = datetime.timezone(-offset if sign == "-" else offset)
    try:
        result = datetime.datetime(
            int(year),
            int(month),
            int(day_),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=tz,
        )
        if carry:
            result += datetime.timedelta(seconds=1)
    except (ValueError, OverflowError) as exc:
        raise ValueError(
            f"invalid date-time ({_length(value)}): {_range_reason(exc)}"
        ) from None
    return result


def parse_date(value: str) -> datetime.date:
    """Parse an API calendar date: ``YYYY-MM-DD``, or a date-time (the date as
    written: ``2016-07-22T23:59:00.000Z`` is 22 July whatever the offset)."""
    if len(value) == 10 and value.isascii() and value[4] == "-" == value[7]:
        try:
            return _DATE_FROMISO(value)
        except ValueError:
            pass  # the full parser below gives the precise message
    fast = _fast_datetime(value)
    if fast is not None:
        return fast.date()
    try:
        moment = parse_datetime(value)
    except ValueError as exc:
        text = str(exc).replace("invalid date-time", "invalid date", 1)
        raise ValueError(text.replace(_EXPECTED_DATETIME, _EXPECTED_DATE)) from None
    # The date as written: parse_datetime keeps the text's own offset.
    return moment.date()


def format_datetime(value: datetime.datetime) -> str:
    """ISO 8601 text for a datetime (UTC written as ``Z``; naive left without offset)."""
    text = value.isoformat()
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def format_date(value: datetime.date) -> str:
    """``YYYY-MM-DD`` for a date (the date part of a datetime)."""
    if isinstance(value, datetime.datetime):
        value = value.date()
    return value.isoformat()


def structure_instant(value: Any, _: Any) -> datetime.datetime:
    """The converter's hook for instants (the fast path's ``dec_hook`` parses alike)."""
    if isinstance(value, str):
        return parse_datetime(value)
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=_UTC)
    raise TypeError(f"expected a date-time string, got {json_kind(value)}")


def structure_date(value: Any, _: Any) -> datetime.date:
    """The converter's hook for calendar dates."""
    if isinstance(value, str):
        return parse_date(value)
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    raise TypeError(f"expected a date string, got {json_kind(value)}")
