"""Crash tests with real OS processes: the writer is SIGKILLed between batches,
mid-transaction and just before COMMIT, while syncing into a sink whose database
also holds the sync state (PostgreSQL; SQLite with sink and state in one file).

Afterwards nothing is half-committed (for every school and resource, the records
and the watermark are both those of the last committed job, never one without the
other) and nothing is lost (a rerun completes the data).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from assembly_async import SQLiteSyncState, sync_key
from assembly_async.sinks import PostgresSink, SQLiteSink, is_dsn
from assembly_async.testing import FakeAssembly

CHILD = Path(__file__).with_name("_crash_child.py")
ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ("students", "staff_members")
OPS = {"students": "getStudents", "staff_members": "getStaffMembers"}
PER_PAGE = 20
SIZES: dict[str, Any] = {
    "students_per_school": 70, "staff_per_school": 25, "teaching_groups_per_year": 1,
    "registration_groups_per_year": 1, "attendance_days": 1, "calendar_events": 1,
    "rooms": 1, "results_per_student": 0,
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeAssembly]:
    async with FakeAssembly(schools=3, **SIZES) as f:
        yield f


@pytest.fixture(params=["postgres", "sqlite"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_dsn"))
    return str(tmp_path / "one.db")


def setup(fake: FakeAssembly, target: str, kill: str) -> bytes:
    tokens = []
    for sid in fake.school_ids:
        pair = fake.school_token(sid)
        tokens.append({"access_token": pair.access_token, "refresh_token": pair.refresh_token,
                       "token_type": "bearer", "level": "school", "school_id": sid,
                       "expires_in": pair.expires_in, "scopes": list(pair.scopes)})
    return orjson.dumps({"api_url": str(fake.api_url), "tokens": tokens, "target": target,
                         "kill": kill, "per_page": PER_PAGE, "school_ids": fake.school_ids})


async def start(fake: FakeAssembly, target: str, kill: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), setup(fake, target, kill).decode(), cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def run_child(fake: FakeAssembly, target: str, kill: str) -> tuple[int, str]:
    proc = await start(fake, target, kill)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


@asynccontextmanager
async def opened(target: str) -> AsyncIterator[tuple[Any, Any]]:
    if is_dsn(target):
        async with PostgresSink(target) as sink:
            yield sink, sink.sync_state()
    else:
        async with SQLiteSink(target) as sink, SQLiteSyncState(target) as state:
            yield sink, state


async def snapshot(target: str, fake: FakeAssembly) -> dict[tuple[int, str], Any]:
    """(school, resource) -> (watermark, {id: raw record})."""
    out = {}
    async with opened(target) as (sink, state):
        for sid in fake.school_ids:
            for r in RESOURCES:
                mark = await state.get(sync_key(sid, OPS[r], {}))
                ids = await sink.ids(r, sid)
                out[(sid, r)] = (mark, {i: await sink.get(r, sid, i) for i in ids})
    return out


def expected_ids(fake: FakeAssembly) -> dict[tuple[int, str], set[int]]:
    return {(sid, r): set(fake.record_ids(sid, r)) for sid in fake.school_ids for r in RESOURCES}


def killed_job(output: str) -> tuple[int, str]:
    """The (school, resource) whose commit the child died in, from its ``kill`` line."""
    key = next(line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("kill "))
    sid, op, _ = key.split("/", 2)
    return int(sid), next(r for r, o in OPS.items() if o == op)


def check_first_sync(snap: dict[tuple[int, str], Any], fake: FakeAssembly) -> tuple[int, int]:
    """Each job is all (records and watermark) or nothing; returns (committed, empty)."""
    want = expected_ids(fake)
    committed = empty = 0
    for job, (mark, records) in snap.items():
        if mark is None:
            assert records == {}, f"{job}: records without their watermark"
            empty += 1
        else:
            assert set(records) == want[job], f"{job}: watermark without all its records"
            committed += 1
    return committed, empty


async def finish_and_check(fake: FakeAssembly, target: str) -> None:
    code, output = await run_child(fake, target, "none")
    assert code == 0, output
    snap = await snapshot(target, fake)
    assert {job: set(records) for job, (_, records) in snap.items()} == expected_ids(fake)
    assert all(mark is not None for mark, _ in snap.values())


@pytest.mark.parametrize("kill", ["page:1", "page:4", "page:9", "commit:1", "commit:4"])
async def test_killed_during_first_sync(fake: FakeAssembly, target: str, kill: str) -> None:
    code, output = await run_child(fake, target, kill)
    assert code == -signal.SIGKILL, output
    snap = await snapshot(target, fake)
    _, empty = check_first_sync(snap, fake)
    if kill.startswith("commit"):  # the killed job's commit never landed
        mark, records = snap[killed_job(output)]
        assert mark is None and records == {}
    assert empty >= 1
    await finish_and_check(fake, target)


@pytest.mark.parametrize("kill", ["page:2", "commit:2"])
async def test_killed_during_incremental_sync(fake: FakeAssembly, target: str,
                                              kill: str) -> None:
    code, output = await run_child(fake, target, "none")
    assert code == 0, output
    before = await snapshot(target, fake)
    for sid in fake.school_ids:
        fake.advance_clock(sid, 5)
        fake.change(sid, "students", count=PER_PAGE * 2)  # two pages of changes a school
        fake.change(sid, "staff_members", count=3)
    code, output = await run_child(fake, target, kill)
    assert code == -signal.SIGKILL, output
    after = await snapshot(target, fake)
    for job, (mark, records) in after.items():
        old_mark, old_records = before[job]
        if mark == old_mark:  # not committed: exactly the old records
            assert records == old_records, f"{job}: changed records without their watermark"
        else:  # committed: the new watermark with every change
            assert set(records) == set(old_records)
            assert records != old_records, f"{job}: a new watermark without its records"
    if kill.startswith("commit"):  # the killed job kept its old watermark and records
        assert after[killed_job(output)] == before[killed_job(output)]
    await finish_and_check(fake, target)


async def test_killed_from_outside_mid_transaction(fake: FakeAssembly, target: str) -> None:
    """The parent SIGKILLs the writer after its third page, while it keeps writing."""
    proc = await start(fake, target, "none")
    assert proc.stdout is not None
    pages = 0
    while pages < 3:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line, "the child ended early"
        pages += line.startswith(b"page")
    proc.send_signal(signal.SIGKILL)
    await proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    check_first_sync(await snapshot(target, fake), fake)
    await finish_and_check(fake, target)
