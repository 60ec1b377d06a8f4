"""Property: the msgspec fast path and the cattrs path build equal models.

Records are generated from the models' own type hints, shaped like API
``Student`` JSON: nested demographics, contacts, emails, photo, medical...,
with random nulls, missing keys, unknown keys and both date forms.
"""

from __future__ import annotations

import datetime
import types
import typing
from typing import Any

import attrs
import msgspec
import orjson
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from assembly_async.models import Student
from assembly_async.models._decode import ModelDecoder

UTC = datetime.timezone.utc
FAST = ModelDecoder()
SLOW = ModelDecoder(fast=False)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

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
    if style == "micro-offset":
        return moment.astimezone(offset).isoformat()
    return moment.replace(tzinfo=None).isoformat()  # naive: read as UTC


@st.composite
def datetime_texts(draw: st.DrawFn, *, lenient: bool = True) -> str:
    """A date-time; ``lenient`` adds the forms msgspec refuses (bare date, no offset)."""
    moment = draw(moments)
    styles = ["ms-z", "ms-z", "micro-offset"]
    if lenient:
        styles += ["naive", "date"]
    style = draw(st.sampled_from(styles))
    if style == "date":
        return moment.date().isoformat()
    return _full(moment, style, draw(offsets))


@st.composite
def date_texts(draw: st.DrawFn) -> str:
    moment = draw(moments)
    if draw(st.booleans()):
        return moment.date().isoformat()
    return _full(moment, "ms-z", UTC)


def _strategy(hint: Any, *, lenient: bool) -> st.SearchStrategy[Any]:
    """JSON values fitting a model annotation (without the None option)."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base = typing.get_args(hint)[0]
        assert base is datetime.datetime
        return datetime_texts(lenient=lenient)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return st.one_of([_strategy(a, lenient=lenient) for a in options])
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return st.lists(_strategy(item, lenient=lenient), max_size=2)
    if attrs.has(hint):
        return records(hint, lenient=lenient)
    if hint is datetime.date:
        return date_texts()
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(-(2**63), 2**63 - 1)
    if hint is float:
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)
    if hint is str:
        return st.text(max_size=12)
    if hint is typing.Any:
        return json_values
    raise AssertionError(f"no strategy for {hint!r}")


def records(cls: type[Any], *, lenient: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts shaped like ``cls``: each key present or not, null or a value, plus unknowns."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {name: st.none() | _strategy(hint, lenient=lenient) for name, hint in hints.items()}
    known = st.fixed_dictionaries({}, optional=fields)
    unknown = st.dictionaries(
        st.text(min_size=1, max_size=6).filter(lambda key: key not in hints),
        json_values,
        max_size=2,
    )
    return st.builds(lambda a, b: {**b, **a}, known, unknown)


def _same(left: Any, right: Any) -> None:
    assert left == right
    assert repr(left) == repr(right)  # also compares tzinfo, float signs, tuple vs list


@SETTINGS
@given(st.lists(records(Student), min_size=1, max_size=3))
def test_fast_and_cattrs_paths_agree(page: list[dict[str, Any]]) -> None:
    body = orjson.dumps(page)
    slow, _ = SLOW.decode_list(Student, body)
    fast, _ = FAST.decode_list(Student, body)
    _same(fast, slow)
    try:
        direct = msgspec.json.decode(body, type=list[Student])
    except msgspec.ValidationError:
        event("msgspec refused the page: the SDK fell back to cattrs")
    else:
        event("msgspec accepted the page")
        _same(direct, slow)
    one = orjson.dumps(page[0])
    _same(FAST.decode_one(Student, one), SLOW.decode_one(Student, one))


@SETTINGS
@given(st.lists(records(Student, lenient=False), min_size=1, max_size=3))
def test_msgspec_alone_agrees_on_api_shaped_records(page: list[dict[str, Any]]) -> None:
    body = orjson.dumps(page)
    direct = msgspec.json.decode(body, type=list[Student])  # never falls back
    _same(direct, SLOW.decode_list(Student, body)[0])
    _same(FAST.decode_list(Student, body)[0], direct)


@SETTINGS
@given(records(Student))
def test_envelope_paths_agree(record: dict[str, Any]) -> None:
    body = orjson.dumps({"object": "list", "total_count": 1, "next_page": None, "data": [record]})
    _same(
        FAST.decode_list(Student, body, envelope=True),
        SLOW.decode_list(Student, body, envelope=True),
    )
