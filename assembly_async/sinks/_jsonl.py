"""JSONLinesSink: append-only JSON Lines files, one per resource."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import attrs
import orjson

from .._core.errors import ConfigurationError, StorageError
from .._core.storage import open_private
from ._base import SyncRun, check_resource_name, record_json, record_key

__all__ = ["JSONLinesSink"]


class JSONLinesSink:
    """Records as JSON Lines in ``directory/<resource>.jsonl``.

    Every line is one event::

        {"op": "upsert", "school_id": 1, "id": 15, "synced_at": 1.7e9, "record": {...}}
        {"op": "remove", "school_id": 1, "id": 16, "synced_at": 1.7e9}

    The files are a log: the current state of ``(school_id, id)`` is its last
    line (an upsert, or a ``remove`` tombstone). Runs go to
    ``sync_runs.jsonl``. File I/O runs in a worker thread (never blocking the
    event loop); each call's lines are written and flushed together.

    The files hold pupils' data: each is created with mode 0600, and the
    directory, when the sink creates it, with 0700. An unreadable line or a
    failing disk raises :class:`StorageError` naming the file.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._files: dict[str, IO[bytes]] = {}
        self._lock = asyncio.Lock()
        self._open = False

    def __repr__(self) -> str:
        return f"JSONLinesSink({str(self.directory)!r})"

    def _mkdir(self) -> None:
        if self.directory.exists() and not self.directory.is_dir():
            raise ConfigurationError(f"{str(self.directory)!r} is not a directory")
        if not self.directory.parent.is_dir():
            raise ConfigurationError(f"directory {str(self.directory.parent)!r} does not exist")
        self.directory.mkdir(mode=0o700, exist_ok=True)

    async def open(self) -> None:
        """Create the directory if needed (its parent must exist)."""
        await asyncio.to_thread(self._mkdir)
        self._lock = asyncio.Lock()
        self._open = True

    def _close_files(self) -> None:
        files, self._files = self._files, {}
        for f in files.values():
            f.close()

    async def close(self) -> None:
        """Flush and close every file (idempotent)."""
        self._open = False
        await asyncio.to_thread(self._close_files)

    async def __aenter__(self) -> JSONLinesSink:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def path(self, resource: str) -> Path:
        """The file of one resource (``sync_runs`` for the run log)."""
        return self.directory / f"{resource}.jsonl"

    def _append(self, name: str, lines: list[bytes]) -> None:
        if not self._open:
            raise ConfigurationError("JSONLinesSink is not open: call open() or use async with")
        path = self.path(name)
        f = self._files.get(name)
        if f is None:
            f = self._files[name] = open_private(path, "JSON Lines file")
        try:
            f.write(b"".join(lines))
            f.flush()
        except OSError as exc:
            raise StorageError(f"cannot write {str(path)!r}: {exc.strerror or exc}",
                               path=str(path)) from None

    async def write(self, school_id: int, resource: str, records: list[dict[str, Any]]) -> None:
        """Append one upsert line per record."""
        if not records:
            return
        check_resource_name(resource)
        now = time.time()
        lines = [
            orjson.dumps({"op": "upsert", "school_id": school_id, "id": record_key(r),
                          "synced_at": now, "record": orjson.Fragment(record_json(r))})
            + b"\n"
            for r in records
        ]
        async with self._lock:
            await asyncio.to_thread(self._append, resource, lines)

    async def remove(self, school_id: int, resource: str, ids: Sequence[Any]) -> None:
        """Append one tombstone line per id."""
        if not ids:
            return
        check_resource_name(resource)
        now = time.time()
        lines = [
            orjson.dumps({"op": "remove", "school_id": school_id, "id": i, "synced_at": now})
            + b"\n"
            for i in ids
        ]
        async with self._lock:
            await asyncio.to_thread(self._append, resource, lines)

    async def record_run(self, run: SyncRun) -> None:
        """Append the run to ``sync_runs.jsonl``."""
        line = orjson.dumps(attrs.asdict(run)) + b"\n"
        async with self._lock:
            await asyncio.to_thread(self._append, "sync_runs", [line])

    def _read_runs(self) -> dict[int, SyncRun]:
        out: dict[int, SyncRun] = {}
        path = self.path("sync_runs")
        if not path.exists():
            return out
        for d in _events(path):
            try:
                d["resources"] = tuple(d.get("resources") or ())
                run = SyncRun(**d)
            except (TypeError, ValueError):
                raise StorageError(f"{str(path)!r} holds a line that is not a sync run",
                                   path=str(path)) from None
            out[run.school_id] = run
        return out

    async def last_runs(self) -> dict[int, SyncRun]:
        """The latest run of every school in ``sync_runs.jsonl``."""
        async with self._lock:
            return await asyncio.to_thread(self._read_runs)

    def _live_ids(self, resource: str, school_id: int) -> set[Any]:
        live: set[Any] = set()
        path = self.path(resource)
        if not path.exists():
            return live
        for event in _events(path):
            if event.get("school_id") != school_id:
                continue
            if event.get("op") == "remove":
                live.discard(event.get("id"))
            else:
                live.add(event.get("id"))
        return live

    async def ids(self, resource: str, school_id: int) -> set[Any]:
        """Ids of one school's ``resource`` whose last line is an upsert (replays the log)."""
        check_resource_name(resource)
        async with self._lock:
            return await asyncio.to_thread(self._live_ids, resource, school_id)


def _events(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON object of every non-blank line of ``path``; a line that is not
    one raises :class:`StorageError` (its text is pupils' data: not quoted)."""
    try:
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    event = None
                if not isinstance(event, dict):
                    raise StorageError(f"line {number} of {str(path)!r} is not a JSON object",
                                       path=str(path))
                yield event
    except OSError as exc:
        raise StorageError(f"cannot read {str(path)!r}: {exc.strerror or exc}",
                           path=str(path)) from None
