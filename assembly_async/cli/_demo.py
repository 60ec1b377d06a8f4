"""``assembly-async demo``: the embedded fake server, synced twice into SQLite."""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from .._client.client import AssemblyClient
from .._sync.engine import SyncEngine, SyncReport
from ..auth import MemoryTokenStore, Token, TokenStore
from ..sinks import SQLiteSink
from ._common import CLIError
from ._progress import Progress
from ._ui import UI, report_json

__all__ = ["DEMO_RESOURCES", "fake_client", "load_fake_tokens", "register", "run", "run_demo"]

DEMO_RESOURCES = ("students", "staff_members")

#: Small everything-else sizes: the demo syncs students and staff only.
DEMO_SIZES: dict[str, Any] = {
    "students_per_school": 150,
    "staff_per_school": 25,
    "teaching_groups_per_year": 2,
    "registration_groups_per_year": 1,
    "attendance_days": 1,
    "results_per_student": 1,
    "calendar_events": 4,
    "rooms": 3,
    "exclusions_per_school": 1,
    "user_groups": 1,
}


async def load_fake_tokens(fake: Any, store: TokenStore) -> None:
    """Put every school token pair of a :class:`FakeAssembly` into ``store``."""
    from ..auth import school_key

    now = time.time()
    for sid in fake.school_ids:
        pair = fake.school_token(sid)
        token = Token.from_response(
            {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
             "token_type": "bearer", "level": "school", "school_id": sid,
             "expires_in": pair.expires_in, "scopes": list(pair.scopes)},
            now=now,
        )
        await store.set(school_key(sid), token)


async def fake_client(fake: Any, **options: Any) -> AssemblyClient:
    """An :class:`AssemblyClient` pointed at a running fake, with all its school tokens."""
    store = MemoryTokenStore()
    await load_fake_tokens(fake, store)
    return AssemblyClient(api_url=str(fake.api_url), oauth_url=str(fake.oauth_url),
                          client_id=fake.client_id, client_secret=fake.client_secret,
                          token_store=store, **options)


def mutate(fake: Any, rng: random.Random) -> dict[str, int]:
    """Some changes, additions and leavers on about two thirds of the schools;
    the rest stay untouched (so their second sync is a 304)."""
    counts = {"changed": 0, "added": 0, "left": 0, "untouched": 0}
    for i, sid in enumerate(fake.school_ids):
        if i % 3 == 2:
            counts["untouched"] += 1
            continue
        counts["changed"] += len(fake.change(sid, "students", count=rng.randint(1, 6)))
        counts["added"] += len(fake.add(sid, "students", count=rng.randint(0, 2)))
        counts["left"] += len(fake.leave(sid, "students", count=rng.randint(0, 2)))
        if i % 2 == 0:
            counts["changed"] += len(fake.change(sid, "staff_members", count=1))
    return counts


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="sync an embedded fake server into SQLite, twice",
                          description="Start a fake Assembly in this process, sync it into "
                          "SQLite through scripted faults, change its data, sync again.")
    demo.add_argument("--schools", type=int, default=20, metavar="N",
                      help="number of fake schools, 1 to 1000 (default: 20)")
    demo.add_argument("--db", metavar="PATH",
                      help="SQLite file to keep (default: a temporary file)")
    demo.add_argument("--seed", type=int, default=0, metavar="N",
                      help="seed of the fake's data and changes (default: 0)")
    demo.add_argument("--concurrency", type=int, default=16, metavar="N",
                      help="schools synced at once (default: 16)")


async def run(args: argparse.Namespace, ui: UI) -> int:
    if args.schools < 1 or args.schools > 1000:
        raise CLIError("--schools must be between 1 and 1000")
    if args.concurrency < 1:
        raise CLIError("--concurrency must be >= 1")
    return await run_demo(ui, schools=args.schools, db=args.db, seed=args.seed,
                          concurrency=args.concurrency)


async def _sync(ui: UI, engine: SyncEngine, school_ids: list[int], label: str) -> SyncReport:
    ui.say(f"{label}: syncing {len(school_ids)} schools x {', '.join(engine.resources)}...")
    with Progress(ui, school_ids, engine.resources) as progress:
        engine.on_progress = progress.event
        return await engine.run(school_ids)


async def run_demo(ui: UI, *, schools: int, db: str | None, seed: int = 0,
                   concurrency: int = 16) -> int:
    """The whole demo; returns the exit code."""
    from .._client.syncstate import MemorySyncState
    from ..testing import FakeAssembly

    with tempfile.TemporaryDirectory(prefix="assembly-demo-") as tmp:
        path = Path(db) if db else Path(tmp) / "demo.db"
        ui.say(f"Starting the embedded fake Assembly server with {schools} schools...")
        # Real budget (600 requests per 5 minutes per school), on a clock 60x faster.
        async with FakeAssembly(schools=schools, seed=seed, rate_limit=600, rate_window=300.0,
                                time_scale=60.0, **DEMO_SIZES) as fake:
            client = await fake_client(fake)
            sink = SQLiteSink(path)
            state = MemorySyncState()
            async with client, sink:
                engine = SyncEngine(client, sink, state, resources=DEMO_RESOURCES,
                                    params={"students": {"demographics": True}},
                                    concurrency=concurrency)
                ids = list(fake.school_ids)
                # A flaky network, scripted: the first calls meet a 503, a connection
                # reset mid-body and a proxy's HTML 502 page. GETs are retried.
                fake.faults.script("/students", ["503", "reset"])
                fake.faults.script("/staff_members", ["html502"])
                ui.say("Injected faults: a 503, a connection reset and an HTML 502 page")
                first = await _sync(ui, engine, ids, "First sync (full)")
                if not ui.json:
                    ui.report_table("First sync (full)", first)
                counts = mutate(fake, random.Random(seed))
                ui.say(f"Changed the fake's data: {counts['changed']} records changed, "
                       f"{counts['added']} students added, {counts['left']} students left, "
                       f"{counts['untouched']} schools untouched")
                second = await _sync(ui, engine, ids, "Second sync (incremental)")
                if not ui.json:
                    ui.report_table("Second sync (incremental)", second)
                stored = {r: await sink.count(r) for r in DEMO_RESOURCES}
            if ui.json:
                ui.emit({"command": "demo", "ok": first.ok and second.ok,
                         "db": str(path) if db else None, "changes": counts, "stored": stored,
                         "first": report_json(first), "second": report_json(second)})
                return 0 if first.ok and second.ok else 1
            where = str(path) if db else "a temporary file (pass --db PATH to keep it)"
            ui.line(f"SQLite sink: {stored['students']} students, {stored['staff_members']} "
                    f"staff members in {where}")
            ui.line(f"Requests: {first.requests} for the full sync ({first.retries} retried "
                    f"after the injected faults), {second.requests} for the incremental one "
                    f"({second.not_modified} answered 304 Not Modified)")
    return 0 if first.ok and second.ok else 1
