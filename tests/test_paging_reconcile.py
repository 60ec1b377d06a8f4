"""Nothing is removed on the strength of a walk not proven complete: the bulk
engine's full-sync removals (SQLite, JSON Lines, memory sinks) and Snapshot's
full refresh, against a hostile server that misreads after a healthy first sync."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from _paging_server import HostileAssembly, Scenario

import assembly_async as aa
from assembly_async import MemorySyncState, Snapshot, SyncEngine
from assembly_async.auth import Token
from assembly_async.sinks import JSONLinesSink, MemorySink, SQLiteSink

SID = 7
N = 500
HEALTHY = Scenario(records=N)

#: Walks that cannot be proven complete, over a list from which 50 records left
#: since the healthy first sync. The old code trusted each of them and deleted
#: records it never saw (up to all 500); now only the 50 would go, and only after
#: a proven walk, so these remove nothing and say why.
LEFT = 450
MISREADS: dict[str, tuple[str, Scenario]] = {
    "v1-next-page-equal": ("1", HEALTHY.but(records=LEFT, cap=100, next_page="same")),
    "cap-200-pages-from-request": ("1.1", HEALTHY.but(
        records=LEFT, cap=200, total_pages="from_request", next_page="empty")),
    "no-paging-headers": ("1.1", HEALTHY.but(records=LEFT, cap=200, headers=False)),
    "empty-200-no-headers": ("1.1", HEALTHY.but(records=LEFT, body="blank", headers=False)),
    "total-says-more": ("1.1", HEALTHY.but(records=LEFT, cap=100, body="dry_after_2")),
    "list-changed-mid-walk": ("1.1", HEALTHY.but(records=LEFT, cap=100, body="grow_front")),
}


@pytest.fixture
async def server() -> AsyncIterator[HostileAssembly]:
    async with HostileAssembly(HEALTHY) as s:
        yield s


async def _client(server: HostileAssembly, version: str) -> aa.AssemblyClient:
    client = aa.AssemblyClient(api_url=server.url, api_version=version, retries=0,
                               rate_limit=None)
    await client.add_token(Token(access_token="t", refresh_token=None, token_type="bearer",
                                 level="school", expires_at=None, school_id=SID))
    return client


def _sink(kind: str, tmp_path: Path) -> Any:
    return {"memory": MemorySink(), "sqlite": SQLiteSink(tmp_path / "s.db"),
            "jsonl": JSONLinesSink(tmp_path / "out")}[kind]


@pytest.mark.parametrize("kind", ["memory", "sqlite", "jsonl"])
@pytest.mark.parametrize("misread", list(MISREADS))
async def test_a_misread_full_sync_removes_nothing(server: HostileAssembly, tmp_path: Path,
                                                   kind: str, misread: str) -> None:
    version, scenario = MISREADS[misread]
    sink = _sink(kind, tmp_path)
    await sink.open()
    try:
        async with await _client(server, version) as client:
            first = await SyncEngine(client, sink, MemorySyncState(),
                                     resources=["students"]).run([SID])
            assert first.ok and await sink.ids("students", SID) == set(range(1, N + 1))
            server.scenario = scenario
            # The sync state is lost: the next sync is a full one, which reconciles.
            state = MemorySyncState()
            again = await SyncEngine(client, sink, state, resources=["students"]).run([SID])
        assert await sink.ids("students", SID) >= set(range(1, N + 1))  # nothing removed
        job = again.schools[SID].resources["students"]
        assert job.removals == 0 and job.state == "failed" and not again.ok
        assert isinstance(job.error, aa.PagingError)
        assert "PagingError" in again.schools[SID].errors[0]
        assert len(state) == 0  # no watermark: the next run is a full sync again
    finally:
        await sink.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite", "jsonl"])
async def test_a_proven_full_sync_still_removes_what_left(server: HostileAssembly,
                                                          tmp_path: Path, kind: str) -> None:
    sink = _sink(kind, tmp_path)
    await sink.open()
    try:
        async with await _client(server, "1.1") as client:
            assert (await SyncEngine(client, sink, resources=["students"]).run([SID])).ok
            server.scenario = HEALTHY.but(records=450, cap=100)
            again = await SyncEngine(client, sink, resources=["students"]).run([SID])
        assert again.ok and again.schools[SID].removals == 50
        assert await sink.ids("students", SID) == set(range(1, 451))
    finally:
        await sink.close()


@pytest.mark.parametrize("misread", list(MISREADS))
async def test_a_misread_snapshot_refresh_changes_nothing(server: HostileAssembly,
                                                          misread: str) -> None:
    version, scenario = MISREADS[misread]
    async with await _client(server, version) as client:
        snap: Snapshot[Any] = Snapshot(client.school(SID), "students")
        await snap.refresh()
        assert sorted(snap.records) == list(range(1, N + 1)) and snap.last is not None
        assert snap.last.proven
        server.scenario = scenario
        snap.state = MemorySyncState()  # watermark lost: a full refresh
        with pytest.raises(aa.PagingError) as caught:
            await snap.refresh()
        assert sorted(snap.records) == list(range(1, N + 1))
        assert caught.value.url and "/students" in caught.value.url
        # a consistent list again: the refresh applies, removals included
        server.scenario = HEALTHY.but(records=LEFT)
        await snap.refresh()
        assert sorted(snap.records) == list(range(1, LEFT + 1))


async def test_an_unproven_walk_that_would_remove_nothing_is_no_error(
        server: HostileAssembly) -> None:
    """A first sync against a server that states no total: nothing is stored yet,
    so nothing would be removed, and the job succeeds (records upserted)."""
    server.scenario = HEALTHY.but(headers=False, cap=200)
    sink = MemorySink()
    async with await _client(server, "1.1") as client:
        report = await SyncEngine(client, sink, resources=["students"]).run([SID])
        snap: Snapshot[Any] = Snapshot(client.school(SID), "students")
        delta = await snap.refresh()
    assert report.ok and sink.count("students", SID) == N
    assert len(snap) == N and not delta.proven and delta.walk is not None
    assert delta.walk.unproven_because() == "no page stated a total"
