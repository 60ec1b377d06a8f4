"""Observability: event hooks and per-school counters.

Pass ``hooks=Hooks(on_retry=..., on_rate_limit_wait=...)`` to the client to be
told, for every request of every school, when it is sent, answered, retried,
held back by the rate budget, replayed after a token refresh, answered 304,
or failed without an answer, and of every value of a response that did not fit
its model. Listeners get an :class:`Event` (school id, attempt, redacted URL,
status, seconds elapsed or waited, the decode problem) and may be plain
functions or coroutines; a listener that raises is logged and ignored, it never
breaks a request. Tokens are never part of an event, nor the value of a decode
problem (personal data).

:class:`Stats` keeps counters per budget key (the school id), read at run time
with ``client.stats(school_id)``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs

from ..models._problems import DecodeProblem
from .ratelimit import BudgetKey

__all__ = ["EVENT_KINDS", "Event", "EventKind", "Hooks", "Listener", "SchoolStats", "Stats"]

log = logging.getLogger("assembly_async.events")

EventKind = Literal[
    "request", "response", "error", "retry", "rate_limit_wait", "refresh", "not_modified",
    "decode_problem",
]
EVENT_KINDS: tuple[EventKind, ...] = (
    "request", "response", "error", "retry", "rate_limit_wait", "refresh", "not_modified",
    "decode_problem",
)


@attrs.frozen
class Event:
    """Something that happened to one attempt of one request.

    * ``request``: about to be sent (``attempt`` is 1 for the first try).
    * ``response``: an HTTP status arrived (``status``, ``elapsed`` seconds).
    * ``error``: the attempt ended without an HTTP answer (``error`` is the
      :class:`TransportError`: connection failed, timed out, body cut short;
      ``elapsed`` seconds). Every ``request`` is followed by exactly one
      ``response`` or ``error``.
    * ``retry``: the attempt failed and another follows after ``wait`` seconds
      (``error`` is the failure, ``status`` its status if it had one).
    * ``rate_limit_wait``: the request waited ``wait`` seconds for rate budget
      (``status`` 429 when the wait was a pause the server asked for).
    * ``refresh``: 401 ``invalid_token``: the token was refreshed and the
      request is replayed (not counted as a retry).
    * ``not_modified``: the server answered 304 to a conditional request.
    * ``decode_problem``: a value of the response did not fit its model; the
      record was kept without it, or left out (``problem`` says which, where
      and why, with the value redacted; ``attempt`` is 0: it is not about
      one attempt).
    """

    kind: EventKind
    method: str
    url: str
    school_id: int | None
    attempt: int
    status: int | None = None
    elapsed: float | None = None
    wait: float | None = None
    error: BaseException | None = None
    operation_id: str = ""
    problem: DecodeProblem | None = None


Listener = Callable[[Event], Awaitable[None] | None]


class Hooks:
    """Listeners per event kind; ``on_event`` listeners get every kind."""

    def __init__(
        self,
        *,
        on_request: Listener | None = None,
        on_response: Listener | None = None,
        on_error: Listener | None = None,
        on_retry: Listener | None = None,
        on_rate_limit_wait: Listener | None = None,
        on_refresh: Listener | None = None,
        on_not_modified: Listener | None = None,
        on_decode_problem: Listener | None = None,
        on_event: Listener | None = None,
    ) -> None:
        self._listeners: dict[str, list[Listener]] = {kind: [] for kind in EVENT_KINDS}
        self._all: list[Listener] = []
        given = {
            "request": on_request, "response": on_response, "error": on_error,
            "retry": on_retry,
            "rate_limit_wait": on_rate_limit_wait, "refresh": on_refresh,
            "not_modified": on_not_modified, "decode_problem": on_decode_problem,
        }
        for kind, listener in given.items():
            if listener is not None:
                self.add(kind, listener)  # type: ignore[arg-type]
        if on_event is not None:
            self.add("*", on_event)

    def __repr__(self) -> str:
        counts = {k: len(v) for k, v in self._listeners.items() if v}
        return f"<Hooks {counts} all={len(self._all)}>"

    def add(self, kind: EventKind | Literal["*"], listener: Listener) -> None:
        """Register ``listener`` for ``kind`` (``"*"``: every kind)."""
        if kind == "*":
            self._all.append(listener)
        elif kind in self._listeners:
            self._listeners[kind].append(listener)
        else:
            raise ValueError(f"unknown event kind {kind!r}; expected one of {EVENT_KINDS}")

    def wants(self, kind: EventKind) -> bool:
        """True when someone listens to ``kind`` (so the event is worth building)."""
        return bool(self._all or self._listeners[kind])

    async def emit(self, event: Event) -> None:
        for listener in (*self._listeners[event.kind], *self._all):
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("event listener %r failed on a %s event", listener, event.kind)


@attrs.frozen
class SchoolStats:
    """Counters of one school (budget key) since the client started.

    ``requests`` attempts sent, ``statuses`` answers per HTTP status,
    ``errors`` failures without a status per error class, ``retries`` attempts
    that were repeated, ``refreshes`` replays after a token refresh,
    ``rate_limit_waits``/``waited`` how often and how long requests waited for
    budget (429 pauses included), ``rate_limited`` 429 answers.
    """

    requests: int = 0
    statuses: dict[int, int] = attrs.field(factory=dict)
    errors: dict[str, int] = attrs.field(factory=dict)
    retries: int = 0
    refreshes: int = 0
    rate_limit_waits: int = 0
    waited: float = 0.0
    rate_limited: int = 0


class _Counters:
    __slots__ = ("errors", "rate_limit_waits", "refreshes", "requests", "retries", "statuses",
                 "waited")

    def __init__(self) -> None:
        self.requests = 0
        self.statuses: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.retries = 0
        self.refreshes = 0
        self.rate_limit_waits = 0
        self.waited = 0.0

    def snapshot(self) -> SchoolStats:
        return SchoolStats(
            requests=self.requests, statuses=dict(self.statuses), errors=dict(self.errors),
            retries=self.retries, refreshes=self.refreshes,
            rate_limit_waits=self.rate_limit_waits, waited=self.waited,
            rate_limited=self.statuses.get(429, 0),
        )


class Stats:
    """Counters per budget key, updated by the pipeline."""

    def __init__(self) -> None:
        self._keys: dict[BudgetKey, _Counters] = {}

    def counters(self, key: BudgetKey) -> _Counters:
        counters = self._keys.get(key)
        if counters is None:
            counters = self._keys[key] = _Counters()
        return counters

    def get(self, key: BudgetKey) -> SchoolStats:
        """A snapshot of ``key``'s counters (all zero when it sent nothing)."""
        counters = self._keys.get(key)
        return counters.snapshot() if counters is not None else SchoolStats()

    def all(self) -> dict[BudgetKey, SchoolStats]:
        """Snapshots of every key seen so far."""
        return {key: c.snapshot() for key, c in self._keys.items()}
