"""Page sizes learned from servers, per API host and operation, for one client.

CONCEPTS "Pagination": the documented maximum is 1500, but older pages say 200
and a server may refuse 1500 (400) or silently serve fewer. What a server
enforces is learned once and reused, so a walk does not pay a refused request
(charged to the school's rate budget) every time. The memory lives on the
client's :class:`ClientCore`: no module globals, nothing shared between clients.

Why per operation rather than per host: the API's own pages state different
maxima on different endpoints (200 on the group pages, 1500 elsewhere), so a
limit seen on one endpoint is no evidence for another. The cost is at most one
refused request per operation per client, instead of one per walk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

__all__ = ["PageSizes"]


class PageSizes:
    """The page size to ask for, per key (``(api_url, operation_id)``).

    :meth:`get` is what is known; :meth:`wait` also waits for a probe of the key
    in flight, so that concurrent first walks pay for one refusal, not one
    each. A prober calls :meth:`begin` right after :meth:`wait` returned None
    (no await in between) and :meth:`end` in a ``finally``.
    """

    __slots__ = ("_known", "_probes")

    def __init__(self) -> None:
        self._known: dict[Hashable, int] = {}
        self._probes: dict[Hashable, asyncio.Event] = {}

    def __repr__(self) -> str:
        return f"<PageSizes known={len(self._known)}>"

    def get(self, key: Hashable) -> int | None:
        """The page size known to work for ``key``, or None."""
        return self._known.get(key)

    def learn(self, key: Hashable, size: int) -> None:
        """Remember that ``key`` takes pages of ``size`` (the smallest seen wins)."""
        if size >= 1:
            known = self._known.get(key)
            self._known[key] = size if known is None else min(known, size)

    async def wait(self, key: Hashable) -> int | None:
        """The known size for ``key``, after any probe of it in flight ended."""
        while (probe := self._probes.get(key)) is not None:
            await probe.wait()
        return self._known.get(key)

    def begin(self, key: Hashable) -> None:
        """Mark a probe of ``key`` in flight (other walks of it wait)."""
        self._probes[key] = asyncio.Event()

    def end(self, key: Hashable) -> None:
        """The probe of ``key`` ended (learned or not): release the waiters."""
        probe = self._probes.pop(key, None)
        if probe is not None:
            probe.set()
