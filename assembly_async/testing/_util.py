"""Small shared helpers: date formats, ids, JSON, token hashing."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

import orjson

Rec = dict[str, Any]
"""One stored record: its payload fields plus internal ``_``-prefixed keys."""

ID_BLOCK = 1_000_000
"""Record ids are ``school_id * ID_BLOCK + n`` so schools never collide."""

SENTINEL = date(2079, 6, 6)
SENTINEL_DT = "2079-06-06T00:00:00.000Z"

BASE_DATETIME = datetime(2025, 1, 20, 9, 0, 0, tzinfo=timezone.utc)
BASE_EPOCH = int(BASE_DATETIME.timestamp())
"""Every school's data clock starts here (a Monday in the spring term)."""

ACADEMIC_YEAR_START = 2024
"""The current academic year is 2024/2025."""


def rid(school_id: int, n: int) -> int:
    return school_id * ID_BLOCK + n


def iso_dt(value: date | datetime) -> str:
    """``2015-09-01T00:00:00.000Z`` (the API's usual date-time spelling)."""
    if isinstance(value, datetime):
        v = value.astimezone(timezone.utc)
        return (f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:"
                f"{v.second:02d}.{v.microsecond // 1000:03d}Z")
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T00:00:00.000Z"


def iso_epoch(epoch: int) -> str:
    return iso_dt(datetime.fromtimestamp(epoch, tz=timezone.utc))


def iso_date(value: date) -> str:
    """``2015-09-01`` (academic years are written like this)."""
    return value.isoformat()


def epoch_date(epoch: int) -> date:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).date()


def as_date(value: Any) -> date | None:
    """The calendar day of a stored date or date-time string (None for null)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def spans(start: Any, end: Any, day: date) -> bool:
    """Whether ``day`` falls within [start, end]; a null end is open-ended."""
    s = as_date(start)
    e = as_date(end)
    return (s is None or s <= day) and (e is None or day <= e)


def overlaps(start: Any, end: Any, lo: date | None, hi: date | None) -> bool:
    s = as_date(start) or date.min
    e = as_date(end) or date.max
    return (lo is None or e >= lo) and (hi is None or s <= hi)


def http_date(epoch: int) -> str:
    """RFC 7231 HTTP-date, e.g. ``Thu, 09 Mar 2017 18:05:23 GMT``."""
    return formatdate(epoch, usegmt=True)


def parse_http_date(text: str) -> int | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


def school_days_before(day: date, count: int) -> list[date]:
    """The ``count`` weekdays before ``day``, oldest first."""
    out: list[date] = []
    d = day
    while len(out) < count:
        d -= timedelta(days=1)
        if d.weekday() < 5:
            out.append(d)
    return out[::-1]


def token_id(token: str) -> str:
    """A short, stable, non-reversible label for a token (safe to print)."""
    return hashlib.sha256(token.encode()).hexdigest()[:10]


def dumps(value: Any) -> bytes:
    """JSON bytes; the standard library writes what orjson will not (nesting
    deeper than 255 levels, which tests may put in a record)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), default=_iso).encode()


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def key_of(rec: Rec) -> int:
    """A record's id (``_id`` for records whose payload has no id)."""
    return int(rec["id"] if "id" in rec else rec["_id"])


def public(rec: Rec) -> Rec:
    """The payload part of a stored record (drops ``_``-prefixed keys)."""
    return {k: v for k, v in rec.items() if not k.startswith("_")}
