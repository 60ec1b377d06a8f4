"""Fenced code blocks of the Markdown documentation, as the docs tests read them.

Conventions (documented in README.md "Development"):

* A ``python`` block runs, in order, in one namespace per document, the way
  ``python -m asyncio`` runs what you type (``await`` works at the top level).
* A block whose first line is ``# file: NAME`` (python, toml, ini) is a file
  of an example project: it is written to ``NAME`` and, when the document
  holds test files, that project's pytest run must pass.
* A block whose first line is ``# not run by the test suite: REASON`` is
  skipped; the reason is required and shows in the rendered page.
* In ``sh`` blocks, lines that run ``assembly-async`` (or ``python -m
  assembly_async.cli``) run; ``export`` lines set the environment; install,
  test and generator commands are known and not run; anything else fails the
  test until it is classified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                    ROOT / "assembly_async" / "testing" / "README.md"])
SKIP = re.compile(r"^#\s*not run by the test suite:\s*(\S.*)$")
FILE = re.compile(r"^#\s*file:\s*(\S+)\s*$")
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, its code and where it starts."""

    path: Path
    line: int
    lang: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.code.lstrip("\n").splitlines()[0] if self.code.strip() else ""

    @property
    def skip_reason(self) -> str | None:
        match = SKIP.match(self.first_line)
        return match.group(1).strip() if match else None

    @property
    def file_name(self) -> str | None:
        match = FILE.match(self.first_line)
        return match.group(1) if match else None


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in order (indented fences included)."""
    out: list[Block] = []
    lines = path.read_text("utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None or not match.group("info").strip():
            i += 1
            continue
        indent, lang = len(match.group("indent")), match.group("info").strip().split()[0]
        start = i + 1
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        out.append(Block(path, start, lang.lower(), "\n".join(body) + "\n"))
        i += 1
    return out


def python_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang in ("python", "py")]


def project_files(path: Path) -> dict[str, str]:
    """The ``# file: NAME`` blocks of a document: NAME -> content."""
    return {b.file_name: b.code for b in blocks(path) if b.file_name is not None}
