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
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from .._core.errors import ConfigurationError, DecodeError, TokenUnavailable
from .._core.storage import atomic, connect, sqlite_errors
from ._leases import Lease, TokenRecord
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
# Refresh coordination (see ._leases): one row per key, created on first write
# or lease. A row missing for a stored token (a file written before versions)
# reads as version 0 with no pending mark and no lease.
_REFRESH_SCHEMA = """
CREATE TABLE IF NOT EXISTS token_refresh (
    key TEXT PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 0,
    pending TEXT,
    lease_owner TEXT,
    lease_until REAL
)
"""
_UPSERT = "INSERT OR REPLACE INTO tokens (key, data, updated_at) VALUES (?, ?, ?)"
_BUMP = (
    "INSERT INTO token_refresh (key, version) VALUES (?, 1) ON CONFLICT (key) DO UPDATE"
    " SET version = version + 1, pending = CASE WHEN ? THEN pending END"
)
_READ = (
    "SELECT t.data, coalesce(r.version, 0), r.pending FROM tokens t"
    " LEFT JOIN token_refresh r ON r.key = t.key WHERE t.key = ?"
)
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

    It is a :class:`LeasingTokenStore`: a second table ``token_refresh(key,
    version, pending, lease_owner, lease_until)`` holds each key's version,
    pending mark and refresh lease, written in the same transactions, so every
    process on the machine sends each refresh grant once. Leases are timed by
    ``clock`` (the machine's wall clock, shared by every process on it; the
    file must not be shared between machines over a network file system).

    Use ``async with SQLiteTokenStore(path) as store:`` or call :meth:`open`
    and :meth:`close`. ``data`` is the JSON of :meth:`Token.to_dict`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path if str(path) == ":memory:" else Path(path)
        self.busy_timeout = busy_timeout
        self._clock = clock
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
        db = await connect(self.path, statements=[_SCHEMA, _REFRESH_SCHEMA],
                           busy_timeout=self.busy_timeout, what="token store")
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
        """Store ``token`` under ``key`` (a new version, no pending mark)."""
        async with self._transaction() as db:
            await self._write(db, key, token)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, rolled back on any error."""
        db = self._conn()
        async with self._lock:
            with sqlite_errors(self.path, "writing the token store"):
                async with atomic(db, "BEGIN IMMEDIATE"):
                    yield db

    async def _write(self, db: aiosqlite.Connection, key: str, token: Token,
                     *, keep_pending: bool = False) -> None:
        await db.execute(_UPSERT, (key, _dump(token), time.time()))
        await db.execute(_BUMP, (key, keep_pending))

    async def delete(self, key: str) -> bool:
        """Remove the token under ``key``; returns whether there was one. The
        key's version still moves on, so a refresh in flight cannot write the
        removed token back."""
        async with self._transaction() as db:
            cursor = await db.execute("DELETE FROM tokens WHERE key = ?", (key,))
            removed = bool(cursor.rowcount)
            if removed:
                await db.execute("UPDATE token_refresh SET version = version + 1, "
                                 "pending = NULL WHERE key = ?", (key,))
        return removed

    async def compare_and_set(self, key: str, expected: Token | None, new: Token) -> bool:
        """In one ``BEGIN IMMEDIATE`` transaction: read, compare access tokens, write."""
        async with self._transaction() as db:
            row = await _fetchone(db, "SELECT data FROM tokens WHERE key = ?", (key,))
            current = _load_or_none(key, row)
            if row is not None and current is None:
                # Unreadable row: only a caller expecting "absent" may replace it.
                matches = expected is None
            else:
                matches = same_token(current, expected)
            if matches:
                await self._write(db, key, new)
        return matches

    async def mark_unusable(self, key: str, *, failed: Token | None = None) -> None:
        """Flag the token under ``key`` unusable, atomically; no-op if absent, or
        if ``failed`` is given and the stored token is no longer that one."""
        async with self._transaction() as db:
            row = await _fetchone(db, "SELECT data FROM tokens WHERE key = ?", (key,))
            current = _load_or_none(key, row)
            if (current is not None and current.usable
                    and (failed is None or same_token(current, failed))):
                await self._write(db, key, attrs.evolve(current, usable=False),
                                  keep_pending=True)

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

    # -- LeasingTokenStore --------------------------------------------------------

    async def read(self, key: str) -> TokenRecord | None:
        """The token with its version and pending mark; :class:`TokenUnavailable`
        if its row is unreadable."""
        db = self._conn()
        async with self._lock, sqlite_errors(self.path, "reading the token store"):
            row = await _fetchone(db, _READ, (key,))
        if row is None:
            return None
        try:
            token = _load(row[0])
        except DecodeError as exc:
            raise TokenUnavailable(f"stored token {key!r} is unreadable: {exc}") from None
        return TokenRecord(token, int(row[1]), row[2])

    async def _version(self, db: aiosqlite.Connection, key: str) -> int:
        row = await _fetchone(db, "SELECT version FROM token_refresh WHERE key = ?", (key,))
        return 0 if row is None else int(row[0])

    async def replace(
        self, key: str, version: int, token: Token, *, keep_pending: bool = False
    ) -> int | None:
        """Store ``token`` if the version is still ``version`` (one transaction)."""
        async with self._transaction() as db:
            if await self._version(db, key) != version:
                return None
            await self._write(db, key, token, keep_pending=keep_pending)
        return version + 1

    async def set_pending(self, key: str, version: int, owner: str | None) -> bool:
        """Set or clear the pending mark if the version is still ``version``."""
        async with self._transaction() as db:
            stored = await _fetchone(db, "SELECT 1 FROM tokens WHERE key = ?", (key,))
            if stored is None or await self._version(db, key) != version:
                return False
            await db.execute("INSERT OR IGNORE INTO token_refresh (key) VALUES (?)", (key,))
            await db.execute("UPDATE token_refresh SET pending = ? WHERE key = ?", (owner, key))
        return True

    async def try_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """Take (or renew) the lease unless another owner holds an unexpired one."""
        async with self._transaction() as db:
            now = self._clock()
            row = await _fetchone(
                db, "SELECT lease_owner, lease_until FROM token_refresh WHERE key = ?", (key,))
            # A lease ending more than two leases from now was written before the
            # clock stepped back (leases are timed by the processes' wall clocks):
            # treated as expired, or a dead holder would block everyone until
            # the clock caught up.
            if row is not None and row[0] is not None and row[0] != owner \
                    and now < row[1] <= now + 2 * ttl:
                return Lease(False, row[0], row[1] - now)
            await db.execute("INSERT OR IGNORE INTO token_refresh (key) VALUES (?)", (key,))
            await db.execute(
                "UPDATE token_refresh SET lease_owner = ?, lease_until = ? WHERE key = ?",
                (owner, now + ttl, key))
        return Lease(True, owner, ttl)

    async def release_lease(self, key: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it."""
        db = self._conn()
        async with self._lock, sqlite_errors(self.path, "writing the token store"):
            await db.execute(
                "UPDATE token_refresh SET lease_owner = NULL, lease_until = NULL"
                " WHERE key = ? AND lease_owner = ?", (key, owner))


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
