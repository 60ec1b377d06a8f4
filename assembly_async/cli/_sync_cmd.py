"""``assembly-async sync``: schools from a token store into a sink."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._sync.engine import SyncEngine
from ..sinks import PostgresSink, SQLiteSink, is_dsn, sink_for_path
from ._common import (
    CLIError,
    add_api_options,
    add_store_option,
    env_option,
    make_client,
    parse_school_ids,
    probe,
    require,
    stored_school_ids,
)
from ._progress import Progress
from ._stores import open_state, open_store, shown
from ._ui import UI, report_json

__all__ = ["known_resources", "parse_resources", "register", "run"]


def known_resources() -> list[str]:
    """Resources ``sync`` accepts: conditional school lists with a flat name."""
    from .._client.delta import CHANGE_OPERATIONS

    return [name for name in CHANGE_OPERATIONS if "." not in name]


def parse_resources(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise CLIError("--resources is empty")
    known = known_resources()
    for name in names:
        if name not in known:
            raise CLIError(f"unknown resource {name!r}; choose from: {', '.join(known)}")
    return names


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = sub.add_parser("sync", help="sync schools from a token store into a sink",
                          description="Sync every school of the token store (or --schools) "
                          "into a sink: a full sync the first time, then only the changes.")
    add_store_option(sync)
    env_option(sync, "--sink", metavar="PATH|URL",
               help="postgresql://user@host/db: PostgreSQL (the sync state in the same "
               "database); *.db: an SQLite file; any other path: a directory of JSON Lines "
               "files")
    sync.add_argument("--resources", default="students,staff_members", metavar="NAMES",
                      help="comma-separated resources to sync (default: students,staff_members)")
    sync.add_argument("--schools", metavar="IDS",
                      help="comma-separated school ids (default: every school in the store)")
    env_option(sync, "--state", metavar="PATH|URL",
               help="sync state holding the watermarks: an SQLite file or a redis:// URL "
               "(default: the sink's own database, or a file inside a JSON Lines sink)")
    sync.add_argument("--concurrency", type=int, default=16, metavar="N",
                      help="schools synced at once (default: 16)")
    add_api_options(sync)


def _check_sink_path(text: str) -> Path:
    sink_path = Path(text)
    if not sink_path.parent.is_dir():
        raise CLIError(f"directory of --sink {text!r} does not exist")
    is_db = isinstance(sink_for_path(sink_path), SQLiteSink)
    if sink_path.exists() and sink_path.is_dir() == is_db:
        raise CLIError(f"--sink {text!r}: a .db path must be a file, anything else a directory")
    return sink_path


async def run(args: argparse.Namespace, ui: UI) -> int:
    store_arg, sink_arg = require(args, "token_store"), require(args, "sink")
    resources = parse_resources(args.resources)
    wanted = parse_school_ids(args.schools)
    postgres = is_dsn(sink_arg)
    sink_path = None if postgres else _check_sink_path(sink_arg)
    if args.concurrency < 1:
        raise CLIError("--concurrency must be >= 1")
    async with open_store(store_arg, create=False) as store:
        client = make_client(args, store)
        ids = wanted if wanted is not None else await stored_school_ids(store)
        if not ids:
            raise CLIError(f"no school tokens in {shown(store_arg)!r}")
        # A PostgreSQL sync job holds a connection from its first write to its commit.
        sink: Any = (PostgresSink(sink_arg, pool_size=args.concurrency + 2) if postgres
                     else sink_for_path(sink_path or Path(".")))
        where = sink.dsn if postgres else sink_arg  # never a password
        async with client:
            await probe(client)
            ui.say(f"Syncing {len(ids)} schools x {', '.join(resources)} into {where}...")
            await sink.open()
            try:
                async with open_state(args.state, sink_path, sink=sink) as state:
                    engine = SyncEngine(client, sink, state, resources=resources,
                                        concurrency=args.concurrency)
                    with Progress(ui, ids, resources) as progress:
                        engine.on_progress = progress.event
                        report = await engine.run(ids)
            finally:
                await sink.close()
    if ui.json:
        ui.emit({"command": "sync", "sink": where, **report_json(report)})
    else:
        ui.report_table(f"Sync into {where}", report)
    return 0 if report.ok else 1
