"""Child process of tests/test_crash.py: sync a fake Assembly into a sink whose
database also holds the sync state, and SIGKILL itself at a chosen point.

    python tests/_crash_child.py SETUP_JSON

SETUP_JSON: {"api_url", "tokens": [token responses], "target": DSN or SQLite path,
"kill": "none" | "page:N" | "commit:N", "per_page": int}. ``page:N`` dies right
after the N-th page went into its job's open transaction (between batches);
``commit:N`` dies in the N-th job's commit after the watermark was written into
the transaction, just before COMMIT is sent (it prints ``kill <key>`` first:
other jobs may commit meanwhile, that one must not). It prints ``page N`` after
each page so that a parent can kill it from outside too.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import sys
import time
from typing import Any

import orjson

from assembly_async import AssemblyClient, SQLiteSyncState
from assembly_async._sync import jobs
from assembly_async._sync.engine import SyncEngine
from assembly_async.auth import MemoryTokenStore, Token, school_key
from assembly_async.sinks import PostgresSink, SQLiteSink, is_dsn

RESOURCES = ("students", "staff_members")


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install_hooks(kill: str) -> None:
    kind, _, n = kill.partition(":")
    limit = int(n or 0)
    pages = [0]
    commits = [0]
    write = jobs.JobWriter.write

    async def counted_write(self: Any, records: list[dict[str, Any]]) -> None:
        await write(self, records)
        pages[0] += 1
        print(f"page {pages[0]}", flush=True)
        if kind == "page" and pages[0] == limit:
            die()

    jobs.JobWriter.write = counted_write  # type: ignore[method-assign]
    if kind != "commit":
        return
    # Task-local: with two jobs committing at once only the chosen one dies.
    armed: contextvars.ContextVar[bool] = contextvars.ContextVar("armed", default=False)
    from assembly_async.sinks import _pg_job, _sqlite_job

    for cls in (_pg_job.PostgresJob, _sqlite_job.SQLiteJob):
        original = cls.commit

        def make(original: Any) -> Any:
            async def commit(self: Any, key: str, validators: Any) -> None:
                if validators:
                    commits[0] += 1
                    armed.set(commits[0] == limit)
                    if armed.get():
                        print(f"kill {key}", flush=True)
                await original(self, key, validators)
            return commit

        cls.commit = make(original)  # type: ignore[method-assign]

    import aiosqlite
    from asyncpg.transaction import Transaction

    tx_commit = Transaction.commit

    async def pg_commit(self: Any) -> None:
        if armed.get():
            die()  # the watermark is in the transaction; COMMIT never leaves
        await tx_commit(self)

    Transaction.commit = pg_commit  # type: ignore[method-assign]
    execute = aiosqlite.Connection.execute

    def lite_execute(self: Any, sql: str, *args: Any) -> Any:
        if armed.get() and sql == "COMMIT":
            die()
        return execute(self, sql, *args)

    aiosqlite.Connection.execute = lite_execute  # type: ignore[method-assign]


async def main(setup: dict[str, Any]) -> int:
    install_hooks(setup["kill"])
    store = MemoryTokenStore()
    now = time.time()
    for response in setup["tokens"]:
        await store.set(school_key(response["school_id"]), Token.from_response(response, now=now))
    target = setup["target"]
    params = {r: {"per_page": setup["per_page"]} for r in RESOURCES}
    async with AssemblyClient(api_url=setup["api_url"], token_store=store) as client:
        if is_dsn(target):
            async with PostgresSink(target) as sink:
                engine = SyncEngine(client, sink, sink.sync_state(), resources=RESOURCES,
                                    params=params, concurrency=2)
                report = await engine.run(setup["school_ids"])
        else:
            async with SQLiteSink(target) as lite, SQLiteSyncState(target) as state:
                engine = SyncEngine(client, lite, state, resources=RESOURCES, params=params,
                                    concurrency=2)
                report = await engine.run(setup["school_ids"])
    print("done ok" if report.ok else f"done failed {report.failed}", flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(orjson.loads(sys.argv[1]))))
