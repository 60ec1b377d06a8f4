"""Sinks: where :func:`~assembly_async.sync_many` puts the records it syncs.

:class:`SQLiteSink` (the embedded default), :class:`PostgresSink` (the
``[postgres]`` extra), :class:`JSONLinesSink` (an append-only log per
resource) and :class:`MemorySink`; write your own by implementing
:class:`Sink`. :func:`sink_for_path` picks one from a path,
:func:`sink_for_target` from a path or a ``postgresql://`` URL.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._base import (
    IdLister,
    JobTransaction,
    RunRecorder,
    Sink,
    SyncRun,
    TransactionalSink,
    check_resource_name,
    has_usable_id,
    record_json,
    record_key,
)
from ._jsonl import JSONLinesSink
from ._memory import MemorySink
from ._pg_conn import is_dsn, redact_dsn
from ._pg_state import PostgresSyncState
from ._postgres import PostgresSink
from ._sqlite import SQLiteSink

__all__ = [
    "IdLister",
    "JSONLinesSink",
    "JobTransaction",
    "MemorySink",
    "PostgresSink",
    "PostgresSyncState",
    "RunRecorder",
    "SQLiteSink",
    "Sink",
    "SyncRun",
    "TransactionalSink",
    "check_resource_name",
    "has_usable_id",
    "is_dsn",
    "record_json",
    "record_key",
    "redact_dsn",
    "sink_for_path",
    "sink_for_target",
]

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def sink_for_path(path: str | os.PathLike[str]) -> SQLiteSink | JSONLinesSink:
    """``*.db``/``*.sqlite`` → :class:`SQLiteSink`; anything else is a JSONL directory."""
    p = Path(path)
    if p.suffix.lower() in _SQLITE_SUFFIXES:
        return SQLiteSink(p)
    return JSONLinesSink(p)


def sink_for_target(
    target: str | os.PathLike[str], *, pool_size: int = 10
) -> PostgresSink | SQLiteSink | JSONLinesSink:
    """A ``postgresql://`` URL → :class:`PostgresSink`; a path as :func:`sink_for_path`."""
    if is_dsn(target):
        return PostgresSink(str(target), pool_size=pool_size)
    return sink_for_path(target)
