"""The shape of the package: spec coverage, generated code, public surface, layers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import assembly_async
from assembly_async import AppSession, SchoolSession
from assembly_async._spec import load_spec
from assembly_async.resources import SDK_CALLS
from assembly_async.resources._generated import SchoolResources

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
            target = getattr(sys.modules["assembly_async.resources._generated"], cls_name)
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


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def client_modules() -> list[Path]:
    """The SDK proper: everything but the fake server (a server, not a client)
    and the CLI (the top layer)."""
    skip = {"testing", "cli"}
    return [p for p in PACKAGE.rglob("*.py")
            if not (set(p.relative_to(PACKAGE).parts) & skip)]


def test_only_the_transport_imports_aiohttp() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in client_modules()
                 if "aiohttp" in _imports(p) and p.name != "_transport.py"]
    assert not offenders


def test_only_the_converter_imports_cattrs() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in client_modules()
                 if "cattrs" in _imports(p) and p.name != "_converter.py"]
    assert not offenders


def test_resources_build_no_urls_or_headers() -> None:
    for path in (PACKAGE / "resources").glob("*.py"):
        source = path.read_text("utf-8")
        for needle in ("URL(", "headers", "http://", "https://", "Bearer", "Accept"):
            assert needle not in source, f"{path.name} contains {needle}"
