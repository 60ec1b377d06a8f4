"""What a bulk sync reports: per job, per school and for the whole run.

``SchoolResult.requests``/``not_modified``/``retries`` come from the pipeline's
per-school counters (every HTTP attempt, every 304), so they match what the
API saw; records and removals come from the jobs themselves. Decode problems
(values that do not fit their model) are counted per job and school; the
sink has every record with its values as sent, and the report keeps the first
few problems per job without their values (they may be personal data).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import attrs

from .._core.errors import JobFailed
from ..models._problems import DecodeProblem

__all__ = [
    "JobState",
    "ProgressCallback",
    "ProgressEvent",
    "ResourceResult",
    "SchoolResult",
    "SyncReport",
    "describe_error",
    "error_kind",
]

#: Life of one (school, resource) job.
JobState = Literal["queued", "running", "done", "not_modified", "failed", "skipped", "cancelled"]
_FINAL = frozenset({"done", "not_modified", "failed", "skipped", "cancelled"})
#: Decode problems a job keeps (redacted) in its result; all are counted.
KEPT_PROBLEMS = 20


@attrs.frozen
class ProgressEvent:
    """What ``on_progress`` receives: a job started, wrote a page, or ended."""

    school_id: int
    resource: str
    state: JobState
    #: Records written so far by this job.
    records: int
    removals: int
    requests: int
    error: str | None = None

    @property
    def final(self) -> bool:
        return self.state in _FINAL


#: ``on_progress(event)``; may be a plain function or return an awaitable.
ProgressCallback = Callable[[ProgressEvent], object]


def error_kind(error: BaseException) -> str:
    """The error's class name; for a :class:`JobFailed`, the one of the error it
    stands for (raised in another process)."""
    return error.kind if isinstance(error, JobFailed) else type(error).__name__


def describe_error(error: BaseException) -> str:
    """``"ClassName: message"`` (a :class:`JobFailed` names the error it stands for)."""
    name = error_kind(error)
    text = str(error) or name
    return f"{name}: {text}" if name not in text else text


@attrs.define
class ResourceResult:
    """The outcome of one (school, resource) job."""

    resource: str
    state: JobState = "queued"
    records: int = 0
    removals: int = 0
    requests: int = 0
    #: The server answered 304 (nothing changed since the watermark).
    not_modified: bool = False
    #: A first (full) sync rather than a delta; None if the job never started.
    full: bool | None = None
    error: BaseException | None = None
    elapsed: float = 0.0
    #: Values of the synced records that did not fit their model (the sink
    #: stored them as sent); ``problems`` holds the first few, redacted.
    decode_problems: int = 0
    problems: list[DecodeProblem] = attrs.field(factory=list)

    def add_problems(self, found: list[DecodeProblem]) -> None:
        """Count ``found`` and keep the first few without their values."""
        self.decode_problems += len(found)
        room = KEPT_PROBLEMS - len(self.problems)
        if room > 0:
            self.problems.extend(p.redacted() for p in found[:room])


@attrs.define
class SchoolResult:
    """Everything one school did in a run."""

    school_id: int
    resources: dict[str, ResourceResult]
    started_at: float | None = None  # unix time of the first job start
    finished_at: float | None = None  # unix time of the last job end
    elapsed: float = 0.0  # seconds from first job start to last job end
    #: Retries the client made for this school during the run (pipeline stats).
    retries: int | None = None
    #: HTTP requests and 304 answers the pipeline counted for this school
    #: during the run (retries and token refreshes included).
    http_requests: int | None = None
    http_not_modified: int | None = None
    #: The school's authorisation is gone (revoked, or no usable token).
    revoked: bool = False

    @property
    def records(self) -> int:
        return sum(r.records for r in self.resources.values())

    @property
    def removals(self) -> int:
        return sum(r.removals for r in self.resources.values())

    @property
    def decode_problems(self) -> int:
        """Values of this school's records that did not fit their model."""
        return sum(r.decode_problems for r in self.resources.values())

    @property
    def requests(self) -> int:
        """HTTP requests sent for this school (every attempt counted)."""
        if self.http_requests is not None:
            return self.http_requests
        return sum(r.requests for r in self.resources.values())

    @property
    def not_modified(self) -> int:
        """HTTP 304 answers this school received."""
        if self.http_not_modified is not None:
            return self.http_not_modified
        return sum(1 for r in self.resources.values() if r.not_modified)

    @property
    def errors(self) -> list[str]:
        return [f"{r.resource}: {describe_error(r.error)}" for r in self.resources.values()
                if r.error is not None]

    @property
    def ok(self) -> bool:
        return all(r.state in ("done", "not_modified") for r in self.resources.values())

    @property
    def done(self) -> bool:
        return all(r.state in _FINAL for r in self.resources.values())


@attrs.define
class SyncReport:
    """The result of :meth:`SyncEngine.run`: one :class:`SchoolResult` per school."""

    schools: dict[int, SchoolResult]
    elapsed: float = 0.0
    #: :meth:`SyncEngine.cancel` stopped the run before every job finished.
    cancelled: bool = False

    @property
    def records(self) -> int:
        return sum(s.records for s in self.schools.values())

    @property
    def removals(self) -> int:
        return sum(s.removals for s in self.schools.values())

    @property
    def decode_problems(self) -> int:
        """Values that did not fit their model, across all schools."""
        return sum(s.decode_problems for s in self.schools.values())

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.schools.values())

    @property
    def retries(self) -> int:
        """Retries the pipeline made across all schools during the run."""
        return sum(s.retries or 0 for s in self.schools.values())

    @property
    def not_modified(self) -> int:
        return sum(s.not_modified for s in self.schools.values())

    @property
    def failed(self) -> list[int]:
        """Ids of schools with at least one job that did not finish cleanly."""
        return [sid for sid, s in self.schools.items() if not s.ok]

    @property
    def ok(self) -> bool:
        return not self.cancelled and not self.failed
