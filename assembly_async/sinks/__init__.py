"""Sinks: where :func:`~assembly_async.sync_many` puts the records it syncs.

:class:`SQLiteSink` (the embedded default), :class:`JSONLinesSink` (an
append-only log per resource) and :class:`MemorySink`; write your own by
implementing :class:`Sink`. :func:`open_sink` picks one from a path.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._base import IdLister, RunRecorder, Sink, SyncRun, check_resource_name, record_key
from ._jsonl import JSONLinesSink
from ._memory import MemorySink
from ._sqlite import SQLiteSink

__all__ = [
    "IdLister",
    "JSONLinesSink",
    "MemorySink",
    "RunRecorder",
    "SQLiteSink",
    "Sink",
    "SyncRun",
    "check_resource_name",
    "record_key",
    "sink_for_path",
]

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def sink_for_path(path: str | os.PathLike[str]) -> SQLiteSink | JSONLinesSink:
    """``*.db``/``*.sqlite`` → :class:`SQLiteSink`; anything else is a JSONL directory."""
    p = Path(path)
    if p.suffix.lower() in _SQLITE_SUFFIXES:
        return SQLiteSink(p)
    return JSONLinesSink(p)
