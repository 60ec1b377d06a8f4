"""The shape of the package: spec coverage, generated code, public surface, layers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import assembly_async
from assembly_async import AppSession, SchoolSession
from assembly_async._client.resources import SDK_CALLS
from assembly_async._client.resources.generated import SchoolResources
from assembly_async._core.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "assembly_async"
OAUTH_OPERATIONS = {"oauthAuthorize", "oauthToken"}


def spec_operation_ids() -> set[str]:
    return {op["operationId"] for item in load_spec()["paths"].values()
            for key, op in item.items() if isinstance(op, dict) and "operationId" in op}


def test_spec_has_66_operations() -> None:
    assert len(spec_operation_ids()) == 66


def test_every_operation_has_a_method() -> None:
    missing = spec_operation_ids() - OAUTH_OPERATIONS - set(SDK_CALLS)
    assert not missing
    for op_id, call in SDK_CALLS.items():
        owner, *path = call.split(".")
        target: object = SchoolSession if owner == "school" else AppSession
        if owner == "school":
            attr, name = path
            assert attr in vars(SchoolResources), op_id
            cls_name = "".join(p.capitalize() for p in attr.split("_")) + "Resource"
            target = getattr(sys.modules["assembly_async._client.resources.generated"], cls_name)
        else:
            (name,) = path
        method = getattr(target, name, None)
        assert callable(method), f"{op_id}: {call} is not a method"
        assert op_id in (method.__doc__ or ""), f"{op_id}: docstring does not name it"


def test_every_operation_has_a_row_in_docs() -> None:
    doc = (ROOT / "docs" / "api.md").read_text("utf-8")
    for op_id in spec_operation_ids():
        assert f"| {op_id} |" in doc, op_id


@pytest.mark.parametrize("script", ["generate_operations.py", "generate_models.py"])
def test_generated_code_matches_the_spec(script: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / script), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_public_names_are_sorted_and_importable() -> None:
    names = assembly_async.__all__

    def isort_style(name: str) -> tuple[int, str]:  # CONSTANTS, Classes, functions
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert names == sorted(names, key=isort_style)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(assembly_async, name), name


def run_import_linter() -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "importlinter.cli"]
    return subprocess.run([*command, "--no-cache"], capture_output=True, text=True,
                          check=False, cwd=ROOT)


def test_import_contracts_hold() -> None:
    """The layer rules of docs/architecture.md, checked by import-linter (pyproject.toml):
    layers point down, no cycles (type-only imports included), only the transport
    imports aiohttp, only the converter imports cattrs, only the models layer
    imports msgspec, only the CLI imports rich, the SDK never imports testing."""
    result = run_import_linter()
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in ("Layers: every import points down the stack",
                     "No import cycles between sibling modules",
                     "Only the transport imports aiohttp",
                     "Only the converter imports cattrs",
                     "Only the models layer imports cattrs and msgspec",
                     "Only the CLI imports rich",
                     "The SDK never imports the fake server"):
        assert contract in result.stdout, contract


def test_resources_build_no_urls_or_headers() -> None:
    paths = list((PACKAGE / "_client" / "resources").glob("*.py"))
    assert paths
    for path in paths:
        source = path.read_text("utf-8")
        for needle in ("URL(", "headers", "http://", "https://", "Bearer", "Accept"):
            assert needle not in source, f"{path.name} contains {needle}"
