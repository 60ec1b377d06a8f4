"""One worker process of the multi-process tests (run as ``python _mp_worker.py CONFIG``).

It opens its own token store (SQLite file or Redis) and its own
``AssemblyClient`` against the fake server running in the test process, prints
``ready <pid> <lease owner>``, waits for the go file, runs ``coroutines``
concurrent callers, and prints one JSON line with what happened:

* ``mode="refresh"``: each caller makes one call for the school;
* ``mode="budget"``: each caller keeps calling until ``calls`` calls were
  made by this process, all sharing one rate budget (the Redis limiter).

``clock_offset`` moves this process's ``time.time`` and ``time.monotonic``
(a worker whose clock is off); the event loop keeps working with the
shifted monotonic clock since the shift is constant.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _shift_clocks(offset: float) -> None:
    real_time, real_monotonic = time.time, time.monotonic
    time.time = lambda: real_time() + offset  # type: ignore[assignment]
    time.monotonic = lambda: real_monotonic() + offset  # type: ignore[assignment]


async def _open_store(cfg: dict[str, Any]) -> Any:
    if cfg["store"] == "sqlite":
        from assembly_async.auth import SQLiteTokenStore

        return await SQLiteTokenStore(cfg["path"]).open()
    from assembly_async.redis import RedisTokenStore

    return await RedisTokenStore(cfg["redis_url"], prefix=cfg["prefix"]).open()


async def main(cfg: dict[str, Any]) -> dict[str, Any]:
    import assembly_async as aa

    store = await _open_store(cfg)
    limiter = None
    if cfg.get("limit"):
        from assembly_async.redis import RedisRateLimiter

        limiter = await RedisRateLimiter(cfg["redis_url"], limit=cfg["limit"],
                                         window=cfg["window"], prefix=cfg["prefix"]).open()
    errors: collections.Counter[str] = collections.Counter()
    ok = 0
    try:
        async with aa.AssemblyClient(
            api_url=cfg["api_url"], oauth_url=cfg["oauth_url"], client_id=cfg["client_id"],
            client_secret=cfg["client_secret"], token_store=store,
            refresh_lease=cfg.get("lease", 30.0), rate_limiter=limiter,
            rate_limit=None if limiter is None else 1, retries=cfg.get("retries", 3),
        ) as client:
            school = client.school(cfg["school_id"])
            manager = client.token_manager(cfg["school_id"])
            print("ready", os.getpid(), manager.owner, flush=True)
            go = Path(cfg["go"])
            while not go.exists():
                await asyncio.sleep(0.005)
            left = cfg.get("calls", cfg["coroutines"])

            async def caller() -> None:
                nonlocal ok, left
                while left > 0:
                    left -= 1
                    try:
                        await school.details.status()
                        ok += 1
                    except aa.AssemblyError as exc:
                        errors[type(exc).__name__] += 1
                    if cfg["mode"] == "refresh":
                        return

            await asyncio.gather(*(caller() for _ in range(cfg["coroutines"])))
            grants = manager.refresh_count
            statuses = {str(k): v for k, v in client.stats(cfg["school_id"]).statuses.items()}
    finally:
        if limiter is not None:
            await limiter.close()
        await store.close()
    return {"pid": os.getpid(), "ok": ok, "errors": dict(errors), "grants": grants,
            "statuses": statuses}


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    if config.get("clock_offset"):
        _shift_clocks(float(config["clock_offset"]))
    result = asyncio.run(main(config))
    print(json.dumps(result), flush=True)
