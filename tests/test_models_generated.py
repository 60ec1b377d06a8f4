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
    assert sorted(models.__all__) == sorted(_generated.__all__)
    assert set(_generated.SCHEMAS) | {"SCHEMAS", "AwareDateTime"} == set(models.__all__)


def test_every_field_defaults_to_none_and_classes_are_frozen_slotted() -> None:
    for name, cls in _generated.SCHEMAS.items():
        assert attrs.has(cls), name
        assert "__slots__" in cls.__dict__, name
        instance = cls()
        for field in attrs.fields(cls):
            assert field.default is None, f"{name}.{field.name}"
            assert getattr(instance, field.name) is None
        if attrs.fields(cls):
            first = attrs.fields(cls)[0].name
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                setattr(instance, first, 1)
        assert cls.__doc__ and cls.__doc__.strip(), name


def test_fields_follow_the_spec_and_are_optional() -> None:
    schemas = load_spec()["components"]["schemas"]
    for name, schema in schemas.items():
        cls = _generated.SCHEMAS[name]
        assert [f.name for f in attrs.fields(cls)] == list(schema.get("properties", {})), name
        hints = typing.get_type_hints(cls)
        for field_name, hint in hints.items():
            assert hint is typing.Any or type(None) in typing.get_args(hint), (name, field_name)


def test_type_mapping_examples() -> None:
    import datetime

    hints = typing.get_type_hints(models.Student, include_extras=True)
    dob = typing.get_args(hints["dob"])[0]
    assert typing.get_origin(dob) is typing.Annotated
    assert typing.get_args(dob)[0] is datetime.datetime
    assert hints["id"] == int | None
    assert hints["demographics"] == models.StudentDemographics | None
    assert hints["emails"] == tuple[models.EmailInfo, ...] | None
    days = typing.get_type_hints(models.TimetableDays)
    assert days["occurs_on"] == tuple[datetime.date, ...] | None
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
