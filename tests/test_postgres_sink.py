"""PostgresSink and PostgresSyncState against a real PostgreSQL server."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from assembly_async import SinkError, Validators
from assembly_async.sinks import (
    IdLister,
    PostgresSink,
    PostgresSyncState,
    RunRecorder,
    Sink,
    SyncRun,
    TransactionalSink,
)


def run(school_id: int, records: int, ok: bool = True) -> SyncRun:
    return SyncRun(school_id=school_id, started_at=1.0, finished_at=2.0,
                   resources=("students",), records=records, removals=0, requests=1,
                   not_modified=0, retries=None, ok=ok, error=None if ok else "boom")


async def test_upsert_remove_raw_and_runs(pg_dsn: str) -> None:
    async with PostgresSink(pg_dsn) as sink:
        assert isinstance(sink, Sink) and isinstance(sink, RunRecorder)
        assert isinstance(sink, IdLister) and isinstance(sink, TransactionalSink)
        rec = {"id": 1, "first_name": "Ann", "nested": {"x": [1, 2]}, "unicode": "Zoë"}
        await sink.write(1, "students", [rec, {"id": 2, "first_name": "Bob"}])
        await sink.write(2, "students", [{"id": 1, "first_name": "Other school"}])
        assert await sink.count("students") == 3
        await sink.write(1, "students", [{"id": 1, "first_name": "Anne"}])  # upsert
        assert await sink.count("students", 1) == 2
        assert await sink.get("students", 1, 1) == {"id": 1, "first_name": "Anne"}
        assert await sink.get("students", 2, 1) == {"id": 1, "first_name": "Other school"}
        await sink.write(1, "staff_members", [rec])
        assert await sink.get("staff_members", 1, 1) == rec  # raw JSON kept as sent
        await sink.remove(1, "students", [2, 999])
        assert await sink.ids("students", 1) == {1}
        assert await sink.ids("students", 2) == {1}
        await sink.record_run(run(1, 5))
        await sink.record_run(run(1, 7, ok=False))
        await sink.record_run(run(2, 3))
        last = await sink.last_runs()
        assert last[1].records == 7 and not last[1].ok and last[1].error == "boom"
        assert last[2].records == 3 and last[2].resources == ("students",)
        assert last[2].started_at == 1.0 and last[2].finished_at == 2.0
    async with PostgresSink(pg_dsn) as again:  # persisted
        assert await again.count("students") == 2
        assert await again.count("no_such_table") == 0


async def test_typed_columns_and_impossible_values(pg_dsn: str) -> None:
    records = [
        {"id": 1, "year_code": "7", "enrolment_status": "C", "start_date": "2019-02-30",
         "end_date": "2024-07-20T00:00:00.000Z", "dob": "0000-00-00"},
        {"id": 2, "year_code": 7, "start_date": "2015-09-01", "end_date": None},
        {"id": 3},
    ]
    async with PostgresSink(pg_dsn) as sink:
        await sink.write(5, "students", records)
        await sink.write(5, "results", [{"id": 9, "student_id": "12", "subject_id": 4,
                                         "updated_at": "2024-03-01T10:15:00+01:00"}])
        for r in records:  # raw keeps every value exactly as sent, even impossible dates
            assert await sink.get("students", 5, r["id"]) == r
        pool = sink.pool()
        rows = {r["id"]: r for r in await pool.fetch(
            "SELECT id, year_code, enrolment_status, start_date, end_date FROM students")}
        assert rows[1]["year_code"] == "7" and rows[1]["start_date"] is None
        assert str(rows[1]["end_date"]) == "2024-07-20"
        assert rows[2]["year_code"] is None and str(rows[2]["start_date"]) == "2015-09-01"
        assert rows[3]["enrolment_status"] is None
        res = await pool.fetchrow("SELECT student_id, subject_id, updated_at FROM results")
        assert res["student_id"] is None and res["subject_id"] == 4  # "12" is not an integer
        assert res["updated_at"].isoformat() == "2024-03-01T09:15:00+00:00"
        # the typed columns answer the questions people ask
        assert await pool.fetchval(
            "SELECT count(*) FROM students WHERE school_id = 5 AND year_code = '7'") == 1


async def test_bad_records_and_names(pg_dsn: str) -> None:
    async with PostgresSink(pg_dsn) as sink:
        with pytest.raises(SinkError):
            await sink.write(1, "students", [{"id": 1}, {"name": "no id"}])
        with pytest.raises(SinkError):
            await sink.write(1, "students", [{"id": "abc"}])
        with pytest.raises(SinkError):
            await sink.write(1, "students", [{"id": 2**63}])
        assert await sink.count("students") == 0  # the failed batches rolled back
        with pytest.raises(ValueError):
            await sink.write(1, 'students"; DROP TABLE x; --', [{"id": 1}])
        with pytest.raises(ValueError):
            await sink.write(1, "sync_state", [{"id": 1}])
        # duplicates inside one page: the last one wins, as an upsert would
        await sink.write(1, "students", [{"id": 1, "v": 1}, {"id": 1, "v": 2}])
        assert await sink.get("students", 1, 1) == {"id": 1, "v": 2}
        # U+0000 is the one character JSONB cannot hold: it becomes U+FFFD
        await sink.write(1, "students", [{"id": 3, "name": "a\x00b", "x": "\\u0000"}])
        assert await sink.get("students", 1, 3) == {"id": 3, "name": "a\ufffdb", "x": "\\u0000"}
    with pytest.raises(ValueError):
        PostgresSink("/tmp/not-a-url.db")
    with pytest.raises(ValueError):
        await PostgresSink(pg_dsn).write(1, "students", [{"id": 1}])  # not open


async def test_password_never_shown(postgres: Any) -> None:
    dsn = f"postgresql://someone:s3cret-pw@127.0.0.1:{postgres.port}/nosuchdb"
    sink = PostgresSink(dsn)
    assert "s3cret" not in repr(sink) and "***" in repr(sink)
    assert "s3cret" not in repr(PostgresSyncState(dsn))
    with pytest.raises(SinkError) as info:
        await sink.open()
    assert "s3cret" not in str(info.value) and info.value.__cause__ is None
    closed = "postgresql://u:s3cret-pw@127.0.0.1:1/x?password=s3cret-pw"
    with pytest.raises(SinkError) as info2:
        await PostgresSink(closed, connect_timeout=5).open()
    assert "s3cret" not in str(info2.value)


async def test_job_transaction_is_invisible_until_commit(pg_dsn: str) -> None:
    async with PostgresSink(pg_dsn) as sink:
        state = sink.sync_state()
        other = PostgresSyncState(pg_dsn)  # same schema, its own pool: also shares
        async with other:
            assert await other.schema_instance() == sink.instance
            job = await sink.begin_job(1, "students", other)
            assert job is not None
        job = await sink.begin_job(1, "students", state)
        assert job is not None
        await job.write([{"id": i} for i in range(1, 2001)])
        assert await job._conn.fetchval(  # type: ignore[attr-defined]
            "SHOW idle_in_transaction_session_timeout") == "1h"
        await job.write([{"id": 5, "again": True}])  # an id the transaction already wrote
        await job.remove([7])
        assert len(await job.ids()) == 1999
        assert await sink.count("students") == 0 and await state.get("k") is None
        await job.commit("k", Validators(last_modified="Mon, 01 Jan 2024 00:00:00 GMT"))
        assert await sink.count("students", 1) == 1999
        assert await sink.get("students", 1, 5) == {"id": 5, "again": True}
        assert (await state.get("k")) == Validators(last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
        await job.rollback()  # after commit: nothing happens

        job2 = await sink.begin_job(1, "students", state)
        assert job2 is not None
        await job2.write([{"id": 1, "changed": True}, {"id": 5000}])
        await job2.remove([2])
        await job2.rollback()
        assert await sink.count("students", 1) == 1999
        assert await sink.get("students", 1, 1) == {"id": 1}
        # a state elsewhere gets no transaction: the engine then writes the usual way
        from assembly_async import MemorySyncState

        assert await sink.begin_job(1, "students", MemorySyncState()) is None
        # the pool is not leaking connections: every job gave its connection back
        assert sink.pool().get_size() - sink.pool().get_idle_size() == 0


async def test_newer_schema_is_refused(pg_dsn: str) -> None:
    async with PostgresSink(pg_dsn) as sink:
        await sink.pool().execute("UPDATE assembly_schema SET version = 99")
    with pytest.raises(SinkError, match="version 99"):
        await PostgresSink(pg_dsn).open()


async def test_many_openers_migrate_once(pg_dsn: str) -> None:
    sinks = [PostgresSink(pg_dsn, pool_size=2) for _ in range(5)]
    await asyncio.gather(*(s.open() for s in sinks))
    try:
        assert len({s.instance for s in sinks}) == 1
        assert sorted(s.found_version for s in sinks) == [0, 1, 1, 1, 1]
        await asyncio.gather(*(s.write(i, "students", [{"id": 1}]) for i, s in enumerate(sinks)))
        assert await sinks[0].count("students") == 5
    finally:
        await asyncio.gather(*(s.close() for s in sinks))


V0 = [
    "CREATE TABLE students (school_id bigint NOT NULL, id bigint NOT NULL, raw text NOT NULL, "
    "synced_at double precision NOT NULL, PRIMARY KEY (school_id, id))",
    "CREATE TABLE rooms (school_id bigint NOT NULL, id bigint NOT NULL, raw text NOT NULL, "
    "synced_at double precision NOT NULL, PRIMARY KEY (school_id, id))",
    "CREATE TABLE sync_runs (run_id bigserial PRIMARY KEY, school_id bigint NOT NULL, "
    "started_at double precision NOT NULL, finished_at double precision NOT NULL, "
    "resources text NOT NULL, records bigint NOT NULL, removals bigint NOT NULL, "
    "requests bigint NOT NULL, not_modified bigint NOT NULL, retries bigint, "
    "ok integer NOT NULL, error text)",
    """INSERT INTO students VALUES
        (1, 10, '{"id": 10, "year_code": "9", "start_date": "2019-02-30"}', 1700000000.5),
        (1, 11, '{"id": 11, "year_code": "10", "end_date": "2024-07-19"}', 1700000001),
        (2, 10, '{"id": 10, "first_name": "Zoë"}', 1700000002)""",
    """INSERT INTO rooms VALUES (1, 1, '{"id": 1, "code": "R1"}', 1700000000)""",
    """INSERT INTO sync_runs (school_id, started_at, finished_at, resources, records, removals,
        requests, not_modified, retries, ok, error)
        VALUES (1, 1700000000, 1700000010, 'students,rooms', 3, 0, 2, 0, NULL, 1, NULL)""",
]


async def test_migrates_a_version_0_schema(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        for statement in V0:
            await conn.execute(statement)
    finally:
        await conn.close()
    async with PostgresSink(pg_dsn) as sink:
        assert sink.found_version == 0
        pool = sink.pool()
        assert await pool.fetchval("SELECT version FROM assembly_schema") == 1
        types = dict(await pool.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'students'"))
        assert types["raw"] == "jsonb" and types["synced_at"] == "timestamp with time zone"
        assert types["year_code"] == "text" and types["start_date"] == "date"
        rows = {r["id"]: r for r in await pool.fetch(
            "SELECT id, year_code, start_date, end_date, synced_at FROM students "
            "WHERE school_id = 1")}
        assert rows[10]["year_code"] == "9" and rows[10]["start_date"] is None  # 30 February
        assert str(rows[11]["end_date"]) == "2024-07-19"
        assert rows[10]["synced_at"].timestamp() == 1700000000.5
        assert await sink.get("students", 2, 10) == {"id": 10, "first_name": "Zoë"}
        assert await sink.get("rooms", 1, 1) == {"id": 1, "code": "R1"}
        runs = await sink.last_runs()
        assert runs[1].resources == ("students", "rooms") and runs[1].ok
        assert runs[1].finished_at == 1700000010
        # the migrated tables take writes like new ones
        await sink.write(1, "students", [{"id": 10, "year_code": "11"}, {"id": 12}])
        assert await sink.count("students", 1) == 3
        await sink.record_run(run(1, 9))
        assert (await sink.last_runs())[1].records == 9
    async with PostgresSink(pg_dsn) as again:
        assert again.found_version == 1


def test_postgres_tests_never_skip_silently_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from assembly_async.testing.postgres import missing_postgres

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        missing_postgres("PostgreSQL server binaries not found")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        missing_postgres("PostgreSQL server binaries not found")


async def test_two_writers_of_one_school_take_turns(pg_dsn: str) -> None:
    """Two workers writing the same school's resource (two sinks, as on two machines):
    the second waits for the first's commit, then upserts over it."""
    async with PostgresSink(pg_dsn) as one, PostgresSink(pg_dsn) as two:
        first = await one.begin_job(7, "students", one.sync_state())
        second = await two.begin_job(7, "students", two.sync_state())
        assert first is not None and second is not None
        await first.write([{"id": 1, "v": "first"}, {"id": 2, "v": "first"}])
        blocked = asyncio.create_task(second.write([{"id": 2, "v": "second"}, {"id": 3}]))
        for _ in range(200):  # wait until the second writer queues on the lock
            waiting = await one.pool().fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if waiting:
                break
            await asyncio.sleep(0.05)
        assert waiting == 1 and not blocked.done()
        await first.commit("a", Validators(etag='"1"'))
        await blocked
        await second.commit("a", Validators(etag='"2"'))
        assert {i: (await one.get("students", 7, i) or {}).get("v") for i in (1, 2, 3)} == {
            1: "first", 2: "second", 3: None}
        assert await one.sync_state().get("a") == Validators(etag='"2"')


async def test_close_never_hangs_on_a_forgotten_job(pg_dsn: str) -> None:
    sink = PostgresSink(pg_dsn, close_timeout=1)
    await sink.open()
    job = await sink.begin_job(1, "students", sink.sync_state())
    assert job is not None
    await job.write([{"id": 1}])  # never committed nor rolled back
    await asyncio.wait_for(sink.close(), 30)
    async with PostgresSink(pg_dsn) as again:
        assert await again.count("students") == 0  # the server rolled it back
