"""The distributed commands as a user runs them: ``worker`` processes,
``sync --queue`` (progress on stderr, the report on stdout, ``--json``),
Ctrl-C leaving the run to the workers and ``--attach`` following it again,
``--cancel``, ``status --queue``; and their bad input as one line."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _cluster import Cluster

from assembly_async.cli import main


@pytest.fixture
async def small(fake_assembly_factory: Any, redis_server: Any, pg_dsn: str
                ) -> AsyncIterator[Cluster]:
    fake = await fake_assembly_factory(schools=4)
    c = Cluster(redis_server.url, pg_dsn, fake)
    await c.seed_tokens()
    try:
        yield c
    finally:
        await c.stop()


async def run_cli(c: Cluster, *args: str, timeout: float = 120.0) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *c.cli("--plain", *args), env=c.env(), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_sync_queue_prints_the_report_and_status_lists_the_run(small: Cluster) -> None:
    c = small
    await c.start(2, concurrency=2)
    code, out, err = await run_cli(c, "sync", "--queue", c.redis_url, "--prefix", c.prefix,
                                   "--sink", c.dsn, "--resources", "students,staff_members")
    assert code == 0, err + c.logs()
    print("\n" + out)
    run_id = out.split()[1]  # "Run <id>" is the table's title
    assert out.startswith(f"Run {run_id}")
    total = next(line for line in out.splitlines() if line.startswith("total"))
    expected = sum(len(c.fake_rows(r)) for r in ("students", "staff_members"))
    assert int(total.split()[1]) == expected
    assert f"run {run_id}: 8 jobs (4 schools x students, staff_members) queued" in err
    assert f"run {run_id}: 8/8 jobs ended (0 failed, 0 skipped)" in err
    assert "Traceback" not in out + err
    # The second run is incremental (304s) and --json says so.
    code, out, err = await run_cli(c, "--json", "sync", "--queue", c.redis_url, "--prefix",
                                   c.prefix, "--resources", "students,staff_members")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] and data["records"] == 0 and len(data["schools"]) == 4
    assert set(data["workers"]) <= {"w1", "w2"} and sum(data["workers"].values()) == 8
    assert {r["state"] for s in data["schools"] for r in s["resources"]} == {
        "not_modified"}
    code, out, err = await run_cli(c, "status", "--queue", c.redis_url, "--prefix", c.prefix)
    assert code == 0, err
    assert run_id in out and data["run"] in out and "8/8" in out
    assert "w1" in out and "w2" in out  # the live workers
    code, out, err = await run_cli(c, "--json", "status", "--queue", c.redis_url, "--prefix",
                                   c.prefix, "--run", run_id)
    assert code == 0, err
    one = json.loads(out)
    assert one["status"] == "done" and one["records"] == expected


async def test_ctrl_c_leaves_the_run_to_the_workers_and_attach_follows_it(
        small: Cluster) -> None:
    c = small
    c.fake.faults.random_errors(1.0, kinds=["delay:0.3"], path="/*", match="glob")
    proc = await asyncio.create_subprocess_exec(
        *c.cli("--plain", "sync", "--queue", c.redis_url, "--prefix", c.prefix,
               "--resources", "students,staff_members"),
        env=c.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    first = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
    assert "queued on" in first, first
    run_id = first.split()[1].rstrip(":")
    second = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
    assert "no worker has been heard of" in second, second
    proc.send_signal(signal.SIGINT)  # no worker yet: nothing ran
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 130, err
    assert f"--attach {run_id}" in err.decode() and f"--cancel {run_id}" in err.decode()
    assert out == b""
    await c.start(2, concurrency=2)  # the workers take the run over
    code, out2, err2 = await run_cli(c, "--json", "sync", "--queue", c.redis_url, "--prefix",
                                     c.prefix, "--attach", run_id)
    assert code == 0, err2 + c.logs()
    data = json.loads(out2)
    assert data["run"] == run_id and data["ok"]
    assert await c.sink_rows("students") == c.fake_rows("students")


async def test_ctrl_c_before_the_run_is_queued_queues_nothing(small: Cluster) -> None:
    """A sink that accepts connections and never answers holds the set-up: Ctrl-C
    then interrupts at once (exit 130) and no run is submitted afterwards."""
    c = small
    silent: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)  # never answers

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        proc = await asyncio.create_subprocess_exec(
            *c.cli("--plain", "sync", "--queue", c.redis_url, "--prefix", c.prefix,
                   "--schools", "1,2", "--sink", f"postgresql://u@127.0.0.1:{port}/db"),
            env=c.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for _ in range(200):  # until the CLI is waiting on the silent sink
            if silent:
                break
            await asyncio.sleep(0.05)
        assert silent, "the CLI never reached the sink"
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 130, err
        assert b"queued on" not in err and b"Traceback" not in err
    finally:
        server.close()
        for writer in silent:
            writer.close()
    code, out, err = await run_cli(c, "--json", "status", "--queue", c.redis_url, "--prefix",
                                   c.prefix)
    assert code == 0, err
    assert json.loads(out)["runs"] == []


async def test_cancel_stops_a_run(small: Cluster) -> None:
    c = small
    code, out, err = await run_cli(c, "sync", "--queue", c.redis_url, "--prefix", c.prefix,
                                   "--detach")
    assert code == 0, err
    run_id = out.strip()
    code, _, err = await run_cli(c, "sync", "--queue", c.redis_url, "--prefix", c.prefix,
                                 "--cancel", run_id)
    assert code == 0 and f"run {run_id}: cancelled" in err
    code, out, err = await run_cli(c, "--json", "sync", "--queue", c.redis_url, "--prefix",
                                   c.prefix, "--attach", run_id)
    assert code == 1  # a cancelled run is not ok
    data = json.loads(out)
    assert data["cancelled"] and {r["state"] for s in data["schools"]
                                  for r in s["resources"]} == {"cancelled"}


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sync", "--attach", "abc"], "--attach needs --queue"),
        (["status", "--run", "abc"], "--run needs --queue"),
        (["sync", "--queue", "http://x"], "redis://"),
        (["status"], "--token-store is required"),
        (["worker", "--redis", "redis://localhost:1/0"], "ASSEMBLY_SINK"),
        (["worker", "--redis", "redis://localhost:1/0", "--sink", "/tmp/x.db"],
         "postgresql://"),
        (["sync", "--queue", "unix:///nonexistent/redis.sock"], "cannot reach the queue"),
    ],
)
def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                               needle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ASSEMBLY_SINK", "ASSEMBLY_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASSEMBLY_CLIENT_ID", "id")
    monkeypatch.setenv("ASSEMBLY_CLIENT_SECRET", "secret")
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in out + err


def test_worker_help_names_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--help"]) == 0
    out = capsys.readouterr().out
    assert "ASSEMBLY_REDIS_URL" in out and "ASSEMBLY_SINK" in out
    assert sys.executable  # (the worker itself is exercised by the tests above)
