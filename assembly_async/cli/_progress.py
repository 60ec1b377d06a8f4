"""Live progress of a sync, on stderr: rich bars on a terminal, else one plain
line per finished school (none in ``--json`` mode unless stderr is a terminal)."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from .._sync.engine import ProgressEvent
from ._ui import UI

__all__ = ["PER_SCHOOL_BARS", "Progress"]

#: Above this many schools the live display shows one overall bar, not one per school.
PER_SCHOOL_BARS = 40


class Progress:
    """Use as a context manager; pass :meth:`event` as the engine's ``on_progress``."""

    def __init__(self, ui: UI, school_ids: Sequence[int], resources: Sequence[str]) -> None:
        self.ui = ui
        self.jobs = len(resources)
        self.records: dict[int, int] = dict.fromkeys(school_ids, 0)
        self.job_records: dict[tuple[int, str], int] = {}
        self.ended: dict[int, int] = dict.fromkeys(school_ids, 0)
        self.failed: dict[int, list[str]] = {}
        self.quiet = ui.json and not ui.err_is_terminal()
        self._rich: Any = None
        self._tasks: dict[int, Any] = {}
        self._overall: Any = None
        if ui.use_rich and ui.err_is_terminal():
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[records]:>7} records"), TimeElapsedColumn(),
                console=ui.err_console(), transient=False,
            )
            if len(school_ids) <= PER_SCHOOL_BARS:
                for sid in school_ids:
                    self._tasks[sid] = self._rich.add_task(f"school {sid:>4}", total=self.jobs,
                                                           records=0)
            else:
                self._overall = self._rich.add_task("all schools",
                                                    total=self.jobs * len(school_ids), records=0)

    def __enter__(self) -> Progress:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._rich is not None:
            self._rich.stop()

    def event(self, ev: ProgressEvent) -> None:
        key = (ev.school_id, ev.resource)
        before = self.job_records.get(key, 0)
        self.job_records[key] = ev.records
        self.records[ev.school_id] = self.records.get(ev.school_id, 0) + ev.records - before
        if ev.error:
            self.failed.setdefault(ev.school_id, []).append(f"{ev.resource}: {ev.error}")
        advance = 1 if ev.final else 0
        if ev.final:
            self.ended[ev.school_id] = self.ended.get(ev.school_id, 0) + 1
        if self._rich is not None:
            task = self._tasks.get(ev.school_id)
            if task is not None:
                self._rich.update(task, advance=advance, records=self.records[ev.school_id])
            elif self._overall is not None:
                self._rich.update(self._overall, advance=advance,
                                  records=sum(self.records.values()))
            return
        if not self.quiet and ev.final and self.ended[ev.school_id] == self.jobs:
            status = "failed" if ev.school_id in self.failed else "done"
            print(f"school {ev.school_id}: {status}, {self.records[ev.school_id]} records",
                  file=self.ui.err, flush=True)
