"""SQLiteSink, JSONLinesSink and MemorySink."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from assembly_async import ConfigurationError
from assembly_async.sinks import (
    JSONLinesSink,
    MemorySink,
    RunRecorder,
    Sink,
    SQLiteSink,
    SyncRun,
    sink_for_path,
)


def run(school_id: int, records: int, ok: bool = True) -> SyncRun:
    return SyncRun(school_id=school_id, started_at=1.0, finished_at=2.0,
                   resources=("students",), records=records, removals=0, requests=1,
                   not_modified=0, retries=None, ok=ok, error=None if ok else "boom")


async def test_sqlite_upsert_remove_and_raw(tmp_path: Path) -> None:
    async with SQLiteSink(tmp_path / "s.db") as sink:
        assert isinstance(sink, Sink) and isinstance(sink, RunRecorder)
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
    # persisted
    async with SQLiteSink(tmp_path / "s.db") as again:
        assert await again.count("students") == 2
        assert await again.count("no_such_table") == 0


async def test_sqlite_rejects_bad_names_and_records(tmp_path: Path) -> None:
    async with SQLiteSink(tmp_path / "s.db") as sink:
        with pytest.raises(ConfigurationError):
            await sink.write(1, 'students"; DROP TABLE x; --', [{"id": 1}])
        with pytest.raises(ConfigurationError):
            await sink.write(1, "sync_runs", [{"id": 1}])
        with pytest.raises(ValueError):
            await sink.write(1, "students", [{"name": "no id"}])
        assert await sink.count("students") == 0  # the failed batch rolled back
    with pytest.raises(ConfigurationError):
        await SQLiteSink(tmp_path / "missing" / "s.db").open()
    with pytest.raises(ConfigurationError):
        await SQLiteSink(tmp_path / "s.db").write(1, "students", [{"id": 1}])  # not open


async def test_jsonl_lines_and_tombstones(tmp_path: Path) -> None:
    directory = tmp_path / "out"
    async with JSONLinesSink(directory) as sink:
        await sink.write(1, "students", [{"id": 1, "a": 1}, {"id": 2, "a": 2}])
        await sink.write(1, "students", [{"id": 1, "a": 3}])
        await sink.remove(1, "students", [2])
        await sink.record_run(run(1, 3))
        assert (await sink.last_runs())[1].records == 3
    lines = [orjson.loads(x) for x in (directory / "students.jsonl").read_bytes().splitlines()]
    assert [(x["op"], x["id"]) for x in lines] == [
        ("upsert", 1), ("upsert", 2), ("upsert", 1), ("remove", 2)]
    assert lines[2]["record"] == {"id": 1, "a": 3}
    assert "record" not in lines[3] and lines[3]["school_id"] == 1
    # last line per (school, id) is the current state
    current: dict[tuple[int, int], dict[str, int] | None] = {}
    for x in lines:
        current[(x["school_id"], x["id"])] = x.get("record")
    assert current == {(1, 1): {"id": 1, "a": 3}, (1, 2): None}
    # appending across opens
    async with JSONLinesSink(directory) as sink:
        await sink.write(2, "students", [{"id": 1}])
    assert len((directory / "students.jsonl").read_bytes().splitlines()) == 5


async def test_jsonl_bad_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError):
        await JSONLinesSink(tmp_path / "file").open()
    with pytest.raises(ConfigurationError):
        await JSONLinesSink(tmp_path / "a" / "b").open()


async def test_memory_sink_and_factory(tmp_path: Path) -> None:
    sink = MemorySink()
    await sink.write(1, "students", [{"id": 1}, {"id": 2}])
    await sink.remove(1, "students", [1])
    assert sink.count("students") == 1 and sink.writes == 2
    assert isinstance(sink_for_path(tmp_path / "x.db"), SQLiteSink)
    assert isinstance(sink_for_path(tmp_path / "x.sqlite"), SQLiteSink)
    assert isinstance(sink_for_path(tmp_path / "dir"), JSONLinesSink)
