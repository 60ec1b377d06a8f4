"""A token store in one SQLite file, shared safely by several processes.

Needs the optional ``aiosqlite`` package.

Security: the file holds live access and refresh tokens in clear text (any
store that can refresh without a person must). It is created with mode 0600
(owner read/write only), and SQLite gives its ``-wal``/``-shm`` side files the
same mode. Keep it on a private path, out of backups you do not trust, and do
not loosen its permissions. An existing file's mode is left as it is (a
warning is logged when other users may read it). aiosqlite's DEBUG log lines
show statements without their parameters (see :mod:`assembly_async._core.storage`),
so the token JSON never reaches a log. A corrupted or foreign file raises
:class:`StorageError` naming it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from .._core.errors import ConfigurationError, DecodeError, TokenUnavailable
from .._core.storage import connect, sqlite_errors
from ._stores import same_token
from ._token import Token

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["SQLiteTokenStore"]

_log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    updated_at REAL NOT NULL
)
"""
_UPSERT = "INSERT OR REPLACE INTO tokens (key, data, updated_at) VALUES (?, ?, ?)"
#: Keys per statement when JSON1 is missing and get_many falls back to IN (...).
_IN_CHUNK = 500


def _dump(token: Token) -> str:
    return orjson.dumps(token.to_dict()).decode("utf-8")


def _load(data: str) -> Token:
    try:
        return Token.from_dict(orjson.loads(data))
    except orjson.JSONDecodeError:
        raise DecodeError("stored token is not JSON", schema="Token") from None


class SQLiteTokenStore:
    """Tokens in a table ``tokens(key TEXT PRIMARY KEY, data TEXT, updated_at REAL)``.

    One connection per instance, in WAL mode so readers do not block the
    writer. ``compare_and_set`` and ``mark_unusable`` run as one ``BEGIN
    IMMEDIATE`` transaction each, so they are atomic across processes sharing
    the file, and an in-process lock keeps coroutines of this instance from
    interleaving statements on the shared connection.

    Use ``async with SQLiteTokenStore(path) as store:`` or call :meth:`open`
    and :meth:`close`. ``data`` is the JSON of :meth:`Token.to_dict`.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> None:
        self.path = path if str(path) == ":memory:" else Path(path)
        self.busy_timeout = busy_timeout
        self._db: aiosqlite.Connection | None = None
        self._json1 = True
        # Remade by open(), so a store reopened under another event loop gets a fresh lock.
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        state = "open" if self._db is not None else "closed"
        return f"SQLiteTokenStore({str(self.path)!r}, {state})"

    # -- lifecycle ------------------------------------------------------------

    async def open(self) -> SQLiteTokenStore:
        """Create the file (mode 0600) and table if needed, and connect. Idempotent."""
        if self._db is not None:
            return self
        db = await connect(self.path, statements=[_SCHEMA], busy_timeout=self.busy_timeout,
                           what="token store")
        try:
            await db.execute("SELECT value FROM json_each('[]')")
        except Exception:  # sqlite3.OperationalError: no JSON1 in this build
            self._json1 = False
        self._db = db
        self._lock = asyncio.Lock()
        return self

    async def close(self) -> None:
        """Close the connection. Idempotent; the store can be opened again."""
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    async def __aenter__(self) -> SQLiteTokenStore:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise ConfigurationError("SQLiteTokenStore is not open: call open() or use async with")
        return self._db

    # -- TokenStore -------------------------------------------------------------

    async def get(self, key: str) -> Token | None:
        """The token under ``key``; :class:`TokenUnavailable` if its row is unreadable."""
        db = self._conn()
        async with self._lock:
            with sqlite_errors(self.path, "reading the token store"):
                row = await _fetchone(db, "SELECT data FROM tokens WHERE key = ?", (key,))
        if row is None:
            return None
        try:
            return _load(row[0])
        except DecodeError as exc:
            raise TokenUnavailable(f"stored token {key!r} is unreadable: {exc}") from None

    async def set(self, key: str, token: Token) -> None:
        """Store ``token`` under ``key``."""
        db = self._conn()
        async with self._lock:
            with sqlite_errors(self.path, "writing the token store"):
                await db.execute(_UPSERT, (key, _dump(token), time.time()))

    async def compare_and_set(self, key: str, expected: Token | None, new: Token) -> bool:
        """In one ``BEGIN IMMEDIATE`` transaction: read, compare access tokens, write."""
        db = self._conn()
        async with self._lock, sqlite_errors(self.path, "writing the token store"):
            await db.execute("BEGIN IMMEDIATE")
            try:
                row = await _fetchone(db, "SELECT data FROM tokens WHERE key = ?", (key,))
                current = _load_or_none(key, row)
                if row is not None and current is None:
                    # Unreadable row: only a caller expecting "absent" may replace it.
                    matches = expected is None
                else:
                    matches = same_token(current, expected)
                if matches:
                    await db.execute(_UPSERT, (key, _dump(new), time.time()))
                await db.execute("COMMIT")
            except BaseException:
                await _rollback(db)
                raise
        return matches

    async def mark_unusable(self, key: str) -> None:
        """Flag the token under ``key`` unusable, atomically; no-op if absent."""
        db = self._conn()
        async with self._lock, sqlite_errors(self.path, "writing the token store"):
            await db.execute("BEGIN IMMEDIATE")
            try:
                row = await _fetchone(db, "SELECT data FROM tokens WHERE key = ?", (key,))
                current = _load_or_none(key, row)
                if current is not None and current.usable:
                    changed = attrs.evolve(current, usable=False)
                    await db.execute(_UPSERT, (key, _dump(changed), time.time()))
                await db.execute("COMMIT")
            except BaseException:
                await _rollback(db)
                raise

    async def keys(self) -> list[str]:
        """All keys, sorted."""
        db = self._conn()
        async with self._lock, sqlite_errors(self.path, "reading the token store"):
            rows = await db.execute_fetchall("SELECT key FROM tokens ORDER BY key")
        return [row[0] for row in rows]

    async def get_many(self, keys: Iterable[str]) -> dict[str, Token]:
        """The tokens of ``keys`` that exist, in one query (keys passed as one JSON array).

        An unreadable row is logged (key only) and left out rather than failing
        the whole bulk load; :meth:`get` on that key raises.
        """
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        db = self._conn()
        rows: list[Any] = []
        async with self._lock, sqlite_errors(self.path, "reading the token store"):
            if self._json1:
                rows.extend(
                    await db.execute_fetchall(
                        "SELECT key, data FROM tokens"
                        " WHERE key IN (SELECT value FROM json_each(?))",
                        (orjson.dumps(wanted).decode("utf-8"),),
                    )
                )
            else:  # pragma: no cover - SQLite builds without JSON1 are rare
                for start in range(0, len(wanted), _IN_CHUNK):
                    chunk = wanted[start : start + _IN_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows.extend(
                        await db.execute_fetchall(
                            f"SELECT key, data FROM tokens WHERE key IN ({marks})", chunk
                        )
                    )
        result: dict[str, Token] = {}
        for key, data in rows:
            try:
                result[key] = _load(data)
            except DecodeError as exc:
                _log.warning("skipping unreadable stored token %r: %s", key, exc)
        return result


async def _rollback(db: aiosqlite.Connection) -> None:
    # Never mask the original error: the transaction may already be gone
    # (cancelled while COMMIT was in flight) or the connection broken.
    try:
        await db.execute("ROLLBACK")
    except Exception:
        _log.debug("ROLLBACK failed", exc_info=True)


async def _fetchone(db: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> Any:
    async with db.execute(sql, params) as cursor:
        return await cursor.fetchone()


def _load_or_none(key: str, row: Any) -> Token | None:
    if row is None:
        return None
    try:
        return _load(row[0])
    except DecodeError as exc:
        _log.warning("stored token %r is unreadable: %s", key, exc)
        return None
