"""What the generator promises about the resources: docstrings from the spec
(every parameter's description, the scopes), typed ``changes()`` per
conditional list sharing its watermark with ``school.changes(name)``."""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

import assembly_async as aa
from assembly_async import models
from assembly_async._client.delta import CHANGE_OPERATIONS, typed_changes
from assembly_async._client.resources import SDK_CALLS
from assembly_async._client.resources import generated as g
from assembly_async._core.operations import OPERATIONS
from assembly_async._core.spec import load_spec
from assembly_async.testing import FakeAssembly


def spec_operations() -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in load_spec()["paths"].values()
            for op in item.values() if isinstance(op, dict) and "operationId" in op}


def method_of(call: str) -> Any:
    owner, *path = call.split(".")
    if owner == "app":
        return getattr(g.AppResources, path[0])
    attr, name = path
    return getattr(getattr(g, "".join(p.capitalize() for p in attr.split("_")) + "Resource"),
                   name)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("op_id", sorted(SDK_CALLS))
def test_docstrings_carry_parameters_and_scopes(op_id: str) -> None:
    spec = spec_operations()[op_id]
    doc = flat(inspect.getdoc(method_of(SDK_CALLS[op_id])) or "")
    assert op_id in doc and spec["summary"].rstrip(".") in doc
    for param in spec.get("parameters", []):
        if param["name"] == "per_page":  # ours says more: range and default
            assert "per_page: Records per page, 1 to 1500" in doc
        elif param["in"] in ("path", "query") and param["name"] != "page":
            described = param.get("description", "").rstrip(".")
            assert f"{param['name']}: {described}" in doc, (op_id, param["name"])
    required = spec.get("x-required-scopes", {})
    inferred = spec.get("x-scopes-inferred", {})
    for scope in required.get("allOf", []) + required.get("anyOf", []):
        assert f"``{scope}``" in doc, (op_id, scope)
    if inferred and not required:
        assert "inferred" in doc
        for scope in inferred.get("allOf", []) + inferred.get("anyOf", []):
            assert f"``{scope}``" in doc, (op_id, scope)
    level = spec.get("x-token-level")
    assert {"school": "Needs a school token", "app": "Needs an app token",
            "app or school": "Needs an app or a school token"}[level] in doc


def change_method(name: str) -> Any:
    resource, _, sub = name.partition(".")
    cls = getattr(g, "".join(p.capitalize() for p in resource.split("_")) + "Resource")
    return getattr(cls, f"{sub}_changes" if sub else "changes")


@pytest.mark.parametrize("name", sorted(CHANGE_OPERATIONS))
def test_every_conditional_list_has_a_typed_changes_method(name: str) -> None:
    op = OPERATIONS[CHANGE_OPERATIONS[name]]
    method = change_method(name)
    hints = inspect.get_annotations(method)
    assert hints["return"] == f"Delta[{op.model}]"
    params = inspect.signature(method).parameters
    for p in (*op.path_params, *op.query):
        assert p.name in params, (name, p.name)
    assert {"state", "concurrency", "options", "key"} <= set(params)
    # and school.changes(name) has an overload saying the same
    source = inspect.getsource(g.SchoolResources)
    assert re.search(rf"resource: Literal\['{re.escape(name)}'\],.*?\) -> Delta\[{op.model}\]",
                     source, re.S), name


@pytest_asyncio.fixture
async def school(fake_assembly: FakeAssembly) -> AsyncIterator[aa.SchoolSession]:
    async with aa.AssemblyClient(api_url=fake_assembly.api_url) as client:
        sid = fake_assembly.school_ids[0]
        yield client.school(sid, access_token=fake_assembly.school_token(sid).access_token)


FILTERS = st.fixed_dictionaries({}, optional={
    "year_code": st.sampled_from(["7", "8", "10"]),
    "demographics": st.booleans(),
    "students": st.lists(st.integers(1, 5_000_000), max_size=3),
    "photo": st.none() | st.booleans(),
})


@given(filters=FILTERS)
def test_typed_and_named_changes_share_one_watermark_key(filters: dict[str, Any]) -> None:
    client = aa.AssemblyClient(api_url="http://127.0.0.1:9")
    school = client.school(7, access_token="t")
    try:
        named = school.changes("students", **filters)
        typed = school.students.changes(**filters)
    except aa.ConfigurationError:  # students with year_code: both refuse alike
        with pytest.raises(aa.ConfigurationError):
            school.students.changes(**filters)
        return
    assert named.key == typed.key and typed.model is models.Student


async def test_typed_changes_syncs_and_reports_leavers(fake_assembly: FakeAssembly,
                                                       school: aa.SchoolSession) -> None:
    sid = fake_assembly.school_ids[0]
    state = aa.MemorySyncState()
    first = school.students.changes(state=state)
    async with first:
        ids = [s.id async for s in first]
    assert first.full and sorted(ids) == sorted(fake_assembly.record_ids(sid))
    left = fake_assembly.leave(sid, "students", count=2)
    again = school.changes("students", state=state)
    async with again:
        changed = [s async for s in again]
    assert not again.full and changed == []
    assert sorted(again.left_ids) == sorted(left)
    assert all(type(i) is int for i in again.left_ids)
    group = fake_assembly.record_ids(sid, "teaching_groups")[0]
    members = school.teaching_groups.students_changes(group, state=state)
    async with members:
        got = [s async for s in members]
    assert got and all(isinstance(s, models.Student) for s in got)


def test_typed_changes_refuses_the_wrong_model() -> None:
    client = aa.AssemblyClient(api_url="http://127.0.0.1:9")
    school = client.school(7, access_token="t")
    with pytest.raises(aa.ConfigurationError, match="StaffMember"):
        typed_changes(school.runner, "staff_members", models.Student)
