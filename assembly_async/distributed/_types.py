"""The run ledger's values: run options, what a run is, its progress, the
answers to a worker's claim and finish."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from .._core.errors import ConfigurationError

__all__ = ["FINAL", "RUN_ID", "STATES", "Claim", "Finish", "RunInfo", "RunOptions", "RunProgress",
           "check_run_id", "job_key", "split_job"]

RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Job states, in the order reports list them.
STATES = ("queued", "running", "done", "not_modified", "failed", "skipped", "cancelled")
FINAL = frozenset(STATES[2:])


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise ConfigurationError(f"invalid run id {run_id!r}")
    return run_id


def job_key(school_id: int, resource: str) -> str:
    """``"<school_id>/<resource>"``."""
    return f"{school_id}/{resource}"


def split_job(job: str) -> tuple[int, str]:
    sid, _, resource = job.partition("/")
    return int(sid), resource


def _positive(name: str) -> Any:
    def check(_: Any, attribute: Any, value: float) -> None:
        if not value > 0:
            raise ConfigurationError(f"{name} must be positive, got {value!r}")
    return check


@attrs.frozen
class RunOptions:
    """How a run's jobs are watched (seconds).

    ``lease``: a running job's lease; its worker renews it every third of that,
    and a job whose lease expired (the worker was killed or cut off) is queued
    again. ``grace``: how long a queued job may stay behind a delivered message
    before its own message counts as lost and is sent again. ``stall``: with
    jobs queued and none claimed for that long, the first ``stall_batch`` are
    sent again (the period doubles each time). ``max_attempts``: a job whose
    worker stopped that many times is failed, not started again (a job that
    kills its worker must not kill them all). ``keep``: how long the ledger
    stays readable after the run ended.
    """

    lease: float = attrs.field(default=60.0, validator=_positive("lease"))
    grace: float = attrs.field(default=30.0, validator=_positive("grace"))
    stall: float = attrs.field(default=120.0, validator=_positive("stall"))
    stall_batch: int = attrs.field(default=8, validator=_positive("stall_batch"))
    max_attempts: int = attrs.field(default=5, validator=_positive("max_attempts"))
    keep: float = attrs.field(default=7 * 86400.0, validator=_positive("keep"))


@attrs.frozen
class RunInfo:
    """What a run is: its jobs' parameters and how they are watched."""

    id: str
    status: str  # running, done, cancelled
    created: float  # unix time
    finished: float | None
    resources: tuple[str, ...]
    params: Mapping[str, Mapping[str, Any]]
    total: int
    schools: int
    lease: float
    grace: float
    stall_batch: int
    max_attempts: int
    #: The identity of the sink the run writes to (``PostgresSink.instance``), if known.
    sink: str | None
    #: Jobs queued again (lease expired, message lost, worker shutting down).
    requeued: int


@attrs.frozen
class RunProgress:
    """A run's state at one moment: jobs per state and records written so far."""

    info: RunInfo
    counts: Mapping[str, int]
    records: int
    #: Workers that declined the run's jobs, and why (label -> reason).
    declined: Mapping[str, str]

    @property
    def ended(self) -> int:
        return sum(self.counts.get(s, 0) for s in FINAL)

    @property
    def finished(self) -> bool:
        return self.info.status != "running"


@attrs.frozen
class Claim:
    """The ledger's answer to "may I run this job?".

    ``outcome``: ``ok`` (run it; ``attempt`` and ``lease`` seconds given),
    ``busy`` (a live lease holds it: a duplicate delivery), ``finished``,
    ``skipped`` (its school's authorisation is gone), ``abandoned`` (too many
    attempts), ``stopped`` (the run is cancelled) or ``gone`` (no such run).
    """

    outcome: str
    attempt: int = 0
    lease: float = 0.0
    detail: str = ""
    school_done: bool = False


@attrs.frozen
class Finish:
    """The ledger's answer to a job's outcome: ``stale`` when the lease was
    lost meanwhile (another worker owns the job; the outcome is dropped)."""

    outcome: str
    school_done: bool = False
    run_status: str = ""
