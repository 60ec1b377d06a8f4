"""Stopping tasks that may be inside a Redis call.

redis-py's asyncio client can swallow a cancellation that lands at the wrong
moment of a command (redis/redis-py#2028, #2551): the task goes on as if
nothing happened. So a task is stopped by cancelling it until it ends, and
loops that must end also check a flag.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["stop_task"]


async def stop_task(task: asyncio.Task[Any], *, every: float = 0.2) -> None:
    """Cancel ``task`` until it ended, again every ``every`` seconds (give it at
    least the time its own clean-up takes); never raises the task's own
    outcome. If the caller is cancelled meanwhile, its cancellation propagates."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=every)
    if not task.cancelled():
        task.exception()  # retrieved: never "exception was never retrieved"
