"""Where the CLI writes: results on stdout, everything else (progress, log
lines, narration) on stderr.

Results are tables (rich when installed, plain text with ``--plain``) or, with
``--json``, one JSON document. A table never cuts an error short: the full
texts follow it in a "Failures" section.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

import orjson

from .._sync.engine import SchoolResult, SyncReport
from .._sync.report import error_kind

__all__ = ["UI", "make_ui", "report_json"]


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class UI:
    """Output of one command: ``out`` for results, ``err`` for diagnostics."""

    def __init__(self, *, use_rich: bool, json: bool = False, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.use_rich = use_rich
        self.json = json
        self._out = out
        self._err = err
        self._err_console: Any = None

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    def _console(self, file: TextIO) -> Any:
        from rich.console import Console

        return Console(file=file, highlight=False)

    def err_console(self) -> Any:
        """The one rich console on stderr (progress bars and log lines share it)."""
        if self._err_console is None:
            self._err_console = self._console(self.err)
        return self._err_console

    def err_is_terminal(self) -> bool:
        isatty = getattr(self.err, "isatty", None)
        return bool(isatty and isatty())

    def line(self, text: str = "") -> None:
        """A line of the result (stdout); nothing in ``--json`` mode."""
        if self.json:
            return
        if self.use_rich:
            self._console(self.out).print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            print(text, file=self.out, flush=True)

    def say(self, text: str) -> None:
        """Narration of what is happening (stderr), quiet in ``--json`` mode."""
        if self.json and not self.err_is_terminal():
            return
        if self.use_rich:
            self.err_console().print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            print(text, file=self.err, flush=True)

    def emit(self, document: Any) -> None:
        """The ``--json`` result: one document on stdout."""
        self.out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2,
                                    default=_jsonable).decode() + "\n")
        self.out.flush()

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              footer: Sequence[Any] | None = None) -> None:
        """A table on stdout; numeric-looking columns are right-aligned."""
        if self.use_rich:
            from rich.table import Table

            table = Table(title=title, show_footer=footer is not None, title_justify="left")
            for i, col in enumerate(columns):
                left = i == 0 or col in ("errors", "status", "local status", "key", "level")
                table.add_column(col, justify="left" if left else "right",
                                 footer=str(footer[i]) if footer is not None else "")
            for row in rows:
                table.add_row(*(str(c) for c in row))
            self._console(self.out).print(table)
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

    def failures(self, items: Sequence[tuple[str, str]]) -> None:
        """Every failure in full, after the table that summed them up."""
        if not items:
            return
        print(f"Failures ({len(items)})", file=self.out)
        for where, text in items:
            print(f"  {where}: {text}", file=self.out)
        print(file=self.out, flush=True)

    def report_table(self, title: str, report: SyncReport) -> None:
        """The per-school summary of a sync run, then its failures in full."""
        rows = [school_row(s) for s in report.schools.values()]
        retries = [s.retries for s in report.schools.values()]
        total_retries = "n/a" if all(r is None for r in retries) else sum(r or 0 for r in retries)
        footer = ["total", report.records, report.removals, report.requests,
                  report.not_modified, total_retries, f"{report.elapsed:.2f}s",
                  f"{len(report.failed)} failed" if report.failed else ""]
        self.table(title, ["school", "records", "removed", "requests", "304s", "retries",
                           "time", "errors"], rows, footer)
        self.failures([(f"school {s.school_id}, {r.resource}", _error_text(r.error))
                       for s in report.schools.values() for r in s.resources.values()
                       if r.error is not None])


def _error_text(error: BaseException) -> str:
    name = error_kind(error)
    text = " ".join(str(error).split()) or name
    return text if text.startswith(name) else f"{name}: {text}"


def school_row(s: SchoolResult) -> list[Any]:
    """One school in the table; its errors by kind (the texts follow the table)."""
    errors = ", ".join(f"{r.resource}: {error_kind(r.error)}"
                       for r in s.resources.values() if r.error is not None)
    return [s.school_id, s.records, s.removals, s.requests, s.not_modified,
            "n/a" if s.retries is None else s.retries, f"{s.elapsed:.2f}s", errors]


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseException):
        return {"type": error_kind(value), "message": " ".join(str(value).split())}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def report_json(report: SyncReport) -> dict[str, Any]:
    """A sync report as a JSON-ready document (``--json``)."""
    return {
        "ok": report.ok,
        "cancelled": report.cancelled,
        "elapsed": round(report.elapsed, 3),
        "records": report.records,
        "removals": report.removals,
        "requests": report.requests,
        "not_modified": report.not_modified,
        "retries": report.retries,
        "failed": report.failed,
        "schools": [{
            "school_id": s.school_id,
            "ok": s.ok,
            "revoked": s.revoked,
            "records": s.records,
            "removals": s.removals,
            "requests": s.requests,
            "not_modified": s.not_modified,
            "retries": s.retries,
            "elapsed": round(s.elapsed, 3),
            "resources": [{
                "resource": r.resource,
                "state": r.state,
                "full": r.full,
                "records": r.records,
                "removals": r.removals,
                "requests": r.requests,
                "not_modified": r.not_modified,
                "elapsed": round(r.elapsed, 3),
                "error": r.error,
            } for r in s.resources.values()],
        } for s in report.schools.values()],
    }


def make_ui(plain: bool = False, out: TextIO | None = None, *, json: bool = False,
            err: TextIO | None = None) -> UI:
    return UI(use_rich=not plain and not json and _rich_available(), json=json, out=out,
              err=err)
