"""429 at the per-token limit, its body, and recovery after the scaled window."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from assembly_async.testing import ACCEPT_V1_1, FakeAssembly


async def _get(session: aiohttp.ClientSession, fake: FakeAssembly, token: str
               ) -> tuple[int, Any, Any]:
    async with session.get(str(fake.url) + "/school", headers={
            "Authorization": f"Bearer {token}", "Accept": ACCEPT_V1_1}) as r:
        return r.status, await r.json(), r.headers


async def test_429_and_recovery(fake_assembly_factory: Any) -> None:
    # 300 s window at time_scale 500 lasts 0.6 real seconds
    fake: FakeAssembly = await fake_assembly_factory(schools=2, rate_limit=5, time_scale=500)
    token = fake.school_token(1).access_token
    async with aiohttp.ClientSession() as s:
        started = time.monotonic()
        for _ in range(5):
            assert (await _get(s, fake, token))[0] == 200
        status, body, headers = await _get(s, fake, token)
        assert status == 429
        assert body["error"] == "too many requests"
        assert body["data"]["count"] == 6 and body["data"]["limit"] == 5
        period = body["data"]["period"]
        assert isinstance(period, (int, float)) and 0 < period <= 0.6
        assert "Retry-After" not in headers
        status, body, _ = await _get(s, fake, token)
        assert status == 429 and body["data"]["count"] == 7
        # another token has its own budget
        assert (await _get(s, fake, fake.school_token(2).access_token))[0] == 200
        await asyncio.sleep(max(0.0, started + 0.62 - time.monotonic()))
        assert (await _get(s, fake, token))[0] == 200


async def test_default_limit_is_600_per_300s_with_integer_period(fake_assembly_factory: Any
                                                                  ) -> None:
    fake: FakeAssembly = await fake_assembly_factory(schools=1, retry_after_header=True)
    assert fake.core.limiter.limit == 600 and fake.core.limiter.window_real == 300
    fake.set_rate_limit(limit=2)
    token = fake.school_token(1).access_token
    async with aiohttp.ClientSession() as s:
        await _get(s, fake, token)
        await _get(s, fake, token)
        status, body, headers = await _get(s, fake, token)
    assert status == 429
    assert body == {"error": "too many requests",
                    "data": {"count": 3, "period": body["data"]["period"], "limit": 2}}
    assert isinstance(body["data"]["period"], int) and 299 <= body["data"]["period"] <= 300
    assert headers["Retry-After"] in ("299", "300")
