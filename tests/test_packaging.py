"""What we ship: the wheel and the sdist, built from the tracked files and inspected.

The wheel must hold every file of the package (data files too: the spec,
``py.typed``, the fake's README), the licence and the metadata a user sees on
PyPI. The sdist must hold the whole project, and its own test suite must run
from it (conftest, fixtures and helpers included).
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Tracked files that are not part of an sdist on purpose.
NOT_IN_SDIST = {".gitignore"}


def tracked_files() -> list[str]:
    """The files git tracks (the sdist and the wheel are checked against them)."""
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout (this is an unpacked sdist)")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                         check=True).stdout.decode()
    return sorted(p for p in out.split("\0") if p and (ROOT / p).is_file())


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(sdist, wheel) built like a release: the sdist from a copy of the tracked
    files, then the wheel from that sdist (``python -m build`` does both)."""
    files = tracked_files()
    src = tmp_path_factory.mktemp("src")
    for name in files:
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                           str(out), str(src)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    yield sdist, wheel


def _metadata(text: str) -> email.message.Message:
    return email.parser.Parser().parsestr(text)


def test_wheel_holds_every_package_file(dists: tuple[Path, Path]) -> None:
    _, wheel = dists
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = _metadata(zf.read(meta_name).decode())
        licence = next((n for n in names if n.endswith(".dist-info/licenses/LICENSE")), None)
        assert licence is not None, sorted(n for n in names if "dist-info" in n)
        assert b"MIT License" in zf.read(licence)
    package = {p for p in tracked_files() if p.startswith("assembly_async/")}
    missing = sorted(package - names)
    assert not missing, f"not in the wheel: {missing}"
    # Data files a user's code reads at run time, by name.
    for data in ("assembly_async/py.typed", "assembly_async/_core/spec/openapi.json",
                 "assembly_async/testing/README.md"):
        assert data in names
    # Only the package: no tests, tools or docs installed as top-level packages.
    tops = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"assembly_async"}
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    for label in ("Homepage", "Source", "Issues", "Changelog"):
        assert urls.get(label, "").startswith("https://"), urls
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"cli", "testing", "dev"} <= extras
    requires = meta.get_all("Requires-Dist") or []
    # The pytest plugin imports pytest-asyncio: the testing extra must bring it.
    assert any(r.startswith("pytest-asyncio") and 'extra == "testing"' in r for r in requires)
    assert any(r.startswith("pytest") and 'extra == "testing"' in r for r in requires)


def test_sdist_holds_the_whole_project(dists: tuple[Path, Path]) -> None:
    sdist, _ = dists
    with tarfile.open(sdist) as tf:
        members = {m.name.split("/", 1)[1] for m in tf.getmembers()
                   if m.isfile() and "/" in m.name}
    missing = sorted(set(tracked_files()) - NOT_IN_SDIST - members)
    assert not missing, f"not in the sdist: {missing}"
    assert not [m for m in members if "__pycache__" in m or m.endswith((".pyc", ".db"))]


def test_sdist_tests_run_from_the_sdist(dists: tuple[Path, Path],
                                        tmp_path: Path) -> None:
    """Unpack the sdist and run its tests with its own copy of the package: every
    test module collects (conftest, fixtures, helpers present), and a fast
    slice passes (the structure tests need tools/, docs/ and pyproject.toml)."""
    sdist, _ = dists
    with tarfile.open(sdist) as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(tmp_path, filter="data")
        else:  # pragma: no cover - Pythons without PEP 706
            tf.extractall(tmp_path)  # our own freshly built archive
    (root,) = tmp_path.iterdir()
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    where = subprocess.run([sys.executable, "-c",
                            "import assembly_async; print(assembly_async.__file__)"],
                           cwd=root, env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(root)
    collect = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q"],
                             cwd=root, env=env, capture_output=True, text=True, check=False)
    assert collect.returncode == 0, collect.stdout[-4000:] + collect.stderr[-2000:]
    assert "error" not in collect.stdout.lower().splitlines()[-1], collect.stdout[-2000:]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x",
                          "tests/test_core.py", "tests/test_structure.py",
                          "tests/testing/test_fake_operations.py"],
                         cwd=root, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_the_testing_extra_runs_the_readme_example_from_the_wheel(
        dists: tuple[Path, Path], tmp_path: Path) -> None:
    """A fresh environment with only ``assembly-async[testing]`` from the wheel
    (no checkout on the path) runs the README's pytest example project."""
    from _docblocks import ROOT as DOCS_ROOT
    from _docblocks import project_files

    _, wheel = dists
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q",
                              "--disable-pip-version-check", f"{wheel}[testing]"],
                             capture_output=True, text=True, check=False)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    project = tmp_path / "project"
    project.mkdir()
    files = project_files(DOCS_ROOT / "README.md")
    assert {"pyproject.toml", "conftest.py", "test_my_app.py"} <= set(files)
    for name, text in files.items():
        (project / name).write_text(text, "utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "PYTHONPATH", "VIRTUAL_ENV"))}
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-W", "error"], cwd=project, env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    where = subprocess.run([str(python), "-c",
                            "import assembly_async; print(assembly_async.__file__)"],
                           cwd=project, env=env, capture_output=True, text=True, check=True)
    assert str(venv) in where.stdout  # the wheel's copy, not the checkout
