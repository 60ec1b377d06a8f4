"""``ASSEMBLY_LOG``: the SDK's own logging on stderr without code, in a real process."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest

import assembly_async as aa
from assembly_async._core.logs import LOGGER, configure_from_env

SCRIPT = textwrap.dedent("""
    import asyncio
    import assembly_async as aa
    from assembly_async.testing import FakeAssembly

    async def main():
        async with FakeAssembly(schools=1, students_per_school=3, staff_per_school=1,
                                teaching_groups_per_year=1, attendance_days=1) as fake:
            token = fake.school_token(1).access_token
            sid = fake.record_ids(1)[0]
            fake.faults.script(f"/students/{sid}", ["503"])
            async with aa.AssemblyClient(api_url=fake.api_url) as client:
                school = client.school(1, access_token=token)
                await school.students.get(sid)
            print("TOKEN=" + token)

    asyncio.run(main())
""")


def run(value: str | None) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ASSEMBLY_LOG"}
    if value is not None:
        env["ASSEMBLY_LOG"] = value
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.split("TOKEN=", 1)[1].strip()
    return proc.stderr, token


def test_debug_shows_every_attempt_without_the_token() -> None:
    err, token = run("debug")
    lines = err.splitlines()
    assert any(" DEBUG   assembly_async.http: GET http://127.0.0.1:" in ln and "-> 503" in ln
               for ln in lines), err
    assert any("-> 200" in ln for ln in lines)
    assert any(" INFO    assembly_async.http: " in ln and "retrying" in ln for ln in lines)
    assert token not in err


def test_info_hides_debug_lines() -> None:
    err, _ = run("INFO")
    assert "retrying" in err and "DEBUG" not in err


def test_unset_means_silent() -> None:
    err, _ = run(None)
    assert err == ""


def test_a_wrong_value_says_so_once() -> None:
    err, _ = run("verbose")
    assert err.count("ASSEMBLY_LOG='verbose' is not one of debug, info, warning, error") == 1
    assert "retrying" not in err


def test_enable_logging_installs_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger(LOGGER)
    before, level = list(logger.handlers), logger.level
    try:
        aa.enable_logging("info")
        handler = aa.enable_logging("debug")
        assert logger.handlers == [*before, handler]
        logging.getLogger("assembly_async.http").debug("hello %s", 1)
        assert "DEBUG   assembly_async.http: hello 1" in capsys.readouterr().err
        assert configure_from_env({}) is None
        with pytest.raises(ValueError, match="log level"):
            aa.enable_logging("loud")
        assert logger.handlers == [*before, handler]  # a bad level changed nothing
        assert logger.level == logging.DEBUG
    finally:
        for h in [h for h in logger.handlers if h not in before]:
            logger.removeHandler(h)
        logger.setLevel(level)


def test_the_stderr_handler_follows_a_redirected_stderr(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler writes to ``sys.stderr`` as it is at each record, so output
    redirected after the SDK was imported (``ASSEMBLY_LOG`` is read then) is
    honoured."""
    import io

    from assembly_async._core.logs import StderrHandler

    handler = StderrHandler()
    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)
    handler.emit(logging.LogRecord("assembly_async", logging.INFO, __file__, 1, "hi", None,
                                   None))
    assert "hi" in later.getvalue()
    fixed = io.StringIO()
    StderrHandler(fixed).emit(logging.LogRecord("x", logging.INFO, __file__, 1, "there",
                                                None, None))
    assert "there" in fixed.getvalue()
