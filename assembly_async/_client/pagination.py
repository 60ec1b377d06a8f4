"""Pagination: list operations as async iterators over every record.

A :class:`Paginator` is what every list method returns. ``async for`` walks
all pages; :meth:`Paginator.page` fetches one page with its paging facts;
:meth:`Paginator.pages` yields whole pages; :meth:`Paginator.raw_pages` yields
each page as parsed JSON (``list[dict]``) without building models. The
paginator knows nothing of HTTP: it is handed ``fetch_page(number, per_page)``
coroutine functions by the session.

Walking is concurrent: page 1 is fetched first; when it states the total
(``Total-Pages`` in 1.1, ``total_pages`` in 1) the remaining pages are fetched
with at most ``concurrency`` requests in flight, else up to ``concurrency``
pages are fetched ahead speculatively until a short or empty page ends the
list. Records are always yielded in page order, and at most ``concurrency``
pages are held ahead of the consumer. Leaving the loop early, an exception or
cancellation cancels and awaits every in-flight fetch (:class:`PageWalker`).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

import attrs

from .._core.errors import BadRequest
from .._core.paging import MAX_PER_PAGE, PageInfo
from .._core.responses import Validators
from ..models._problems import DecodeProblem

__all__ = [
    "DEFAULT_CONCURRENCY",
    "FALLBACK_PER_PAGE",
    "Page",
    "PageIterator",
    "PageWalker",
    "Paginator",
    "RawPageIterator",
    "RecordIterator",
]

T = TypeVar("T")
X = TypeVar("X")

#: Pages in flight (and held ahead of the consumer) while walking a list.
#: Memory is bounded by this many decoded pages (about 6.5 MiB per 1500 students);
#: three pages of about 1.5 s latency already use a school's whole budget of
#: 2 requests/s (CONCEPTS "Rate limiting"), so more would only cost memory.
DEFAULT_CONCURRENCY = 3

#: CONCEPTS "Pagination": older pages say the maximum is 200; used when 1500 is refused.
FALLBACK_PER_PAGE = 200


@attrs.frozen
class Page(Generic[T]):
    """One page of records with its paging facts and conditional validators.

    ``not_modified`` is True for a 304 answer (no records, nothing changed).
    ``problems`` are the values that did not fit the model (each record was
    kept without them, or left out: see :class:`DecodeProblem`); they carry
    the raw values, which the page's caller may need and nobody else sees.
    On a raw page (``raw_pages()`` of a delta) the records are all there, as
    sent; the problems say what the typed models would lack.
    """

    items: list[T]
    info: PageInfo
    validators: Validators = attrs.field(factory=Validators)
    not_modified: bool = False
    problems: tuple[DecodeProblem, ...] = ()

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_next(self) -> bool:
        """Whether another page follows, from ``Next-Page``/``Total-Pages`` or, when
        the server gives neither, from a full page."""
        info = self.info
        if self.not_modified or not self.items:
            return False
        if info.next_page is not None:
            return info.next_page > info.page
        if info.total_pages is not None:
            return info.page < info.total_pages
        if info.total is not None and info.per_page:
            return info.page * info.per_page < info.total
        return info.per_page is not None and len(self.items) >= info.per_page

    @property
    def next_number(self) -> int:
        info = self.info
        if info.next_page is not None and info.next_page > info.page:
            return info.next_page
        return info.page + 1


FetchPage = Callable[[int, "int | None"], Awaitable[Page[T]]]
RawRecord = dict[str, Any]


def _total_pages(page: Page[Any]) -> int | None:
    info = page.info
    if info.total_pages is not None:
        return info.total_pages
    if info.total is not None and info.per_page:
        return -(-info.total // info.per_page)
    return None


class PageWalker(Generic[X]):
    """Fetches pages 2.. concurrently, hands them out in order.

    ``first()`` fetches page 1; ``fetch(n)`` page n. At most ``concurrency``
    fetches are in flight or waiting to be consumed, so memory is bounded by
    that many pages. :meth:`aclose` cancels and awaits every pending fetch; it
    is idempotent and also runs when the walk ends or fails.
    """

    __slots__ = ("_concurrency", "_done", "_end", "_fetch", "_first", "_first_page",
                 "_next_number", "_pending", "_started", "exhausted", "totals")

    def __init__(
        self,
        first: Callable[[], Awaitable[Page[X]]],
        fetch: Callable[[int], Awaitable[Page[X]]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        self._first = first
        self._fetch = fetch
        self._concurrency = concurrency
        self._pending: collections.deque[tuple[int, asyncio.Task[Page[X]]]] = collections.deque()
        self._started = False
        self._done = False
        #: Last page number to fetch (known total), or None while unknown.
        self._end: int | None = None
        self._next_number = 2
        self._first_page: Page[X] | None = None
        #: True once every page was handed out (the walk reached the end).
        self.exhausted = False
        #: Every ``total`` the pages reported; more than one means the list changed
        #: during the walk, so offset paging may have shifted a record past us.
        self.totals: set[int] = set()

    @property
    def stable(self) -> bool:
        """No page reported a different total than the others."""
        return len(self.totals) <= 1

    @property
    def first_page(self) -> Page[X] | None:
        """Page 1 once fetched (its validators are the sync watermark)."""
        return self._first_page

    def _schedule(self) -> None:
        while len(self._pending) < self._concurrency:
            number = self._next_number
            if self._end is not None and number > self._end:
                return
            self._next_number += 1
            task = asyncio.ensure_future(self._fetch(number))
            self._pending.append((number, task))

    async def next_page(self) -> Page[X] | None:
        """The next page in order, or None at the end."""
        if self._done:
            return None
        try:
            if not self._started:
                self._started = True
                page = await self._first()
                self._first_page = page
                self._seen(page)
                if not page.has_next:
                    await self._finish()
                    return page
                self._end = _total_pages(page)
                if self._end is None and page.next_number > 2:
                    self._next_number = page.next_number
                self._schedule()
                return page
            if not self._pending:
                await self._finish()
                return None
            _, task = self._pending.popleft()
            page = await task
            self._seen(page)
            if self._end is None and not page.has_next:
                # Unknown total: a short or empty page ends the list; drop the speculation.
                await self._finish()
                return page if page.items else None
            if self._end is not None and page.has_next:
                # The list grew during the walk: follow the newer total.
                grown = _total_pages(page)
                if grown is not None and grown > self._end:
                    self._end = grown
            self._schedule()
            return page
        except BaseException:
            await self.aclose()
            raise

    def _seen(self, page: Page[X]) -> None:
        if page.info.total is not None and not page.not_modified:
            self.totals.add(page.info.total)

    async def _finish(self) -> None:
        self.exhausted = True
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel and await every pending fetch (no task outlives the walk)."""
        self._done = True
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


class _WalkIterator(Generic[X]):
    """Base of the iterators: owns a walker, closes it on exit and on collection."""

    def __init__(self, walker: PageWalker[X]) -> None:
        self._walker = walker

    @property
    def walker(self) -> PageWalker[X]:
        return self._walker

    async def aclose(self) -> None:
        """Stop early: cancel and await the in-flight page fetches."""
        await self._walker.aclose()

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        walker = getattr(self, "_walker", None)
        if walker is not None and walker._pending:
            walker.cancel_pending()


_Self = TypeVar("_Self", bound="_WalkIterator[Any]")


class PageIterator(_WalkIterator[T]):
    """``async for page in paginator.pages()``: whole pages in order."""

    def __aiter__(self) -> PageIterator[T]:
        return self

    async def __anext__(self) -> Page[T]:
        page = await self._walker.next_page()
        if page is None:
            raise StopAsyncIteration
        return page


class RawPageIterator(_WalkIterator[RawRecord]):
    """``async for records in paginator.raw_pages()``: each page as ``list[dict]``."""

    def __aiter__(self) -> RawPageIterator:
        return self

    async def __anext__(self) -> list[RawRecord]:
        page = await self._walker.next_page()
        if page is None:
            raise StopAsyncIteration
        return page.items


class RecordIterator(_WalkIterator[T]):
    """``async for record in paginator``: every record in page order."""

    def __init__(self, walker: PageWalker[T]) -> None:
        super().__init__(walker)
        self._items: Iterator[T] = iter(())

    def __aiter__(self) -> RecordIterator[T]:
        return self

    async def __anext__(self) -> T:
        for item in self._items:
            return item
        while True:
            page = await self._walker.next_page()
            if page is None:
                raise StopAsyncIteration
            self._items = iter(page.items)
            for item in self._items:
                return item


class Paginator(Generic[T]):
    """Every record of a list operation, fetched page by page.

    ``async for record in paginator`` walks all pages. Unless the caller chose a
    ``per_page``, walking uses the API maximum (1500) so that n records take
    ceil(n/1500) requests (CONCEPTS: 2 requests/s per token), falling back to
    200 once if the server refuses 1500. Pages after the first are fetched
    ``concurrency`` at a time (default 3; 1 walks sequentially).
    """

    def __init__(
        self,
        fetch_page: FetchPage[T],
        *,
        per_page: int | None,
        paged: bool,
        fetch_raw: FetchPage[RawRecord] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._fetch_page = fetch_page
        self._fetch_raw = fetch_raw
        self._explicit = per_page is not None
        self._per_page = per_page if per_page is not None else (MAX_PER_PAGE if paged else None)
        self.concurrency = concurrency
        #: HTTP requests (page fetches) this paginator has started.
        self.requests = 0

    @property
    def per_page(self) -> int | None:
        """The page size the paginator asks for (None: the server's default)."""
        return self._per_page

    def concurrent(self, concurrency: int) -> Paginator[T]:
        """Set how many pages are fetched at once; returns the paginator."""
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        self.concurrency = concurrency
        return self

    async def _get(self, fetch: FetchPage[X], number: int) -> Page[X]:
        self.requests += 1
        return await fetch(number, self._per_page)

    async def _first(self, fetch: FetchPage[X], number: int = 1) -> Page[X]:
        try:
            return await self._get(fetch, number)
        except BadRequest:
            if self._explicit or self._per_page != MAX_PER_PAGE:
                raise
            self._per_page = FALLBACK_PER_PAGE
            return await self._get(fetch, number)

    async def page(self, number: int = 1) -> Page[T]:
        """Fetch one page (1-based) with its paging facts."""
        return await self._first(self._fetch_page, number)

    def walker(self, *, raw: bool = False) -> PageWalker[Any]:
        """A fresh concurrent walk over every page (models, or raw dicts)."""
        fetch: FetchPage[Any]
        if raw:
            if self._fetch_raw is None:
                raise TypeError("this paginator has no raw mode")
            fetch = self._fetch_raw
        else:
            fetch = self._fetch_page

        def first() -> Awaitable[Page[Any]]:
            return self._first(fetch)

        def nth(number: int) -> Awaitable[Page[Any]]:
            return self._get(fetch, number)

        return PageWalker(first, nth, concurrency=self.concurrency)

    def pages(self) -> PageIterator[T]:
        """Every page in order, starting at page 1 (``async for page in ...``)."""
        return PageIterator(self.walker())

    def raw_pages(self) -> RawPageIterator:
        """Every page as parsed JSON (``list[dict]``), no models built: for sinks
        that store JSON."""
        return RawPageIterator(self.walker(raw=True))

    def __aiter__(self) -> RecordIterator[T]:
        return RecordIterator(self.walker())

    async def all(self) -> list[T]:
        """Collect every record into a list (for small collections)."""
        out: list[T] = []
        async with self.pages() as pages:
            async for page in pages:
                out.extend(page.items)
        return out
