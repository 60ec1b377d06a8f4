"""The command line explains itself: results on stdout (tables or --json), the
rest on stderr, full error texts, --version, -v, help on every option,
environment variables, token add/list/remove, and one line when the API host
cannot be reached at all."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _threaded_fake import ThreadedFake

import assembly_async
from assembly_async.auth import SQLiteTokenStore
from assembly_async.cli import build_parser, main
from assembly_async.cli._demo import load_fake_tokens


def seed_store(fake: Any, path: Path) -> None:
    async def seed() -> None:
        async with SQLiteTokenStore(path) as store:
            await load_fake_tokens(fake, store)

    asyncio.run(seed())


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedFake]:
    """A running fake, its tokens in tokens.db, credentials and URLs in the environment."""
    with ThreadedFake(schools=3, students_per_school=12, staff_per_school=3,
                      teaching_groups_per_year=1, attendance_days=1) as tf:
        fake = tf.fake
        seed_store(fake, tmp_path / "tokens.db")
        monkeypatch.setenv("ASSEMBLY_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("ASSEMBLY_CLIENT_SECRET", fake.client_secret)
        monkeypatch.setenv("ASSEMBLY_API_URL", str(fake.api_url))
        monkeypatch.setenv("ASSEMBLY_OAUTH_URL", str(fake.oauth_url))
        monkeypatch.setenv("ASSEMBLY_TOKEN_STORE", str(tmp_path / "tokens.db"))
        monkeypatch.delenv("ASSEMBLY_LOG", raising=False)
        yield tf


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"assembly-async {assembly_async.__version__}"


def _parsers(parser: argparse.ArgumentParser, path: str = "") -> Iterator[
        tuple[str, argparse.ArgumentParser]]:
    yield path or "assembly-async", parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}".strip())


def test_every_option_has_help() -> None:
    seen = 0
    for where, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            seen += 1
            assert action.help and action.help != argparse.SUPPRESS, (where, action.dest)
            if action.dest in ("token_store", "sink", "state", "api_url", "oauth_url"):
                assert "(env: ASSEMBLY_" in action.help, (where, action.dest)
    assert seen > 40


def test_sync_json_on_stdout_progress_on_stderr(fake_env: ThreadedFake, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--plain", "--json", "sync", "--sink", str(tmp_path / "out.db")])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["command"] == "sync" and doc["ok"] is True and doc["failed"] == []
    assert len(doc["schools"]) == 3
    assert doc["records"] == sum(s["records"] for s in doc["schools"]) == 3 * (12 + 3)
    school = doc["schools"][0]
    assert {r["resource"] for r in school["resources"]} == {"students", "staff_members"}
    assert all(r["state"] == "done" and r["full"] is True and r["error"] is None
               for r in school["resources"])
    assert "school 1" not in out  # no progress lines among the results
    # Plain mode: progress lines on stderr, the table on stdout.
    assert main(["--plain", "sync", "--sink", str(tmp_path / "out.db")]) == 0
    out, err = capsys.readouterr()
    assert "school 1: done" in err and "school 1: done" not in out
    assert "Sync into" in out and "total" in out


def test_full_error_texts_follow_the_table(fake_env: ThreadedFake, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    fake = fake_env.fake
    fake_env.call(fake.revoke_school, 2)
    assert main(["--plain", "sync", "--sink", str(tmp_path / "out.db")]) == 1
    out, _ = capsys.readouterr()
    table, _, failures = out.partition("Failures (2)")
    row = next(line for line in table.splitlines() if line.startswith("2 "))
    assert "students: SchoolAuthRevoked" in row
    lines = [ln.strip() for ln in failures.strip().splitlines()]
    assert lines[0].startswith("school 2, students: SchoolAuthRevoked:")
    assert lines[1].startswith("school 2, staff_members: SchoolAuthRevoked:")
    assert all(len(ln) > 60 for ln in lines)  # never cut at 57 characters
    assert main(["--json", "sync", "--sink", str(tmp_path / "out.db")]) == 1
    doc = json.loads(capsys.readouterr().out)
    bad = next(s for s in doc["schools"] if s["school_id"] == 2)
    assert bad["ok"] is False and bad["revoked"] is True
    # Now the stored token is marked unusable: no refresh is tried again.
    assert bad["resources"][0]["error"]["type"] == "TokenUnavailable"
    assert "school 2" in bad["resources"][0]["error"]["message"]
    assert doc["failed"] == [2]


class CountingListener:
    """A TCP port that accepts connections and drops them at once, counting them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_an_unreachable_host_is_one_line_after_one_probe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    with ThreadedFake(schools=3, students_per_school=2, staff_per_school=1,
                      teaching_groups_per_year=1, attendance_days=1) as tf:
        seed_store(tf.fake, tmp_path / "tokens.db")
    monkeypatch.setenv("ASSEMBLY_CLIENT_ID", "id")
    monkeypatch.setenv("ASSEMBLY_CLIENT_SECRET", "secret")
    listener = CountingListener()
    try:
        argv = ["--plain", "sync", "--token-store", str(tmp_path / "tokens.db"),
                "--sink", str(tmp_path / "out.db"),
                "--api-url", f"http://127.0.0.1:{listener.port}"]
        assert main(argv) == 3
        out, err = capsys.readouterr()
        # One request (aiohttp itself reconnects once when an idempotent request's
        # connection is dropped), not 3 schools x 2 resources x 4 attempts.
        assert 1 <= listener.connections <= 2
        assert out == ""
        assert err.count("\n") == 1
        assert err.startswith(f"assembly-async: error: cannot reach the API host "
                              f"http://127.0.0.1:{listener.port}")
        assert not (tmp_path / "out.db").exists()
        assert main(["--json", *argv[1:]]) == 3
        doc = json.loads(capsys.readouterr().out)
        assert doc["ok"] is False and doc["exit_code"] == 3 and doc["command"] == "sync"
        assert "cannot reach the API host" in doc["error"]
    finally:
        listener.close()


def test_environment_variables_and_their_absence(
        fake_env: ThreadedFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSEMBLY_SINK", str(tmp_path / "env.db"))
    monkeypatch.setenv("ASSEMBLY_STATE", str(tmp_path / "env.state"))
    assert main(["--plain", "sync", "--resources", "students"]) == 0
    assert (tmp_path / "env.db").is_file() and (tmp_path / "env.state").is_file()
    capsys.readouterr()
    monkeypatch.delenv("ASSEMBLY_TOKEN_STORE")
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("assembly-async: error: --token-store is required "
                           "(or set ASSEMBLY_TOKEN_STORE)")


def test_token_add_list_remove(fake_env: ThreadedFake, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    fake = fake_env.fake
    store = str(tmp_path / "new.db")
    monkeypatch.setenv("ASSEMBLY_TOKEN_STORE", store)
    pair = fake.school_token(1)
    answer = json.dumps({"access_token": pair.access_token, "refresh_token": pair.refresh_token,
                         "token_type": "bearer", "expires_in": 3600,
                         "scopes": list(pair.scopes)})
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    assert main(["--plain", "token", "add", "--school-id", "1"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(fake.school_token(2).access_token + "\n"))
    assert main(["--plain", "token", "add", "--school-id", "2", "--scopes",
                 "students.basic"]) == 0
    capsys.readouterr()
    assert main(["--plain", "token", "list"]) == 0
    out, err = capsys.readouterr()
    assert "school:1" in out and "school:2" in out
    for secret in (pair.access_token, pair.refresh_token, fake.school_token(2).access_token):
        assert secret not in out + err
    assert main(["--json", "token", "list"]) == 0
    tokens = json.loads(capsys.readouterr().out)["tokens"]
    one, two = tokens
    assert one["refreshable"] is True and one["expires_at"] and not one["expired"]
    assert two["refreshable"] is False and two["expires_at"] is None
    assert two["scopes"] == ["students.basic"]
    # The stored tokens work: sync both schools with them.
    assert main(["--plain", "sync", "--sink", str(tmp_path / "s.db"),
                 "--resources", "students"]) == 0
    capsys.readouterr()
    assert main(["--plain", "token", "remove", "--school-id", "2"]) == 0
    assert main(["--plain", "token", "remove", "--school-id", "2"]) == 2
    assert "no token under 'school:2'" in capsys.readouterr().err
    assert main(["--json", "token", "list"]) == 0
    assert [t["key"] for t in json.loads(capsys.readouterr().out)["tokens"]] == ["school:1"]


@pytest.mark.parametrize("stdin", ["", "two words", "{not json", '{"school_id": 5, '
                                   '"access_token": "x"}', '{"refresh_token": "r"}'])
def test_token_add_refuses_bad_input_without_echoing_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdin: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["token", "add", "--school-id", "1", "--token-store", str(tmp_path / "t.db")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "words" not in err and '"r"' not in err


def test_verbose_log_lines_are_formatted_on_stderr(
        fake_env: ThreadedFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = fake_env.fake
    fake_env.call(fake.faults.script, "/students", ["503"])
    logger = logging.getLogger("assembly_async")
    handlers = list(logger.handlers)
    assert main(["--plain", "-v", "sync", "--sink", str(tmp_path / "v.db"),
                 "--schools", "1"]) == 0
    out, err = capsys.readouterr()
    retry = [ln for ln in err.splitlines() if "retrying" in ln]
    assert retry and retry[0].startswith("assembly-async: INFO assembly_async.http: GET ")
    assert "retrying" not in out
    assert fake.school_token(1).access_token not in out + err
    assert logger.handlers == handlers  # the command's handler is gone afterwards
    fake_env.call(fake.faults.script, "/students", ["503"])
    assert main(["--plain", "sync", "--sink", str(tmp_path / "v.db"), "--schools", "1"]) == 0
    assert "retrying" not in capsys.readouterr().err  # INFO only with -v


def test_a_refused_port_fails_after_one_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from assembly_async._http.transport import AiohttpTransport

    with ThreadedFake(schools=2, students_per_school=2, staff_per_school=1,
                      teaching_groups_per_year=1, attendance_days=1) as tf:
        seed_store(tf.fake, tmp_path / "tokens.db")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sent: list[str] = []
    original = AiohttpTransport.send

    async def counting(self: AiohttpTransport, request: Any, **kwargs: Any) -> Any:
        sent.append(str(request.url))
        return await original(self, request, **kwargs)

    monkeypatch.setattr(AiohttpTransport, "send", counting)
    monkeypatch.setenv("ASSEMBLY_CLIENT_ID", "id")
    monkeypatch.setenv("ASSEMBLY_CLIENT_SECRET", "secret")
    code = main(["status", "--token-store", str(tmp_path / "tokens.db"),
                 "--api-url", f"http://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 3 and sent == [f"http://127.0.0.1:{port}/me"]
    (line,) = err.strip().splitlines()
    assert line.startswith(f"assembly-async: error: cannot reach the API host "
                           f"http://127.0.0.1:{port}: could not connect: ")
    assert line.endswith(f"(GET http://127.0.0.1:{port}/me)")


class TTYStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rich_on_a_terminal_logs_and_progress_share_stderr(
        fake_env: ThreadedFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("rich")
    fake = fake_env.fake
    fake_env.call(fake.faults.script, "/students", ["503"])
    err = TTYStream()
    monkeypatch.setattr("sys.stderr", err)
    assert main(["-v", "sync", "--sink", str(tmp_path / "r.db"), "--schools", "1,2"]) == 0
    out = capsys.readouterr().out
    text = err.getvalue()
    assert "school    1" in text and "records" in text  # the live bars
    assert "retrying" in text and "assembly_async.http" in text  # the log, same console
    assert "retrying" not in out and "school    1" not in out
    assert "Sync into" in out


def test_the_cli_against_a_fake_in_another_process(tmp_path: Path) -> None:
    """The two-terminal flow of docs/cli.md, with real processes: the fake
    writes its schools' tokens into a store and prints the exports; the
    ``assembly-async`` console script syncs with ``--json``."""
    import os
    import re
    import subprocess
    import sys

    store = tmp_path / "tokens.db"
    server = subprocess.Popen(
        [sys.executable, "-m", "assembly_async.testing", "--schools", "2", "--students", "30",
         "--staff", "4", "--token-store", str(store)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        lines: list[str] = []
        while not any(line.startswith("Press Ctrl-C") for line in lines):
            line = server.stdout.readline()
            assert line, server.stderr.read() if server.stderr else "the fake exited"
            lines.append(line)
        banner = "".join(lines)
        exports = dict(re.findall(r"(ASSEMBLY_[A-Z_]+)=(\S+)", banner))
        assert set(exports) == {"ASSEMBLY_API_URL", "ASSEMBLY_OAUTH_URL", "ASSEMBLY_CLIENT_ID",
                                "ASSEMBLY_CLIENT_SECRET", "ASSEMBLY_TOKEN_STORE"}
        assert oct(store.stat().st_mode & 0o777) == "0o600"
        env = {**os.environ, **exports,
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        env.pop("ASSEMBLY_LOG", None)
        sync = subprocess.run(["assembly-async", "--json", "sync", "--sink",
                               str(tmp_path / "out.db")], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert sync.returncode == 0, sync.stderr
        doc = json.loads(sync.stdout)
        assert doc["ok"] and [s["school_id"] for s in doc["schools"]] == [1, 2]
        assert doc["records"] == 2 * (30 + 4)
        again = subprocess.run(["assembly-async", "--json", "sync", "--sink",
                                str(tmp_path / "out.db")], env=env, capture_output=True,
                               text=True, timeout=120, check=False)
        assert json.loads(again.stdout)["not_modified"] == 8  # lists and leavers: all 304
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_token_add_reads_the_school_id_as_the_token_endpoint_sends_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "t.db")
    answer = {"access_token": "a-secret", "token_type": "bearer", "expires_in": 60,
              "school_id": "7"}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(answer)))
    assert main(["token", "add", "--school-id", "7", "--token-store", store]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(answer)))
    assert main(["token", "add", "--school-id", "8", "--token-store", store]) == 2
    assert "is for school 7, not 8" in capsys.readouterr().err
