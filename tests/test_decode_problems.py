"""One bad value never sinks a page: lenient decoding, its problems, privacy, nesting.

The records come from the API's own documentation: DEV students shows
``"dob": "1999-12-10"`` (a bare date in a date-time field) and
``"start_date": "2015-02-31T00:00:00.000Z"`` (a day that does not exist).
"""

from __future__ import annotations

import datetime
import gc
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assembly_async import AssemblyClient, CallOptions
from assembly_async._core.errors import DecodeError
from assembly_async._sync.report import KEPT_PROBLEMS, ResourceResult, SchoolResult
from assembly_async.models import (
    DecodeProblem,
    EmailInfo,
    ListEnvelopeV1,
    StaffAbsence,
    Student,
)
from assembly_async.models._decode import ModelDecoder
from assembly_async.models._problems import NO_VALUE

URL = "https://api-sandbox.assembly.education/students?page=1"
BIRTH = "1999-12-10"
IMPOSSIBLE = "2015-02-31T00:00:00.000Z"
DOCUMENTED = {"object": "student", "id": 15, "first_name": "Ada", "dob": BIRTH,
              "start_date": IMPOSSIBLE, "end_date": None}


@pytest.fixture(params=[True, False], ids=["fast", "cattrs"])
def decoder(request: pytest.FixtureRequest) -> ModelDecoder:
    return ModelDecoder(fast=request.param)


def page(*records: Any) -> bytes:
    return orjson.dumps(list(records))


def test_the_documented_impossible_date_costs_one_field(decoder: ModelDecoder) -> None:
    problems: list[DecodeProblem] = []
    body = page({"id": 14, "dob": "2009-05-14"}, DOCUMENTED, {"id": 16})
    records, _ = decoder.decode_list(Student, body, url=URL, problems=problems)
    assert [r.id for r in records] == [14, 15, 16]
    kept = records[1]
    assert kept.start_date is None
    assert kept.dob == datetime.date(1999, 12, 10) and kept.first_name == "Ada"
    [problem] = problems
    assert (problem.schema, problem.path, problem.record_id, problem.index, problem.url) == (
        "Student", "$.start_date", 15, 1, URL)
    assert problem.raw == IMPOSSIBLE and problem.kept and problem.removed == "$.start_date"
    assert problem.value_kind == "a string of 24 characters"
    assert "the day does not exist in that month" in problem.message


def test_strict_mode_still_raises(decoder: ModelDecoder) -> None:
    with pytest.raises(DecodeError) as info:
        decoder.decode_list(Student, page(DOCUMENTED), url=URL)
    assert (info.value.path, info.value.record_id, info.value.index) == ("$.start_date", 15, 0)


def test_one_record_keeps_its_good_values(decoder: ModelDecoder) -> None:
    problems: list[DecodeProblem] = []
    one = decoder.decode_one(Student, orjson.dumps(DOCUMENTED), url=URL, problems=problems)
    assert one.id == 15 and one.start_date is None and one.dob == datetime.date(1999, 12, 10)
    assert [(p.path, p.index) for p in problems] == [("$.start_date", None)]


def test_array_items_and_nested_objects(decoder: ModelDecoder) -> None:
    problems: list[DecodeProblem] = []
    record = {"id": 3, "emails": [{"id": 1}, "not an e-mail", {"id": "x"}, {"id": 4}],
              "demographics": {"is_pp": "maybe", "gender": "F",
                               "pp_history": [{"id": 7, "start_date": "2015-13-01"}]}}
    [student], _ = decoder.decode_list(Student, page(record), problems=problems)
    assert student.emails == (EmailInfo(id=1), EmailInfo(id=4))
    assert student.demographics is not None
    assert student.demographics.is_pp is None and student.demographics.gender == "F"
    assert student.demographics.pp_history is not None
    assert student.demographics.pp_history[0].start_date is None
    found = {p.path: p.removed for p in problems}
    assert found == {
        "$.emails[1]": "$.emails[1]",
        "$.emails[2].id": "$.emails[2]",  # an e-mail without a usable id goes whole
        "$.demographics.is_pp": "$.demographics.is_pp",
        "$.demographics.pp_history[0].start_date": "$.demographics.pp_history[0].start_date",
    }
    assert all(p.kept and p.record_id == 3 for p in problems)


@pytest.mark.parametrize(
    ("record", "path"),
    [
        ({"id": "abc", "first_name": "Ada"}, "$.id"),
        ({"id": None}, "$.id"),
        ({"first_name": "no id"}, "$.id"),
        ("a string", "$"),
        (None, "$"),
    ],
)
def test_a_record_without_a_usable_id_is_left_out(
    decoder: ModelDecoder, record: Any, path: str
) -> None:
    problems: list[DecodeProblem] = []
    records, _ = decoder.decode_list(Student, page({"id": 1}, record, {"id": 2}),
                                     problems=problems)
    assert [r.id for r in records] == [1, 2]
    [problem] = problems
    assert (problem.path, problem.index, problem.kept, problem.removed) == (path, 1, False, "$")
    assert "the record was left out" in str(problem)
    with pytest.raises(DecodeError):
        decoder.decode_one(Student, orjson.dumps(record), problems=[])


def test_a_null_type_tag_takes_the_spec_default(decoder: ModelDecoder) -> None:
    problems: list[DecodeProblem] = []
    [student], _ = decoder.decode_list(Student, page({"id": 1, "object": None}),
                                       problems=problems)
    assert student.object == "student"
    assert [(p.path, p.kept) for p in problems] == [("$.object", True)]


def test_a_number_beyond_a_double(decoder: ModelDecoder) -> None:
    # Valid JSON grammar that orjson refuses and msgspec reads as infinity: an
    # unknown field holding one costs nothing, a float field holding one is a problem.
    body = b'[{"id": 1}, {"id": 2, "zz": 1e400}, {"id": 3, "first_name": "x"}]'
    assert [r.id for r in decoder.decode_list(Student, body)[0]] == [1, 2, 3]
    body = b'[{"id": 1}, {"id": 2, "working_days_lost": -1e400}, {"id": 3}]'
    problems: list[DecodeProblem] = []
    records, _ = decoder.decode_list(StaffAbsence, body, problems=problems)
    assert [(r.id, r.working_days_lost) for r in records] == [(1, None), (2, None), (3, None)]
    assert [(p.index, p.path, p.kept) for p in problems] == [(1, "$.working_days_lost", True)]
    assert "expected a finite number" in problems[0].message
    with pytest.raises(DecodeError):
        decoder.decode_list(StaffAbsence, body)


def test_envelope_pages_are_lenient_too(decoder: ModelDecoder) -> None:
    body = orjson.dumps({"object": "list", "total_count": 2, "data": [DOCUMENTED, {"id": 2}]})
    problems: list[DecodeProblem] = []
    records, meta = decoder.decode_list(Student, body, envelope=True, problems=problems)
    assert [r.id for r in records] == [15, 2] and meta == {"object": "list", "total_count": 2}
    assert [p.path for p in problems] == ["$.start_date"]


def test_page_shape_errors_stay_errors(decoder: ModelDecoder) -> None:
    for body in (b'{"id": 1}', b"[1,", b"<html>"):
        with pytest.raises(DecodeError):
            decoder.decode_list(Student, body, problems=[])


# --- privacy ---------------------------------------------------------------------


def test_the_raw_value_is_only_on_the_problem(decoder: ModelDecoder) -> None:
    secret = "2011-02-29"  # a birth date that does not exist (2011 is not a leap year)
    problems: list[DecodeProblem] = []
    decoder.decode_list(Student, page({"id": 7, "dob": secret}), url=URL, problems=problems)
    [problem] = problems
    assert problem.raw == secret
    shown = [repr(problem), str(problem), repr(problem.redacted()), str(problems)]
    with pytest.raises(DecodeError) as info:
        decoder.decode_list(Student, page({"id": 7, "dob": secret}), url=URL)
    shown += [str(info.value), repr(info.value)]
    for text in shown:
        assert secret not in text and "2011" not in text
    assert "a string of 10 characters" in str(problem)
    assert problem.redacted().raw is NO_VALUE and problem.redacted() == problem


def test_malformed_json_bodies_are_not_quoted() -> None:
    body = b'[{"id": 1, "first_name": "Ada", "dob": "2009-05-14"'  # cut short
    with pytest.raises(DecodeError) as info:
        ModelDecoder().decode_list(Student, body)
    assert "Ada" not in str(info.value) and "2009" not in str(info.value)
    assert f"{len(body)} bytes of JSON text" in str(info.value)


# --- nesting ---------------------------------------------------------------------


def _nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b"[" * depth + leaf + b"]" * depth


def _at_stack_depth(depth: int, fn: Any) -> Any:
    """Call ``fn`` ``depth`` Python frames deeper (msgspec's own limit shrinks)."""
    if depth <= 0:
        return fn()
    return _at_stack_depth(depth - 1, fn)


WHERE = {
    "unknown field": b'{"id": 1, "zz": %s}',
    "known string field": b'{"id": 1, "first_name": %s}',
    "known array field": b'{"id": 1, "emails": %s}',
    "nested model": b'{"id": 1, "demographics": {"nationalities": %s}}',
}


@settings(max_examples=60, deadline=None)
@given(
    depth=st.one_of(st.integers(1, 1100), st.integers(1100, 200_000)),
    where=st.sampled_from(sorted(WHERE)),
    stack=st.integers(0, sys.getrecursionlimit() - 150),
    fast=st.booleans(),
    lenient=st.booleans(),
)
def test_deep_nesting_is_a_decode_error_never_a_recursion_error(
    depth: int, where: str, stack: int, fast: bool, lenient: bool
) -> None:
    # msgspec's limit is the Python stack (so it shrinks when called deep
    # down), orjson's is 1024 levels: neither may surface as RecursionError.
    body = b"[" + WHERE[where] % _nested(depth, b"{}") + b"]"  # no level fits a known field
    decoder = ModelDecoder(fast=fast)
    problems: list[DecodeProblem] | None = [] if lenient else None
    try:
        records, _ = _at_stack_depth(
            stack, lambda: decoder.decode_list(Student, body, problems=problems))
    except DecodeError as exc:
        too_deep = "nested deeper than the decoder follows" in str(exc)
        wrong_type = problems is None and where != "unknown field"
        assert too_deep or wrong_type, str(exc)
        assert not too_deep or depth > 1000
    else:  # how deep msgspec follows depends on the Python recursion limit
        assert problems is not None or where == "unknown field"
        assert [r.id for r in records] == [1]
        assert problems is None or len(problems) == (0 if where == "unknown field" else 1)


@settings(max_examples=30, deadline=None)
@given(depth=st.integers(1, 3000), stack=st.integers(0, sys.getrecursionlimit() - 150))
def test_deep_nesting_in_an_any_field(depth: int, stack: int) -> None:
    body = b'{"object": "list", "data": [' + _nested(depth) + b"]}"
    decoder = ModelDecoder()
    try:
        envelope = _at_stack_depth(stack, lambda: decoder.decode_one(ListEnvelopeV1, body))
    except DecodeError as exc:
        assert depth > 1000 and "nested deeper" in str(exc)
    else:
        assert envelope.data is not None and len(envelope.data) == 1


# --- the switches and the report --------------------------------------------------


def test_strict_decode_switches() -> None:
    assert CallOptions().strict(False) is False and CallOptions().strict(True) is True
    assert CallOptions(strict_decode=True).strict(False) is True
    assert CallOptions(strict_decode=False).strict(True) is False
    client = AssemblyClient(strict_decode=True)
    assert client.config.strict_decode is True
    assert AssemblyClient().config.strict_decode is False


def test_a_job_result_counts_every_problem_and_keeps_a_few_redacted() -> None:
    found = [DecodeProblem("Student", "$.dob", "bad", record_id=i, raw=f"2011-02-{i:02d}")
             for i in range(KEPT_PROBLEMS + 5)]
    result = ResourceResult("students")
    result.add_problems(found[:3])
    result.add_problems(found[3:])
    assert result.decode_problems == KEPT_PROBLEMS + 5
    assert [p.record_id for p in result.problems] == list(range(KEPT_PROBLEMS))
    assert all(p.raw is NO_VALUE for p in result.problems)
    school = SchoolResult(1, {"students": result, "staff_members": ResourceResult("staff")})
    assert school.decode_problems == KEPT_PROBLEMS + 5
    assert "2011-02" not in repr(school)


class _Spy(ModelDecoder):
    """Records whether the collector was on while a page decoded."""

    __slots__ = ("seen",)
    seen: list[bool]

    def _decode_list(self, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(gc.isenabled())
        return super()._decode_list(*args, **kwargs)


def test_a_page_decodes_with_the_collector_paused_and_restored() -> None:
    decoder = _Spy()
    decoder.seen = []
    assert gc.isenabled()
    decoder.decode_list(Student, page({"id": 1}))
    assert decoder.seen == [False] and gc.isenabled()
    with pytest.raises(DecodeError):
        decoder.decode_list(Student, b"[1,")
    assert gc.isenabled()  # back on after a failure too
    gc.disable()
    try:
        decoder.decode_list(Student, page({"id": 1}))
        assert not gc.isenabled()  # a collector the caller turned off stays off
    finally:
        gc.enable()
    off = _Spy(pause_gc=False)
    off.seen = []
    off.decode_list(Student, page({"id": 1}))
    assert off.seen == [True]
