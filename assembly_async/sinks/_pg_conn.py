"""Connecting to PostgreSQL: the pool, the JSONB codec, DSN redaction, and the
driver's errors turned into :class:`SinkError`."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from .._core.errors import ConfigurationError, SinkError
from ._pg_schema import decode_jsonb, encode_jsonb

if TYPE_CHECKING:
    import asyncpg

__all__ = ["create_pool", "is_dsn", "redact_dsn", "sink_errors"]

_QUOTED = re.compile(r'"[^"]*"')


def is_dsn(text: object) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL."""
    return isinstance(text, str) and text.startswith(("postgresql://", "postgres://"))


def redact_dsn(dsn: str) -> str:
    """``dsn`` with its password (in the URL or a ``password=`` parameter) replaced by ``***``."""
    try:
        parts = urlsplit(dsn)
        netloc = parts.netloc
    except ValueError:
        return "postgresql://***"
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, _pw = userinfo.partition(":")
        netloc = f"{user}{':***' if sep else ''}@{host}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@contextlib.asynccontextmanager
async def sink_errors(dsn: str) -> AsyncIterator[None]:
    """Turn the driver's errors into :class:`SinkError`: the server's message (the
    quoted value of a data exception blanked), no ``DETAIL`` (it can quote a
    row), no password."""
    import asyncpg

    try:
        yield
    except asyncpg.PostgresError as exc:
        text = str(exc)
        message = text.splitlines()[0] if text else ""
        sqlstate = getattr(exc, "sqlstate", None)
        if not sqlstate or str(sqlstate).startswith("22"):
            # Data exceptions quote the offending value: blank it (it may be a pupil's).
            message = _QUOTED.sub('"…"', message)
        raise SinkError(f"PostgreSQL: {type(exc).__name__}: {message}", sqlstate=sqlstate,
                        reason=type(exc).__name__) from None
    except (OSError, asyncpg.InterfaceError, asyncio.TimeoutError) as exc:
        raise SinkError(f"PostgreSQL at {redact_dsn(dsn)}: {type(exc).__name__}",
                        reason=type(exc).__name__) from None


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Binary JSONB straight from orjson's bytes: no str round trip per record.
    await conn.set_type_codec("jsonb", schema="pg_catalog", format="binary",
                              encoder=encode_jsonb, decoder=decode_jsonb)


async def create_pool(dsn: str, *, size: int, timeout: float) -> asyncpg.Pool:
    """An asyncpg pool (1..``size`` connections) with the JSONB codec installed."""
    try:
        import asyncpg
    except ImportError:
        raise ConfigurationError(
            "PostgreSQL needs asyncpg: pip install 'assembly-async[postgres]'") from None
    async with sink_errors(dsn):
        return await asyncpg.create_pool(dsn, min_size=1, max_size=size,
                                         init=_init_connection, timeout=timeout)
