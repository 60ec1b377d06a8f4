"""Property: the msgspec fast path and the cattrs path build equal models.

Records are generated from the models' own type hints, shaped like API JSON
(nested demographics, contacts, emails, photo, medical...), with random nulls,
missing keys and unknown keys, in three tiers of value shapes:

* ``fast``: what the API documents and msgspec must take without falling back:
  dates bare (``1999-12-10``) or as date-times with or without offset or
  milliseconds in ANY date field (calendar dates and instants alike), numbers
  and booleans as JSON or in the lax forms (``"12"``, ``"1e3"``, ``12.0``,
  ``"true"``, ``1``, ``"null"``);
* ``quirky``: plus forms only the converter takes (``" 12"``, ``"+12"``, a
  number for a string, ``"null"`` in a date field): the fast path falls back
  record by record and must still agree;
* ``broken``: plus values that fit nowhere (``2015-02-31``, ``"abc"`` for an
  int, ``"nan"``, an array for a string, a bad ``id``): in lenient mode both
  paths keep the same records and report the same problems; in strict mode
  both raise the same DecodeError.
"""

from __future__ import annotations

import datetime
import functools
import math
import types
import typing
from typing import Any

import attrs
import orjson
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from assembly_async._core.errors import DecodeError
from assembly_async.models import (
    AcademicYear,
    AssessmentPoint,
    AttendanceSummary,
    CalendarDate,
    Code,
    DecodeProblem,
    Instant,
    MeV1,
    Result,
    SchoolStatus,
    StaffMember,
    Student,
    TimetableDays,
)
from assembly_async.models._decode import ModelDecoder

UTC = datetime.timezone.utc
FAST = ModelDecoder()
SLOW = ModelDecoder(fast=False)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MODELS = [Student, StaffMember, AcademicYear, Result, TimetableDays, AttendanceSummary,
          SchoolStatus, MeV1, AssessmentPoint]

json_scalars = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
moments = st.datetimes(
    min_value=datetime.datetime(1950, 1, 1),
    max_value=datetime.datetime(2060, 12, 31),
    timezones=st.just(UTC),
)
offsets = st.sampled_from([0, 60, -300, 330, 23 * 60 + 59]).map(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes))
)


def _full(moment: datetime.datetime, style: str, offset: datetime.timezone) -> str:
    if style == "ms-z":  # what the API sends: 2015-09-01T00:00:00.000Z
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if style == "seconds-z":  # no milliseconds
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "day-end":  # H14: a term's last day at 23:59
        return moment.strftime("%Y-%m-%dT23:59:00.000Z")
    if style == "micro-offset":
        return moment.astimezone(offset).isoformat()
    if style == "minutes-offset":
        return moment.astimezone(offset).strftime("%Y-%m-%dT%H:%M%z")
    if style == "space":
        return moment.strftime("%Y-%m-%d %H:%M:%S.%fZ")
    return moment.replace(tzinfo=None).isoformat()  # naive: read as UTC


DATE_STYLES = ["date", "ms-z", "ms-z", "seconds-z", "day-end", "micro-offset",
               "minutes-offset", "space", "naive"]


@st.composite
def date_texts(draw: st.DrawFn) -> str:
    """Any spelling of a date or date-time the API may use, in any date field."""
    moment = draw(moments)
    style = draw(st.sampled_from(DATE_STYLES))
    if style == "date":
        return moment.date().isoformat()
    return _full(moment, style, draw(offsets))


IMPOSSIBLE_DATES = st.sampled_from([
    "2015-02-31T00:00:00.000Z",  # DEV students' own example
    "2015-02-30", "2015-13-01", "2015-09-01T25:00:00Z", "01/09/2015", "", "2015",
    "2015-09-01T00:00:00+24:00",
])


def _ints(tier: str) -> st.SearchStrategy[Any]:
    plain = st.integers(-(2**63), 2**63 - 1)
    small = st.integers(-(10**6), 10**6)
    lax = [plain.map(str), small.map(float), small.map(lambda n: f"{n}.0"),
           st.integers(0, 999).map(lambda n: f"{n}e0"), st.just("null"), st.just("NULL")]
    quirky = [small.map(lambda n: f" {n} "), st.integers(0, 99).map(lambda n: f"+{n}"),
              st.integers(0, 99).map(lambda n: f"00{n}"), st.just(1e19)]
    broken = [st.just("abc"), st.just(1.5), st.just(True), st.just("1.5"), st.just([1]),
              st.just("1e400")]
    return _tiered(tier, [plain], lax, quirky, broken)


def _floats(tier: str) -> st.SearchStrategy[Any]:
    finite = st.floats(allow_nan=False, allow_infinity=False)
    plain = [finite, st.integers(-(2**53), 2**53)]
    lax = [finite.map(repr), st.integers(-999, 999).map(str), st.just("null")]
    quirky = [finite.map(lambda f: f" {f!r}"), st.just(".5"), st.just("+1.5")]
    broken = [st.sampled_from(["nan", "inf", "-Infinity", "x"]), st.just(False)]
    return _tiered(tier, plain, lax, quirky, broken)


def _bools(tier: str) -> st.SearchStrategy[Any]:
    lax = [st.sampled_from([0, 1, "true", "false", "TRUE", "False", "1", "0", "-0", "null"])]
    quirky = [st.sampled_from([" true", "FALSE ", "1 "])]
    broken = [st.sampled_from(["maybe", 2, "yes", 1.0, "00"])]
    return _tiered(tier, [st.booleans()], lax, quirky, broken)


def _strs(tier: str) -> st.SearchStrategy[Any]:
    quirky = [st.integers(-999, 999), st.floats(allow_nan=False, allow_infinity=False)]
    broken = [st.just({"x": 1}), st.just([1]), st.just(True)]
    return _tiered(tier, [st.text(max_size=12)], [], quirky, broken)


def _dates(tier: str) -> st.SearchStrategy[Any]:
    quirky = [st.sampled_from(["null", "Null"])]
    broken = [IMPOSSIBLE_DATES, st.just(20150901), st.just(True)]
    return _tiered(tier, [date_texts()], [], quirky, broken)


def _tiered(tier: str, plain: list[Any], lax: list[Any], quirky: list[Any],
            broken: list[Any]) -> st.SearchStrategy[Any]:
    options = list(plain) + list(lax)
    if tier in ("quirky", "broken"):
        options += quirky
    if tier == "broken":
        options += broken
    return st.one_of(options)


def _strategy(hint: Any, tier: str) -> st.SearchStrategy[Any]:
    """JSON values fitting a model annotation (without the None option)."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _strategy(typing.get_args(hint)[0], tier)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if set(options) == {int, str}:  # v1 /me's la_code: JSON numbers or text
            return st.integers(-999, 999) | st.text(max_size=6) | st.integers(0, 99).map(float)
        return st.one_of([_strategy(a, tier) for a in options])
    if origin is tuple:
        item = typing.get_args(hint)[0]
        items = st.lists(_strategy(item, tier).filter(_not_null_text), max_size=2)
        if tier == "broken":
            return items | st.just("not an array") | st.just({"k": 1})
        return items
    if attrs.has(hint):
        nested = records(hint, tier)
        return nested | st.just([1]) if tier == "broken" else nested
    if hint in (CalendarDate, Instant):
        return _dates(tier)
    if hint is bool:
        return _bools(tier)
    if hint is int:
        return _ints(tier)
    if hint is float:
        return _floats(tier)
    if hint is str:
        return _strs(tier)
    if hint is Code:  # year_code: text, or a JSON number the fast path reads as its text
        return _strs(tier) | st.integers(-99, 99) | st.floats(allow_nan=False, allow_infinity=False)
    if hint is typing.Any:
        return json_values
    raise AssertionError(f"no strategy for {hint!r}")


def _not_null_text(value: Any) -> bool:
    return not (isinstance(value, str) and value.lower() == "null")


@functools.cache
def records(cls: type[Any], tier: str = "fast") -> st.SearchStrategy[dict[str, Any]]:
    """Dicts shaped like ``cls``: each key present or not, null or a value, plus
    unknowns; a required ``id`` is always there (but may be broken)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    required = {f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING}
    fields = {name: st.none() | _strategy(hint, tier)
              for name, hint in hints.items() if name not in required}
    if "object" in fields:  # the type tag: a string, or left out
        fields["object"] = _strs(tier)
    needed = {name: _strategy(hints[name], tier).filter(_not_null_text) for name in required}
    if tier == "broken":
        needed = {name: value | st.none() for name, value in needed.items()}
    known = st.fixed_dictionaries(needed, optional=fields)
    unknown = st.dictionaries(
        st.text(min_size=1, max_size=6).filter(lambda key: key not in hints),
        json_values,
        max_size=2,
    )
    return st.builds(lambda a, b: {**b, **a}, known, unknown)


def pages(tier: str) -> st.SearchStrategy[tuple[type[Any], list[dict[str, Any]]]]:
    return st.sampled_from(MODELS).flatmap(
        lambda cls: st.tuples(st.just(cls), st.lists(records(cls, tier), min_size=1, max_size=3))
    )


def _same(left: Any, right: Any) -> None:
    assert left == right
    assert repr(left) == repr(right)  # also compares tzinfo, float signs, tuple vs list


def _problem(p: DecodeProblem) -> tuple[Any, ...]:
    raw = p.raw
    same_raw = "nan" if isinstance(raw, float) and math.isnan(raw) else raw
    return (attrs.astuple(p, recurse=False)[:-1], repr(same_raw))


@SETTINGS
@given(pages("fast"))
def test_msgspec_alone_takes_documented_and_lax_shapes(case: tuple[type[Any], list[Any]]) -> None:
    cls, page = case
    body = orjson.dumps(page)
    direct = FAST._many(cls)
    assert direct is not None
    fast = direct.decode(body)  # the whole page in C: no fallback at all
    _same(fast, SLOW.decode_list(cls, body)[0])
    _same(FAST.decode_list(cls, body)[0], fast)
    one = orjson.dumps(page[0])
    _same(FAST.decode_one(cls, one), SLOW.decode_one(cls, one))


@SETTINGS
@given(pages("quirky"))
def test_fast_and_cattrs_paths_agree(case: tuple[type[Any], list[Any]]) -> None:
    cls, page = case
    body = orjson.dumps(page)
    slow, _ = SLOW.decode_list(cls, body)
    fast, _ = FAST.decode_list(cls, body)
    _same(fast, slow)
    direct = FAST._many(cls)
    try:
        assert direct is not None
        direct.decode(body)
    except Exception:
        event("msgspec refused the page: the SDK fell back record by record")
    else:
        event("msgspec accepted the page")
    one = orjson.dumps(page[0])
    _same(FAST.decode_one(cls, one), SLOW.decode_one(cls, one))


@SETTINGS
@given(pages("broken"))
def test_broken_values_cost_the_same_on_both_paths(case: tuple[type[Any], list[Any]]) -> None:
    cls, page = case
    body = orjson.dumps(page)
    fast_problems: list[DecodeProblem] = []
    slow_problems: list[DecodeProblem] = []
    fast, _ = FAST.decode_list(cls, body, problems=fast_problems)
    slow, _ = SLOW.decode_list(cls, body, problems=slow_problems)
    _same(fast, slow)
    assert [_problem(p) for p in fast_problems] == [_problem(p) for p in slow_problems]
    kept = {p.index for p in fast_problems if not p.kept}
    assert len(fast) == len(page) - len(kept)  # only records without a usable id go
    event(f"{len(fast_problems)} problems" if fast_problems else "no problem")
    # Strict mode: the same first error from both paths (or none).
    errors = []
    for decoder in (FAST, SLOW):
        try:
            decoder.decode_list(cls, body)
        except DecodeError as exc:
            errors.append((exc.path, exc.index, exc.record_id, str(exc)))
        else:
            errors.append(None)
    assert errors[0] == errors[1]
    assert (errors[0] is None) == (not fast_problems)


@SETTINGS
@given(records(Student, "quirky"))
def test_envelope_paths_agree(record: dict[str, Any]) -> None:
    body = orjson.dumps({"object": "list", "total_count": 1, "next_page": None, "data": [record]})
    _same(
        FAST.decode_list(Student, body, envelope=True),
        SLOW.decode_list(Student, body, envelope=True),
    )
