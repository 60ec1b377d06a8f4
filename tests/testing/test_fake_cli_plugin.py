"""`python -m assembly_async.testing` and the pytest plugin, each in a subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp

from assembly_async.testing import ACCEPT_V1_1, FakeAssembly

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


async def test_cli_serves_until_terminated() -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assembly_async.testing", "--schools", "2", "--port", str(port),
        "--seed", "3", "--time-scale", "10", "--students", "20", "--staff", "5",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env())
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        while not any(line.startswith("Press Ctrl-C") for line in lines):
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
            assert line, "the CLI exited early"
            lines.append(line.decode())
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}" in text
        token = re.search(r"school 1: access_token=(\S+)", text)
        assert token and "client_secret:" in text
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/students", headers={
                    "Accept": ACCEPT_V1_1, "Authorization": f"Bearer {token.group(1)}"}) as r:
            assert r.status == 200
            assert r.headers["Total"] == "20"
    finally:
        proc.terminate()
        out, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 0, err.decode()
    assert b"stopped" in out


def test_pytest_plugin_in_a_fresh_project(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["assembly_async.testing.pytest_plugin"]\n')
    (tmp_path / "test_uses_plugin.py").write_text(textwrap.dedent("""
        import aiohttp
        import pytest

        @pytest.mark.asyncio
        async def test_fixture(fake_assembly, fake_assembly_factory):
            other = await fake_assembly_factory(schools=1, students_per_school=3)
            assert other.port != fake_assembly.port
            token = fake_assembly.school_token(fake_assembly.school_ids[0]).access_token
            async with aiohttp.ClientSession() as s:
                async with s.get(str(fake_assembly.api_url / "school"), headers={
                        "Accept": "application/vnd.assembly+json; version=1.1",
                        "Authorization": "Bearer " + token}) as r:
                    assert r.status == 200
    """))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         str(tmp_path)], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


async def test_start_close_without_context_manager_leaves_no_tasks() -> None:
    fake = FakeAssembly(schools=1, students_per_school=3, staff_per_school=2)
    await fake.start()
    try:
        assert fake.url.host == "127.0.0.1" and fake.port > 0
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{fake.url}/school", headers={"Accept": ACCEPT_V1_1}) as r:
                assert r.status == 401
            # an in-flight slow request and a kept-alive connection while closing
            fake.faults.script("/school", ["delay:5"])
            slow = asyncio.ensure_future(session.get(f"{fake.url}/school"))
            await asyncio.sleep(0.05)
            await fake.close()
            try:
                (await slow).release()
            except aiohttp.ClientError:
                pass
    finally:
        await fake.close()
    await fake.close()  # idempotent
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []
