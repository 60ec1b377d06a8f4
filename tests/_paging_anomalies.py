"""The paging anomalies of issue 11, each a :class:`Scenario` of the hostile server,
and one walk over each: what it delivered (or raised) and how many requests it took.

Shared by ``tests/test_paging_walks.py`` (which asserts the outcomes) and
``tools/paging_anomalies.py`` (which prints the table). Written against the
public API only, so that the tool also runs against an older checkout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from _paging_server import HostileAssembly, Scenario

import assembly_async as aa

N = 500
BASE = Scenario(records=N)

#: (name, API version, scenario, expected outcome): "all" (every record once),
#: "all-unproven" (every record once, walk not proven complete), "error" (PagingError),
#: "none-unproven" (no record, not proven: nothing may be removed on its strength).
ANOMALIES: list[tuple[str, str, Scenario, str]] = [
    ("consistent paging (control)", "1.1", BASE, "all"),
    ("consistent envelope (control)", "1", BASE, "all"),
    ("Next-Page equal to the page, Total-Pages says more", "1.1",
     BASE.but(cap=100, next_page="same"), "all-unproven"),
    ("Next-Page pointing back, Total-Pages says more", "1.1",
     BASE.but(cap=100, next_page="back"), "all-unproven"),
    ("silent cap at 200, Total-Pages from the requested 1500", "1.1",
     BASE.but(cap=200, total_pages="from_request", next_page="empty"), "all-unproven"),
    ("silent cap at 100, only Total stated", "1.1",
     BASE.but(cap=100, total_pages="absent", per_page="absent", next_page="absent"), "all"),
    ("silent cap at 200, no paging headers at all", "1.1",
     BASE.but(cap=200, headers=False), "all-unproven"),
    ("Total says more than the pages hold", "1.1", BASE.but(cap=100, body="dry_after_2"),
     "error"),
    ("Next-Page never ends, pages keep coming", "1.1",
     BASE.but(cap=100, next_page="forever", body="endless"), "error"),
    ("Next-Page never ends, no totals, pages keep coming", "1.1",
     BASE.but(cap=100, next_page="forever", total="absent", total_pages="absent",
              body="endless"), "error"),
    ("Total-Pages grows every page, pages keep coming", "1.1",
     BASE.but(cap=100, total_pages="grow", body="endless"), "error"),
    ("page number stuck at 1 (page ignored)", "1.1",
     BASE.but(cap=100, page="stuck", body="stuck"), "error"),
    ("the same records on every page", "1.1", BASE.but(cap=100, body="stuck"), "error"),
    ("a page repeats the one before", "1.1", BASE.but(cap=100, body="repeat_previous"),
     "error"),
    ("v1 next_page pointing back", "1", BASE.but(cap=100, next_page="back"), "all-unproven"),
    ("v1 next_page equal to the page", "1", BASE.but(cap=100, next_page="same"),
     "all-unproven"),
    ("v1 next_page in a cycle", "1", BASE.but(cap=100, next_page="cycle"), "all-unproven"),
    ("200 with an empty body, no headers", "1.1", BASE.but(body="blank", headers=False),
     "none-unproven"),
    ("200 with an empty body, Total 500", "1.1", BASE.but(body="blank"), "error"),
    ("a record inserted at the front mid-walk", "1.1", BASE.but(cap=100, body="grow_front"),
     "all-unproven"),
    ("1500 refused with 400, 200 accepted", "1.1", BASE.but(refuse_above=200), "all"),
]


@dataclass
class Outcome:
    delivered: int
    distinct: int
    in_order: bool
    requests: int
    proven: bool | None
    error: BaseException | None

    def describe(self, total: int) -> str:
        if self.error is not None:
            kind = type(self.error).__name__
            reason = getattr(self.error, "reason", None) or str(self.error)
            return f"{kind} after {self.delivered} records: {reason[:120]}"
        dup = "" if self.delivered == self.distinct else f", {self.delivered - self.distinct} twice"
        proof = {True: "proven", False: "not proven", None: "-"}[self.proven]
        return f"{self.distinct}/{total} records{dup}, {proof}, no error"

    def kind(self, total: int) -> str:
        if self.error is not None:
            return "error" if isinstance(self.error, getattr(aa, "PagingError", ())) else "other"
        if self.delivered != self.distinct or not self.in_order:
            return "duplicates"
        if self.distinct == total:
            return "all" if self.proven else "all-unproven"
        if self.distinct == 0 and self.proven is False:
            return "none-unproven"
        return f"short-{self.distinct}"


async def walk(server: HostileAssembly, version: str, *, concurrency: int = 3) -> Outcome:
    """Walk ``/students`` once with a fresh client; never raises."""
    server.reset()
    ids: list[int] = []
    error: BaseException | None = None
    proven: bool | None = None
    async with aa.AssemblyClient(api_url=server.url, api_version=version, retries=0,
                                 rate_limit=None) as client:
        paginator = client.school(1, access_token="t").students.list()
        paginator.concurrent(concurrency)
        try:
            async for student in paginator:
                ids.append(student.id)  # type: ignore[arg-type]
        except aa.AssemblyError as exc:
            error = exc
        summary = getattr(paginator, "last_walk", None)
        if summary is not None:
            proven = bool(summary.proven)
    return Outcome(len(ids), len(set(ids)), ids == sorted(set(ids)), server.requests, proven,
                   error)


def minimum_requests(scenario: Scenario) -> int:
    """Requests a walk needs when it trusts nothing but the records: every page
    of the true list at the size the server serves, plus one refused request
    when 1500 is refused."""
    size = min(1500, scenario.cap or 1500, scenario.refuse_above or 1500)
    return max(1, math.ceil(scenario.records / size)) + (1 if scenario.refuse_above else 0)
