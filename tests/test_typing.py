"""What a user's type checker sees: strict mypy and pyright on a small script,
run outside the checkout (so only the installed package is visible, as for a
user; an editable install must not hide the types behind an import hook)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD = textwrap.dedent('''
    from typing import Any

    from typing_extensions import assert_type

    from assembly_async import (
        AssemblyClient, Delta, Page, Paginator, RawResponse, SchoolSession, raw_response,
    )
    from assembly_async.models import Me, MeV1, StaffMember, Student, TeachingGroup


    async def main(name: str) -> None:
        async with AssemblyClient(environment="sandbox") as client:
            school = client.school(123, access_token="token")
            assert_type(school, SchoolSession)
            assert_type(school.students.list(year_code="7"), Paginator[Student])
            page = await school.students.list(per_page=50).page(2)
            assert_type(page, Page[Student])
            assert_type(page.headers["total"], str)
            one = await school.students.get(15, demographics=True)
            assert_type(one, Student)
            assert_type(one.id, int)
            assert_type(one.to_dict(), dict[str, Any])
            assert_type(one.to_json(), str)
            assert_type(await school.staff_members.get(3), StaffMember)
            assert_type(await school.me(), Me | MeV1)

            delta = school.students.changes(demographics=True)
            assert_type(delta, Delta[Student])
            assert_type(delta.left_ids, list[int])
            async with delta:
                async for student in delta:
                    assert_type(student, Student)
            assert_type(school.changes("students", demographics=True), Delta[Student])
            assert_type(school.changes("teaching_groups"), Delta[TeachingGroup])
            assert_type(school.teaching_groups.students_changes(7), Delta[Student])
            assert_type(school.changes(name), Delta[Any])

            raw = await school.students.with_raw_response.get(15)
            assert_type(raw, RawResponse[Student])
            assert_type(raw.status, int)
            assert_type(await raw_response(school.me)(), RawResponse[Me | MeV1])
''')

#: Lines 8 to 11 (but 10) must be refused by both checkers: the types are real,
#: not Any. (``school.changes("students", year_code=7)`` is not refused: a name
#: whose filters do not fit falls back to the ``str`` overload, kept for names
#: chosen at run time; ``school.students.changes()`` checks every filter.)
BAD = textwrap.dedent('''
    from assembly_async import AssemblyClient


    async def main() -> None:
        async with AssemblyClient() as client:
            school = client.school(123, access_token="token")
            school.students.changes(demographics="yes")
            await school.students.with_raw_response.get("15")
            student = await school.students.get(15)
            student.no_such_field
''')
BAD_LINES = 8


def _script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "user_script.py"
    path.write_text(text, "utf-8")
    return path


def mypy(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    script = _script(tmp_path, text)
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                           "--config-file", "", "--python-version", "3.10", str(script)],
                          cwd=tmp_path, capture_output=True, text=True, check=False, timeout=600)


def pyright(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("pyright", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("pyright is not installed (pip install -e '.[dev]')")
    script = _script(tmp_path, text)
    (tmp_path / "pyrightconfig.json").write_text(
        '{"typeCheckingMode": "strict", "reportMissingModuleSource": false}', "utf-8")
    return subprocess.run([exe, "--pythonpath", sys.executable, str(script)], cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=600)


def test_mypy_strict_sees_the_types(tmp_path: Path) -> None:
    good = mypy(tmp_path, GOOD)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = mypy(tmp_path, BAD)
    lines = {int(m.split(":")[1]) for m in bad.stdout.splitlines() if ": error:" in m}
    assert {BAD_LINES, BAD_LINES + 1, BAD_LINES + 3} <= lines, bad.stdout


def test_pyright_strict_sees_the_types(tmp_path: Path) -> None:
    good = pyright(tmp_path, GOOD)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = pyright(tmp_path, BAD)
    lines = {int(m.split(":")[1]) for m in bad.stdout.splitlines() if " - error:" in m}
    assert {BAD_LINES, BAD_LINES + 1, BAD_LINES + 3} <= lines, bad.stdout
