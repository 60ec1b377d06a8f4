"""Models as data and in logs: ``to_dict()``/``to_json()`` (and the mapping
protocol FastAPI's encoder uses), and a repr with ids and kinds but no pupil's
personal data."""

from __future__ import annotations

import datetime as dt
import json
import logging
import typing
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import pytest_asyncio
from fastapi.encoders import jsonable_encoder
from hypothesis import given
from hypothesis import strategies as st

import assembly_async as aa
from assembly_async import models
from assembly_async.models import SCHEMAS, Model, Student, full_repr
from assembly_async.models._base import shown_in_repr
from assembly_async.models._decode import ModelDecoder
from assembly_async.testing import FakeAssembly

#: What a pupil's record may hold that must never reach a log through a repr.
INCLUDES = {"demographics": True, "contacts": True, "addresses": True, "emails": True,
            "languages": True, "medical": True, "sen_needs": True, "care": True}


def _text_fields(cls: type) -> list[str]:
    """Fields of ``cls`` that can hold a string."""
    hints = typing.get_type_hints(cls)
    out = []
    for field in attrs.fields(cls):
        args = typing.get_args(hints[field.name]) or (hints[field.name],)
        if str in args or any(getattr(a, "__name__", "") == "Code" for a in args):
            out.append(field.name)
    return out


def _instance(cls: type, marker: str) -> tuple[Any, dict[str, str]]:
    """An instance of ``cls`` with every text field set to its own marker."""
    values: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        if field.name in _text_fields(cls):
            values[field.name] = f"{marker}-{field.name}"
        elif field.default is attrs.NOTHING:
            values[field.name] = 7 if hints[field.name] is int else f"{marker}-{field.name}"
    return cls(**values), {k: v for k, v in values.items() if isinstance(v, str)}


@given(name=st.sampled_from(sorted(SCHEMAS)),
       marker=st.text(alphabet="abcdefghijklmnopqrstuvwxyzÄßé", min_size=6, max_size=12))
def test_repr_shows_identifiers_and_hides_every_other_text(
        name: str, marker: str) -> None:
    cls = SCHEMAS[name]
    assert issubclass(cls, Model)
    instance, texts = _instance(cls, marker)
    text = repr(instance)
    assert text.startswith(f"{cls.__name__}(")
    for field, value in texts.items():
        if shown_in_repr(field):
            assert repr(value) in text, (name, field)
        else:
            assert value not in text, (name, field)
    full = full_repr(instance)
    for value in texts.values():
        assert value in full


@pytest_asyncio.fixture
async def school(fake_assembly: FakeAssembly) -> AsyncIterator[aa.SchoolSession]:
    async with aa.AssemblyClient(api_url=fake_assembly.api_url) as client:
        sid = fake_assembly.school_ids[0]
        yield client.school(sid, access_token=fake_assembly.school_token(sid).access_token)


def _personal(student: Student) -> list[str]:
    """The personal values a student record from the fake carries."""
    data = student.to_dict(exclude_none=True)
    values: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, dt.date):
            values.append(value.isoformat())
        elif isinstance(value, str) and key not in ("object", "type") \
                and not shown_in_repr(key) and len(value) >= 4 and not value.isdigit():
            values.append(value)  # (digits alone, a MIS id say, also occur inside ids)

    walk(data)
    return values


async def test_a_pupils_record_stays_out_of_logs(school: aa.SchoolSession,
                                                 caplog: pytest.LogCaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSEMBLY_REPR", raising=False)
    students = await school.students.list(**INCLUDES).all()
    personal = [v for s in students for v in _personal(s)]
    assert len(personal) > 10 * len(students)  # names, dob, addresses, contacts, medical...
    with caplog.at_level(logging.INFO):
        logging.getLogger("app").info("synced %r and %s", students[0], students[1:3])
    text = caplog.text + repr(students) + str(students[0])
    assert f"id={students[0].id}" in text and "object='student'" in text
    leaked = [v for v in personal if v in text]
    assert not leaked, leaked[:5]
    monkeypatch.setenv("ASSEMBLY_REPR", "full")
    assert repr(students[0]) == full_repr(students[0])
    assert students[0].first_name is not None and students[0].first_name in repr(students[0])


async def test_to_json_round_trips_through_the_decoder(school: aa.SchoolSession) -> None:
    """What ``to_json`` writes, the SDK reads back as the same model (both
    decoding paths), for records the fake sent, nested blocks included."""
    students = await school.students.list(**INCLUDES).all()
    staff = await school.staff_members.list(demographics=True, addresses=True).all()
    groups = await school.teaching_groups.list().all()
    for fast in (True, False):
        decoder = ModelDecoder(None, fast=fast)
        for record in [*students[:20], *staff[:5], *groups[:5]]:
            again = decoder.decode_one(type(record), record.to_json().encode(), url="test")
            assert again == record


async def test_fastapi_encodes_models_like_to_json(school: aa.SchoolSession) -> None:
    students = await school.students.list(demographics=True, contacts=True).all()
    encoded = jsonable_encoder(students[:5])
    assert encoded == [json.loads(s.to_json()) for s in students[:5]]
    assert jsonable_encoder(students[0], exclude_none=True) == json.loads(
        students[0].to_json(exclude_none=True))


def test_dict_protocol_and_plain_data() -> None:
    student = Student(id=9, first_name="Ada", dob=dt.date(2012, 3, 4),
                      emails=(models.EmailInfo(id=4, email="a@b.test"),))
    assert dict(student)["first_name"] == "Ada" and student["id"] == 9
    assert student.keys() == [f.name for f in attrs.fields(Student)]
    with pytest.raises(KeyError):
        student["nope"]
    plain = student.to_dict(exclude_none=True)
    assert plain == {"object": "student", "id": 9, "first_name": "Ada",
                     "dob": dt.date(2012, 3, 4),
                     "emails": [{"object": "email", "id": 4, "email": "a@b.test"}]}
    assert json.loads(student.to_json(exclude_none=True))["dob"] == "2012-03-04"
    assert student.to_dict()["last_name"] is None  # null fields kept by default
    ids = models.TeachingGroup(id=3, student_ids=tuple(range(1, 40)))
    assert "student_ids=(1, 2, 3, 4, 5, ... 39 in all)" in repr(ids)
