"""The cattrs converter of assembly_async, and JSON encoding of request bodies.

This is the only module that imports cattrs. The converter it builds is the
reference for how API JSON becomes models: the fast msgspec path in
:mod:`assembly_async.models._decode` must give the same result, and falls back to this
converter whenever msgspec refuses a body.

What the converter accepts, and why (see docs/CONCEPTS.md, "Data quirks"):

* unknown keys are ignored, missing keys and nulls become ``None``;
* date-times as ``2015-09-01T00:00:00.000Z``, with an offset, without one (read
  as UTC) or as a bare date ``2015-09-01`` (midnight UTC), on every Python from
  3.10 (whose ``fromisoformat`` rejects ``Z``);
* dates as ``YYYY-MM-DD`` or a full date-time (its date part);
* lenient scalars where the meaning is unambiguous: ``"12"`` or ``12.0`` for an
  int, ``0``/``1``/``"true"``/``"false"`` for a bool, a number for a string;
* but never silent nonsense: a string field refuses an object, a list field
  refuses a string or an object, a model refuses anything but an object, and
  ``"abc"`` is not an int. cattrs' own defaults would accept all of these.
"""

from __future__ import annotations

import datetime
import math
import re
import types
import typing
from collections.abc import Callable
from typing import Any, get_args, get_origin

import attrs
import orjson
from cattrs import Converter
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import (
    BaseValidationError,
    ClassValidationError,
    IterableValidationError,
)
from cattrs.preconf.orjson import OrjsonConverter
from cattrs.preconf.orjson import make_converter as _make_orjson_converter

__all__ = [
    "OrjsonConverter",
    "dump_json",
    "format_date",
    "format_datetime",
    "json_kind",
    "make_converter",
    "parse_date",
    "parse_datetime",
    "structure_error_details",
]

_UTC = datetime.timezone.utc
_NONE_TYPE = type(None)

# YYYY-MM-DD, then optionally [T|t| ]HH:MM[:SS[.fraction]] and an offset
# (Z, z, +HH:MM, +HHMM, +HH). A superset of what msgspec accepts.
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?",
    re.ASCII,
)
_INT_RE = re.compile(r"[+-]?\d+", re.ASCII)
_FLOAT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def is_union_type(typ: Any) -> bool:
    """``X | Y`` or ``typing.Union[X, Y]``."""
    return get_origin(typ) in (typing.Union, types.UnionType)


def json_kind(value: Any) -> str:
    """Name the JSON kind of a decoded value for error messages ("an object"...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__}"


# --- dates ------------------------------------------------------------------


def parse_datetime(value: str) -> datetime.datetime:
    """Parse an API date-time; always returns an aware datetime.

    Accepts ``YYYY-MM-DD`` (midnight UTC), ``YYYY-MM-DDTHH:MM[:SS[.f]]`` with
    ``Z``, ``±HH:MM``, ``±HHMM`` or no offset (UTC). Fractions beyond
    microseconds are rounded half up, as msgspec does. Raises ValueError.
    """
    match = _DATETIME_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"invalid date-time {value!r}: expected YYYY-MM-DD[THH:MM:SS[.fff][Z]]")
    year, month, day, hour, minute, second, frac, _zulu, sign, off_h, off_m = match.groups()
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
            raise ValueError(f"invalid date-time {value!r}: offset out of range")
        offset = datetime.timedelta(hours=hours, minutes=minutes)
        if offset:
            tz = datetime.timezone(-offset if sign == "-" else offset)
    try:
        result = datetime.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=tz,
        )
        if carry:
            result += datetime.timedelta(seconds=1)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid date-time {value!r}: {exc}") from None
    return result


def parse_date(value: str) -> datetime.date:
    """Parse an API date: ``YYYY-MM-DD`` or a full date-time (its date part)."""
    if len(value) == 10:
        try:
            return datetime.date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
        except ValueError:
            pass  # the full parser gives the precise message
    try:
        return parse_datetime(value).date()
    except ValueError as exc:
        raise ValueError(str(exc).replace("date-time", "date", 1)) from None


def format_datetime(value: datetime.datetime) -> str:
    """ISO 8601 text for a datetime (UTC written as ``Z``; naive left without offset)."""
    text = value.isoformat()
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def format_date(value: datetime.date) -> str:
    """``YYYY-MM-DD`` for a date."""
    return value.isoformat()


def _structure_datetime(value: Any, _: Any) -> datetime.datetime:
    if isinstance(value, str):
        return parse_datetime(value)
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=_UTC)
    raise TypeError(f"expected a date-time string, got {json_kind(value)}")


def _structure_date(value: Any, _: Any) -> datetime.date:
    if isinstance(value, str):
        return parse_date(value)
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    raise TypeError(f"expected a date string, got {json_kind(value)}")


# --- scalars ----------------------------------------------------------------


def _structure_str(value: Any, _: Any) -> str:
    if value.__class__ is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {json_kind(value)}")


def _structure_int(value: Any, _: Any) -> int:
    if value.__class__ is int:
        return value
    if isinstance(value, bool):
        raise TypeError(f"expected an integer, got {json_kind(value)}")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"expected an integer, got {json_kind(value)}")
    if isinstance(value, str):
        text = value.strip()
        if _INT_RE.fullmatch(text):
            return int(text)
        raise ValueError(f"expected an integer, got {json_kind(value)}")
    raise TypeError(f"expected an integer, got {json_kind(value)}")


def _structure_float(value: Any, _: Any) -> float:
    if value.__class__ is float:
        return value
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {json_kind(value)}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if _FLOAT_RE.fullmatch(text):
            result = float(text)
            if math.isfinite(result):
                return result
        raise ValueError(f"expected a number, got {json_kind(value)}")
    raise TypeError(f"expected a number, got {json_kind(value)}")


_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def _structure_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return value
    if value.__class__ is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"expected a boolean, got {json_kind(value)}")


_SCALAR_HOOKS: dict[Any, Callable[[Any, Any], Any]] = {
    str: _structure_str,
    int: _structure_int,
    float: _structure_float,
    bool: _structure_bool,
}


# --- containers and models --------------------------------------------------


def _is_homogeneous_tuple(typ: Any) -> bool:
    args = get_args(typ)
    return get_origin(typ) is tuple and len(args) == 2 and args[1] is Ellipsis


def _tuple_factory(typ: Any, converter: Converter) -> Callable[[Any, Any], Any]:
    base = homogenous_tuple_structure_factory(typ, converter)

    def structure_array(value: Any, _: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected an array, got {json_kind(value)}")
        return base(value, typ)

    return structure_array


def _is_optional(typ: Any) -> bool:
    args = get_args(typ)
    return len(args) == 2 and _NONE_TYPE in args and is_union_type(typ)


def _optional_factory(typ: Any, converter: Converter) -> Callable[[Any, Any], Any]:
    # cattrs' own Optional hook dispatches on every call; resolve the inner
    # hook once instead. Plain scalars keep one call per field when the
    # converter still uses this module's hooks (a user's own hook wins).
    inner = next(arg for arg in get_args(typ) if arg is not _NONE_TYPE)
    hook = converter.get_structure_hook(inner)
    exact = _SCALAR_HOOKS.get(inner)
    if exact is not None and hook is exact:

        def structure_scalar(value: Any, _: Any) -> Any:
            if value is None or value.__class__ is inner:
                return value
            return hook(value, inner)

        return structure_scalar

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else hook(value, inner)

    return structure_optional


def _attrs_factory(cls: Any, converter: Converter) -> Callable[[Any, Any], Any]:
    base = converter.gen_structure_attrs_fromdict(cls)

    def structure_model(value: Any, _: Any) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {json_kind(value)}")
        return base(value, cls)

    return structure_model


def make_converter() -> OrjsonConverter:
    """Build the SDK's cattrs converter (a fresh one each call; never the global one).

    Customise the result (``register_structure_hook`` ...) and pass it to the
    client to change how responses decode; the fast msgspec path is then off
    unless you ask for it, so your hooks are always honoured.
    """
    converter = _make_orjson_converter(forbid_extra_keys=False, detailed_validation=True)
    converter.register_structure_hook(datetime.datetime, _structure_datetime)
    converter.register_structure_hook(datetime.date, _structure_date)
    converter.register_unstructure_hook(datetime.datetime, format_datetime)
    converter.register_unstructure_hook(datetime.date, format_date)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook_factory(_is_optional, _optional_factory)
    converter.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_factory)
    converter.register_structure_hook_factory(attrs.has, _attrs_factory)
    return converter


# --- errors -----------------------------------------------------------------


def structure_error_details(exc: BaseException, path: str = "$") -> list[tuple[str, str]]:
    """Flatten a cattrs error into ``(field path, message)`` pairs.

    ``$.demographics.pp_history[2].start_date`` style paths, built from the
    notes cattrs attaches with detailed validation; any other exception is a
    single leaf at ``path``.
    """
    out: list[tuple[str, str]] = []
    if isinstance(exc, ClassValidationError):
        attr_notes, others = exc.group_exceptions()
        for sub, note in attr_notes:
            out += structure_error_details(sub, f"{path}.{note.name}")
        for sub in others:
            out += structure_error_details(sub, path)
    elif isinstance(exc, IterableValidationError):
        item_notes, others = exc.group_exceptions()
        for sub, inote in item_notes:
            key = f"[{inote.index}]" if isinstance(inote.index, int) else f"[{inote.index!r}]"
            out += structure_error_details(sub, f"{path}{key}")
        for sub in others:
            out += structure_error_details(sub, path)
    elif isinstance(exc, BaseValidationError):
        for sub in exc.exceptions:
            out += structure_error_details(sub, path)
    else:
        out.append((path, _leaf_message(exc)))
    return out


def _leaf_message(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, (ValueError, TypeError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- encoding ---------------------------------------------------------------


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value


def dump_json(converter: OrjsonConverter, obj: Any) -> bytes:
    """Encode a request body: unstructure ``obj`` (a model, a list of them or
    plain data), drop every key whose value is None at any depth, orjson-encode.

    Dropping None keeps "not given" out of the request rather than sending an
    explicit null the API could read as "clear this field".
    """
    return orjson.dumps(_drop_none(converter.unstructure(obj)))
