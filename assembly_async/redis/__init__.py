"""Redis for many workers on many machines: tokens, rate budgets, sync state.

Needs the ``redis`` extra (``pip install "assembly-async[redis]"``, redis-py's
asyncio client) and Redis >= 6 (7 tested, plain Redis: a ``RedisCluster``
client is not accepted yet, although every key of one school already shares
a Cluster hash slot)::

    from assembly_async import AssemblyClient
    from assembly_async.redis import RedisRateLimiter, RedisSyncState, RedisTokenStore

    url = "redis://localhost:6379/0"
    async with RedisTokenStore(url) as tokens, RedisRateLimiter(url) as limiter:
        async with AssemblyClient(client_id=..., client_secret=..., token_store=tokens,
                                  rate_limiter=limiter) as client:
            ...

* :class:`RedisTokenStore`: a :class:`~assembly_async.auth.LeasingTokenStore`;
  every process sharing it sends each refresh grant once.
* :class:`RedisRateLimiter`: one rate budget per school for every process,
  timed by Redis's clock.
* :class:`RedisSyncState`: incremental-sync watermarks.

Each takes a URL (and then owns and closes its client) or a
``redis.asyncio.Redis`` you own, and a key ``prefix`` (default ``"assembly:"``).
"""

try:
    import redis.asyncio  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'assembly_async.redis needs the redis extra: pip install "assembly-async[redis]"'
    ) from exc

from ._conn import DEFAULT_PREFIX, RedisLike
from ._limiter import RedisRateLimiter
from ._syncstate import RedisSyncState
from ._tokens import RedisTokenStore

__all__ = [
    "DEFAULT_PREFIX", "RedisLike", "RedisRateLimiter", "RedisSyncState", "RedisTokenStore",
]
