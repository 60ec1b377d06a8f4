"""Job outcomes as the ledger keeps them (JSON), and the run's report built
from them: a :class:`SyncReport`, the same shape ``SyncEngine.run`` returns.

An error is kept as its class name and its message. The SDK's own errors
carry no token, secret or pupil data (a rule every layer keeps), so their
text is kept, capped; any other exception is a bug whose text could hold
anything, so only its class name is kept (the worker's log has the rest).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._core.errors import AssemblyError, JobFailed
from .._sync.report import ResourceResult, SchoolResult, SyncReport
from ..sinks import SyncRun
from ._types import FINAL, RunInfo, split_job

__all__ = ["build_report", "error_record", "outcome_of", "result_of", "sync_run_of"]

#: How much of an error's text the ledger keeps.
MESSAGE_LIMIT = 1000


def error_record(error: BaseException) -> dict[str, str]:
    """``{"type": class name, "message": text}``, fit for Redis and a report."""
    if isinstance(error, JobFailed):
        return {"type": error.kind, "message": str(error)[:MESSAGE_LIMIT]}
    if isinstance(error, AssemblyError):
        message = str(error)[:MESSAGE_LIMIT] or type(error).__name__
    else:
        message = f"{type(error).__name__} (details in the worker's log)"
    return {"type": type(error).__name__, "message": message}


def outcome_of(result: ResourceResult, *, started_at: float, attempt: int,
               worker: str) -> dict[str, Any]:
    """A finished job's outcome as the ledger keeps it."""
    return {
        "state": result.state, "records": result.records, "removals": result.removals,
        "requests": result.requests, "not_modified": result.not_modified,
        "full": result.full, "elapsed": round(result.elapsed, 3),
        "started_at": started_at, "finished_at": time.time(), "attempt": attempt,
        "worker": worker, "decode_problems": result.decode_problems,
        "error": None if result.error is None else error_record(result.error),
    }


def _error_of(entry: Mapping[str, Any]) -> JobFailed | None:
    error = entry.get("error")
    if not isinstance(error, Mapping):
        return None
    return JobFailed(str(error.get("message") or ""), kind=str(error.get("type") or "Error"))


def result_of(resource: str, entry: Mapping[str, Any]) -> ResourceResult:
    """A job's :class:`ResourceResult` from its ledger entry."""
    full = entry.get("full")
    return ResourceResult(
        resource, state=entry.get("state", "queued"), records=int(entry.get("records") or 0),
        removals=int(entry.get("removals") or 0), requests=int(entry.get("requests") or 0),
        not_modified=bool(entry.get("not_modified")),
        full=None if full is None else bool(full), error=_error_of(entry),
        elapsed=float(entry.get("elapsed") or 0.0),
        # The count only: the problems themselves are in the worker's log.
        decode_problems=int(entry.get("decode_problems") or 0))


def build_report(info: RunInfo, jobs: Mapping[str, Mapping[str, Any]],
                 revoked: Iterable[int] = ()) -> SyncReport:
    """The run's report from its ledger (an unfinished run gives a partial one:
    queued and running jobs in those states). Retries are not counted across
    workers (``None``); requests are the jobs' own."""
    schools: dict[int, SchoolResult] = {}
    by_school: dict[int, dict[str, Mapping[str, Any]]] = {}
    for job, entry in jobs.items():
        sid, resource = split_job(job)
        by_school.setdefault(sid, {})[resource] = entry
    gone = set(revoked)
    for sid in sorted(by_school):
        entries = by_school[sid]
        results = {r: result_of(r, entries.get(r, {})) for r in info.resources}
        starts = [float(e["started_at"]) for e in entries.values() if e.get("started_at")]
        ends = [float(e["finished_at"]) for e in entries.values() if e.get("finished_at")]
        school = SchoolResult(sid, results, revoked=sid in gone)
        if starts:
            school.started_at = min(starts)
        if ends and all(e.get("state") in FINAL for e in entries.values()):
            school.finished_at = max(ends)
            school.elapsed = school.finished_at - (school.started_at or school.finished_at)
        schools[sid] = school
    report = SyncReport(schools, cancelled=info.status == "cancelled")
    report.elapsed = (info.finished or time.time()) - info.created
    return report


def sync_run_of(school_id: int, resources: Sequence[str],
                outcomes: Sequence[Mapping[str, Any]]) -> SyncRun:
    """The :class:`SyncRun` a sink logs for a school whose jobs all ended."""
    now = time.time()
    starts = [float(o["started_at"]) for o in outcomes if o.get("started_at")]
    ends = [float(o["finished_at"]) for o in outcomes if o.get("finished_at")]
    errors = []
    for o in outcomes:
        error = _error_of(o)
        if error is not None:
            errors.append(f"{error.kind}: {error}")
    return SyncRun(
        school_id=school_id, started_at=min(starts) if starts else now,
        finished_at=max(ends) if ends else now, resources=tuple(resources),
        records=sum(int(o.get("records") or 0) for o in outcomes),
        removals=sum(int(o.get("removals") or 0) for o in outcomes),
        requests=sum(int(o.get("requests") or 0) for o in outcomes),
        not_modified=sum(1 for o in outcomes if o.get("not_modified")), retries=None,
        ok=len(outcomes) == len(resources)
        and all(o.get("state") in ("done", "not_modified") for o in outcomes),
        error="; ".join(errors)[:2000] if errors else None)
