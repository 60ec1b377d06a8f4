"""Scripted and random faults, matched by request path (and optionally method).

Step syntax (strings) for :meth:`FaultInjector.script`:

* ``"503"`` / ``"status:503"`` - that status with the API's JSON error body
* ``"reset"`` - headers and part of the body are sent, then the connection is aborted
* ``"delay:1.5"`` - wait 1.5 s, then answer normally
* ``"truncated"`` - 200 with the real JSON body cut in half
* ``"html502"`` - 502 with an nginx HTML page (``text/html``)
* ``"wrong_content_type"`` - 200 with an HTML body and ``text/html``
* ``"pass"`` (or ``"ok"``) - answer normally (lets a script say "fail, pass, fail")
"""

from __future__ import annotations

import fnmatch
import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("status", "reset", "delay", "truncated", "html502", "wrong_content_type", "pass")

HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Assembly - Scheduled maintenance</title></head>"
    "<body><h1>We'll be back soon</h1><p>The Platform is undergoing maintenance.</p>"
    "</body></html>\n"
)
_ERRORS = {
    400: ("bad_request", "Bad request"), 401: ("invalid_token", "The access token is invalid"),
    403: ("forbidden", "Forbidden"), 404: ("not_found", "not found"),
    406: ("unsupported_version", None), 409: ("conflict", "Conflict"),
    500: ("internal_server_error", "Internal server error"),
    502: ("bad_gateway", "Bad gateway"), 503: ("service_unavailable", "Service unavailable"),
    504: ("gateway_timeout", "Gateway timeout"),
}


def status_body(status: int) -> dict[str, Any]:
    """The documented-style JSON error body for a status (429 is built elsewhere)."""
    if status == 422:
        return {"errors": {"base": ["could not be processed"]}}
    code, message = _ERRORS.get(status, ("error", f"HTTP {status}"))
    return {"error": code} if message is None else {"error": code, "message": message}


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int | None = None
    seconds: float = 0.0
    body: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {KINDS}")
        if self.kind == "status" and (self.status is None or not 100 <= self.status <= 599):
            raise ValueError("a status fault needs a status between 100 and 599")

    @classmethod
    def parse(cls, spec: str | int | Fault | Mapping[str, Any]) -> Fault:
        if isinstance(spec, Fault):
            return spec
        if isinstance(spec, int):
            return cls("status", status=spec)
        if isinstance(spec, Mapping):
            return cls(**dict(spec))
        text = spec.strip().lower()
        if text.isdigit():
            return cls("status", status=int(text))
        kind, _, arg = text.partition(":")
        if kind == "status":
            return cls("status", status=int(arg))
        if kind == "delay":
            return cls("delay", seconds=float(arg or 1))
        if kind == "ok":
            return cls("pass")
        return cls(kind)

    def describe(self) -> str:
        if self.kind == "status":
            return str(self.status)
        if self.kind == "delay":
            return f"delay:{self.seconds:g}"
        return self.kind


@dataclass
class _Matcher:
    pattern: str | None
    match: str
    method: str | None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        if self.pattern is None:
            return True
        if self.match == "prefix":
            return path.startswith(self.pattern)
        if self.match == "glob":
            return fnmatch.fnmatchcase(path, self.pattern)
        return path == self.pattern


@dataclass
class FaultScript(_Matcher):
    steps: deque[Fault] = field(default_factory=deque)


@dataclass
class RandomFaults(_Matcher):
    rate: float = 0.0
    faults: tuple[Fault, ...] = ()
    rng: random.Random = field(default_factory=random.Random)


def _matcher_args(path: str | None, match: str | None, method: str | None
                  ) -> tuple[str | None, str, str | None]:
    if match is None:
        match = "glob" if path and any(c in path for c in "*?[") else "exact"
    if match not in ("exact", "prefix", "glob"):
        raise ValueError("match must be exact, prefix or glob")
    return path, match, method.upper() if method else None


class FaultInjector:
    """Decides, per request, whether and how to misbehave."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._scripts: list[FaultScript] = []
        self._random: list[RandomFaults] = []
        self.injected: list[tuple[str, str, str]] = []

    def script(self, path: str, steps: Iterable[str | int | Fault | Mapping[str, Any]], *,
               method: str | None = None, match: str | None = None) -> FaultScript:
        """Answer the next matching requests with ``steps``, in order, then normally."""
        s = FaultScript(*_matcher_args(path, match, method),
                        steps=deque(Fault.parse(x) for x in steps))
        self._scripts.append(s)
        return s

    def random_errors(self, rate: float, *, path: str | None = None, method: str | None = None,
                      match: str | None = None, statuses: Iterable[int] = (500, 502, 503, 504),
                      kinds: Iterable[str | int | Fault] = (), seed: int | None = None
                      ) -> RandomFaults:
        """Fail a ``rate`` fraction of matching requests (seeded RNG; statuses or kinds)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within 0..1")
        faults = tuple(Fault.parse(k) for k in kinds) or tuple(Fault("status", s) for s in statuses)
        r = RandomFaults(*_matcher_args(path, match, method), rate=rate, faults=faults,
                         rng=random.Random(self._seed if seed is None else seed))
        self._random.append(r)
        return r

    def clear(self) -> None:
        self._scripts.clear()
        self._random.clear()

    def pending(self) -> int:
        """Scripted steps not yet used."""
        return sum(len(s.steps) for s in self._scripts)

    def next_fault(self, method: str, path: str) -> Fault | None:
        for s in self._scripts:
            if s.steps and s.matches(method, path):
                fault = s.steps.popleft()
                return self._record(method, path, fault)
        for r in self._random:
            if r.matches(method, path) and r.rng.random() < r.rate:
                return self._record(method, path, r.rng.choice(r.faults))
        return None

    def _record(self, method: str, path: str, fault: Fault) -> Fault | None:
        if fault.kind == "pass":
            return None
        self.injected.append((method, path, fault.describe()))
        return fault
