"""Paging facts of a list response, and the pure functions that read them.

CONCEPTS "Pagination": version 1.1 states ``Page``, ``Per-Page``, ``Total``,
``Total-Pages``, ``Next-Page`` and ``Prev-Page`` in headers (the last two
empty when there is none); version 1 states ``current_page``, ``total_count``,
``total_pages``, ``next_page`` and ``prev_page`` in an envelope. Everything
here is a pure function of those facts (no I/O, no asyncio): reading them,
the page size a server really used, the pages a total takes and the bound of
pages a walk may fetch. :mod:`.walk` folds the facts of a whole walk into the
evidence that it is complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "EXTRA_PAGES",
    "MAX_PER_PAGE",
    "UNSTATED_PAGE_LIMIT",
    "PageInfo",
    "expected_pages",
    "page_bound",
    "page_size_used",
    "paging_from_envelope",
    "paging_from_headers",
]

#: CONCEPTS "Pagination": per_page maximum is 1500 on version 1.1.
MAX_PER_PAGE = 1500
#: Pages a walk may fetch beyond what its first page announced, plus one per ten
#: announced: room for a list that grows while it is walked.
EXTRA_PAGES = 2
#: Pages a walk may fetch when its first page states neither a total nor a page
#: count (such a walk is never proven complete; this only stops an endless one
#: before it spends a school's whole rate budget of 600 requests per 5 minutes).
#: At 1500 a page that is 750,000 records; the API itself always states totals.
UNSTATED_PAGE_LIMIT = 500

_FACTS = ("page", "per_page", "total", "total_pages", "next_page", "prev_page")


@attrs.frozen
class PageInfo:
    """Paging facts of one list response, from v1.1 headers or the v1 envelope.

    ``stated`` names the facts the server sent at all (an empty ``Next-Page``
    says "no next page", a missing one says nothing); it is evidence about the
    facts rather than a fact, so it takes no part in equality.
    """

    page: int
    per_page: int | None = None
    total: int | None = None
    total_pages: int | None = None
    next_page: int | None = None
    prev_page: int | None = None
    stated: frozenset[str] = attrs.field(default=frozenset(), eq=False, repr=False)

    def states(self, fact: str) -> bool:
        """Whether the server stated ``fact`` (``"next_page"``...), even as empty."""
        return fact in self.stated or getattr(self, fact) is not None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def paging_from_headers(headers: Mapping[str, str], requested_page: int) -> PageInfo:
    """Read v1.1 paging headers (``Page``, ``Total``, ``Total-Pages``, ``Per-Page``,
    ``Next-Page``, ``Prev-Page``; the last two empty when there is none).

    ``headers`` must be keyed in lower case (the transport normalises them).
    """
    names = {"page": "page", "per_page": "per-page", "total": "total",
             "total_pages": "total-pages", "next_page": "next-page", "prev_page": "prev-page"}
    return PageInfo(
        page=_int_header(headers, "page") or requested_page,
        per_page=_int_header(headers, "per-page"),
        total=_int_header(headers, "total"),
        total_pages=_int_header(headers, "total-pages"),
        next_page=_int_header(headers, "next-page"),
        prev_page=_int_header(headers, "prev-page"),
        stated=frozenset(fact for fact, header in names.items() if header in headers),
    )


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        try:  # "²".isdigit() is True, yet int("²") raises
            return int(value)
        except ValueError:
            return None
    return None


def paging_from_envelope(meta: Mapping[str, Any], requested_page: int) -> PageInfo:
    """Read the v1 envelope fields (``total_count``, ``total_pages``, ``current_page``,
    ``next_page``, ``prev_page``)."""
    names = {"page": "current_page", "total": "total_count", "total_pages": "total_pages",
             "next_page": "next_page", "prev_page": "prev_page"}
    return PageInfo(
        page=_opt_int(meta.get("current_page")) or requested_page,
        per_page=None,
        total=_opt_int(meta.get("total_count")),
        total_pages=_opt_int(meta.get("total_pages")),
        next_page=_opt_int(meta.get("next_page")),
        prev_page=_opt_int(meta.get("prev_page")),
        stated=frozenset(fact for fact, key in names.items() if key in meta),
    )


def _announces_more(info: PageInfo, count: int) -> bool:
    """Whether the facts of a first page say another page follows it."""
    return bool((info.next_page is not None and info.next_page > 1)
                or (info.total_pages is not None and info.total_pages > 1)
                or (info.total is not None and info.total > count))


def page_size_used(info: PageInfo, count: int, asked: int | None) -> int | None:
    """The page size the server used for page 1, or None when the facts cannot
    tell: the length of a full first page when more pages are announced (the
    strongest evidence: it is what was served), else ``Per-Page``, else the size
    asked for when the page came back exactly that full."""
    if count > 0 and _announces_more(info, count):
        return count
    if info.per_page is not None and info.per_page > 0:
        return info.per_page
    if asked is not None and count == asked and count > 0:
        return asked
    return None


def expected_pages(total: int, page_size: int) -> int:
    """Pages a list of ``total`` records takes at ``page_size`` (0 for an empty list)."""
    return -(-max(total, 0) // max(page_size, 1))


def page_bound(expected: int | None) -> int:
    """The most pages a walk may fetch when its first page announced ``expected``
    pages (None: it announced nothing): the announced pages plus slack for a list
    growing during the walk (``EXTRA_PAGES`` and one page in ten)."""
    if expected is None:
        return UNSTATED_PAGE_LIMIT
    expected = max(expected, 1)
    return expected + EXTRA_PAGES + expected // 10
