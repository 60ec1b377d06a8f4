"""The concurrent walk over a list's pages, checked page by page by a WalkLedger.

:class:`PageWalker` fetches page 1, then the following pages with at most
``concurrency`` in flight, hands them out in page order, drops records already
handed out, and never fetches a page beyond the bound the
:class:`~assembly_async._core.walk.WalkLedger` derives from page 1. It knows
nothing of HTTP or of the page class: pages are anything with the
:class:`WalkPage` shape (``pagination.Page``).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from .._core.paging import PageInfo
from .._core.walk import WalkLedger, WalkSummary

__all__ = ["DEFAULT_CONCURRENCY", "PageWalker", "WalkPage", "record_id"]

#: Pages in flight (and held ahead of the consumer) while walking a list.
#: Memory is bounded by this many decoded pages (about 6.5 MiB per 1500 students);
#: three pages of about 1.5 s latency already use a school's whole budget of
#: 2 requests/s (CONCEPTS "Rate limiting"), so more would only cost memory.
DEFAULT_CONCURRENCY = 3

P = TypeVar("P", bound="WalkPage")


class WalkPage(Protocol):
    """What the walker needs of a page."""

    @property
    def items(self) -> list[Any]: ...

    @property
    def info(self) -> PageInfo: ...

    @property
    def not_modified(self) -> bool: ...

    @property
    def asked_per_page(self) -> int | None: ...

    @property
    def url(self) -> str | None: ...

    @property
    def left_out(self) -> int:
        """Records the server sent that the page does not hold (they could not be decoded)."""
        ...

    def with_items(self: P, items: list[Any]) -> P:
        """The same page holding only ``items``."""
        ...


def record_id(record: Any) -> Any:
    """The ``id`` of a record (model or dict) if it is a usable key, else None."""
    value = record.get("id") if isinstance(record, dict) else getattr(record, "id", None)
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    return None


class PageWalker(Generic[P]):
    """Fetches pages 2.. concurrently, hands them out in order, each checked by a
    :class:`WalkLedger`.

    ``first()`` fetches page 1; ``fetch(n)`` page n. At most ``concurrency``
    fetches are in flight or waiting to be consumed, so memory is bounded by
    that many pages; no page beyond the ledger's bound is ever fetched. Records
    already handed out are dropped from later pages. :meth:`aclose` cancels and
    awaits every pending fetch; it is idempotent and also runs when the walk
    ends or fails. After the last page, the next call checks the walk against
    the stated total (raising :class:`PagingError` when short) and returns None.
    """

    __slots__ = ("_concurrency", "_done", "_end", "_ending", "_fetch", "_first", "_first_page",
                 "_next_number", "_pending", "_started", "exhausted", "ledger")

    def __init__(
        self,
        first: Callable[[], Awaitable[P]],
        fetch: Callable[[int], Awaitable[P]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        self._first = first
        self._fetch = fetch
        self._concurrency = concurrency
        self._pending: collections.deque[tuple[int, asyncio.Task[P]]] = collections.deque()
        self._started = False
        self._done = False
        self._ending = False
        #: Last page number the evidence announces (fetched ahead), or None while unknown.
        self._end: int | None = None
        self._next_number = 2
        self._first_page: P | None = None
        #: True once every page was handed out and the walk checked out.
        self.exhausted = False
        #: The paging evidence of this walk.
        self.ledger = WalkLedger()

    @property
    def totals(self) -> set[int]:
        """Every ``total`` the pages stated; more than one means the list changed
        during the walk, so offset paging may have shifted a record past us."""
        return set(self.ledger.summary().totals)

    @property
    def stable(self) -> bool:
        """No page reported a different total than the others."""
        return len(self.totals) <= 1

    @property
    def proven(self) -> bool:
        """The walk ended and its records are provably the whole list (see
        :class:`WalkSummary`)."""
        return self.exhausted and self.ledger.summary().proven

    def summary(self) -> WalkSummary:
        """The paging evidence of the walk so far."""
        return self.ledger.summary()

    @property
    def first_page(self) -> P | None:
        """Page 1 once fetched (its validators are the sync watermark)."""
        return self._first_page

    def _schedule(self) -> None:
        bound = self.ledger.bound
        while len(self._pending) < self._concurrency:
            number = self._next_number
            if (self._end is not None and number > self._end) or \
                    (bound is not None and number > bound):
                return
            self._next_number += 1
            task = asyncio.ensure_future(self._fetch(number))
            self._pending.append((number, task))

    async def next_page(self) -> P | None:
        """The next page in order, or None at the end."""
        if self._done:
            return None
        try:
            if self._ending:
                self.ledger.finish()
                await self._finish()
                return None
            if not self._started:
                self._started = True
                page = await self._first()
                self._first_page = page
                return await self._take(1, page)
            if not self._pending:
                # The evidence asks for a page nobody announced: one more, within the bound.
                self.ledger.check_next(self._next_number)
                self._end = self._next_number
                self._schedule()
            number, task = self._pending.popleft()
            return await self._take(number, await task)
        except BaseException:
            await self.aclose()
            raise

    async def _take(self, number: int, page: P) -> P | None:
        if page.not_modified:
            if number != 1:
                raise self.ledger.error(f"page {number} answered 304 Not Modified in the "
                                        "middle of a walk")
            await self._finish()  # a 304 delta: nothing changed, nothing to check
            return page
        ids = [record_id(r) for r in page.items]
        # Records the decoder left out were received all the same (ids unknown).
        verdict = self.ledger.add(number, page.info, ids + [None] * page.left_out,
                                  asked_per_page=page.asked_per_page, url=page.url)
        if verdict.keep is not None:
            keep = verdict.keep[:len(ids)]
            page = page.with_items([r for r, k in zip(page.items, keep, strict=True) if k])
        if not verdict.more:
            # The list ended: drop what was fetched ahead; check it on the next call.
            self._ending = True
            await self._cancel_pending()
            if not page.items and number != 1:
                self.ledger.finish()
                await self._finish()
                return None
            return page
        if verdict.through is not None:
            self._end = verdict.through
        self._schedule()
        return page

    async def _finish(self) -> None:
        self.exhausted = True
        await self.aclose()

    async def _cancel_pending(self) -> None:
        pending = [task for _, task in self._pending]
        self._pending.clear()
        if not pending:
            return
        for task in pending:
            task.cancel()
        # Await them all even if we are cancelled meanwhile: no task may leak.
        gathered = asyncio.gather(*pending, return_exceptions=True)
        try:
            await asyncio.shield(gathered)
        except asyncio.CancelledError:
            await gathered
            raise

    async def aclose(self) -> None:
        """Cancel and await every pending fetch (no task outlives the walk)."""
        self._done = True
        await self._cancel_pending()

    def cancel_pending(self) -> None:
        """Synchronous best effort (used when an iterator is garbage collected)."""
        self._done = True
        for _, task in self._pending:
            task.cancel()
            # Retrieve a possible exception later so it is never reported as lost.
            task.add_done_callback(_consume)
        self._pending.clear()


def _consume(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
