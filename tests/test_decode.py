"""ModelDecoder and the converter: tolerant where the API is quirky, precise when it breaks."""

from __future__ import annotations

import datetime
from typing import Any

import attrs
import orjson
import pytest

from assembly_async._core.errors import DecodeError
from assembly_async.models import (
    AcademicYear,
    EmailInfo,
    MeV1,
    Result,
    ResultBody,
    ResultEntry,
    Student,
    StudentDemographics,
    TimetableDays,
)
from assembly_async.models._converter import (
    dump_json,
    format_datetime,
    make_converter,
    parse_date,
    parse_datetime,
)
from assembly_async.models._decode import ModelDecoder

UTC = datetime.timezone.utc
SEPT_1 = datetime.datetime(2015, 9, 1, tzinfo=UTC)
SEPT_1_DAY = datetime.date(2015, 9, 1)
URL = "https://api-sandbox.assembly.education/students?page=2"


@pytest.fixture(params=[True, False], ids=["fast", "cattrs"])
def decoder(request: pytest.FixtureRequest) -> ModelDecoder:
    return ModelDecoder(fast=request.param)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def one_page(*records: dict[str, Any]) -> bytes:
    return dumps(list(records))


# --- construction -------------------------------------------------------------


def test_fast_path_defaults() -> None:
    assert ModelDecoder().fast is True
    assert ModelDecoder(fast=False).fast is False
    custom = make_converter()
    assert ModelDecoder(custom).fast is False
    assert ModelDecoder(custom).converter is custom
    assert ModelDecoder(custom, fast=True).fast is True


# --- tolerance --------------------------------------------------------------------


def test_unknown_fields_are_ignored(decoder: ModelDecoder) -> None:
    body = one_page(
        {
            "id": 1,
            "brand_new_field": {"deep": [1, 2]},
            "demographics": {"gender": "F", "added_later": True},
            "emails": [{"id": 9, "email": "a@b.c", "shiny": "yes"}],
        }
    )
    [student], meta = decoder.decode_list(Student, body)
    assert meta is None
    assert student.id == 1
    assert student.demographics == StudentDemographics(gender="F")
    assert student.emails is not None and student.emails[0].email == "a@b.c"


def test_missing_fields_are_none(decoder: ModelDecoder) -> None:
    student = decoder.decode_one(Student, b'{"id": 4}')
    assert student == Student(id=4)
    assert student.demographics is None and student.dob is None


def test_nulls_everywhere(decoder: ModelDecoder) -> None:
    # Every nullable field null. ``id`` identifies the record and ``object`` is
    # its type tag: the spec marks both non-nullable (see test_decode_problems).
    record: dict[str, Any] = {field.name: None for field in attrs.fields(Student)
                              if field.name not in ("id", "object")}
    record["id"] = 1
    record["demographics"] = {"is_pp": None, "pp_history": None, "nationalities": None}
    record["contacts"] = [{"contact_id": None, "relationship": None}]
    [student], _ = decoder.decode_list(Student, one_page(record))
    assert student.id == 1 and student.object == "student"
    assert student.demographics == StudentDemographics()
    assert student.contacts is not None and student.contacts[0].relationship is None


@pytest.mark.parametrize(
    "text",
    [
        "2015-09-01",
        "2015-09-01T00:00:00.000Z",
        "2015-09-01T00:00:00Z",
        "2015-09-01T00:00:00+00:00",
        "2015-09-01T01:00:00+01:00",
        "2015-09-01T00:00:00",  # no offset: UTC
        "2015-09-01 00:00:00Z",
    ],
)
def test_both_date_forms_in_a_datetime_field(decoder: ModelDecoder, text: str) -> None:
    # An instant (Result.created_at): an aware datetime whatever the form.
    [result], _ = decoder.decode_list(Result, one_page({"id": 1, "created_at": text}))
    assert result.created_at == SEPT_1
    assert result.created_at is not None and result.created_at.tzinfo is not None
    one = decoder.decode_one(Result, dumps({"id": 1, "created_at": text}))
    assert one.created_at == SEPT_1


@pytest.mark.parametrize(
    "text",
    [
        "2015-09-01",
        "2015-09-01T00:00:00.000Z",
        "2015-09-01T00:00:00Z",
        "2015-09-01T23:59:00.000Z",  # H14: a term's last day at 23:59
        "2015-09-01T00:00:00+01:00",  # the date as written, not its UTC date (31 August)
        "2015-09-01T22:00:00-05:00",  # ... nor 2 September
        "2015-09-01T00:00:00",
        "2015-09-01 00:00:00Z",
    ],
)
def test_both_date_forms_in_a_calendar_date_field(decoder: ModelDecoder, text: str) -> None:
    [year], _ = decoder.decode_list(AcademicYear, one_page({"id": 1, "start_date": text}))
    assert year.start_date == SEPT_1_DAY
    assert type(year.start_date) is datetime.date
    one = decoder.decode_one(AcademicYear, dumps({"id": 1, "start_date": text}))
    assert one.start_date == SEPT_1_DAY


def test_date_only_and_full_forms_mixed_in_one_page(decoder: ModelDecoder) -> None:
    body = one_page(
        {"id": 1, "start_date": "2015-09-01", "end_date": "2016-07-20T00:00:00.000Z"},
        {"id": 2, "start_date": "2015-09-01T00:00:00.000Z", "end_date": "2016-07-20"},
    )
    years, _ = decoder.decode_list(AcademicYear, body)
    assert [y.start_date for y in years] == [SEPT_1_DAY, SEPT_1_DAY]
    assert years[0].end_date == years[1].end_date == datetime.date(2016, 7, 20)


def test_date_format_list(decoder: ModelDecoder) -> None:
    body = dumps({"id": 3, "occurs_on": ["2024-09-02", "2024-09-09T00:00:00.000Z"]})
    day = decoder.decode_one(TimetableDays, body)
    assert day.occurs_on == (datetime.date(2024, 9, 2), datetime.date(2024, 9, 9))


def test_lenient_scalars_fall_back_to_cattrs(decoder: ModelDecoder) -> None:
    body = one_page({"id": "12", "demographics": {"is_pp": 1, "is_eal": "false"}, "upn": 7})
    [student], _ = decoder.decode_list(Student, body)
    assert student.id == 12
    assert student.upn == "7"
    assert student.demographics == StudentDemographics(is_pp=True, is_eal=False)


def test_int_or_string_union(decoder: ModelDecoder) -> None:
    body = b'{"school": {"id": 1, "la_code": 201, "establishment_number": "4001"}}'
    me = decoder.decode_one(MeV1, body)
    assert me.school is not None
    assert me.school.la_code == 201
    assert me.school.establishment_number == "4001"


def test_models_are_immutable_tuples(decoder: ModelDecoder) -> None:
    student = decoder.decode_one(Student, b'{"id": 9, "emails": [{"id": 1}], "contacts": []}')
    assert isinstance(student.emails, tuple) and len(student.emails) == 1
    assert student.contacts == ()
    assert hash(student) == hash(Student(id=9, emails=(EmailInfo(id=1),), contacts=()))


# --- precise errors -----------------------------------------------------------


def test_invalid_date_names_schema_path_record_and_index(decoder: ModelDecoder) -> None:
    body = one_page({"id": 1}, {"id": 2, "dob": "2009-05-14"}, {"id": 3, "dob": "2009-13-45"})
    with pytest.raises(DecodeError) as info:
        decoder.decode_list(Student, body, url=URL)
    err = info.value
    assert (err.schema, err.path, err.record_id, err.index, err.url) == (
        "Student",
        "$.dob",
        3,
        2,
        URL,
    )
    message = str(err)
    for part in ("invalid date", "schema Student", "item 2", "record id 3", "field $.dob", URL):
        assert part in message
    # The value may be a pupil's birth date: the message gives its kind and length only.
    assert "2009-13-45" not in message and "a string of 10 characters" in message


def test_nested_error_paths(decoder: ModelDecoder) -> None:
    body = one_page(
        {
            "id": 77,
            "contacts": [
                {"contact_id": 1},
                {"contact_id": 2, "relationship": {"priority": "high"}},
            ],
        }
    )
    with pytest.raises(DecodeError) as info:
        decoder.decode_list(Student, body)
    assert info.value.path == "$.contacts[1].relationship.priority"
    assert info.value.record_id == 77 and info.value.index == 0
    assert "expected an integer" in str(info.value)


def test_several_errors_are_counted(decoder: ModelDecoder) -> None:
    body = one_page({"id": "x", "dob": "nope", "demographics": {"is_pp": "maybe"}})
    with pytest.raises(DecodeError) as info:
        decoder.decode_list(Student, body)
    assert info.value.path == "$.id"
    assert "2 more problems at $.dob, $.demographics.is_pp" in str(info.value)


@pytest.mark.parametrize(
    ("record", "path", "words"),
    [
        ({"id": "abc"}, "$.id", "expected an integer, got a string of 3 characters"),
        ({"id": 1.5}, "$.id", "expected an integer"),
        ({"id": 1, "emails": {"id": 1}}, "$.emails", "expected an array, got an object"),
        ({"id": 1, "emails": "a@b.c"}, "$.emails", "expected an array, got a string"),
        ({"id": 1, "first_name": {"x": 1}}, "$.first_name", "expected a string, got an object"),
        ({"id": 1, "demographics": [1]}, "$.demographics", "expected an object, got an array"),
        ({"id": 1, "demographics": {"is_pp": "maybe"}}, "$.demographics.is_pp",
         "expected a boolean"),
        ({"id": 1, "demographics": {"is_pp": 2}}, "$.demographics.is_pp", "expected a boolean"),
        ({"id": 1, "dob": 20150901}, "$.dob", "expected a date string, got a number"),
        ({"id": 1, "demographics": {"fsm_review_date": "2015-02-31"}},
         "$.demographics.fsm_review_date", "the day does not exist in that month"),
    ],
)
def test_wrong_types(decoder: ModelDecoder, record: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(DecodeError) as info:
        decoder.decode_list(Student, one_page(record), url=URL)
    assert info.value.path == path
    assert words in str(info.value)
    with pytest.raises(DecodeError) as info:
        decoder.decode_one(Student, dumps(record))
    assert info.value.path == path and info.value.index is None


def test_a_record_that_is_not_an_object(decoder: ModelDecoder) -> None:
    with pytest.raises(DecodeError) as info:
        decoder.decode_list(Student, b'[{"id": 1}, null]')
    assert info.value.index == 1 and info.value.path == "$"
    assert "expected an object, got null" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        b'[{"id": 1},',
        b'[{"id": 1}, {"id": 2',
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b"{'id': 1}",
        b'[{"id": 1}] trailing',
        b"\xff\xfe[]",
        b"[NaN]",
    ],
)
@pytest.mark.parametrize("envelope", [False, True])
def test_malformed_json(decoder: ModelDecoder, body: bytes, envelope: bool) -> None:
    with pytest.raises(DecodeError, match="malformed JSON") as info:
        decoder.decode_list(Student, body, url=URL, envelope=envelope)
    assert info.value.url == URL
    with pytest.raises(DecodeError, match="malformed JSON"):
        decoder.decode_one(Student, body)
    with pytest.raises(DecodeError, match="malformed JSON"):
        decoder.loads(body)


def test_html_body_is_quoted_in_the_message(decoder: ModelDecoder) -> None:
    with pytest.raises(DecodeError, match="starts '<html>"):
        decoder.decode_list(Student, b"<html>oops</html>")


# --- shapes and envelopes -------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   ", b"\r\n", b"[]"])
def test_empty_body_is_an_empty_page(decoder: ModelDecoder, body: bytes) -> None:
    assert decoder.decode_list(Student, body) == ([], None)


def test_empty_body_for_one_record_is_an_error(decoder: ModelDecoder) -> None:
    with pytest.raises(DecodeError, match="empty body"):
        decoder.decode_one(Student, b"")
    with pytest.raises(DecodeError, match="empty body"):
        decoder.decode_list(Student, b"", envelope=True)


ENVELOPE = {
    "object": "list",
    "total_count": 3,
    "total_pages": 2,
    "current_page": 1,
    "prev_page": None,
    "next_page": 2,
    "data": [{"id": 1, "first_name": "Ada"}, {"id": 2, "dob": "2009-05-14"}],
}


def test_envelope(decoder: ModelDecoder) -> None:
    records, meta = decoder.decode_list(Student, dumps(ENVELOPE), envelope=True)
    assert records == [
        Student(id=1, first_name="Ada"),
        Student(id=2, dob=datetime.date(2009, 5, 14)),
    ]
    assert meta == {k: v for k, v in ENVELOPE.items() if k != "data"}


def test_envelope_keeps_unknown_members(decoder: ModelDecoder) -> None:
    body = dumps({**ENVELOPE, "data": [{"id": 1}], "object": "list", "extra": {"a": [1]}})
    records, meta = decoder.decode_list(Student, body, envelope=True)
    assert records == [Student(id=1)]
    assert meta is not None and meta["extra"] == {"a": [1]} and "data" not in meta


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            b'[{"id": 1}]',
            "expected a version-1 list envelope (a JSON object with a data array), found an array",
        ),
        (b"null", "found null"),
        (b'"list"', "found a string"),
        (b'{"object": "list", "total_count": 0}', "no data member (keys: object, total_count)"),
        (b'{"object": "list", "data": null}', "data member should be an array, found null"),
        (
            b'{"object": "list", "data": {"id": 1}}',
            "data member should be an array, found an object",
        ),
    ],
)
def test_envelope_shape_errors(decoder: ModelDecoder, body: bytes, words: str) -> None:
    with pytest.raises(DecodeError) as info:
        decoder.decode_list(Student, body, envelope=True, url=URL)
    assert words in str(info.value)
    assert info.value.schema == "Student" and info.value.url == URL


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (dumps(ENVELOPE), "found an object of 7 members (it looks like a version-1 list envelope"),
        (b'{"id": 1}', "expected a JSON array of Student records, found an object"),
        (b"null", "found null"),
        (b"42", "found a number of 2 characters"),
    ],
)
def test_bare_array_shape_errors(decoder: ModelDecoder, body: bytes, words: str) -> None:
    with pytest.raises(DecodeError) as info:
        decoder.decode_list(Student, body)
    assert words in str(info.value)


def test_decode_one_shape_errors(decoder: ModelDecoder) -> None:
    with pytest.raises(DecodeError, match="expected an object, got an array"):
        decoder.decode_one(Student, b"[]")
    with pytest.raises(DecodeError, match="expected an object, got null"):
        decoder.decode_one(Student, b"null")


def test_structure_helpers() -> None:
    decoder = ModelDecoder()
    assert decoder.structure_one(Student, {"id": 1, "dob": "2009-05-14"}) == Student(
        id=1, dob=datetime.date(2009, 5, 14)
    )
    assert decoder.structure_list(Student, [{"id": 1}, {"id": 2}]) == [Student(id=1), Student(id=2)]
    with pytest.raises(DecodeError, match="expected an array of Student records, found an object"):
        decoder.structure_list(Student, {"id": 1})
    with pytest.raises(DecodeError) as info:
        decoder.structure_list(Student, [{"id": 1}, {"id": 2, "dob": "x"}], url=URL)
    assert (info.value.index, info.value.record_id, info.value.path) == (1, 2, "$.dob")


# --- custom converter -------------------------------------------------------------


def test_customised_converter_is_honoured() -> None:
    converter = make_converter()

    def shout(value: Any, _: Any) -> str:
        return str(value).upper()

    converter.register_structure_hook(str, shout)
    decoder = ModelDecoder(converter)
    assert decoder.fast is False
    body = one_page({"id": 1, "first_name": "ada", "demographics": {"gender": "f"}})
    [student], _ = decoder.decode_list(Student, body)
    assert student.first_name == "ADA"
    assert student.demographics is not None and student.demographics.gender == "F"
    one = decoder.decode_one(Student, b'{"id": 2, "last_name": "lovelace"}')
    assert one.last_name == "LOVELACE"
    # Forcing the fast path with the same converter skips the hook (msgspec decodes).
    [forced], _ = ModelDecoder(converter, fast=True).decode_list(Student, body)
    assert forced.first_name == "ada"


def test_customised_datetime_hook_is_honoured() -> None:
    # A hook for datetime.datetime reads the instants, one for datetime.date the
    # calendar dates (their annotations are the CalendarDate / Instant markers).
    converter = make_converter()
    converter.register_structure_hook(datetime.datetime, lambda v, _: "custom:" + v)
    converter.register_structure_hook(datetime.date, lambda v, _: "day:" + v)
    decoder = ModelDecoder(converter)
    [result], _ = decoder.decode_list(Result, b'[{"id": 1, "created_at": "2015"}]')
    assert result.created_at == "custom:2015"
    [year], _ = decoder.decode_list(AcademicYear, b'[{"id": 1, "start_date": "2015"}]')
    assert year.start_date == "day:2015"


# --- converter details ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-09-01", SEPT_1),
        ("2015-09-01T00:00:00.000Z", SEPT_1),
        ("2015-09-01t00:00:00z", SEPT_1),
        ("2015-09-01T00:00:00-00:00", SEPT_1),
        ("2015-09-01T00:00", SEPT_1),
        ("2015-09-01T05:30:00+0530", SEPT_1),
        ("2015-08-31T23:59:59.9999996Z", SEPT_1),  # rounded half up, like msgspec
        ("2015-09-01T00:00:00.0000004Z", SEPT_1),
        ("2015-09-01T12:34:56.789Z", datetime.datetime(2015, 9, 1, 12, 34, 56, 789000, UTC)),
    ],
)
def test_parse_datetime(text: str, expected: datetime.datetime) -> None:
    value = parse_datetime(text)
    assert value == expected
    assert value.tzinfo is not None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2015",
        "2015-9-1",
        "2015-09-31",
        "2015-09-01T25:00:00Z",
        "2015-09-01T00:00:00+24:00",
        "01/09/2015",
        "2015-09-01T00:00:00Zjunk",
        "9999-12-31T23:59:59.9999999Z",
    ],
)
def test_parse_datetime_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid date-time"):
        parse_datetime(text)


def test_parse_date() -> None:
    assert parse_date("2015-09-01") == datetime.date(2015, 9, 1)
    assert parse_date("2015-09-01T23:00:00-05:00") == datetime.date(2015, 9, 1)
    with pytest.raises(ValueError, match="invalid date") as info:
        parse_date("2015-02-30")
    assert "2015-02-30" not in str(info.value)  # maybe a birth date: never quoted
    assert "the day does not exist in that month" in str(info.value)
    assert parse_date("2016-07-22T23:59:00.000Z") == datetime.date(2016, 7, 22)


def test_dump_json_drops_none_and_formats_dates() -> None:
    converter = make_converter()
    body = ResultBody(
        subject_id=5,
        facet_id=None,
        results=(
            ResultEntry(student_id=1, grade_id=7, result_date=SEPT_1),
            ResultEntry(student_id=2, grade_id=None, result_date=None),
        ),
    )
    # result_date is a calendar date: written YYYY-MM-DD (a datetime given by
    # older code is written as its date).
    assert orjson.loads(dump_json(converter, body)) == {
        "subject_id": 5,
        "results": [
            {"student_id": 1, "grade_id": 7, "result_date": "2015-09-01"},
            {"student_id": 2},
        ],
    }
    day = TimetableDays(id=1, occurs_on=(datetime.date(2024, 9, 2),))
    # ``object`` is the record's type tag, no longer None by default.
    assert dump_json(converter, [day]) == b'[{"object":"day","id":1,"occurs_on":["2024-09-02"]}]'
    nested = {"a": None, "b": {"c": None, "d": [None, {"e": None}]}}
    assert orjson.loads(dump_json(converter, nested)) == {"b": {"d": [None, {}]}}


def test_datetime_round_trip() -> None:
    offset = datetime.timezone(datetime.timedelta(hours=1))
    value = datetime.datetime(2015, 9, 1, 9, 30, tzinfo=offset)
    assert format_datetime(value) == "2015-09-01T09:30:00+01:00"
    assert parse_datetime(format_datetime(value)) == value
    decoder = ModelDecoder()
    student = Student(id=1, dob=SEPT_1_DAY)
    assert decoder.decode_one(Student, dump_json(decoder.converter, student)) == student
    result = Result(id=2, created_at=value, result_date=SEPT_1_DAY)
    assert decoder.decode_one(Result, dump_json(decoder.converter, result)) == result


class Money:
    """A type msgspec cannot decode: only a converter hook knows it."""

    def __init__(self, pence: int) -> None:
        self.pence = pence

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and other.pence == self.pence

    __hash__ = None  # type: ignore[assignment]


@attrs.frozen
class Purse:
    money: Money | None = None


def test_types_msgspec_cannot_handle_use_the_converter() -> None:
    converter = make_converter()
    converter.register_structure_hook(Money, lambda v, _: Money(int(v)))
    decoder = ModelDecoder(converter, fast=True)
    assert decoder.decode_list(Purse, b'[{"money": 250}]') == ([Purse(money=Money(250))], None)
    assert decoder.decode_one(Purse, b'{"money": 5}') == Purse(money=Money(5))
