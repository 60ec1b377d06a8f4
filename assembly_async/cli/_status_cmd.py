"""``assembly-async status``: the API's sync status and our last local sync, per school."""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

from .._core.errors import AssemblyError, StorageError
from ..sinks import PostgresSink, SQLiteSink, SyncRun, is_dsn, sink_for_path
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
from ._stores import open_store
from ._ui import UI

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser("status", help="API sync status and our last local sync per school")
    add_store_option(status)
    env_option(status, "--sink", metavar="PATH|URL",
               help="sink (a path or a postgresql:// URL) whose sync log to show")
    status.add_argument("--schools", metavar="IDS",
                        help="comma-separated school ids (default: every school in the store)")
    add_api_options(status)


def _check_existing_sink(text: str) -> Path:
    sink_path = Path(text)
    if not sink_path.exists():
        raise CLIError(f"--sink {text!r} does not exist")
    if isinstance(sink_for_path(sink_path), SQLiteSink) and not sink_path.is_file():
        raise CLIError(f"--sink {text!r} is not a file")
    return sink_path


def _when(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _shown(value: Any) -> str:
    when = _when(value)
    return "-" if when is None else when.strftime("%Y-%m-%d %H:%M:%S")


async def _runs(sink_arg: str | None) -> dict[int, SyncRun]:
    if not sink_arg:
        return {}
    sink: Any = (PostgresSink(sink_arg, pool_size=2) if is_dsn(sink_arg)
                 else sink_for_path(_check_existing_sink(sink_arg)))
    try:
        await sink.open()
        runs: dict[int, SyncRun] = await sink.last_runs()
        return runs
    except (StorageError, sqlite3.DatabaseError) as exc:
        raise CLIError(f"cannot read --sink {sink_arg!r}: {exc}") from None
    finally:
        await sink.close()


async def run(args: argparse.Namespace, ui: UI) -> int:
    store_arg = require(args, "token_store")
    wanted = parse_school_ids(args.schools)
    runs = await _runs(args.sink)
    schools: list[dict[str, Any]] = []
    async with open_store(store_arg, create=False) as store:
        client = make_client(args, store)
        ids = wanted if wanted is not None else await stored_school_ids(store)
        async with client:
            if ids:
                await probe(client)
            for sid in ids:
                entry: dict[str, Any] = {"school_id": sid, "api": None, "error": None}
                try:
                    st = await client.school(sid).details.status()
                    entry["api"] = {"last_sync_at": _when(st.last_sync_at),
                                    "last_sync_status": st.last_sync_status,
                                    "last_changes_at": _when(st.last_changes_at)}
                except AssemblyError as exc:
                    entry["error"] = exc
                run_ = runs.get(sid)
                entry["local"] = None if run_ is None else {
                    "finished_at": _when(run_.finished_at), "records": run_.records,
                    "ok": run_.ok}
                schools.append(entry)
    failed = sum(1 for s in schools if s["error"] is not None)
    if ui.json:
        ui.emit({"command": "status", "ok": not failed, "schools": schools})
        return 1 if failed else 0
    rows = []
    for s in schools:
        api, local, error = s["api"], s["local"], s["error"]
        rows.append([
            s["school_id"],
            *(["-", type(error).__name__, "-"] if api is None else
              [_shown(api["last_sync_at"]), api["last_sync_status"] or "-",
               _shown(api["last_changes_at"])]),
            *(["-", "-", "-"] if local is None else
              [_shown(local["finished_at"]), local["records"],
               "ok" if local["ok"] else "failed"]),
        ])
    ui.table("School status", ["school", "API last sync", "status", "last changes",
                               "local last sync", "records", "local status"], rows)
    ui.failures([(f"school {s['school_id']}", " ".join(str(s["error"]).split()))
                 for s in schools if s["error"] is not None])
    return 1 if failed else 0
