"""The paging evidence (``_core/paging.py``, ``_core/walk.py``): pure functions and the
WalkLedger, offline."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import assembly_async as aa
from assembly_async._core.paging import (
    EXTRA_PAGES,
    UNSTATED_PAGE_LIMIT,
    PageInfo,
    expected_pages,
    page_bound,
    page_size_used,
    paging_from_envelope,
    paging_from_headers,
)
from assembly_async._core.walk import SeenIds, WalkLedger
from assembly_async._http.retry import should_retry

FACTS = ("total", "total_pages", "next_page", "per_page")


def test_stated_tells_an_empty_next_page_from_a_missing_one() -> None:
    last = paging_from_headers({"page": "3", "next-page": "", "total": "450"}, 3)
    assert last.next_page is None and last.states("next_page") and last.states("total")
    bare = paging_from_headers({}, 3)
    assert not bare.states("next_page") and not bare.states("total") and bare.page == 3
    envelope = paging_from_envelope({"next_page": None, "total_count": 5}, 1)
    assert envelope.states("next_page") and not envelope.states("total_pages")
    # stated is evidence about the facts, not a fact: equality ignores it
    assert last == PageInfo(3, None, 450, None, None, None)


def test_has_next_reads_one_page_the_conservative_way() -> None:
    from assembly_async import Page

    # Per-Page not stated, 200 served of 1500 asked, Total 1000: more follows.
    capped = Page(list(range(200)), PageInfo(1, total=1000), asked_per_page=1500)
    assert capped.has_next
    # Next-Page pointing back does not hide what Total-Pages announces.
    assert Page([1, 2], PageInfo(1, total_pages=3, next_page=1)).has_next
    assert not Page([1, 2], PageInfo(3, per_page=2, total=6, total_pages=3)).has_next
    assert not Page([], PageInfo(1, total=9)).has_next


def test_page_size_used_prefers_what_was_served() -> None:
    # Per-Page absent, 200 served of 1500 asked while Total says more: 200.
    assert page_size_used(PageInfo(1, total=1000), 200, 1500) == 200
    # v1 envelope (no per_page) announcing page 2: the full first page's length.
    assert page_size_used(PageInfo(1, total_pages=3, next_page=2), 100, None) == 100
    # Per-Page says 1500 but a full page held 200: the records win.
    assert page_size_used(PageInfo(1, per_page=1500, total=1000), 200, 1500) == 200
    # a last (only) page: Per-Page when stated, else as asked when exactly full
    assert page_size_used(PageInfo(1, per_page=100, total=40), 40, 100) == 100
    assert page_size_used(PageInfo(1), 50, 50) == 50
    assert page_size_used(PageInfo(1), 40, 1500) is None


@pytest.mark.parametrize(("expected", "bound"), [
    (None, UNSTATED_PAGE_LIMIT), (0, 1 + EXTRA_PAGES), (1, 3), (5, 7), (30, 35), (400, 442)])
def test_page_bound_is_the_announced_pages_plus_slack(expected: int | None, bound: int) -> None:
    assert page_bound(expected) == bound


def _walk_consistent(n: int, size: int, stated: set[str]) -> tuple[list[int], int, WalkLedger]:
    """Feed a ledger the pages of a truthful server stating ``stated``."""
    pages = expected_pages(n, size)
    ledger = WalkLedger()
    received: list[int] = []
    number = 1
    while True:
        ids = list(range((number - 1) * size + 1, min(number * size, n) + 1))
        info = PageInfo(
            page=number,
            per_page=size if "per_page" in stated else None,
            total=n if "total" in stated else None,
            total_pages=pages if "total_pages" in stated else None,
            next_page=(number + 1 if number < pages else None) if "next_page" in stated else None,
            stated=frozenset(stated | {"page"}),
        )
        verdict = ledger.add(number, info, ids, asked_per_page=size)
        keep = verdict.keep or (True,) * len(ids)
        kept = [i for i, k in zip(ids, keep, strict=True) if k]
        received.extend(kept)
        if not verdict.more:
            return received, number, ledger
        number += 1
        ledger.check_next(number)


@settings(max_examples=400, deadline=None)
@given(n=st.integers(0, 20_000), size=st.integers(1, 1500),
       stated=st.sets(st.sampled_from(FACTS)))
def test_a_truthful_server_is_walked_exactly_and_proven_when_it_states_a_total(
        n: int, size: int, stated: set[str]) -> None:
    # With neither a total nor a page count a walk stops at UNSTATED_PAGE_LIMIT pages
    # (an endless server looks like a long list); the real API always states both.
    assume(stated & {"total", "total_pages"} or expected_pages(n, size) < UNSTATED_PAGE_LIMIT)
    received, last, ledger = _walk_consistent(n, size, stated)
    summary = ledger.finish()
    assert received == list(range(1, n + 1))
    pages = max(1, expected_pages(n, size))
    if "total" in stated:
        assert last == pages  # not one request more than the list takes
        assert summary.proven and summary.total == n and not summary.anomalies
    else:
        # Without a total only an empty page ends the walk: one request more.
        assert last == pages + (1 if n else 0)
        assert not summary.proven
    assert last <= (summary.bound or 0)


def test_a_page_that_only_repeats_raises_with_the_figures() -> None:
    ledger = WalkLedger()
    info = PageInfo(1, per_page=3, total=9, total_pages=3, next_page=2)
    assert ledger.add(1, info, [1, 2, 3], url="https://api.example/students?page=1").more
    with pytest.raises(aa.PagingError) as caught:
        ledger.add(2, PageInfo(2, per_page=3, total=9, total_pages=3, next_page=3),
                   [1, 2, 3], url="https://api.example/students?page=2")
    err = caught.value
    assert isinstance(err, aa.AssemblyError)
    assert err.page == 2 and err.url == "https://api.example/students?page=2"
    assert err.figures["total"] == 9 and err.figures["received"] == 3
    assert "page 2" in str(err) and "total=9" in str(err)


def test_partial_overlap_is_dropped_and_a_short_walk_raises() -> None:
    ledger = WalkLedger()
    ledger.add(1, PageInfo(1, total=6, total_pages=2, next_page=2), [1, 2, 3])
    verdict = ledger.add(2, PageInfo(2, total=6, total_pages=2), [3, 4, 5])
    assert verdict.keep == (False, True, True)
    assert verdict.more  # 5 distinct of 6: the total says one more
    ledger.check_next(3)
    ledger.add(3, PageInfo(3, total=6, total_pages=2), [])
    with pytest.raises(aa.PagingError, match="5 distinct records of a stated total of 6"):
        ledger.finish()


def test_the_bound_stops_an_endless_walk() -> None:
    ledger = WalkLedger()
    ledger.add(1, PageInfo(1, total=10, per_page=5, next_page=2), list(range(5)))
    assert ledger.bound == page_bound(2)
    for number in range(2, ledger.bound + 1):
        ids = list(range(number * 5, number * 5 + 5))
        assert ledger.add(number, PageInfo(number, total=10, next_page=number + 1), ids).more
        if number < ledger.bound:
            ledger.check_next(number + 1)
    with pytest.raises(aa.PagingError, match="beyond the 4 pages"):
        ledger.check_next(ledger.bound + 1)


def test_a_changing_total_is_tolerated_by_its_drift_but_never_proven() -> None:
    ledger = WalkLedger()
    ledger.add(1, PageInfo(1, total=4, per_page=2, next_page=2), [1, 2])
    ledger.add(2, PageInfo(2, total=5, per_page=2, next_page=3), [2, 3])  # one inserted
    ledger.add(3, PageInfo(3, total=5, per_page=2), [4, 5])
    summary = ledger.finish()
    assert summary.received == 5 and summary.shifted and not summary.proven
    assert "changed during the walk" in summary.unproven_because()


def test_negative_and_contradicting_facts_are_anomalies() -> None:
    ledger = WalkLedger()
    ledger.add(1, PageInfo(1, total=-3, per_page=2), [1, 2])
    ledger.add(2, PageInfo(2, per_page=2), [])
    summary = ledger.finish()
    assert not summary.proven and any("negative" in a for a in summary.anomalies)

    ledger = WalkLedger()
    ledger.add(1, PageInfo(1, total=4, total_pages=2, next_page=1), [1, 2])  # points back
    ledger.add(2, PageInfo(2, total=4, total_pages=2), [3, 4])
    summary = ledger.finish()
    assert summary.received == 4 and not summary.proven
    assert "does not move forward" in summary.unproven_because()


def test_nothing_stated_is_never_proven_even_when_empty() -> None:
    ledger = WalkLedger()
    assert not ledger.add(1, PageInfo(1), []).more
    summary = ledger.finish()
    assert summary.received == 0 and not summary.proven
    assert summary.unproven_because() == "no page stated a total"
    ledger = WalkLedger()
    ledger.add(1, PageInfo(1, total=0, total_pages=0), [])
    assert ledger.finish().proven  # an empty list that says so


def test_decode_errors_that_cannot_heal_are_not_retried() -> None:
    url = "https://api.assembly.education/students"
    assert should_retry(aa.DecodeError("cut short", url=url), 1, "GET")
    wrong = aa.DecodeError("cannot decode Student: expected int", url=url, transient=False)
    assert not wrong.transient and not should_retry(wrong, 1, "GET")


@given(st.lists(st.integers(-(2**70), 2**70) | st.integers(0, 50) | st.text(max_size=2)
                | st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1]))
       | st.lists(st.integers(0, 300)).map(sorted))  # the usual case: ordered by id
def test_seen_ids_behave_like_a_set(ids: list[object]) -> None:
    seen, model = SeenIds(), set()
    for record_id in ids:
        assert seen.add(record_id) is (record_id not in model)  # type: ignore[arg-type]
        model.add(record_id)
    assert len(seen) == len(model)
