"""Retry decisions as small pure functions, and the policy that holds the limits.

The pipeline runs its attempts with tenacity, but every decision is made here,
by functions of their arguments only, so they are tested offline:

* :func:`should_retry` - may this error be retried, for this method, at this attempt?
* :func:`backoff` - how long to sleep before attempt ``attempt + 1`` (exponential
  backoff with full jitter; patch ``assembly_async._http.retry.backoff`` in tests).
* :func:`retry_delay` - the sleep for one error (0 for a 429: the rate limiter
  pauses the school for the server's ``period`` instead).

What is retried:

* GET (and HEAD/OPTIONS): connection errors, timeouts, 500/502/503/504 (an HTML
  502 from a proxy included), 429, and a 2xx body that is cut short or not JSON
  (:class:`DecodeError` / :class:`UnexpectedContentType`: a proxy hiccup). A
  :class:`DecodeError` that is not ``transient`` (well-formed JSON holding a
  wrong or impossible value) is not retried: the same page would come back.
* POST/PATCH/PUT/DELETE: only a transport error with ``request_sent=False``
  (the connection was never established, so the server cannot have seen the
  request) and a 429 (the API refuses the request before handling it), unless
  the caller opts in with ``CallOptions(retry_writes=True)``: then writes are
  retried like reads.
* Never: 4xx other than 429, and 401 (a 401 ``invalid_token`` refresh-and-replay
  is done by the pipeline once and is not a retry); a :class:`BudgetExhausted`
  (the call already knows the budget frees up after its deadline) and a
  :class:`ResponseTooLarge` (the same request would get the same body).
"""

from __future__ import annotations

import random
from typing import Final

import attrs

from .._core.errors import (
    BudgetExhausted,
    ConfigurationError,
    DecodeError,
    HTTPError,
    RateLimited,
    ServerError,
    TransportError,
)

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "RETRY_STATUSES",
    "SAFE_METHODS",
    "RetryPolicy",
    "backoff",
    "is_safe_method",
    "retry_delay",
    "should_retry",
]

#: Methods that never change data: retried on any transient failure.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: Error statuses worth another attempt (429 is handled with the server's period).
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: First backoff ceiling in seconds; doubles every attempt up to BACKOFF_CAP.
BACKOFF_BASE: Final = 0.5
BACKOFF_CAP: Final = 30.0


def is_safe_method(method: str) -> bool:
    """True for methods that cannot change data on the server (GET, HEAD, OPTIONS)."""
    return method.upper() in SAFE_METHODS


def should_retry(
    error: BaseException, attempt: int, method: str, allow_unsafe: bool = False,
    *, max_attempts: int = 4,
) -> bool:
    """Whether ``error``, raised by attempt number ``attempt`` (1-based), is retried.

    ``allow_unsafe`` retries writes like reads (the caller accepts that a write
    may be applied twice). ``max_attempts`` bounds the total number of attempts.
    """
    if attempt >= max_attempts or isinstance(error, BudgetExhausted):
        return False
    safe = allow_unsafe or is_safe_method(method)
    if isinstance(error, TransportError):
        return safe or not error.request_sent
    if isinstance(error, RateLimited):
        return True  # refused before it was handled: safe even for a write
    if isinstance(error, HTTPError):
        return safe and isinstance(error, ServerError) and error.status in RETRY_STATUSES
    if isinstance(error, DecodeError):
        # A truncated body or a proxy's HTML page on a 2xx: the server did answer,
        # so a write may have been applied; only reads are repeated. A wrong value
        # in well-formed JSON cannot heal: fetching it again returns the same data.
        return safe and error.transient
    return False


def backoff(attempt: int) -> float:
    """Seconds to sleep after failed attempt ``attempt`` (1-based): full jitter,
    uniform in ``[0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))]``."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2.0 ** max(0, attempt - 1)))
    return random.uniform(0.0, ceiling)


def retry_delay(error: BaseException, attempt: int, *, limiter_pauses: bool = True) -> float:
    """The sleep before retrying ``error``.

    For a 429 with a known period: 0 when ``limiter_pauses`` (the school is
    paused in the rate limiter, which every request of that school then waits
    for), else the period itself. Otherwise :func:`backoff` (looked up at call
    time, so tests can patch it)."""
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return 0.0 if limiter_pauses else error.retry_after
    return backoff(attempt)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """The client's retry defaults.

    ``max_attempts`` counts the first attempt (4 = one try and three retries);
    ``deadline`` is seconds for a whole call, everything included: attempts,
    backoff sleeps, token refresh, waits for rate budget and 429 pauses.
    ``wait_for_budget`` exempts the budget waits and 429 pauses from it: the
    call then waits as long as its school's budget needs (a bulk sync wants
    that; a web handler wants the fast :class:`BudgetExhausted` instead).
    ``retry_writes`` retries POST/PATCH after any transient failure (off: a
    write is repeated only when it surely never reached the server).
    """

    max_attempts: int = 4
    deadline: float | None = 120.0
    retry_writes: bool = False
    wait_for_budget: bool = False

    def __attrs_post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) \
                or self.max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be >= 1, got {self.max_attempts!r}")
        deadline = self.deadline
        if deadline is not None and not (
                isinstance(deadline, (int, float)) and not isinstance(deadline, bool)
                and 0 < deadline < float("inf")):
            raise ConfigurationError(f"deadline must be positive or None, got {deadline!r}")
        if not isinstance(self.wait_for_budget, bool):
            raise ConfigurationError(
                f"wait_for_budget must be True or False, got {self.wait_for_budget!r}")
