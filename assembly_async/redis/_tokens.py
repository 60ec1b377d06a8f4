"""A token store in Redis, shared by every process on every machine.

Each key of the store (``school:123``, ``app``) is a Redis hash
``<prefix>{school:123}:token`` with the fields ``data`` (the JSON of
:meth:`Token.to_dict`), ``ver`` (its version), ``atid`` (a digest of the access
token, what compare-and-set compares) and ``pending`` (the owner of a refresh
grant in flight), and a refresh lease ``<prefix>{school:123}:lease`` (the
owner id, expiring by Redis's own clock: ``SET ... PX``). Every write is one
Lua script, so it is atomic; both keys of a school share a hash slot.

Security: Redis then holds live access and refresh tokens in clear text, and
with rotating refresh tokens the only copy of them. Run it with persistence
(AOF), a password or ACL user, TLS (``rediss://``) off the local machine, and
mirror writes to your own storage with :class:`CallbackTokenStore` if losing
Redis must not cost a re-authorisation.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable
from types import TracebackType

import attrs
import orjson

from .._core.errors import ConfigurationError, DecodeError, TokenUnavailable
from ..auth import Lease, Token, TokenRecord
from ._conn import DEFAULT_PREFIX, RedisConnection, RedisLike, chunks, redis_errors, text

__all__ = ["RedisTokenStore"]

_log = logging.getLogger("assembly_async.redis")

# KEYS[1] token hash. ARGV: data, atid. Unconditional write: a new version.
_SET = """
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'atid', ARGV[2])
redis.call('HDEL', KEYS[1], 'pending')
return redis.call('HINCRBY', KEYS[1], 'ver', 1)
"""

# KEYS[1] token hash. ARGV: expected atid ('' = absent), data, atid.
_CAS = """
if ARGV[1] == '' then
  if redis.call('HEXISTS', KEYS[1], 'data') == 1 then return 0 end
elseif redis.call('HGET', KEYS[1], 'atid') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'atid', ARGV[3])
redis.call('HDEL', KEYS[1], 'pending')
return redis.call('HINCRBY', KEYS[1], 'ver', 1)
"""

# KEYS[1] token hash. ARGV: expected version, data, atid, keep pending ('1').
_REPLACE = """
local v = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'atid', ARGV[3], 'ver', v + 1)
if ARGV[4] ~= '1' then redis.call('HDEL', KEYS[1], 'pending') end
return v + 1
"""

# KEYS[1] token hash. ARGV: expected version, owner ('' clears).
_PENDING = """
if redis.call('HEXISTS', KEYS[1], 'data') == 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'ver') or '0') ~= tonumber(ARGV[1]) then return 0 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'pending')
else
  redis.call('HSET', KEYS[1], 'pending', ARGV[2])
end
return 1
"""

# KEYS[1] lease. ARGV: owner, ttl in ms. Timed by Redis, not by the worker.
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, ARGV[1], tonumber(ARGV[2])}
end
return {0, holder, redis.call('PTTL', KEYS[1])}
"""

# KEYS[1] lease. ARGV: owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: Attempts of the read-then-replace in mark_unusable before giving up on a busy key.
_MARK_ATTEMPTS = 5


def _atid(token: Token | None) -> str:
    """What compare-and-set compares: a digest of the access token ('' when absent)."""
    if token is None:
        return ""
    return hashlib.blake2b(token.access_token.encode(), digest_size=16).hexdigest()


def _dump(token: Token) -> str:
    return orjson.dumps(token.to_dict()).decode("utf-8")


def _load(key: str, data: str) -> Token:
    try:
        return Token.from_dict(orjson.loads(data))
    except (orjson.JSONDecodeError, DecodeError) as exc:
        raise TokenUnavailable(f"stored token {key!r} is unreadable: {exc}") from None


class RedisTokenStore:
    """A :class:`LeasingTokenStore` in Redis.

    ``RedisTokenStore("redis://host:6379/0")`` opens its own client (closed by
    :meth:`close` or ``async with``); ``RedisTokenStore(client)`` borrows a
    ``redis.asyncio.Redis`` and never closes it. ``prefix`` namespaces every
    key (default ``"assembly:"``). Requires Redis >= 6 (plain Redis; one
    school's keys share a Cluster hash slot, but Cluster is not supported yet).

    With replicas, ``wait_replicas=n`` makes every token write wait (``WAIT n
    1000``) until ``n`` replicas have it, so a failover right after a refresh
    does not lose the rotated refresh token; a write that fewer replicas
    acknowledged in time is logged (it is not undone).
    """

    def __init__(self, redis: RedisLike, *, prefix: str = DEFAULT_PREFIX,
                 wait_replicas: int = 0, wait_timeout: float = 1.0) -> None:
        if isinstance(wait_replicas, bool) or not isinstance(wait_replicas, int) \
                or wait_replicas < 0:
            raise ConfigurationError("wait_replicas must be an integer >= 0")
        if isinstance(wait_timeout, bool) or not isinstance(wait_timeout, (int, float)) \
                or not 0 < wait_timeout < math.inf:
            raise ConfigurationError("wait_timeout must be a positive number of seconds")
        self.wait_replicas = wait_replicas
        self.wait_timeout = wait_timeout
        self._conn = RedisConnection(redis, prefix=prefix)
        self._set = self._conn.script(_SET)
        self._cas = self._conn.script(_CAS)
        self._replace = self._conn.script(_REPLACE)
        self._pending = self._conn.script(_PENDING)
        self._lease = self._conn.script(_LEASE)
        self._release = self._conn.script(_RELEASE)

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self._conn.prefix!r})"

    @property
    def prefix(self) -> str:
        return self._conn.prefix

    @redis_errors
    async def open(self) -> RedisTokenStore:
        """Check that Redis answers (PING); the client connects lazily anyway."""
        await self._conn.client.ping()
        return self

    @redis_errors
    async def close(self) -> None:
        """Close the client if this store opened it from a URL. Idempotent."""
        await self._conn.close()

    async def __aenter__(self) -> RedisTokenStore:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    def _key(self, key: str) -> str:
        return self._conn.key(key, "token")

    async def _replicated(self) -> None:
        """After a token write: wait for ``wait_replicas`` replicas to have it."""
        if self.wait_replicas:
            acked = await self._conn.client.wait(self.wait_replicas,
                                                 max(1, round(self.wait_timeout * 1000)))
            if int(acked) < self.wait_replicas:
                _log.warning("token write reached %s of %s Redis replicas in %gs",
                             acked, self.wait_replicas, self.wait_timeout)

    # -- TokenStore ------------------------------------------------------------------

    @redis_errors
    async def get(self, key: str) -> Token | None:
        """The token under ``key``; :class:`TokenUnavailable` if it is unreadable."""
        data = text(await self._conn.client.hget(self._key(key), "data"))
        return None if data is None else _load(key, data)

    @redis_errors
    async def set(self, key: str, token: Token) -> None:
        """Store ``token`` (a new version, no pending mark)."""
        await self._set(keys=[self._key(key)], args=[_dump(token), _atid(token)])
        await self._replicated()

    @redis_errors
    async def compare_and_set(self, key: str, expected: Token | None, new: Token) -> bool:
        """Store ``new`` if the stored access token is still ``expected``'s (atomic)."""
        written = bool(int(await self._cas(keys=[self._key(key)],
                                           args=[_atid(expected), _dump(new), _atid(new)])))
        if written:
            await self._replicated()
        return written

    @redis_errors
    async def mark_unusable(self, key: str, *, failed: Token | None = None) -> None:
        """Flag the token unusable (keeping any pending mark); no-op if absent, or
        if ``failed`` is given and the stored token is no longer that one."""
        for _ in range(_MARK_ATTEMPTS):
            record = await self.read(key)
            if record is None or not record.token.usable:
                return
            if failed is not None and _atid(record.token) != _atid(failed):
                return
            changed = attrs.evolve(record.token, usable=False)
            if await self.replace(key, record.version, changed, keep_pending=True) is not None:
                return
        raise TokenUnavailable(f"stored token {key!r} kept changing; not marked unusable")

    @redis_errors
    async def keys(self) -> list[str]:
        """All keys, sorted (SCAN over the prefix)."""
        return await self._conn.scan("token")

    @redis_errors
    async def get_many(self, keys: Iterable[str]) -> dict[str, Token]:
        """The tokens of ``keys`` that exist, pipelined 500 at a time; unreadable
        ones are left out (:meth:`get` on them raises)."""
        result: dict[str, Token] = {}
        for batch in chunks(dict.fromkeys(keys)):
            pipe = self._conn.client.pipeline(transaction=False)
            for key in batch:
                pipe.hget(self._key(key), "data")
            for key, raw in zip(batch, await pipe.execute(), strict=True):
                data = text(raw)
                if data is None:
                    continue
                try:
                    result[key] = _load(key, data)
                except TokenUnavailable:
                    continue
        return result

    # -- LeasingTokenStore ------------------------------------------------------------

    @redis_errors
    async def read(self, key: str) -> TokenRecord | None:
        """The token with its version and pending mark (one HMGET)."""
        data, ver, pending = await self._conn.client.hmget(
            self._key(key), ["data", "ver", "pending"])
        data_text = text(data)
        if data_text is None:
            return None
        return TokenRecord(_load(key, data_text), int(text(ver) or 0), text(pending))

    @redis_errors
    async def replace(self, key: str, version: int, token: Token, *,
                      keep_pending: bool = False) -> int | None:
        """Store ``token`` if the version is still ``version``; the new version or None."""
        written = int(await self._replace(
            keys=[self._key(key)],
            args=[version, _dump(token), _atid(token), "1" if keep_pending else "0"]))
        if written < 0:
            return None
        await self._replicated()
        return written

    @redis_errors
    async def set_pending(self, key: str, version: int, owner: str | None) -> bool:
        """Set or clear the pending mark if the version is still ``version``."""
        return bool(int(await self._pending(keys=[self._key(key)],
                                            args=[version, owner or ""])))

    @redis_errors
    async def try_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """``SET NX PX`` in spirit: take or renew the lease, else report its holder."""
        ms = max(1, math.ceil(ttl * 1000))
        acquired, holder, left = await self._lease(keys=[self._conn.key(key, "lease")],
                                                   args=[owner, ms])
        return Lease(bool(int(acquired)), text(holder), max(0, int(left)) / 1000)

    @redis_errors
    async def release_lease(self, key: str, owner: str) -> None:
        """Delete the lease only if ``owner`` still holds it."""
        await self._release(keys=[self._conn.key(key, "lease")], args=[owner])
