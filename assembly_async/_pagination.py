"""Pagination: list operations as async iterators over every record.

A :class:`Paginator` is what every list method returns. ``async for`` walks
all pages; :meth:`Paginator.page` fetches one page with its paging facts;
:meth:`Paginator.pages` yields whole pages. The paginator knows nothing of
HTTP: it is handed a ``fetch_page(number, per_page)`` coroutine function by the
session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

import attrs

from ._errors import BadRequest
from ._sansio import MAX_PER_PAGE, PageInfo, Validators

__all__ = ["FALLBACK_PER_PAGE", "Page", "Paginator"]

T = TypeVar("T")

#: CONCEPTS "Pagination": older pages say the maximum is 200; used when 1500 is refused.
FALLBACK_PER_PAGE = 200


@attrs.frozen
class Page(Generic[T]):
    """One page of records with its paging facts and conditional validators.

    ``not_modified`` is True for a 304 answer (no records, nothing changed).
    """

    items: list[T]
    info: PageInfo
    validators: Validators = attrs.field(factory=Validators)
    not_modified: bool = False

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


class Paginator(Generic[T]):
    """Every record of a list operation, fetched page by page.

    ``async for record in paginator`` walks all pages. Unless the caller chose a
    ``per_page``, walking uses the API maximum (1500) so that n records take
    ceil(n/1500) requests (CONCEPTS: 2 requests/s per token), falling back to
    200 once if the server refuses 1500.
    """

    def __init__(self, fetch_page: FetchPage[T], *, per_page: int | None, paged: bool) -> None:
        self._fetch_page = fetch_page
        self._explicit = per_page is not None
        self._per_page = per_page if per_page is not None else (MAX_PER_PAGE if paged else None)

    @property
    def per_page(self) -> int | None:
        """The page size the paginator asks for (None: the server's default)."""
        return self._per_page

    async def page(self, number: int = 1) -> Page[T]:
        """Fetch one page (1-based) with its paging facts."""
        try:
            return await self._fetch_page(number, self._per_page)
        except BadRequest:
            if self._explicit or self._per_page != MAX_PER_PAGE:
                raise
            self._per_page = FALLBACK_PER_PAGE
            return await self._fetch_page(number, self._per_page)

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Yield every page in order, starting at page 1."""
        number = 1
        while True:
            page = await self.page(number)
            yield page
            if not page.has_next:
                return
            following = page.next_number
            if following <= number:
                return
            number = following

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def all(self) -> list[T]:
        """Collect every record into a list (for small collections)."""
        return [item async for item in self]
