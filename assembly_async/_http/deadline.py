"""One call's deadline: its state across attempts, and waits bounded by it.

:class:`CallState` knows how much of the deadline is left. Waits for rate
budget and 429 pauses count against it unless the call opted into
``wait_for_budget`` (then they are set aside in ``excluded``).

:class:`Lingering` bounds a token fetch (which may refresh, a request to the
token endpoint) by what is left of the deadline without ever cancelling it:
a refresh cut half way could lose the token the server already issued, while
one left to finish saves it for the next call.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from .._core.errors import AssemblyError, DecodeError
from .ratelimit import BudgetKey
from .tasks import wait_done
from .transport import Response

__all__ = ["MISSED", "CallState", "Lingering", "decode_safely"]

log = logging.getLogger("assembly_async.http")
T = TypeVar("T")


class _Missed(enum.Enum):
    MISSED = "MISSED"


#: What :meth:`Lingering.within` returns when the deadline came first.
MISSED: Final = _Missed.MISSED


class CallState:
    """State of one call across its attempts."""

    __slots__ = ("allow_unsafe", "attempt", "deadline", "excluded", "final", "history", "key",
                 "max_attempts", "method", "school_id", "started", "url_text",
                 "wait_for_budget")

    def __init__(self, method: str, school_id: int | None, max_attempts: int,
                 deadline: float | None, allow_unsafe: bool, wait_for_budget: bool) -> None:
        self.method = method
        self.school_id = school_id
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.allow_unsafe = allow_unsafe
        self.wait_for_budget = wait_for_budget
        self.attempt = 0
        self.started = time.monotonic()
        # Seconds waited for budget and 429 pauses, not charged to the deadline
        # (only with wait_for_budget).
        self.excluded = 0.0
        self.history: list[BaseException] = []
        #: An error never retried by the call: one from the token provider (the
        #: OAuth client retried what it safely could; again would resend a grant).
        self.final: BaseException | None = None
        self.url_text: str | None = None
        self.key: BudgetKey | None = None

    def used(self) -> float:
        return time.monotonic() - self.started - self.excluded

    def left(self) -> float | None:
        """Seconds left of the deadline (negative once passed); None: no deadline."""
        return None if self.deadline is None else self.deadline - self.used()


class Lingering:
    """Awaits coroutines for a bounded time and lets those still running when
    the time is up finish in the background (their failures are retrieved and
    logged by class name at DEBUG, never left for asyncio to print)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    async def within(self, seconds: float | None,
                     get: Callable[[], Awaitable[T]]) -> T | _Missed:
        """``await get()`` for at most ``seconds`` (None: as long as it takes);
        :data:`MISSED` when the time ran out first."""
        if seconds is None:
            return await get()
        task = asyncio.ensure_future(get())
        try:
            done = await wait_done(task, max(seconds, 0.0))
        finally:
            if not task.done():  # timed out, or the caller was cancelled
                self._tasks.add(task)
                task.add_done_callback(self._done)
        return task.result() if done else MISSED

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved: no "exception was never retrieved"
        if exc is not None:
            log.debug("a token fetch that outlived its call failed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        """Cancel whatever is still running (the client is closing)."""
        pending, self._tasks = self._tasks, set()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def decode_safely(decode: Callable[[Response], T], resp: Response) -> T:
    """Run the caller's decoding; anything but an AssemblyError becomes a
    DecodeError naming only the exception's class (a RecursionError from deep
    nesting, a ValueError from ``int("²")``...): its text may quote the data."""
    try:
        return decode(resp)
    except AssemblyError:
        raise
    except Exception as exc:
        failure = DecodeError(f"the answer could not be read ({type(exc).__name__})",
                              url=resp.url)
        log.debug("decoding %s raised %s", resp.url, type(exc).__name__)
    raise failure  # outside the except block: nothing chained
