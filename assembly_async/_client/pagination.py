"""Pagination: list operations as async iterators over every record.

A :class:`Paginator` is what every list method returns. ``async for`` walks
all pages; :meth:`Paginator.page` fetches one page with its paging facts;
:meth:`Paginator.pages` yields whole pages; :meth:`Paginator.raw_pages` yields
each page as parsed JSON (``list[dict]``) without building models. The
paginator knows nothing of HTTP: it is handed ``fetch_page(number, per_page)``
coroutine functions by the session.

Walking is concurrent: page 1 is fetched first; when its facts announce how
many pages follow (the stated total at the page size the server really used,
or ``Total-Pages``) the remaining pages are fetched with at most
``concurrency`` requests in flight, else up to ``concurrency`` pages are
fetched ahead speculatively. Records are always yielded in page order, and at
most ``concurrency`` pages are held ahead of the consumer. Leaving the loop
early, an exception or cancellation cancels and awaits every in-flight fetch
(:class:`PageWalker`).

A walk is complete or it fails: every page goes through a
:class:`~assembly_async._core.walk.WalkLedger`, which yields each record at
most once, follows any fact announcing more records, raises
:class:`~assembly_async.PagingError` for a short, repeating or endless walk,
and says at the end whether the walk is *proven complete*
(:meth:`PageWalker.summary`, :attr:`Paginator.last_walk`).

The page size is the API maximum (1500) unless the caller chose one. When a
server refuses 1500 (400) the walk falls back to 200; the size a server
enforces (refused, or silently capped as ``Per-Page``/a full first page
shows) is remembered per API host and operation in the client's
:class:`PageSizes`, so later walks ask for it directly. Concurrent first walks
of one operation wait for a single probe instead of each paying for a refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

import attrs

from .._core.errors import BadRequest
from .._core.paging import MAX_PER_PAGE, PageInfo, page_size_used
from .._core.responses import Validators
from .._core.walk import WalkSummary
from ..models._problems import DecodeProblem
from .pagesizes import PageSizes
from .walker import DEFAULT_CONCURRENCY, PageWalker, record_id

__all__ = [
    "DEFAULT_CONCURRENCY",
    "FALLBACK_PER_PAGE",
    "Page",
    "PageIterator",
    "PageSizes",
    "PageWalker",
    "Paginator",
    "RawPageIterator",
    "RecordIterator",
    "record_id",
]

T = TypeVar("T")
X = TypeVar("X")

#: CONCEPTS "Pagination": older pages say the maximum is 200; used when 1500 is refused.
FALLBACK_PER_PAGE = 200


@attrs.frozen
class Page(Generic[T]):
    """One page of records with its paging facts and conditional validators.

    ``not_modified`` is True for a 304 answer (no records, nothing changed).
    ``number`` and ``asked_per_page`` are what was asked for, ``url`` where the
    page came from (redacted); a walk uses them as evidence. ``status`` and
    ``headers`` (lower-cased names) are the HTTP answer's: the raw access of a
    list call.
    ``problems`` are the values that did not fit the model (each record was
    kept without them, or left out: see :class:`DecodeProblem`); they carry
    the raw values, which the page's caller may need and nobody else sees.
    On a raw page (``raw_pages()`` of a delta) the records are all there, as
    sent; the problems say what the typed models would lack. ``left_out``
    counts the records the server sent that are not in ``items`` because they
    could not become models (no usable ``id``): a walk still counts them as
    received.
    """

    items: list[T]
    info: PageInfo
    validators: Validators = attrs.field(factory=Validators)
    not_modified: bool = False
    number: int | None = None
    asked_per_page: int | None = None
    url: str | None = None
    status: int | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    problems: tuple[DecodeProblem, ...] = ()
    left_out: int = 0

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def received(self) -> int:
        """Records the server sent on this page: ``items`` and those left out
        (paging evidence counts what was sent, not what decoded)."""
        return len(self.items) + self.left_out

    def with_items(self, items: list[T]) -> Page[T]:
        """The same page holding only ``items`` (a walk drops records seen before)."""
        return attrs.evolve(self, items=items)

    @property
    def has_next(self) -> bool:
        """Whether another page may follow, from this page's facts read the
        conservative way: ``Next-Page`` or ``Total-Pages`` announcing one, the
        stated ``Total`` not reached, or (with none of those) a full page."""
        info = self.info
        count = self.received
        if self.not_modified or not count:
            return False
        if info.next_page is not None and info.next_page > info.page:
            return True
        if info.total_pages is not None and info.page < info.total_pages:
            return True
        size = info.per_page or self.asked_per_page or count
        if info.total is not None:
            return (info.page - 1) * size + count < info.total
        return count >= size


FetchPage = Callable[[int, "int | None"], Awaitable[Page[T]]]
RawRecord = dict[str, Any]


class _WalkIterator(Generic[X]):
    """Base of the iterators: owns a walker, closes it on exit and on collection."""

    def __init__(self, walker: PageWalker[Page[X]]) -> None:
        self._walker = walker

    @property
    def walker(self) -> PageWalker[Page[X]]:
        return self._walker

    @property
    def summary(self) -> WalkSummary:
        """The paging evidence of this walk (``proven`` once it ended)."""
        return self._walker.summary()

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

    def __init__(self, walker: PageWalker[Page[T]]) -> None:
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
    200 if the server refuses 1500; the size a server enforces is remembered in
    ``sizes`` under ``size_key`` (the client's :class:`PageSizes`), so later
    walks ask for it at once. Pages after the first are fetched
    ``concurrency`` at a time (default 3; 1 walks sequentially).
    :attr:`last_walk` holds the paging evidence of the latest walk (is it
    proven complete?).
    """

    def __init__(
        self,
        fetch_page: FetchPage[T],
        *,
        per_page: int | None,
        paged: bool,
        fetch_raw: FetchPage[RawRecord] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        sizes: PageSizes | None = None,
        size_key: Hashable = None,
    ) -> None:
        self._fetch_page = fetch_page
        self._fetch_raw = fetch_raw
        self._explicit = per_page is not None
        self._paged = paged
        self._sizes = sizes if paged and per_page is None else None
        self._size_key = size_key
        learned = self._sizes.get(size_key) if self._sizes is not None else None
        self._per_page = per_page if per_page is not None else (
            (learned or MAX_PER_PAGE) if paged else None)
        self.concurrency = concurrency
        #: HTTP requests (page fetches) this paginator has started.
        self.requests = 0
        self._walker: PageWalker[Page[Any]] | None = None

    @property
    def per_page(self) -> int | None:
        """The page size the paginator asks for (None: the server's default)."""
        return self._per_page

    @property
    def last_walk(self) -> WalkSummary | None:
        """The paging evidence of the latest walk (``proven``, ``received``,
        ``total``, ``anomalies``...), or None before the first."""
        return None if self._walker is None else self._walker.summary()

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
        sizes, key = self._sizes, self._size_key
        if sizes is None:
            return await self._get(fetch, number)
        known = await sizes.wait(key)
        if known is not None:
            self._per_page = known
            return await self._get(fetch, number)
        sizes.begin(key)  # no await since wait(): this walk is the only prober
        try:
            self._per_page = MAX_PER_PAGE
            try:
                page = await self._get(fetch, number)
            except BadRequest:
                self._per_page = FALLBACK_PER_PAGE
                page = await self._get(fetch, number)
            used = page_size_used(page.info, page.received, self._per_page)
            sizes.learn(key, min(used or self._per_page, self._per_page))
            return page
        finally:
            sizes.end(key)

    async def page(self, number: int = 1) -> Page[T]:
        """Fetch one page (1-based) with its paging facts."""
        return await self._first(self._fetch_page, number)

    def walker(self, *, raw: bool = False) -> PageWalker[Page[Any]]:
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

        self._walker = PageWalker(first, nth, concurrency=self.concurrency)
        return self._walker

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
