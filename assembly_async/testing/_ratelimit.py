"""Fixed-window rate limiting per access token (600 requests / 300 s by default)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._http import ApiError


@dataclass
class _Window:
    start: float
    count: int = 0


class RateLimiter:
    """Counts every request of a token inside a window of ``window_real`` seconds.

    The window opens with the token's first request.  Requests past ``limit``
    get 429 with ``data.period`` = real seconds until the window reopens.
    """

    def __init__(self, limit: int, window: float, time_scale: float = 1.0, *,
                 retry_after: bool = False, now: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.time_scale = time_scale
        self.retry_after = retry_after
        self.now = now
        self._windows: dict[str, _Window] = {}

    @property
    def window_real(self) -> float:
        return self.window / self.time_scale

    def configure(self, *, limit: int | None = None, window: float | None = None,
                  time_scale: float | None = None) -> None:
        if limit is not None:
            self.limit = limit
        if window is not None:
            self.window = window
        if time_scale is not None:
            self.time_scale = time_scale
        self._windows.clear()

    def period_value(self, seconds: float) -> int | float:
        """Integer seconds at time_scale 1 (as documented), else ms-precision float."""
        if self.time_scale == 1.0:
            return max(1, math.ceil(seconds))
        return max(0.001, math.ceil(seconds * 1000) / 1000)

    def hit(self, key: str) -> None:
        now = self.now()
        w = self._windows.get(key)
        if w is None or now - w.start >= self.window_real:
            w = self._windows[key] = _Window(now)
        w.count += 1
        if w.count > self.limit:
            remaining = w.start + self.window_real - now
            raise self.error(w.count, remaining)

    def error(self, count: int, remaining: float) -> ApiError:
        period = self.period_value(remaining)
        headers = {"Retry-After": str(max(1, math.ceil(remaining)))} if self.retry_after else None
        return ApiError(429, "too many requests",
                        data={"count": count, "period": period, "limit": self.limit},
                        headers=headers)

    def reset(self) -> None:
        self._windows.clear()
