"""Properties of the PostgreSQL sink: raw records come back exactly as written
(whatever JSON the API sends), and typed columns never fail on odd values."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assembly_async.sinks import PostgresSink
from assembly_async.sinks._pg_columns import COLUMNS, _date, _timestamptz, json_for_postgres

# JSON as the API could send it; numbers within what a double and JSONB agree on.
scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)
           | st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
records = st.dictionaries(st.text(max_size=8), values, max_size=6)


def no_nul(value: Any) -> Any:
    """What JSONB keeps: U+0000 becomes U+FFFD, everything else is as sent."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [no_nul(v) for v in value]
    if isinstance(value, dict):
        return {no_nul(k): no_nul(v) for k, v in value.items()}
    return value


@settings(max_examples=300, deadline=None)
@given(values)
def test_nul_escape_rewrites_only_nul(value: Any) -> None:
    assert orjson.loads(json_for_postgres(orjson.dumps(value))) == no_nul(value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,6})?"
                                             r"(Z|[+-]\d{2}:\d{2})?)?", fullmatch=True))
def test_dates_never_raise_and_agree_with_the_calendar(text: str) -> None:
    got = _date(text)
    try:
        want = datetime.date.fromisoformat(text[:10]) if len(text) >= 10 and text[:10].isascii() \
            and text[4:5] == "-" and text[7:8] == "-" else None
    except ValueError:
        want = None
    assert got == want
    stamp = _timestamptz(text)
    assert stamp is None or stamp.tzinfo is not None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(COLUMNS)), records)
def test_typed_columns_never_raise(resource: str, record: dict[str, Any]) -> None:
    for column in COLUMNS[resource]:
        column.value(record)
        column.value({column.name: record})


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(st.lists(records, min_size=1, max_size=20))
def test_raw_round_trip(pg_dsn: str, batch: list[dict[str, Any]]) -> None:
    rows = [{**r, "id": i} for i, r in enumerate(batch, 1)]

    async def go() -> list[Any]:
        async with PostgresSink(pg_dsn, pool_size=1) as sink:
            await sink.write(1, "students", rows)
            return [await sink.get("students", 1, i) for i in range(1, len(rows) + 1)]

    assert asyncio.run(go()) == [no_nul(r) for r in rows]
