"""The generated models match the spec and the generator (drift test)."""

from __future__ import annotations

import importlib.util
import json
import sys
import typing
from pathlib import Path
from types import ModuleType

import attrs
import pytest

from assembly_async import models
from assembly_async._core.spec import load_spec
from assembly_async.models import _generated

ROOT = Path(__file__).resolve().parent.parent
GENERATOR_PATH = ROOT / "tools" / "generate_models.py"
INLINE_EXTRAS = {"MeV1App", "MeV1School", "AuthorizationV1"}


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_generate_models_under_test", GENERATOR_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_generated_files_are_up_to_date(generator: ModuleType) -> None:
    outputs = generator.generate()
    assert set(outputs) == {generator.GENERATED_PATH, generator.INIT_PATH}
    for path, text in outputs.items():
        assert path.read_text("utf-8") == text, (
            f"{path.relative_to(ROOT)} is stale: run python tools/generate_models.py"
        )


def test_check_mode_reports_fresh_files(generator: ModuleType) -> None:
    assert generator.main(["--check"]) == 0


def test_generator_reads_the_vendored_spec(generator: ModuleType) -> None:
    assert generator.load_spec() == load_spec()


def test_every_schema_has_a_class() -> None:
    names = set(load_spec()["components"]["schemas"])
    assert len(names) == 87
    assert names <= set(_generated.SCHEMAS)
    assert set(_generated.SCHEMAS) == names | INLINE_EXTRAS
    for name, cls in _generated.SCHEMAS.items():
        assert cls.__name__ == name
        assert getattr(models, name) is cls


def test_exports() -> None:
    extras = {"CalendarDate", "Code", "DecodeProblem", "Instant", "NO_VALUE", "Model", "full_repr"}
    assert sorted(models.__all__) == sorted([*_generated.__all__, *extras])
    assert set(_generated.SCHEMAS) | {"SCHEMAS", *extras} == set(models.__all__)


def _required(cls: type) -> dict[str, object]:
    return {f.name: 1 for f in attrs.fields(cls) if f.default is attrs.NOTHING}


def test_every_field_defaults_to_none_and_classes_are_frozen_slotted() -> None:
    # Except the two fields the spec marks non-nullable: ``id`` (required) and
    # ``object`` (the spec's type tag, when it gives one).
    schemas = load_spec()["components"]["schemas"]
    for name, cls in _generated.SCHEMAS.items():
        assert attrs.has(cls), name
        assert "__slots__" in cls.__dict__, name
        instance = cls(**_required(cls))
        props = schemas.get(name, {}).get("properties", {})
        for field in attrs.fields(cls):
            assert field.kw_only, f"{name}.{field.name}"
            if field.name == "id" and field.default is attrs.NOTHING:
                assert name not in schemas or props["id"]["type"] == "integer", name
            elif field.name == "object" and field.default is not None:
                if name in schemas:
                    assert field.default in (attrs.NOTHING, props["object"].get("default")), name
                assert field.default is attrs.NOTHING or isinstance(field.default, str), name
            else:
                assert field.default is None, f"{name}.{field.name}"
                assert getattr(instance, field.name) is None
        if attrs.fields(cls):
            first = attrs.fields(cls)[0].name
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                setattr(instance, first, 1)
        assert cls.__doc__ and cls.__doc__.strip(), name
    with pytest.raises(TypeError):
        models.Student()  # type: ignore[call-arg]  # no id
    assert models.Student(id=1).object == "student"


def test_fields_follow_the_spec_and_are_optional() -> None:
    schemas = load_spec()["components"]["schemas"]
    for name, schema in schemas.items():
        cls = _generated.SCHEMAS[name]
        assert [f.name for f in attrs.fields(cls)] == list(schema.get("properties", {})), name
        hints = typing.get_type_hints(cls)
        for field_name, hint in hints.items():
            if field_name in ("id", "object") and isinstance(
                    schema["properties"][field_name].get("type"), str):
                assert hint in (int, str), (name, field_name)  # non-nullable in the spec
                continue
            assert hint is typing.Any or type(None) in typing.get_args(hint), (name, field_name)


def test_every_date_field_is_a_date_or_an_instant(generator: ModuleType) -> None:
    rules = generator.DATE_RULES
    schemas = load_spec()["components"]["schemas"]
    kinds = {"date": models.CalendarDate, "instant": models.Instant}
    for (owner, field_name), (kind, reason) in rules.items():
        assert reason, (owner, field_name)
        hint = typing.get_type_hints(_generated.SCHEMAS[owner])[field_name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_origin(args[0]) is tuple:
            args = list(typing.get_args(args[0])[:1])
        assert args == [kinds[kind]], (owner, field_name)
    for name, schema in schemas.items():
        for prop, prop_schema in schema.get("properties", {}).items():
            fmt = prop_schema.get("format") or prop_schema.get("items", {}).get("format")
            if fmt in ("date", "date-time"):
                assert (name, prop) in rules, (name, prop)


def test_generator_refuses_a_date_field_without_a_rule(generator: ModuleType) -> None:
    spec = json.loads(json.dumps(load_spec()))
    spec["components"]["schemas"]["Student"]["properties"]["left_on"] = {
        "type": ["string", "null"], "format": "date-time"}
    with pytest.raises(generator.GeneratorError, match="DATE_RULES"):
        generator.generate(spec)
    spec = json.loads(json.dumps(load_spec()))
    spec["components"]["schemas"]["Student"]["properties"]["leaving_date"] = {"type": "string"}
    with pytest.raises(generator.GeneratorError, match="date field without a rule"):
        generator.generate(spec)
    spec = json.loads(json.dumps(load_spec()))
    del spec["components"]["schemas"]["Student"]["properties"]["dob"]
    with pytest.raises(generator.GeneratorError, match="does not have"):
        generator.generate(spec)


def test_type_mapping_examples() -> None:
    import datetime

    hints = typing.get_type_hints(models.Student, include_extras=True)
    assert hints["dob"] == models.CalendarDate | None
    assert isinstance(datetime.date(2015, 9, 1), models.CalendarDate)
    assert isinstance(datetime.datetime.now(datetime.timezone.utc), models.Instant)
    assert typing.get_type_hints(models.Result)["updated_at"] == models.Instant | None
    assert hints["id"] is int
    assert hints["object"] is str
    assert hints["demographics"] == models.StudentDemographics | None
    assert hints["emails"] == tuple[models.EmailInfo, ...] | None
    days = typing.get_type_hints(models.TimetableDays)
    assert days["occurs_on"] == tuple[models.CalendarDate, ...] | None
    school = typing.get_type_hints(models.MeV1School)
    assert school["la_code"] == int | str | None
    assert typing.get_type_hints(models.MeV1)["app"] == models.MeV1App | None
    auth = typing.get_type_hints(models.AuthorizationsV1)
    assert auth["data"] == tuple[models.AuthorizationV1, ...] | None
    envelope = typing.get_type_hints(models.ListEnvelopeV1)
    assert envelope["data"] == tuple[typing.Any, ...] | None
    assert typing.get_type_hints(models.EmailInfo)["type"] == str | None  # enum stays str


def test_generator_rejects_python_keywords(generator: ModuleType) -> None:
    spec = json.loads(json.dumps(load_spec()))
    spec["components"]["schemas"]["Student"]["properties"]["class"] = {"type": "string"}
    with pytest.raises(generator.GeneratorError, match="keyword"):
        generator.generate(spec)


def test_generator_rejects_shadowing_names(generator: ModuleType) -> None:
    spec = json.loads(json.dumps(load_spec()))
    spec["components"]["schemas"]["Student"]["properties"]["datetime"] = {"type": "string"}
    with pytest.raises(generator.GeneratorError, match="shadow"):
        generator.generate(spec)


def test_generator_rejects_reference_cycles(generator: ModuleType) -> None:
    spec = json.loads(json.dumps(load_spec()))
    schemas = spec["components"]["schemas"]
    schemas["StudentPhoto"]["properties"]["owner"] = {"$ref": "#/components/schemas/Student"}
    with pytest.raises(generator.GeneratorError, match="cycle"):
        generator.generate(spec)


def test_check_mode_detects_stale_and_missing_files(
    generator: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated, init = tmp_path / "models" / "_generated.py", tmp_path / "models" / "__init__.py"
    monkeypatch.setattr(generator, "GENERATED_PATH", generated)
    monkeypatch.setattr(generator, "INIT_PATH", init)
    assert generator.main(["--check"]) == 1  # missing
    assert generator.main([]) == 0  # writes both
    assert generated.read_text("utf-8") == _generated_source()
    assert generator.main(["--check"]) == 0
    generated.write_text(generated.read_text("utf-8") + "# edited by hand\n", "utf-8")
    assert generator.main(["--check"]) == 1


def _generated_source() -> str:
    return (ROOT / "assembly_async" / "models" / "_generated.py").read_text("utf-8")
