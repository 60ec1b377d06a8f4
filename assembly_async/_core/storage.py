"""The SDK's local files (token store, sync state, sinks): private, and typed when they fail.

* :func:`create_private` creates a file with mode 0600 (owner only) before
  anything writes to it; SQLite then gives its ``-wal``/``-shm`` side files
  the mode of the database file, so they are private too.
* :func:`connect` opens an embedded SQLite file one way for everyone: one
  aiosqlite connection in autocommit mode (transactions are explicit
  ``BEGIN``/``COMMIT`` where several statements must be atomic), the WAL
  journal so that several processes can share a file, and a busy timeout so a
  writer in another process makes us wait instead of fail.
* :func:`sqlite_errors` turns ``sqlite3`` errors (a corrupted or foreign file:
  "file is not a database") into :class:`StorageError` naming the file.
* aiosqlite logs every statement *with its parameters* at DEBUG: the token
  JSON of the token store, pupils' records of the SQLite sink. The first
  :func:`connect` installs a filter on the ``aiosqlite`` logger that drops the
  parameters (the statement is kept), for every connection of the process.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from .errors import ConfigurationError, StorageError

__all__ = [
    "atomic",
    "connect",
    "create_private",
    "hide_sqlite_parameters",
    "open_private",
    "sqlite_errors",
    "warn_if_shared",
]

log = logging.getLogger("assembly_async.storage")

#: Mode of every file the SDK creates that holds tokens or pupils' data.
PRIVATE_MODE = 0o600


@contextlib.asynccontextmanager
async def atomic(db: aiosqlite.Connection, begin: str = "BEGIN") -> AsyncIterator[None]:
    """One transaction on ``db``, rolled back on any exception, cancellation
    included, and on a COMMIT that failed (a busy database leaves it open).

    The BEGIN is inside the guarded block and the ROLLBACK always sent (its
    failure, "no transaction is active" or a broken connection, is ignored so
    the original error stays): a task cancelled while waiting for its BEGIN
    cannot tell whether aiosqlite's thread ran it, and the ROLLBACK queued
    behind it undoes it either way. Without this a cancelled write left the
    shared connection inside a transaction holding the file's write lock: every
    later write of every process failed."""
    try:
        await db.execute(begin)
        yield
        await db.execute("COMMIT")
    except BaseException:
        try:
            await db.execute("ROLLBACK")
        except Exception:
            log.debug("ROLLBACK failed", exc_info=True)
        raise


def warn_if_shared(path: Path, what: str) -> None:
    """Log a warning when an existing file is readable by other users (its
    mode is the owner's choice: left as it is)."""
    if os.name != "posix":
        return
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        log.warning("%s %s is readable by other users (mode %o); it holds %s",
                    what, path, mode, "secrets" if what == "token store" else "pupils' data")


def create_private(path: Path, what: str = "file") -> None:
    """Create ``path`` empty with mode 0600 unless it exists (SQLite and
    ``open()`` would use the umask, typically giving 0644). An existing file
    keeps its mode; a warning is logged when other users may read it."""
    if not path.parent.is_dir():  # a bad argument, caught at the call site
        raise ConfigurationError(f"directory {str(path.parent)!r} does not exist")
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE)
    except FileExistsError:
        warn_if_shared(path, what)
        return
    except OSError as exc:
        raise StorageError(f"cannot create {what} {str(path)!r}: {exc.strerror or exc}",
                           path=str(path)) from None
    os.close(fd)


def open_private(path: Path, what: str = "file") -> Any:
    """Open ``path`` for appending bytes, creating it with mode 0600."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, PRIVATE_MODE)
    except OSError as exc:
        raise StorageError(f"cannot open {what} {str(path)!r}: {exc.strerror or exc}",
                           path=str(path)) from None
    return os.fdopen(fd, "ab")


class sqlite_errors:  # a lower-case name: it reads like the function it stands for
    """Re-raise ``sqlite3`` errors inside the block as :class:`StorageError`
    naming the file; usable with ``with`` and ``async with``. SQLite's messages
    carry no parameter values, so the original error is chained for debugging."""

    __slots__ = ("action", "path")

    def __init__(self, path: str | os.PathLike[str], action: str) -> None:
        self.path = path
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if isinstance(exc, sqlite3.Error):
            name = os.fspath(self.path)
            raise StorageError(f"{self.action} {name!r} failed: {type(exc).__name__}: {exc}",
                               path=name) from exc

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)


class _HideParameters(logging.Filter):
    """Replaces aiosqlite's logged ``functools.partial`` (the statement *and its
    parameters*) by the function name and the SQL text only."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, functools.partial) for a in args):
            record.args = tuple(_describe_call(a) if isinstance(a, functools.partial) else a
                                for a in args)
        return True


def _describe_call(call: functools.partial[Any]) -> str:
    name = getattr(call.func, "__name__", type(call.func).__name__)
    shown = [repr(a) for a in call.args[:1] if isinstance(a, str)]  # the SQL text
    hidden = len(call.args) - len(shown) + len(call.keywords)
    if hidden:
        shown.append(f"<{hidden} argument(s) hidden>")
    return f"{name}({', '.join(shown)})"


def hide_sqlite_parameters() -> None:
    """Install the parameter-hiding filter on the ``aiosqlite`` logger (once)."""
    logger = logging.getLogger("aiosqlite")
    if not any(isinstance(f, _HideParameters) for f in logger.filters):
        logger.addFilter(_HideParameters())


async def connect(
    path: str | os.PathLike[str], *, statements: Sequence[str] = (), busy_timeout: float = 10.0,
    what: str = "database",
) -> aiosqlite.Connection:
    """Open ``path`` (created 0600 when absent; ``":memory:"`` stays in memory)
    and run the schema ``statements``; the connection is closed again if any
    step fails, and SQLite errors become :class:`StorageError` naming the file."""
    hide_sqlite_parameters()
    name = os.fspath(path)
    if name != ":memory:":
        create_private(Path(name), what)
    with sqlite_errors(name, f"opening {what}"):
        db = await aiosqlite.connect(name, isolation_level=None)
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            for statement in statements:
                await db.execute(statement)
        except BaseException:
            await db.close()
            raise
    return db
