"""The evidence that a list walk is complete: a :class:`WalkLedger` is fed the
pages of one walk in order and decides, from ALL the paging facts (the page
size the server really used, ``Next-Page``, ``Total-Pages``, ``Total`` and the
records received), whether another page may follow, which records are new,
and at the end whether the walk is *proven complete*.

When the facts disagree it reads them the conservative way (any fact
announcing more records is followed, within a bound of pages) and raises
:class:`PagingError` when the records cannot be the whole list: fewer distinct
records than the stated total, a page repeating earlier records, or more pages
than the first page announced. Pure bookkeeping, no I/O, tested offline.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Hashable, Sequence
from typing import Any

import attrs

from .errors import PagingError
from .paging import PageInfo, expected_pages, page_bound, page_size_used

__all__ = ["PageVerdict", "SeenIds", "WalkLedger", "WalkSummary"]


class SeenIds:
    """The ids a walk has handed out, compactly: lists come ordered by id, so
    ids above every id seen so far go to a sorted ``array`` (8 bytes each, and
    "is it new?" is one comparison); anything else (an id out of order, a
    string) goes to a set. 100,000 ids take about 1 MB instead of about 7."""

    __slots__ = ("_ordered", "_other")

    def __init__(self) -> None:
        self._ordered = array("q")
        self._other: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._ordered) + len(self._other)

    def add(self, record_id: Hashable) -> bool:
        """Remember ``record_id``; False if it was already there."""
        ordered = self._ordered
        if type(record_id) is int:
            if not ordered or record_id > ordered[-1]:
                if -(2**63) <= record_id < 2**63:
                    ordered.append(record_id)
                    return True
            else:
                at = bisect_left(ordered, record_id)
                if at < len(ordered) and ordered[at] == record_id:
                    return False
        if record_id in self._other:
            return False
        self._other.add(record_id)
        return True


@attrs.frozen
class PageVerdict:
    """What the ledger concluded from one page.

    ``keep`` flags the records that are new (None: all of them); ``more`` says
    whether the evidence lets another page follow; ``through`` is the last page
    number the evidence announces (None: unknown), for fetching ahead.
    """

    keep: tuple[bool, ...] | None
    more: bool
    through: int | None


@attrs.frozen
class WalkSummary:
    """The evidence of one walk: what a caller needs to trust (or not) its records.

    ``proven`` is True only when a total was stated, never changed, equals the
    distinct records received, and the page count and page facts agree;
    ``anomalies`` lists what disagreed (a walk with any is never proven).
    """

    pages: int
    received: int
    duplicates: int
    total: int | None
    totals: tuple[int, ...]
    total_pages: int | None
    page_size: int | None
    asked_per_page: int | None
    bound: int | None
    ended: bool
    proven: bool
    anomalies: tuple[str, ...]
    url: str | None = None

    @property
    def shifted(self) -> bool:
        """The stated total changed during the walk (offset paging may have moved a
        record past it)."""
        return len(set(self.totals)) > 1

    def unproven_because(self) -> str:
        """Why the walk is not proven complete ("" when it is)."""
        if self.proven:
            return ""
        if not self.ended:
            return "the walk did not reach its end"
        if not self.totals:
            return "no page stated a total"
        if self.shifted:
            return f"the total changed during the walk ({', '.join(map(str, self.totals))})"
        if self.anomalies:
            return "; ".join(self.anomalies)
        return f"{self.received} distinct records against a stated total of {self.total}"


class WalkLedger:
    """Folds the pages of one walk, in page order, into a verdict per page and a
    :class:`WalkSummary` at the end. Pure bookkeeping: no I/O.

    :meth:`add` each page (it raises :class:`PagingError` for a page that only
    repeats earlier records), :meth:`check_next` before fetching a page the
    evidence asked for (it raises beyond the bound), :meth:`finish` when the
    evidence says the list ended (it raises when fewer distinct records arrived
    than the stated total allows).
    """

    def __init__(self) -> None:
        self._seen = SeenIds()
        self._totals: list[int] = []
        #: kind -> [the first such anomaly, how many pages showed it]
        self._anomalies: dict[str, list[Any]] = {}
        self._announced: tuple[str, ...] = ()
        self.pages = 0
        self.received = 0
        self.duplicates = 0
        self.total_pages: int | None = None
        self.page_size: int | None = None
        self.asked_per_page: int | None = None
        self.bound: int | None = None
        self.last_filled = 0
        self.number = 0
        self.url: str | None = None
        self.ended = False
        self._first_count = 0

    # -- evidence ------------------------------------------------------------

    def _anomaly(self, text: str, kind: str | None = None) -> None:
        """Note a fact that disagrees; one of a ``kind`` per walk, counted."""
        seen = self._anomalies.setdefault(kind or text, [text, 0])
        seen[1] += 1

    def _anomaly_texts(self) -> tuple[str, ...]:
        return tuple(text if count == 1 else f"{text} (and on {count - 1} more pages)"
                     for text, count in self._anomalies.values())

    def _figures(self) -> dict[str, Any]:
        return {"total": self._totals[-1] if self._totals else None,
                "total_pages": self.total_pages, "per_page": self.page_size,
                "asked_per_page": self.asked_per_page, "received": self.received,
                "duplicates": self.duplicates or None, "pages": self.pages,
                "page_bound": self.bound}

    def error(self, reason: str) -> PagingError:
        """A :class:`PagingError` naming the current page, its URL and the figures."""
        return PagingError(reason, url=self.url, page=self.number or None,
                           figures=self._figures())

    def add(self, number: int, info: PageInfo, ids: Sequence[Hashable | None], *,
            asked_per_page: int | None = None, url: str | None = None) -> PageVerdict:
        """Take page ``number`` (``ids``: one per record, None for a record
        without a usable id) and say which records are new and whether more may follow."""
        first = self.pages == 0
        self.pages += 1
        self.number, self.url = number, url
        if first:
            self.asked_per_page = asked_per_page
        count = len(ids)
        if info.states("page") and info.page != number:
            self._anomaly(f"page {number} was answered as page {info.page}", "page")
        info = self._sane(info)
        self._read_counts(info)
        keep = self._dedupe(number, ids)
        if first:
            self._first_count = count
            self.page_size = page_size_used(info, count, asked_per_page)
            if (info.per_page is not None and self.page_size is not None
                    and info.per_page != self.page_size):
                self._anomaly(f"Per-Page says {info.per_page} but a full page held "
                              f"{self.page_size} records")
            self.bound = page_bound(self._expected())
        else:
            if self.page_size is None and count:
                self.page_size = self._first_count  # page 1 was full after all
            if info.per_page is not None and self.page_size is not None \
                    and info.per_page != self.page_size:
                self._anomaly(f"Per-Page changed to {info.per_page} on page {number}",
                              "per_page")
            if not count and {"next_page", "total_pages"} & set(self._announced):
                self._anomaly(f"page {number} was announced but empty")
        more = self._more(number, info, count)
        return PageVerdict(keep, more, self._through(info))

    def _sane(self, info: PageInfo) -> PageInfo:
        """The page's facts with impossible (negative) counts dropped as anomalies."""
        total, pages, size = info.total, info.total_pages, info.per_page
        for name, value in (("Total", total), ("Total-Pages", pages), ("Per-Page", size)):
            if value is not None and value < 0:
                self._anomaly(f"{name} {value} is negative (ignored)")
        if min(total or 0, pages or 0, size or 0) >= 0:
            return info
        return attrs.evolve(info, total=None if (total or 0) < 0 else total,
                            total_pages=None if (pages or 0) < 0 else pages,
                            per_page=None if (size or 0) < 0 else size)

    def _read_counts(self, info: PageInfo) -> None:
        if info.total is not None:
            self._totals.append(info.total)
        if info.total_pages is not None:
            if (self.total_pages is not None and info.total_pages != self.total_pages
                    and len(set(self._totals[-2:])) <= 1):
                self._anomaly(f"Total-Pages changed from {self.total_pages} to "
                              f"{info.total_pages} while the total did not", "total_pages")
            self.total_pages = info.total_pages

    def _dedupe(self, number: int, ids: Sequence[Hashable | None]) -> tuple[bool, ...] | None:
        add = self._seen.add
        flags: list[bool] = []
        fresh = dups = 0
        for record_id in ids:
            if record_id is None or add(record_id):
                flags.append(True)
                fresh += 1
            else:
                flags.append(False)
                dups += 1
        self.received += fresh
        if fresh:
            self.last_filled = number
        if not dups:
            return None
        self.duplicates += dups
        if not fresh:
            raise self.error(f"page {number} only repeats {dups} records already received")
        return tuple(flags)

    def _expected(self) -> int | None:
        """The pages the first page announced: from its total at the page size
        used when both are known (a page count alone can be anything), else its
        ``Total-Pages``, else None."""
        if self._totals and self.page_size:
            return expected_pages(self._totals[0], self.page_size)
        return self.total_pages

    def _through(self, info: PageInfo) -> int | None:
        """The last page number the facts announce (the larger reading), or None."""
        found = [n for n in (info.total_pages, self.total_pages) if n is not None]
        total = self._totals[-1] if self._totals else None
        if total is not None and self.page_size:
            found.append(expected_pages(total, self.page_size))
        return max(found) if found else None

    def _more(self, number: int, info: PageInfo, count: int) -> bool:
        """Conservative: any fact announcing more records is followed."""
        announced: list[str] = []
        if count:
            nxt = info.next_page
            if nxt is not None and nxt > number:
                announced.append("next_page")
            elif nxt is not None:
                self._anomaly(f"Next-Page {nxt} on page {number} does not move forward "
                              "(ignored)", "next_page")
            if info.total_pages is not None and number < info.total_pages:
                announced.append("total_pages")
            total = self._totals[-1] if self._totals else None
            if total is not None and self.received < total:
                announced.append("total")
            if not self._totals:
                # No total to count against: only an empty page ends the list (a
                # short page may be a silent cap, a full one may hide more).
                announced.append("unstated")
        self._announced = tuple(announced)
        return bool(announced)

    # -- walking on -----------------------------------------------------------

    def check_next(self, number: int) -> None:
        """Raise :class:`PagingError` if fetching page ``number`` would exceed the bound."""
        if self.bound is not None and number > self.bound:
            raise self.error(f"the walk needs page {number}, beyond the {self.bound} pages "
                             "its first page allows (an endless or growing walk)")

    def finish(self) -> WalkSummary:
        """The walk reached its end: check the records against the stated total.

        Raises :class:`PagingError` when fewer distinct records arrived than the
        last stated total, less any change of the total seen during the walk.
        """
        self.ended = True
        if self._totals:
            total, drift = self._totals[-1], max(self._totals) - min(self._totals)
            if self.received < total - drift:
                raise self.error(f"the walk ended with {self.received} distinct records of a "
                                 f"stated total of {total}")
            if self.received > max(self._totals):
                self._anomaly(f"{self.received} distinct records exceed the stated total")
            self._check_page_count(total)
        return self.summary()

    def _check_page_count(self, total: int) -> None:
        size = self.page_size
        if size is None:
            return
        pages = expected_pages(total, size)
        if self.total_pages is not None and self.total_pages != pages \
                and not (pages == 0 and self.total_pages == 1):
            self._anomaly(f"Total-Pages {self.total_pages} disagrees with {total} records "
                          f"at {size} a page")
        if self.last_filled > max(pages, 1):
            self._anomaly(f"records came on page {self.last_filled}, beyond the {pages} "
                          "pages of the stated total")

    def summary(self) -> WalkSummary:
        """The evidence so far (``proven`` only after :meth:`finish`)."""
        totals = tuple(dict.fromkeys(self._totals))
        proven = (self.ended and len(totals) == 1 and self.received == totals[0]
                  and not self._anomalies)
        return WalkSummary(
            pages=self.pages, received=self.received, duplicates=self.duplicates,
            total=self._totals[-1] if self._totals else None, totals=totals,
            total_pages=self.total_pages, page_size=self.page_size,
            asked_per_page=self.asked_per_page, bound=self.bound, ended=self.ended,
            proven=proven, anomalies=self._anomaly_texts(), url=self.url,
        )
