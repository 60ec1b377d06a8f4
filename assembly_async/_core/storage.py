"""Opening the embedded SQLite files (token store, sync state, sink) one way.

All three use one aiosqlite connection in autocommit mode (transactions are
explicit ``BEGIN``/``COMMIT`` where several statements must be atomic), the WAL
journal so that several processes can share a file, and a busy timeout so a
writer in another process makes us wait instead of fail.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import aiosqlite

__all__ = ["connect"]


async def connect(
    path: str | os.PathLike[str], *, statements: Sequence[str] = (), busy_timeout: float = 10.0
) -> aiosqlite.Connection:
    """Open ``path`` and run the schema ``statements``; the connection is closed
    again if any step fails."""
    db = await aiosqlite.connect(os.fspath(path), isolation_level=None)
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
