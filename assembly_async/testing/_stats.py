"""Request log and counters (tokens appear only as short hashes)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LoggedRequest:
    time: float  # time.monotonic() when the request arrived
    token_id: str | None  # short hash of the bearer token, never the token
    method: str
    path: str
    query: str
    status: int
    duration: float
    fault: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Stats:
    log: list[LoggedRequest] = field(default_factory=list)
    requests_by_token: Counter[str] = field(default_factory=Counter)
    status_counts: Counter[int] = field(default_factory=Counter)
    refreshes_by_school: Counter[int] = field(default_factory=Counter)
    in_flight: int = 0
    peak_in_flight: int = 0
    in_flight_by_token: Counter[str] = field(default_factory=Counter)
    peak_in_flight_by_token: dict[str, int] = field(default_factory=dict)
    not_modified: int = 0

    def started(self, token: str | None) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if token is not None:
            self.requests_by_token[token] += 1
            self.in_flight_by_token[token] += 1
            cur = self.in_flight_by_token[token]
            peak = self.peak_in_flight_by_token
            peak[token] = max(peak.get(token, 0), cur)

    def finished(self, entry: LoggedRequest) -> None:
        self.in_flight -= 1
        if entry.token_id is not None:
            self.in_flight_by_token[entry.token_id] -= 1
        self.status_counts[entry.status] += 1
        if entry.status == 304:
            self.not_modified += 1
        self.log.append(entry)

    def requests(self, path: str | None = None, method: str | None = None,
                 status: int | None = None) -> list[LoggedRequest]:
        return [e for e in self.log
                if (path is None or e.path == path) and (method is None or e.method == method)
                and (status is None or e.status == status)]

    @property
    def total_refreshes(self) -> int:
        return sum(self.refreshes_by_school.values())

    def reset(self) -> None:
        self.log.clear()
        self.requests_by_token.clear()
        self.status_counts.clear()
        self.refreshes_by_school.clear()
        self.peak_in_flight = self.in_flight
        self.peak_in_flight_by_token = {k: v for k, v in self.in_flight_by_token.items() if v}
        self.not_modified = 0

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.log),
            "requests_by_token": dict(self.requests_by_token),
            "status_counts": {str(k): v for k, v in sorted(self.status_counts.items())},
            "refreshes_by_school": {str(k): v for k, v in self.refreshes_by_school.items()},
            "peak_in_flight": self.peak_in_flight,
            "peak_in_flight_by_token": dict(self.peak_in_flight_by_token),
            "in_flight": self.in_flight,
            "not_modified": self.not_modified,
        }
