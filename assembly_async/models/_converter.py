"""The cattrs converter of assembly_async, and JSON encoding of request bodies.

This is the only module that imports cattrs. The converter it builds is the
reference for how API JSON becomes models: the fast msgspec path in
:mod:`assembly_async.models._decode` must give the same result, and falls back to this
converter for every record msgspec refuses.

What the converter accepts, and why (see docs/CONCEPTS.md, "Data quirks"):

* unknown keys are ignored, missing keys and nulls become ``None``;
* calendar dates (:data:`CalendarDate`) as ``YYYY-MM-DD`` or a date-time (the
  date as written); instants (:data:`Instant`) as a date-time with or without
  offset or milliseconds (no offset: UTC) or a bare date (midnight UTC), on
  every Python from 3.10 (whose ``fromisoformat`` rejects ``Z``);
* lenient scalars, the same rules as msgspec's ``strict=False`` (so both paths
  agree), plus surrounding blanks: ``"12"``, ``"1e3"`` or ``12.0`` for an int,
  ``"1.5"`` for a float, ``0``/``1``/``"0"``/``"1"``/``"true"``/``"false"`` (any
  case) for a bool, the string ``"null"`` (any case) as null in a field that is
  not a string, a number for a string;
* but never silent nonsense: a string field refuses an object, a list field
  refuses a string or an object, a model refuses anything but an object,
  ``"abc"`` is not an int and a float must be finite. cattrs' own defaults
  would accept most of these.

Messages never quote a value (it may be a pupil's personal data): they name
its JSON kind and length (:func:`json_kind`).
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

from ._dates import (
    format_date,
    format_datetime,
    parse_date,
    parse_datetime,
    structure_date,
    structure_instant,
)
from ._kinds import json_kind
from ._types import CalendarDate, Code, Instant

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

_INT_RE = re.compile(r"[+-]?\d+", re.ASCII)
_FLOAT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def is_union_type(typ: Any) -> bool:
    """``X | Y`` or ``typing.Union[X, Y]``."""
    return get_origin(typ) in (typing.Union, types.UnionType)


# --- scalars ----------------------------------------------------------------


def _structure_str(value: Any, _: Any) -> str:
    if value.__class__ is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {json_kind(value)}")


def _int_from_text(value: str) -> int:
    text = value.strip()
    if _INT_RE.fullmatch(text):
        return int(text)
    if _FLOAT_RE.fullmatch(text):
        # msgspec (strict=False) reads "1e3" and "12.0" as integers: so do we.
        number = float(text)
        if math.isfinite(number) and number.is_integer():
            return int(number)
    raise ValueError(f"expected an integer, got {json_kind(value)}")


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
        return _int_from_text(value)
    raise TypeError(f"expected an integer, got {json_kind(value)}")


def _finite(number: float, value: Any) -> float:
    if math.isfinite(number):
        return number
    raise ValueError(f"expected a finite number, got {json_kind(value)}")


def _structure_float(value: Any, _: Any) -> float:
    if value.__class__ is float:
        return _finite(value, value)
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {json_kind(value)}")
    if isinstance(value, (int, float)):
        try:
            return _finite(float(value), value)
        except OverflowError:
            raise ValueError(f"expected a finite number, got {json_kind(value)}") from None
    if isinstance(value, str):
        text = value.strip()
        if _FLOAT_RE.fullmatch(text):
            return _finite(float(text), value)
        raise ValueError(f"expected a number, got {json_kind(value)}")
    raise TypeError(f"expected a number, got {json_kind(value)}")


# msgspec (strict=False) reads "-0" as the integer 0, so as false.
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0", "-0"})


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

#: Field types where the string "null" means null (msgspec strict=False reads
#: it so for numbers and booleans; dates follow, so that every non-string
#: field agrees).
_NULL_TEXT_TYPES = frozenset({int, float, bool, CalendarDate, Instant,
                              datetime.date, datetime.datetime})


def _is_null_text(value: Any) -> bool:
    return value.__class__ is str and len(value) == 4 and value.lower() == "null"


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
    if get_origin(inner) is typing.Annotated:  # FiniteFloat: the bounds are msgspec's
        inner = get_args(inner)[0]
    hook = converter.get_structure_hook(inner)
    null_text = inner in _NULL_TEXT_TYPES
    exact = _SCALAR_HOOKS.get(inner)
    if exact is not None and hook is exact and not null_text:  # str

        def structure_text(value: Any, _: Any) -> Any:
            if value is None or value.__class__ is inner:
                return value
            return hook(value, inner)

        return structure_text

    if exact is not None and hook is exact and inner is float:

        def structure_float(value: Any, _: Any) -> Any:
            if value is None or (value.__class__ is float and math.isfinite(value)):
                return value
            return None if _is_null_text(value) else hook(value, inner)

        return structure_float

    if exact is not None and hook is exact:

        def structure_scalar(value: Any, _: Any) -> Any:
            if value is None or value.__class__ is inner:
                return value
            return None if _is_null_text(value) else hook(value, inner)

        return structure_scalar

    if null_text:

        def structure_nullable(value: Any, _: Any) -> Any:
            return None if value is None or _is_null_text(value) else hook(value, inner)

        return structure_nullable

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else hook(value, inner)

    return structure_optional


def _is_int_or_str(typ: Any) -> bool:
    args = set(get_args(typ)) - {_NONE_TYPE}
    return is_union_type(typ) and args == {int, str}


def _int_or_str_factory(typ: Any, converter: Converter) -> Callable[[Any, Any], Any]:
    # ``int | str`` (v1 /me's la_code): the value's own kind, as msgspec decides it.
    nullable = _NONE_TYPE in get_args(typ)

    def structure_int_or_str(value: Any, _: Any) -> Any:
        kind = value.__class__
        if kind is int or kind is str or (value is None and nullable):
            return value
        if kind is float and value.is_integer():
            return int(value)  # msgspec (strict=False) reads 12.0 as 12
        raise TypeError(f"expected an integer or a string, got {json_kind(value)}")

    return structure_int_or_str


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
    unless you ask for it, so your hooks are always honoured. A hook for
    ``datetime.date`` also reads the calendar-date fields (``CalendarDate``),
    one for ``datetime.datetime`` the instants (``Instant``).
    """
    converter = _make_orjson_converter(forbid_extra_keys=False, detailed_validation=True)
    # The date kinds take whatever hook datetime.date / datetime.datetime has when
    # a model is first structured: a user's own date hook applies to them too.
    converter.register_structure_hook_factory(
        lambda typ: typ is CalendarDate, lambda _, c: c.get_structure_hook(datetime.date))
    converter.register_structure_hook_factory(
        lambda typ: typ is Instant, lambda _, c: c.get_structure_hook(datetime.datetime))
    converter.register_structure_hook(datetime.datetime, structure_instant)
    converter.register_structure_hook(datetime.date, structure_date)
    converter.register_unstructure_hook(Instant, format_datetime)
    converter.register_unstructure_hook(CalendarDate, format_date)
    converter.register_unstructure_hook(datetime.datetime, format_datetime)
    converter.register_unstructure_hook(datetime.date, format_date)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(Code, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook_factory(_is_optional, _optional_factory)
    converter.register_structure_hook_factory(_is_int_or_str, _int_or_str_factory)
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
    if isinstance(exc, KeyError):
        return "a required field is missing"
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
