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
