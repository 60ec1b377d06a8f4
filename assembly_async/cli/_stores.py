"""Where the CLI keeps tokens and watermarks: SQLite files, Redis URLs
(``redis://``, ``rediss://``, ``unix://``; the ``redis`` extra) shared by
every worker, or a PostgreSQL sink's own database. Passwords in URLs are
never printed."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .._core.errors import AssemblyError, StorageError
from .._core.redact import hide_secrets
from ..auth import SQLiteTokenStore, TokenStore
from ._common import CLIError

__all__ = ["REDIS_SCHEMES", "is_redis_url", "open_state", "open_store", "shown", "state_path"]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def is_redis_url(text: str) -> bool:
    """A ``redis://``, ``rediss://`` or ``unix://`` URL (else a file path)."""
    return text.startswith(REDIS_SCHEMES)


def shown(text: str) -> str:
    """``text`` fit to print: a Redis URL's password (in its user info or its
    query, ``?password=``) replaced by ``***``."""
    return hide_secrets(text) if is_redis_url(text) else text


def _redis() -> Any:
    try:
        from .. import redis
    except ImportError:
        raise CLIError('Redis URLs need the redis extra: pip install "assembly-async[redis]"'
                       ) from None
    return redis


def _check_store_path(path: str, create: bool) -> Path:
    p = Path(path)
    if p.is_dir():
        raise CLIError(f"token store {path!r} is a directory, not an SQLite file")
    if not create and not p.is_file():
        raise CLIError(f"token store {path!r} does not exist "
                       "(create it with `assembly-async token exchange` or `token add`)")
    if create and not p.parent.is_dir():
        raise CLIError(f"directory of token store {path!r} does not exist")
    return p


@asynccontextmanager
async def open_store(path: str, *, create: bool) -> AsyncIterator[TokenStore]:
    """The token store at ``path`` (an SQLite file, or a Redis URL); a file must
    exist unless ``create``."""
    store: Any
    if is_redis_url(path):
        store = _redis().RedisTokenStore(path)
        try:
            await store.open()
        except AssemblyError as exc:
            await store.close()
            raise CLIError(f"cannot reach the token store {shown(path)!r}: {exc}") from None
    else:
        store = SQLiteTokenStore(_check_store_path(path, create))
        try:
            await store.open()
            await store.keys()
        except (StorageError, sqlite3.DatabaseError, OSError) as exc:
            await store.close()
            raise CLIError(f"cannot read token store {path!r}: {exc}") from None
    try:
        yield store
    finally:
        await store.close()


def state_path(sink_path: Path) -> Path:
    """The default sync state file: an SQLite sink's own file (each job's records
    and watermark then commit in one transaction), a file inside a JSON Lines one."""
    if sink_path.suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        return sink_path
    return sink_path / "_sync_state.db"


@asynccontextmanager
async def open_state(text: str | None, sink_path: Path | None, *, sink: Any = None
                     ) -> AsyncIterator[Any]:
    """The sync state: a Redis URL, an SQLite file; by default the sink's own
    database (PostgreSQL, or an SQLite sink's file: each job's records and
    watermark then commit together), or a file inside a JSON Lines sink."""
    from ..sinks import PostgresSink

    if text is None and isinstance(sink, PostgresSink):
        yield sink.sync_state()
        return
    if text is not None and is_redis_url(text):
        state = _redis().RedisSyncState(text)
        try:
            await state.open()
        except AssemblyError as exc:
            await state.close()
            raise CLIError(f"cannot reach the sync state {shown(text)!r}: {exc}") from None
        try:
            yield state
        finally:
            await state.close()
        return
    from .._sync.sqlite_state import SQLiteSyncState

    path = Path(text) if text else state_path(sink_path or Path("."))
    async with SQLiteSyncState(path) as sqlite_state:
        yield sqlite_state
