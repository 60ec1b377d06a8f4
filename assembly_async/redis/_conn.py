"""One Redis connection per object: opened from a URL (and then closed by us) or
borrowed from the caller (and never closed by us), plus the key layout.

Keys are ``<prefix>{<tag>}:<kind>``: the ``{...}`` hash tag puts every key of
one school (``{school:123}``) in one Redis Cluster hash slot, so the Lua
scripts that touch several of them stay atomic there too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from .._core.errors import ConfigurationError, StorageError
from .._core.redact import hide_secrets
from .._http.tasks import run_isolated

__all__ = ["DEFAULT_PREFIX", "RedisConnection", "RedisLike", "redis_errors", "storage_error",
           "text"]

P = ParamSpec("P")
R = TypeVar("R")

#: The namespace every key starts with unless you choose another.
DEFAULT_PREFIX = "assembly:"

#: A Redis URL (``redis://``, ``rediss://``, ``unix://``) or a ``redis.asyncio.Redis``.
RedisLike = str | Redis


def text(value: Any) -> str | None:
    """A reply as ``str`` (clients with or without ``decode_responses``)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def storage_error(exc: RedisError, address: str) -> StorageError:
    """redis-py's ``exc`` as the SDK's :class:`StorageError` (the server's
    address as ``path``, never a password)."""
    error = StorageError(f"Redis at {address}: {type(exc).__name__}: {exc}", path=address)
    error.__cause__ = exc
    return error


def redis_errors(method: Callable[P, Coroutine[Any, Any, R]]
                 ) -> Callable[P, Coroutine[Any, Any, R]]:
    """Raise redis-py's errors as :class:`StorageError` (only ``AssemblyError``
    leaves the SDK); the original stays the ``__cause__``. For methods of
    objects that keep their :class:`RedisConnection` as ``_conn`` (or are one).

    The method runs in a task of its own (:func:`run_isolated`): redis-py's
    asyncio client swallows a cancellation that lands while a command is in
    flight about 4 times in 10, and the caller must never go on as if it had
    not been cancelled."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await run_isolated(method(*args, **kwargs))
        except RedisError as exc:
            owner = args[0] if args else None
            conn = owner if isinstance(owner, RedisConnection) else getattr(owner, "_conn", None)
            address = conn.address if isinstance(conn, RedisConnection) else "redis"
            raise storage_error(exc, address) from exc

    return wrapper


def _address(client: Redis) -> str:
    """Where ``client`` connects, as a URL without credentials."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    host, port, db = kwargs.get("host", "localhost"), kwargs.get("port", 6379), kwargs.get("db", 0)
    return f"redis://{host}:{port}/{db}"


def _glob_escape(value: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)


class RedisConnection:
    """A client and a key prefix. ``close()`` closes the client only if it was
    made here from a URL."""

    def __init__(self, redis: RedisLike, *, prefix: str = DEFAULT_PREFIX) -> None:
        if not isinstance(prefix, str) or "{" in prefix or "}" in prefix:
            raise ConfigurationError("the Redis key prefix must be a string without braces")
        if isinstance(redis, str):
            if not redis.startswith(("redis://", "rediss://", "unix://")):
                raise ConfigurationError(
                    "a Redis URL starts with redis://, rediss:// or unix://")
            try:
                self.client: Redis = Redis.from_url(redis)
            except ValueError as exc:  # a port that is not a number, a bad query value...
                raise ConfigurationError(
                    f"not a usable Redis URL: {hide_secrets(redis)} ({exc})") from None
            self.owned = True
        elif isinstance(redis, Redis):
            self.client = redis
            self.owned = False
        else:
            raise ConfigurationError(
                f"expected a Redis URL or a redis.asyncio.Redis, not {type(redis).__name__}")
        self.prefix = prefix
        #: The server's address, without credentials (for errors).
        self.address = _address(self.client)

    def key(self, tag: str, kind: str) -> str:
        """``<prefix>{<tag>}:<kind>``."""
        return f"{self.prefix}{{{tag}}}:{kind}"

    def pattern(self, kind: str) -> str:
        """A SCAN pattern matching every tag's key of ``kind``."""
        return f"{_glob_escape(self.prefix)}{{*}}:{kind}"

    def tag_of(self, key: str, kind: str) -> str | None:
        """The tag of a key made by :meth:`key`, or None."""
        head, tail = f"{self.prefix}{{", f"}}:{kind}"
        if key.startswith(head) and key.endswith(tail) and len(key) >= len(head) + len(tail):
            return key[len(head):len(key) - len(tail)]
        return None

    def script(self, source: str) -> AsyncScript:
        """A Lua script run by EVALSHA (loaded on first use)."""
        return self.client.register_script(source)

    @redis_errors
    async def scan(self, kind: str) -> list[str]:
        """Every tag that has a key of ``kind``, sorted (SCAN, never KEYS)."""
        tags: set[str] = set()
        async for raw in self.client.scan_iter(match=self.pattern(kind), count=500):
            tag = self.tag_of(text(raw) or "", kind)
            if tag is not None:
                tags.add(tag)
        return sorted(tags)

    async def close(self) -> None:
        """Close the client if it was opened from a URL here."""
        if self.owned:
            await self.client.aclose()


def chunks(items: Iterable[str], size: int = 500) -> Iterable[list[str]]:
    """``items`` in lists of at most ``size``."""
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
