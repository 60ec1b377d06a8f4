"""Raw access to a typed call: the parsed model together with the HTTP answer.

In the spirit of openai-python's ``with_raw_response``::

    raw = await school.students.with_raw_response.get(15)
    raw.status, raw.headers["etag"], raw.parsed.id

    raw = await raw_response(school.me)()          # any awaitable SDK call

The operation runner is the seam: when a call runs inside :func:`capture`, the
runner records the response it decoded (the final attempt's, after retries
and token refreshes) in a context variable, so the generated methods stay the
same and the typed result is untouched. List calls are not wrapped: every
:class:`Page` carries its own ``status`` and ``headers``.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, ParamSpec, TypeVar

import attrs

from .._core.errors import UsageError
from .._core.responses import Validators, read_validators

__all__ = ["RawResponse", "capture", "raw_response", "record"]

T = TypeVar("T")
P = ParamSpec("P")


@attrs.frozen
class Answer:
    """What the runner records of one decoded response."""

    status: int
    headers: Mapping[str, str]
    url: str
    from_cache: bool


@attrs.frozen
class RawResponse(Generic[T]):
    """A call's typed result and the HTTP answer it was decoded from.

    ``status`` and ``headers`` (lower-cased names) are the final answer's, after
    any retries; ``url`` is redacted (no token ever appears in it). When the
    server answered ``304`` to a revalidated single-record GET, ``status`` is
    304, ``from_cache`` is True and ``parsed`` was decoded from the client's
    cached body.
    """

    parsed: T
    status: int
    headers: Mapping[str, str]
    url: str
    from_cache: bool = False

    @property
    def validators(self) -> Validators:
        """The answer's ``ETag``/``Last-Modified`` (empty when it sent none)."""
        return read_validators(self.headers)


_CAPTURE: contextvars.ContextVar[list[Answer] | None] = contextvars.ContextVar(
    "assembly_async_raw_capture", default=None)


def record(status: int, headers: Mapping[str, str], url: str, *, from_cache: bool = False
           ) -> None:
    """Called by the runner for every response it decoded; kept only inside :func:`capture`."""
    answers = _CAPTURE.get()
    if answers is not None:
        answers.append(Answer(status, headers, url, from_cache))


async def capture(call: Callable[P, Awaitable[T]], /, *args: P.args,
                  **kwargs: P.kwargs) -> RawResponse[T]:
    """Run ``call(*args, **kwargs)`` and return its result with the response it came from."""
    answers: list[Answer] = []
    token = _CAPTURE.set(answers)
    try:
        value = await call(*args, **kwargs)
    finally:
        _CAPTURE.reset(token)
    if not answers:
        name = getattr(call, "__qualname__", repr(call))
        raise UsageError(f"{name} sent no API request whose answer could be captured "
                         "(list calls: every Page has status and headers)")
    last = answers[-1]
    return RawResponse(parsed=value, status=last.status, headers=last.headers, url=last.url,
                       from_cache=last.from_cache)


def raw_response(call: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[RawResponse[T]]]:
    """``call`` with the same parameters, returning a :class:`RawResponse` of its result.

    ``await raw_response(school.students.get)(15)`` works for every awaitable
    SDK call (``school.me``, ``app.me``, ``school.details.status``...).
    """

    @functools.wraps(call)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
        return await capture(call, *args, **kwargs)

    return wrapper
