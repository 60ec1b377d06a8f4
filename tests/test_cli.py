"""The assembly-async command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _threaded_fake import ThreadedFake

from assembly_async.cli import main


def test_demo_three_schools(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    code = main(["--plain", "demo", "--schools", "3", "--db", str(db)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "First sync (full)" in out and "Second sync (incremental)" in out
    for col in ("school", "records", "requests", "304s", "retries", "time"):
        assert col in out
    assert out.count("total") >= 2
    assert db.is_file()
    assert "Traceback" not in out + err
    # The injected 503, reset and HTML 502 were retried and nothing was lost.
    first_total = next(line for line in out.splitlines() if line.startswith("total"))
    records, _removed, requests, _304s, retries = first_total.split()[1:6]
    assert retries == "3" and int(requests) == 3 * 2 + 3
    assert records == str(3 * (150 + 25))
    assert "3 retried after the injected faults" in out


def test_demo_rich_tables(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("rich")
    assert main(["demo", "--schools", "2"]) == 0
    out = capsys.readouterr().out
    assert "Second sync (incremental)" in out and "304s" in out


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ASSEMBLY_CLIENT_ID", "ASSEMBLY_CLIENT_SECRET", "ASSEMBLY_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSEMBLY_CLIENT_ID", "id")
    monkeypatch.setenv("ASSEMBLY_CLIENT_SECRET", "secret")
    monkeypatch.setenv("ASSEMBLY_ENVIRONMENT", "sandbox")


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, needle: str) -> None:
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("assembly-async: error:")
    assert needle in lines[0]
    assert "Traceback" not in out + err


def test_missing_credentials(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                             no_credentials: None) -> None:
    store = tmp_path / "tokens.db"
    assert main(["token", "client-credentials", "--token-store", str(store)]) == 2
    _, err = capsys.readouterr()
    assert "ASSEMBLY_CLIENT_ID" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sync", "--token-store", "{tmp}/tokens.db", "--sink", "{tmp}/out.db",
          "--resources", "students,pupils"], "unknown resource 'pupils'"),
        (["sync", "--token-store", "{tmp}/missing.db", "--sink", "{tmp}/out.db"],
         "does not exist"),
        (["sync", "--token-store", "{tmp}", "--sink", "{tmp}/out.db"], "is a directory"),
        (["sync", "--token-store", "{tmp}/garbage.db", "--sink", "{tmp}/out.db"],
         "cannot read token store"),
        (["sync", "--token-store", "{tmp}/tokens.db", "--sink", "{tmp}/nope/out.db"],
         "does not exist"),
        (["sync", "--token-store", "{tmp}/tokens.db", "--sink", "{tmp}/out.db",
          "--schools", "1,x"], "--schools"),
        (["sync", "--sink", "{tmp}/out.db"], "--token-store"),
        (["demo", "--schools", "0"], "--schools"),
        (["demo", "--schools", "many"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
        (["status", "--token-store", "{tmp}/tokens.db", "--sink", "{tmp}/none.db"],
         "does not exist"),
    ],
)
def test_bad_input_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                            credentials: None, argv: list[str], needle: str) -> None:
    import sqlite3

    sqlite3.connect(tmp_path / "tokens.db").close()
    (tmp_path / "garbage.db").write_bytes(b"this is not an sqlite database" * 100)
    # Private, as a token store must be (a readable one earns its own warning line).
    (tmp_path / "garbage.db").chmod(0o600)
    (tmp_path / "tokens.db").chmod(0o600)
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    _one_line_error(capsys, main(args), needle)


def test_bad_environment(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                         credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSEMBLY_ENVIRONMENT", "staging")
    code = main(["token", "authorize-url", "--redirect-uri", "https://x.test/cb",
                 "--scopes", "students.basic"])
    _one_line_error(capsys, code, "ASSEMBLY_ENVIRONMENT")


def test_authorize_url_prints_no_secret(capsys: pytest.CaptureFixture[str],
                                        credentials: None) -> None:
    code = main(["--plain", "token", "authorize-url", "--redirect-uri", "https://x.test/cb",
                 "--scopes", "students.basic,staff_members.basic", "--state", "abc"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "client_id=id" in out and "state=abc" in out and "secret" not in out


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_module_subprocess_demo(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "error::ResourceWarning"}
    proc = subprocess.run(
        [sys.executable, "-m", "assembly_async.cli", "demo", "--schools", "2"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Second sync (incremental)" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_sync_and_status_against_fake(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from assembly_async import SQLiteSyncState
    from assembly_async.auth import SQLiteTokenStore
    from assembly_async.cli._demo import load_fake_tokens
    from assembly_async.sinks import JSONLinesSink, SQLiteSink

    store_path = tmp_path / "tokens.db"
    with ThreadedFake(schools=3, students_per_school=20, staff_per_school=4) as tf:
        fake = tf.fake

        async def seed() -> None:
            async with SQLiteTokenStore(store_path) as store:
                await load_fake_tokens(fake, store)

        asyncio.run(seed())
        monkeypatch.setenv("ASSEMBLY_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("ASSEMBLY_CLIENT_SECRET", fake.client_secret)
        urls = ["--api-url", str(fake.api_url), "--oauth-url", str(fake.oauth_url)]
        db = tmp_path / "out.db"
        base = ["--plain", "sync", "--token-store", str(store_path), "--sink", str(db), *urls]
        assert main(base) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "total" in out and "304s" in out

        async def count() -> int:
            async with SQLiteSink(db) as sink:
                return await sink.count("students")

        assert asyncio.run(count()) == sum(len(fake.record_ids(s)) for s in fake.school_ids)

        async def watermarks() -> list[str]:
            async with SQLiteSyncState(db) as state:
                return await state.keys()

        # The watermarks live in the sink's own file (records and watermark of a job
        # commit in one transaction there), no second file beside it.
        assert len(asyncio.run(watermarks())) == 6 and not (tmp_path / "out.db.state").exists()
        # second run: incremental, state kept in the sink's file -> 304s
        before = fake.stats.not_modified
        assert main(base) == 0
        out = capsys.readouterr().out
        total = next(line for line in out.splitlines() if line.startswith("total"))
        # 3 schools x 2 resources, each list and its `left` endpoint answered 304
        assert int(total.split()[4]) == fake.stats.not_modified - before == 12

        # JSON Lines sink
        jdir = tmp_path / "jsonl"
        assert main(["--plain", "sync", "--token-store", str(store_path), "--sink", str(jdir),
                     "--resources", "students", "--schools", "1", *urls]) == 0
        assert (jdir / "students.jsonl").is_file()
        assert isinstance(JSONLinesSink(jdir), JSONLinesSink)
        capsys.readouterr()

        # status: the API's view and our sync_runs
        assert main(["--plain", "status", "--token-store", str(store_path), "--sink", str(db),
                     *urls]) == 0
        out = capsys.readouterr().out
        assert "School status" in out and "success" in out and "ok" in out

        # token refresh, never printing tokens
        assert main(["--plain", "token", "refresh", "--token-store", str(store_path),
                     "--schools", "1,2", *urls]) == 0
        out, err = capsys.readouterr()
        assert "school 1: refreshed" in out
        assert fake.school_token(1).access_token not in out + err

        # a revoked school: reported, the others still sync, exit code 1
        tf.call(fake.revoke_school, 2)
        assert main(base) == 1
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        row = next(line for line in out.splitlines() if line.startswith("2 "))
        assert "SchoolAuthRevoked" in row or "TokenUnavailable" in row


def test_sync_with_redis_token_store_and_state(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               redis_server: object) -> None:
    import asyncio

    from redis import Redis

    from assembly_async.cli._demo import load_fake_tokens
    from assembly_async.redis import RedisSyncState, RedisTokenStore

    socket_path = redis_server.socket  # type: ignore[attr-defined]
    url = f"unix://{socket_path}?db=15"  # a database of its own: the CLI uses the default prefix
    sync_client = Redis(unix_socket_path=str(socket_path), db=15)
    sync_client.flushdb()
    sync_client.close()
    with ThreadedFake(schools=2, students_per_school=10, staff_per_school=3) as tf:
        fake = tf.fake

        async def seed() -> None:
            async with RedisTokenStore(url) as store:
                await load_fake_tokens(fake, store)

        asyncio.run(seed())
        monkeypatch.setenv("ASSEMBLY_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("ASSEMBLY_CLIENT_SECRET", fake.client_secret)
        urls = ["--api-url", str(fake.api_url), "--oauth-url", str(fake.oauth_url)]
        base = ["--plain", "sync", "--token-store", url, "--state", url,
                "--sink", str(tmp_path / "out.db"), "--resources", "students", *urls]
        assert main(base) == 0, capsys.readouterr().err
        capsys.readouterr()
        before = fake.stats.not_modified
        assert main(base) == 0  # the watermarks are in Redis: only 304s now
        assert fake.stats.not_modified - before == 4
        capsys.readouterr()

        async def watermarks() -> list[str]:
            async with RedisSyncState(url) as state:
                return await state.keys()

        assert asyncio.run(watermarks()) == ["1/getStudents/{}", "2/getStudents/{}"]
        assert main(["--plain", "token", "refresh", "--token-store", url, "--schools", "1",
                     *urls]) == 0
        out, err = capsys.readouterr()
        assert "school 1: refreshed" in out and "Traceback" not in err


def test_unreachable_redis_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       credentials: None) -> None:
    url = f"unix://:hunter2@{tmp_path}/nobody.sock"
    code = main(["sync", "--token-store", url, "--sink", str(tmp_path / "out.db")])
    _one_line_error(capsys, code, "cannot reach the token store")
    assert main(["status", "--token-store", url]) == 2
    assert "hunter2" not in capsys.readouterr().err
    # redis-py also takes the password in the query: never printed either.
    for argv in (["sync", "--token-store", f"unix://{tmp_path}/nobody.sock?password=hunter2",
                  "--sink", str(tmp_path / "out.db")],
                 ["sync", "--queue", "redis://127.0.0.1:1/0?password=hunter2"]):
        main(argv)
        out, err = capsys.readouterr()
        assert "hunter2" not in out + err and "password=***" in err, err


def test_sync_and_status_into_postgres(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, pg_dsn: str) -> None:
    """``--sink postgresql://...``: records, the sync state and sync_runs in one database;
    the DSN's password is never printed."""
    import asyncio

    from assembly_async.auth import SQLiteTokenStore
    from assembly_async.cli._demo import load_fake_tokens
    from assembly_async.sinks import PostgresSink

    store_path = tmp_path / "tokens.db"
    dsn = pg_dsn.replace("postgresql://postgres@", "postgresql://postgres:pw-s3cret@")
    with ThreadedFake(schools=2, students_per_school=20, staff_per_school=4) as tf:
        fake = tf.fake

        async def seed() -> None:
            async with SQLiteTokenStore(store_path) as store:
                await load_fake_tokens(fake, store)

        asyncio.run(seed())
        monkeypatch.setenv("ASSEMBLY_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("ASSEMBLY_CLIENT_SECRET", fake.client_secret)
        urls = ["--api-url", str(fake.api_url), "--oauth-url", str(fake.oauth_url)]
        base = ["--plain", "sync", "--token-store", str(store_path), "--sink", dsn, *urls]
        assert main(base) == 0, capsys.readouterr().err
        out, err = capsys.readouterr()
        assert "pw-s3cret" not in out + err and "***" in out

        async def read() -> tuple[int, list[str], int]:
            async with PostgresSink(dsn) as sink:
                state = sink.sync_state()
                return (await sink.count("students"), await state.keys(),
                        len(await sink.last_runs()))

        count, keys, runs = asyncio.run(read())
        assert count == sum(len(fake.record_ids(s)) for s in fake.school_ids)
        assert len(keys) == 4 and runs == 2  # 2 schools x 2 resources; a run per school
        assert main(base) == 0  # incremental: the state came from the same database
        out = capsys.readouterr().out
        total = next(line for line in out.splitlines() if line.startswith("total"))
        assert int(total.split()[4]) == 8
        assert main(["--plain", "status", "--token-store", str(store_path), "--sink", dsn,
                     *urls]) == 0
        out = capsys.readouterr().out
        assert "School status" in out and "ok" in out
        # An unreachable database (the API host answers: the probe passes).
        bad = "postgresql://postgres:pw-s3cret@127.0.0.1:1/x"
        assert main(["--plain", "sync", "--token-store", str(store_path), "--sink", bad,
                     *urls]) == 1
        assert "pw-s3cret" not in "".join(capsys.readouterr())
    # An unreachable API host is found first, by one probe: exit code 3 (issue 14).
    assert main(["--plain", "sync", "--token-store", str(store_path), "--sink", bad,
                 "--api-url", "http://127.0.0.1:1"]) == 3
    assert "pw-s3cret" not in "".join(capsys.readouterr())
