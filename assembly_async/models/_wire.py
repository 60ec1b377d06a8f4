"""The JSON text of a body: what msgspec is given, and what happens when it refuses.

Splitting a page into its records (``list[msgspec.Raw]``) so that one record
msgspec refuses falls back alone; reading one record when orjson refuses it;
turning parser errors into :class:`DecodeError` (nesting deeper than the
parsers follow included, never a ``RecursionError``); and the ``dec_hook``
through which msgspec reads the date markers with the converter's parsers.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from .._core.errors import DecodeError
from ._dates import parse_date, parse_datetime
from ._kinds import json_kind
from ._types import CalendarDate, Code, Instant

__all__ = [
    "REFUSED",
    "envelope_parts",
    "excerpt",
    "is_blank",
    "json_error",
    "make_dec_hook",
    "parse_record",
    "split_page",
]

#: How much of a non-JSON body (an HTML page) a "malformed JSON" message quotes.
_EXCERPT = 60
#: What msgspec raises when it refuses a body: a validation error, or a
#: RecursionError when the nesting is deeper than the Python stack allows.
REFUSED = (msgspec.DecodeError, RecursionError)

_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_RAW_ENVELOPE = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ANY_JSON = msgspec.json.Decoder()
#: For one record orjson cannot read: JSON numbers beyond a double become
#: ``inf`` (harmless in an unknown field; refused by a float field's hook).
_ANY_LAX = msgspec.json.Decoder(float_hook=float)


#: Date texts remembered per decoder and kind (a page repeats its term and
#: period dates); the memo is emptied when full, so it stays small.
_MEMO_SIZE = 4096


def make_dec_hook() -> Callable[[Any, Any], Any]:
    """The ``dec_hook`` msgspec calls for the date markers: the converter's own
    parsers, with a small memo of texts already read (dates are immutable)."""
    dates: dict[str, datetime.date] = {}
    instants: dict[str, datetime.datetime] = {}
    known_date, known_instant = dates.get, instants.get
    date_fromiso = datetime.date.fromisoformat

    def read(memo: dict[str, Any], parse: Callable[[str], Any], value: Any, kind: str) -> Any:
        if value.__class__ is not str:
            raise TypeError(f"expected a {kind} string, got {json_kind(value)}")
        found = parse(value)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[value] = found
        return found

    def dec_hook(typ: Any, value: Any) -> Any:
        # Called once per date of a page (some 10,000 for 1500 students), so the
        # common cases come first: a bare date is read in C straight away (what
        # parse_date does first too), a date-time is looked up in the memo.
        if typ is CalendarDate:
            if value.__class__ is str:
                if len(value) == 10 and value[4] == "-" == value[7] and value.isascii():
                    try:
                        return date_fromiso(value)
                    except ValueError:
                        pass  # parse_date gives the message
                else:
                    found = known_date(value)
                    if found is not None:
                        return found
            return read(dates, parse_date, value, "date")
        if typ is Code:
            if value.__class__ is str:
                return value
            if value.__class__ is int or value.__class__ is float:
                return str(value)  # what the converter's str hook does with a number
            raise TypeError(f"expected a string or a number, got {json_kind(value)}")
        if typ is Instant:
            try:
                found = known_instant(value)
            except TypeError:  # unhashable: an array or an object
                found = None
            return read(instants, parse_datetime, value, "date-time") if found is None else found
        # msgspec turns a TypeError into a refusal: the record goes to the converter.
        raise TypeError(f"msgspec cannot decode {typ!r}; the converter will")

    return dec_hook


def excerpt(body: bytes | bytearray | memoryview | str) -> str:
    """How a malformed body starts, quoted only when it is not JSON at all (an
    HTML page from a proxy): a JSON body may hold pupils' personal data."""
    raw = bytes(body) if isinstance(body, memoryview) else body
    text = raw if isinstance(raw, str) else raw[: _EXCERPT * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    if not text:
        return "the body is empty"
    if text[0] in "[{":
        return f"the body is {len(raw)} bytes of JSON text (not quoted: it may hold personal data)"
    if len(text) > _EXCERPT:
        text = text[:_EXCERPT] + "..."
    return f"the body starts {text!r}"


def is_blank(body: bytes | bytearray | memoryview | str) -> bool:
    raw = bytes(body) if isinstance(body, memoryview) else body
    return not raw.strip()


def json_error(exc: orjson.JSONDecodeError, body: Any, url: str | None) -> DecodeError:
    text = str(exc)
    if "recursion" in text.lower() or "depth" in text.lower():
        return DecodeError(f"JSON nested deeper than the decoder follows: {text}", url=url)
    return DecodeError(f"malformed JSON: {text}; {excerpt(body)}", url=url)


def parse_record(raw: msgspec.Raw) -> Any:
    """One record's JSON as Python data: orjson, or msgspec when orjson refuses
    a number beyond a double (valid JSON; read as ``inf``)."""
    try:
        return orjson.loads(memoryview(raw))
    except orjson.JSONDecodeError as exc:
        try:
            return _ANY_LAX.decode(raw)
        except REFUSED:
            raise exc from None


def envelope_parts(body: bytes) -> tuple[msgspec.Raw | None, dict[str, Any]]:
    """A version-1 envelope's ``data`` as raw JSON (None if absent) and its other
    members decoded. Raises what msgspec raises (see :data:`REFUSED`)."""
    parts = _RAW_ENVELOPE.decode(body)
    data = parts.pop("data", None)
    return data, {key: _ANY_JSON.decode(raw) for key, raw in parts.items()}


def split_page(
    body: bytes, envelope: bool
) -> tuple[list[msgspec.Raw], dict[str, Any] | None] | None:
    """The records of a page as raw JSON (and the v1 envelope without data), or
    None when the body is not a well-formed page."""
    try:
        if not envelope:
            if is_blank(body):
                return [], None
            return _RAW_LIST.decode(body), None
        data, meta = envelope_parts(body)
        if data is None:
            return None
        return _RAW_LIST.decode(data), meta
    except REFUSED:
        return None
