"""CLI output: rich progress bars and tables when rich is installed, else plain text."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any, TextIO

from .._sync.engine import ProgressEvent, SchoolResult, SyncReport

__all__ = ["UI", "Progress", "make_ui"]

#: Above this many schools the live display shows one overall bar, not one per school.
PER_SCHOOL_BARS = 40


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class UI:
    """Where a command prints: ``out`` for results, ``err`` for diagnostics."""

    def __init__(self, *, use_rich: bool, out: TextIO | None = None) -> None:
        self.use_rich = use_rich
        self._out = out

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    def line(self, text: str = "") -> None:
        if self.use_rich:
            self._console().print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            print(text, file=self.out, flush=True)

    def _console(self) -> Any:
        from rich.console import Console

        return Console(file=self.out, highlight=False)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              footer: Sequence[Any] | None = None) -> None:
        """A table; numeric-looking columns are right-aligned."""
        if self.use_rich:
            from rich.table import Table

            table = Table(title=title, show_footer=footer is not None, title_justify="left")
            for i, col in enumerate(columns):
                left = i == 0 or col in ("errors", "status", "local status")
                table.add_column(col, justify="left" if left else "right",
                                 footer=str(footer[i]) if footer is not None else "")
            for row in rows:
                table.add_row(*(str(c) for c in row))
            self._console().print(table)
            return
        cells = [list(columns), *[[str(c) for c in r] for r in rows]]
        if footer is not None:
            cells.append([str(c) for c in footer])
        widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]

        def fmt(row: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

        rule = "  ".join("-" * w for w in widths)
        print(title, file=self.out)
        print(fmt(cells[0]), file=self.out)
        print(rule, file=self.out)
        for row in cells[1:len(rows) + 1]:
            print(fmt(row), file=self.out)
        if footer is not None:
            print(rule, file=self.out)
            print(fmt(cells[-1]), file=self.out)
        print(file=self.out, flush=True)

    def progress(self, school_ids: Sequence[int], resources: Sequence[str]) -> Progress:
        return Progress(self, school_ids, resources)

    def report_table(self, title: str, report: SyncReport) -> None:
        """The per-school summary of a sync run."""
        rows = [school_row(s) for s in report.schools.values()]
        retries = [s.retries for s in report.schools.values()]
        total_retries = "n/a" if all(r is None for r in retries) else sum(r or 0 for r in retries)
        footer = ["total", report.records, report.removals, report.requests,
                  report.not_modified, total_retries, f"{report.elapsed:.2f}s",
                  f"{len(report.failed)} failed" if report.failed else ""]
        self.table(title, ["school", "records", "removed", "requests", "304s", "retries",
                           "time", "errors"], rows, footer)


def school_row(s: SchoolResult) -> list[Any]:
    errors = "; ".join(s.errors)
    if len(errors) > 60:
        errors = errors[:57] + "..."
    return [s.school_id, s.records, s.removals, s.requests, s.not_modified,
            "n/a" if s.retries is None else s.retries, f"{s.elapsed:.2f}s", errors]


class Progress:
    """Live progress of a sync: rich bars on a terminal, one plain line per finished school
    otherwise. Use as a context manager; pass :meth:`event` as ``on_progress``."""

    def __init__(self, ui: UI, school_ids: Sequence[int], resources: Sequence[str]) -> None:
        self.ui = ui
        self.jobs = len(resources)
        self.records: dict[int, int] = dict.fromkeys(school_ids, 0)
        self.job_records: dict[tuple[int, str], int] = {}
        self.ended: dict[int, int] = dict.fromkeys(school_ids, 0)
        self.failed: dict[int, list[str]] = {}
        self._rich: Any = None
        self._tasks: dict[int, Any] = {}
        self._overall: Any = None
        live = ui.use_rich and self._is_terminal()
        if live:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[records]:>7} records"), TimeElapsedColumn(),
                console=ui._console(), transient=False,
            )
            if len(school_ids) <= PER_SCHOOL_BARS:
                for sid in school_ids:
                    self._tasks[sid] = self._rich.add_task(f"school {sid:>4}", total=self.jobs,
                                                           records=0)
            else:
                self._overall = self._rich.add_task("all schools",
                                                    total=self.jobs * len(school_ids), records=0)

    def _is_terminal(self) -> bool:
        isatty = getattr(self.ui.out, "isatty", None)
        return bool(isatty and isatty())

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
        if ev.final and self.ended[ev.school_id] == self.jobs:
            status = "failed" if ev.school_id in self.failed else "done"
            print(f"school {ev.school_id}: {status}, {self.records[ev.school_id]} records",
                  file=self.ui.out, flush=True)


def make_ui(plain: bool = False, out: TextIO | None = None) -> UI:
    return UI(use_rich=not plain and _rich_available(), out=out)
