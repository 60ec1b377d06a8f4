"""Every file the SDK creates that holds tokens or pupils' data is 0600, sidecars
included; a corrupted file is a typed error naming it; aiosqlite's DEBUG log
never shows the tokens or the records."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import assembly_async as aa
from assembly_async.auth import SQLiteTokenStore, Token, school_key
from assembly_async.sinks import JSONLinesSink, SQLiteSink, SyncRun

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")

PUPIL = "Philippa-Zanzibar-Quillfeather"


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The usual umask (022): what would make new files world-readable."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def private_files(directory: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in directory.iterdir() if p.is_file()}


def token() -> Token:
    return Token(access_token="SECRET-access-files", refresh_token="SECRET-refresh-files",
                 token_type="bearer", level="school", expires_at=time.time() + 3600,
                 school_id=1)


async def test_token_store_and_its_sidecars_are_private(tmp_path: Path) -> None:
    async with SQLiteTokenStore(tmp_path / "tokens.db") as store:
        await store.set(school_key(1), token())
        files = private_files(tmp_path)
    assert {"tokens.db", "tokens.db-wal", "tokens.db-shm"} <= set(files)
    assert set(files.values()) == {0o600}, files


async def test_sqlite_sink_and_its_sidecars_are_private(tmp_path: Path) -> None:
    async with SQLiteSink(tmp_path / "schools.db") as sink:
        await sink.write(1, "students", [{"id": 1, "first_name": PUPIL}])
        files = private_files(tmp_path)
    assert {"schools.db", "schools.db-wal", "schools.db-shm"} <= set(files)
    assert set(files.values()) == {0o600}, files


async def test_sync_state_is_private(tmp_path: Path) -> None:
    async with aa.SQLiteSyncState(tmp_path / "state.db") as state:
        await state.set("k", aa.Validators(last_modified="Thu, 09 Mar 2017 18:05:23 GMT"))
        files = private_files(tmp_path)
    assert "state.db" in files and set(files.values()) == {0o600}, files


async def test_json_lines_files_are_private(tmp_path: Path) -> None:
    directory = tmp_path / "out"
    async with JSONLinesSink(directory) as sink:
        await sink.write(1, "students", [{"id": 1, "first_name": PUPIL}])
        await sink.remove(1, "students", [1])
        await sink.record_run(SyncRun(school_id=1, started_at=0, finished_at=1,
                                      resources=("students",), records=1, removals=1,
                                      requests=1, not_modified=0, retries=0, ok=True))
    assert mode(directory) == 0o700
    files = private_files(directory)
    assert set(files) == {"students.jsonl", "sync_runs.jsonl"}
    assert set(files.values()) == {0o600}, files


async def test_an_existing_shared_file_keeps_its_mode_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "schools.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        async with SQLiteSink(path):
            pass
    assert mode(path) == 0o644
    assert "readable by other users" in caplog.text and str(path) in caplog.text


@pytest.mark.parametrize("opener", ["token store", "sink", "sync state"])
async def test_a_corrupted_file_is_a_typed_error_naming_it(tmp_path: Path, opener: str) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not an sqlite database, just bytes " * 200)
    with pytest.raises(aa.StorageError) as info:
        if opener == "token store":
            async with SQLiteTokenStore(path):
                pass
        elif opener == "sink":
            async with SQLiteSink(path):
                pass
        else:
            async with aa.SQLiteSyncState(path):
                pass
    assert info.value.path == str(path) and str(path) in str(info.value)
    assert "not a database" in str(info.value)


async def test_a_damaged_table_is_a_typed_error_on_read(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    async with SQLiteTokenStore(path) as store:
        for sid in range(1, 200):
            await store.set(school_key(sid), token())
    raw = bytearray(path.read_bytes())
    # Keep the 100-byte header and the first page (the schema), garble the rest.
    page = int.from_bytes(raw[16:18], "big") or 65536
    raw[page:] = b"\xff" * (len(raw) - page)
    path.write_bytes(bytes(raw))
    with pytest.raises(aa.StorageError) as info:
        async with SQLiteTokenStore(path) as store:
            await store.get(school_key(7))
    assert info.value.path == str(path) and "malformed" in str(info.value)


async def test_a_corrupted_json_lines_file_is_a_typed_error(tmp_path: Path) -> None:
    async with JSONLinesSink(tmp_path) as sink:
        sink.path("students").write_bytes(b'{"op": "upsert", "school_id": 1, "id": 1}\n'
                                          b'{"first_name": "' + PUPIL.encode() + b'", \n')
        with pytest.raises(aa.StorageError) as info:
            await sink.ids("students", 1)
    assert "line 2" in str(info.value) and PUPIL not in str(info.value)


async def test_aiosqlite_debug_logs_never_show_tokens_or_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("aiosqlite").setLevel(logging.DEBUG)
        try:
            async with SQLiteTokenStore(tmp_path / "t.db") as store:
                await store.set(school_key(1), token())
                await store.compare_and_set(school_key(1), token(), token())
                await store.get_many([school_key(1)])
            async with SQLiteSink(tmp_path / "s.db") as sink:
                await sink.write(1, "students", [{"id": 1, "first_name": PUPIL}])
                assert await sink.get("students", 1, 1) == {"id": 1, "first_name": PUPIL}
        finally:
            logging.getLogger("aiosqlite").setLevel(logging.NOTSET)
    records = [r for r in caplog.records if r.name == "aiosqlite"]
    assert any("executemany" in r.getMessage() for r in records)  # it did log, without data
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("SECRET-access-files", "SECRET-refresh-files", PUPIL):
        assert secret not in text
