"""Every code block of the documentation runs, against the shipped fake.

README.md, docs/*.md and the fake's README: Python blocks run in order in one
namespace per page (top-level ``await`` allowed, as in ``python -m asyncio``),
``# file:`` blocks form an example project whose pytest run must pass, and
``sh`` blocks run their ``assembly-async`` lines in bash. The placeholders the
docs ask the reader to fill (``YOUR-SCHOOL-TOKEN``, ``CLIENT_ID``, ``code``,
``save``, ``alert``, ``keep_for_review``, ``school_ids``, ``...`` in exports,
``CODE``) are filled here; the docs' own code is never edited. The sandbox and
production hosts point at the fake, whose first school is 123 as in the
examples. See tests/_docblocks.py.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _docblocks import DOCUMENTS, ROOT, Block, blocks, project_files
from _threaded_fake import ThreadedFake

from assembly_async._core import config

SCHOOL = 123
REDIRECT = "https://myapp.example/callback"
REDIS_PLACEHOLDER = "rediss://:PASSWORD@redis.internal:6379/0"
POSTGRES_PLACEHOLDER = "postgresql://sync@db.example/schools"
KNOWN_LANGS = {"python", "py", "sh", "bash", "shell", "toml", "json", "text", "ini", "sql"}
SHELL_LANGS = {"sh", "bash", "shell"}
#: Shell commands the docs show but the suite does not run (they install
#: packages, build, or run the suite itself); anything else must be classified.
NOT_RUN = ("pip ", "python -m pip ", "python -m pytest", "python -m build", "python tools/",
           "python benchmarks/", "git ", "cd ", "apt-get ", "python -m assembly_async.testing")
CLI = ("assembly-async", "python -m assembly_async.cli")


@pytest.fixture(scope="module")
def fake() -> Iterator[ThreadedFake]:
    with ThreadedFake(schools=2, first_school_id=SCHOOL, students_per_school=60,
                      staff_per_school=6, teaching_groups_per_year=1, attendance_days=1,
                      results_per_student=1) as tf:
        yield tf


@pytest.fixture
def hosts(fake: ThreadedFake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The environments' hosts are the fake's; files land in a fresh directory."""
    url = str(fake.fake.api_url)
    for env in ("sandbox", "production"):
        monkeypatch.setitem(config.API_HOSTS, env, url)
        monkeypatch.setitem(config.OAUTH_HOSTS, env, url)
    monkeypatch.chdir(tmp_path)
    for name in ("ASSEMBLY_LOG", "ASSEMBLY_TOKEN_STORE", "ASSEMBLY_SINK", "ASSEMBLY_STATE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    logger = logging.getLogger("assembly_async")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def _code(fake: ThreadedFake) -> str:
    return str(fake.call(fake.fake.issue_code, SCHOOL, None, REDIRECT))


class Page:
    """One document's run: its namespace, its event loop, its filled placeholders."""

    def __init__(self, fake: ThreadedFake, request: pytest.FixtureRequest) -> None:
        self.fake = fake
        self.request = request
        self.saved: list[Any] = []
        self.loop = asyncio.new_event_loop()
        self.namespace: dict[str, Any] = {
            "__name__": "__docs__",
            "CLIENT_ID": fake.fake.client_id,
            "CLIENT_SECRET": fake.fake.client_secret,
            "code": _code(fake),
            "school_ids": [SCHOOL],
            "save": self.saved.append,
            "alert": self.saved.append,
            "keep_for_review": lambda *args: self.saved.append(args),
        }
        self.exports: list[str] = []
        #: The PostgreSQL database the page's Python synced into (its sql blocks run there).
        self.pg_dsn: str | None = None

    def fill(self, text: str) -> str:
        """The literal placeholders of a block, replaced by working values."""
        token = self.fake.fake.school_token(SCHOOL).access_token
        text = text.replace("YOUR-SCHOOL-TOKEN", token)
        if REDIS_PLACEHOLDER in text:
            server = self.request.getfixturevalue("redis_server")
            text = text.replace(REDIS_PLACEHOLDER, server.url)
        if POSTGRES_PLACEHOLDER in text:
            self.pg_dsn = self.pg_dsn or str(self.request.getfixturevalue("pg_dsn"))
            text = text.replace(POSTGRES_PLACEHOLDER, self.pg_dsn)
        return text

    def run_sql(self, block: Block) -> None:
        """A query the page shows, in the database its Python code wrote to."""
        import asyncpg

        assert self.pg_dsn is not None, f"{block.where}: SQL before any PostgreSQL example"

        async def query(dsn: str) -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.fetch(block.code)
            finally:
                await conn.close()

        try:
            self.loop.run_until_complete(query(self.pg_dsn))
        except Exception as exc:
            raise AssertionError(f"{block.where}: the query failed: {exc!r}") from exc

    def run_python(self, block: Block) -> None:
        source = self.fill(block.code)
        code = compile(source, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        try:
            result = eval(code, self.namespace)
            if inspect.iscoroutine(result):
                self.loop.run_until_complete(result)
        except Exception as exc:
            raise AssertionError(f"{block.where}: the block raised {exc!r}") from exc

    def shell_line(self, line: str, block: Block) -> str | None:
        """A line of a shell block as it runs, or None when it is not run."""
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return None
        kept = []
        for part in (p.strip() for p in stripped.split("&&")):
            if part.startswith("export "):
                kept.append(self._export(part, block))
            elif part.startswith(CLI) or " | assembly-async " in part:
                kept.append(part.replace("CODE", _code(self.fake)))
            elif part.startswith(NOT_RUN):
                continue
            else:
                raise AssertionError(f"{block.where}: shell command {part!r} is neither run "
                                     "nor known (tests/test_docs.py NOT_RUN)")
        return " && ".join(kept) or None

    def _export(self, part: str, block: Block) -> str:
        values = {"ASSEMBLY_CLIENT_ID": self.fake.fake.client_id,
                  "ASSEMBLY_CLIENT_SECRET": self.fake.fake.client_secret,
                  "SCHOOL_TOKEN": self.fake.fake.school_token(SCHOOL).access_token}
        words = []
        for word in shlex.split(part)[1:]:
            name, _, value = word.partition("=")
            if value == "...":
                if name not in values:
                    raise AssertionError(f"{block.where}: no test value for {name}=...")
                value = values[name]
            words.append(f"{name}={shlex.quote(value)}")
        line = "export " + " ".join(words)
        self.exports.append(line)
        return line

    def run_shell(self, block: Block) -> None:
        lines = [x for x in (self.shell_line(ln, block) for ln in block.code.splitlines()) if x]
        if not lines:
            return
        url = str(self.fake.fake.api_url)
        env = {**os.environ, "ASSEMBLY_API_URL": url, "ASSEMBLY_OAUTH_URL": url,
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        env.pop("ASSEMBLY_LOG", None)
        script = "\n".join(["set -euo pipefail", *self.exports, *lines])
        proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0, (f"{block.where}: exit {proc.returncode}\n{script}\n"
                                      f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        assert "Traceback" not in proc.stdout + proc.stderr, block.where

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


def run_project(files: dict[str, str], where: Path, directory: Path) -> None:
    """The page's example project: its files written, its tests passing."""
    for name, text in files.items():
        (directory / name).write_text(text, "utf-8")
    if not any(Path(n).name.startswith("test_") for n in files):
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-W", "error"], cwd=directory, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{where}: its example project fails\n{proc.stdout[-4000:]}"
    assert re.search(r"\d+ passed", proc.stdout), proc.stdout


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_runs(document: Path, fake: ThreadedFake, hosts: None,
                          restore_logging: None, request: pytest.FixtureRequest,
                          tmp_path: Path) -> None:
    page = Page(fake, request)
    try:
        for block in blocks(document):
            assert block.lang in KNOWN_LANGS, f"{block.where}: unknown block language"
            if block.skip_reason is not None or block.file_name is not None:
                continue
            if block.lang in ("python", "py"):
                page.run_python(block)
            elif block.lang in SHELL_LANGS:
                page.run_shell(block)
            elif block.lang == "sql":
                page.run_sql(block)
    finally:
        page.close()
    files = project_files(document)
    if files:
        project = tmp_path / "project"
        project.mkdir()
        run_project(files, document, project)


def test_the_docs_have_the_blocks_they_promise() -> None:
    """The README's sections this suite was written for are still there (a
    renamed or removed block would otherwise pass unnoticed)."""
    readme = {b.file_name for b in blocks(ROOT / "README.md")}
    assert {"pyproject.toml", "conftest.py", "test_my_app.py"} <= readme
    text = (ROOT / "README.md").read_text("utf-8")
    for needle in ('client.school(123, access_token="YOUR-SCHOOL-TOKEN")',
                   "school.students.changes(state=state", "exchange_code(code",
                   "assembly-async --json sync", 'asyncio_mode = "auto"',
                   "assembly-async[testing]"):
        assert needle in text, needle
    for block in (b for d in DOCUMENTS for b in blocks(d)):
        if block.skip_reason is None and block.first_line.lower().startswith("# not run"):
            raise AssertionError(f"{block.where}: an opt-out needs 'not run by the test "
                                 "suite: <reason>'")
