"""MemorySink: records in dicts (tests, benchmarks, small scripts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._base import SyncRun, check_resource_name, record_key

__all__ = ["MemorySink"]


class MemorySink:
    """``data[resource][(school_id, id)] = record``; removals delete; runs kept in a list.

    ``writes`` counts every record written (an upsert of an existing id counts
    again), which lets tests check that nothing was written twice.
    """

    def __init__(self) -> None:
        self.data: dict[str, dict[tuple[int, Any], dict[str, Any]]] = {}
        self.removed: dict[str, list[tuple[int, Any]]] = {}
        self.runs: list[SyncRun] = []
        self.writes = 0
        self.opened = False
        self.closed = False

    async def open(self) -> None:
        self.opened = True

    async def close(self) -> None:
        self.closed = True

    async def write(self, school_id: int, resource: str, records: list[dict[str, Any]]) -> None:
        table = self.data.setdefault(check_resource_name(resource), {})
        for r in records:
            table[(school_id, record_key(r))] = r
        self.writes += len(records)

    async def remove(self, school_id: int, resource: str, ids: Sequence[Any]) -> None:
        table = self.data.setdefault(check_resource_name(resource), {})
        gone = self.removed.setdefault(resource, [])
        for i in ids:
            table.pop((school_id, i), None)
            gone.append((school_id, i))

    async def record_run(self, run: SyncRun) -> None:
        self.runs.append(run)

    async def last_runs(self) -> dict[int, SyncRun]:
        return {run.school_id: run for run in self.runs}

    async def ids(self, resource: str, school_id: int) -> set[Any]:
        return {i for (s, i) in self.data.get(resource, {}) if s == school_id}

    def count(self, resource: str, school_id: int | None = None) -> int:
        table = self.data.get(resource, {})
        if school_id is None:
            return len(table)
        return sum(1 for (s, _) in table if s == school_id)
