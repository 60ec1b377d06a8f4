"""Bulk sync: many schools x resources, concurrently, into a sink.

::

    async with SQLiteSink("data.db") as sink:
        engine = SyncEngine(client, sink, state, resources=["students", "staff_members"])
        report = await engine.run(school_ids)
        for school in report.schools.values():
            print(school.school_id, school.records, school.requests, school.errors)

How it schedules: every (school, resource) pair is a job; jobs are queued
school by school. ``concurrency`` workers each take the first queued job whose
school has fewer than ``per_school`` jobs running, so at most ``concurrency``
schools are in flight, every running school keeps a worker until its jobs are
done, and a slow or rate-limited school holds one worker, never the others.
(The client enforces each school's own request budget; the engine never
spends one school's budget on another.)

Each job is :func:`~assembly_async.sync_job` (``job.py``), the same
function ``assembly_async.distributed`` workers run: one incremental
``school.changes(resource, state=state)`` delta whose records go to the sink
page by page, whose watermark moves only when the job finished cleanly, and
which removes what a full sync no longer lists only after a walk proven
complete (otherwise a :class:`PagingError`, nothing removed). A failed,
revoked or cancelled job therefore never moves the watermark: the next run
fetches the same changes again (sinks upsert, so that is harmless). When the
sink's database also holds the state (``PostgresSink`` with its
``PostgresSyncState``, ``SQLiteSink`` and ``SQLiteSyncState`` on one file) the
job's records and watermark commit in one transaction (``jobs.py``): a crash
leaves both or neither.

Isolation: an error in one job is recorded in that school's result; a school
whose authorisation is gone (:class:`SchoolAuthRevoked`,
:class:`TokenUnavailable`) has its remaining jobs skipped. Other schools finish.

Budget: a job's requests wait for their school's rate budget and 429 pauses
however long that takes (``CallOptions(wait_for_budget=True)``, unless the
job's ``params`` pass their own ``options``): a nightly sync should finish, not
fail because a school spent its budget; the client's ``deadline`` still bounds
each request's attempts, backoff and token refresh.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._client.syncstate import MemorySyncState
from .._core.errors import ConfigurationError, UsageError
from .._http.events import SchoolStats
from ..sinks import RunRecorder, Sink, SyncRun, check_resource_name
from .job import JobResources, JobSpec, ends_school, sync_job
from .report import (
    JobState,
    ProgressCallback,
    ProgressEvent,
    ResourceResult,
    SchoolResult,
    SyncReport,
    describe_error,
)

if TYPE_CHECKING:
    from .._client.client import AssemblyClient

__all__ = [
    "JobState",
    "ProgressCallback",
    "ProgressEvent",
    "ResourceResult",
    "SchoolResult",
    "SyncEngine",
    "SyncReport",
    "sync_many",
]

_log = logging.getLogger(__name__)


class SyncEngine:
    """Sync ``resources`` of many schools into ``sink`` with bounded concurrency.

    ``state`` is the sync state (``MemorySyncState``/``SQLiteSyncState``) that
    keeps each (school, resource) watermark; without one the engine keeps a
    :class:`MemorySyncState` of its own, so a second :meth:`run` of the same
    engine is incremental. ``params`` maps a resource to keyword arguments of
    its ``changes`` call (``{"students": {"demographics": True}}``).
    ``concurrency`` caps the workers (so schools, and connections) in flight;
    ``per_school`` caps the jobs of one school running at once.
    ``on_progress`` receives :class:`ProgressEvent` values. With
    ``record_runs`` a sink that implements :class:`RunRecorder` gets one
    :class:`SyncRun` per school as soon as that school is finished.

    The engine never opens or closes the sink or the state: the caller owns them.
    """

    def __init__(
        self,
        client: AssemblyClient,
        sink: Sink,
        state: Any = None,
        *,
        resources: Sequence[str] = ("students", "staff_members"),
        params: Mapping[str, Mapping[str, Any]] | None = None,
        concurrency: int = 32,
        per_school: int = 1,
        on_progress: ProgressCallback | None = None,
        record_runs: bool = True,
    ) -> None:
        if concurrency < 1 or per_school < 1:
            raise ConfigurationError("concurrency and per_school must be >= 1")
        if isinstance(resources, str):
            raise ConfigurationError("resources must be a list of names, not a string")
        self.resources = tuple(dict.fromkeys(check_resource_name(r) for r in resources))
        if not self.resources:
            raise ConfigurationError("no resources to sync")
        self.params = {k: dict(v) for k, v in (params or {}).items()}
        unknown = set(self.params) - set(self.resources)
        if unknown:
            raise ConfigurationError(f"params for resources not synced: {sorted(unknown)}")
        self.client = client
        self.sink = sink
        self.state = state if state is not None else MemorySyncState()
        self.concurrency = concurrency
        self.per_school = per_school
        self.on_progress = on_progress
        self.record_runs = record_runs
        self._workers: list[asyncio.Task[None]] = []
        self._cancel_requested = False
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def cancel(self) -> None:
        """Stop the current run: workers are cancelled, unfinished jobs do not commit,
        and :meth:`run` returns a report with ``cancelled=True``."""
        if not self._running:
            return
        self._cancel_requested = True
        for task in self._workers:
            task.cancel()

    async def run(self, school_ids: Iterable[int]) -> SyncReport:
        """Sync every school; returns when all jobs ended (or the run was cancelled).

        Cancelling the task that awaits ``run`` cancels the workers, waits for
        them and re-raises :class:`asyncio.CancelledError`.
        """
        if self._running:
            raise UsageError("this engine is already running")
        ids = list(dict.fromkeys(school_ids))
        for sid in ids:
            if isinstance(sid, bool) or not isinstance(sid, int):
                raise ConfigurationError(f"school ids must be ints, got {sid!r}")
        report = SyncReport({sid: SchoolResult(sid, {r: ResourceResult(r) for r in self.resources})
                             for sid in ids})
        run = _Run(self, report)
        self._running = True
        self._cancel_requested = False
        t0 = time.monotonic()
        workers = [asyncio.create_task(run.worker(), name=f"assembly-sync-worker-{i}")
                   for i in range(min(self.concurrency, max(1, len(ids) * self.per_school)))]
        self._workers = workers
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            run.cancel_pending()
            if not self._cancel_requested:
                raise
            report.cancelled = True
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        finally:
            self._workers = []
            self._running = False
            report.elapsed = time.monotonic() - t0
        return report


class _Run:
    """The mutable state of one :meth:`SyncEngine.run`."""

    def __init__(self, engine: SyncEngine, report: SyncReport) -> None:
        self.engine = engine
        self.report = report
        # School by school: a worker takes the first job whose school is not busy.
        self.pending: deque[tuple[int, str]] = deque(
            (sid, r) for sid in report.schools for r in engine.resources
        )
        self.busy: dict[int, int] = {}
        self.left: dict[int, int] = {sid: len(engine.resources) for sid in report.schools}
        self.first_start: dict[int, float] = {}
        self.stats_before: dict[int, SchoolStats] = {}
        self.wakeup = asyncio.Event()
        self.job_resources = JobResources(engine.client, engine.sink, engine.state)
        self.recorder: RunRecorder | None = (
            engine.sink if engine.record_runs and isinstance(engine.sink, RunRecorder) else None
        )

    async def next_job(self) -> tuple[int, str] | None:
        # One event loop thread: pending/busy change only between awaits, no lock needed.
        while True:
            if not self.pending:
                return None
            limit = self.engine.per_school
            for i, (sid, resource) in enumerate(self.pending):
                if self.busy.get(sid, 0) < limit:
                    del self.pending[i]
                    self.busy[sid] = self.busy.get(sid, 0) + 1
                    return sid, resource
            self.wakeup.clear()
            await self.wakeup.wait()

    def release(self, sid: int) -> None:
        self.busy[sid] -= 1
        if not self.busy[sid]:
            del self.busy[sid]
        self.wakeup.set()

    async def worker(self) -> None:
        while True:
            job = await self.next_job()
            if job is None:
                return
            sid, resource = job
            try:
                await self.run_job(sid, resource)
            finally:
                self.release(sid)
            await self.job_ended(sid)

    def cancel_pending(self) -> None:
        while self.pending:
            sid, resource = self.pending.popleft()
            self.report.schools[sid].resources[resource].state = "cancelled"

    async def emit(self, sid: int, res: ResourceResult) -> None:
        callback = self.engine.on_progress
        if callback is None:
            return
        error = None if res.error is None else describe_error(res.error)
        event = ProgressEvent(sid, res.resource, res.state, res.records, res.removals,
                              res.requests, error)
        try:
            out = callback(event)
            if inspect.isawaitable(out):
                await out
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("on_progress callback failed for school %s %s", sid, res.resource)

    async def run_job(self, sid: int, resource: str) -> None:
        school = self.report.schools[sid]
        res = school.resources[resource]
        if school.revoked:
            res.state = "skipped"
            res.error = next((r.error for r in school.resources.values()
                              if ends_school(r.error)), None)
            await self.emit(sid, res)
            return
        if sid not in self.first_start:
            self.first_start[sid] = time.monotonic()
            school.started_at = time.time()
            self.stats_before[sid] = self.engine.client.stats(sid)
        engine = self.engine
        spec = JobSpec(sid, resource, engine.params.get(resource, {}))
        # The one-job code every scheduler runs (job.py); this engine keeps the
        # per-school bookkeeping around it.
        await sync_job(spec, self.job_resources, result=res,
                       on_update=lambda r: self.emit(sid, r))
        if ends_school(res.error):
            school.revoked = True
        await self.emit(sid, res)

    async def job_ended(self, sid: int) -> None:
        self.left[sid] -= 1
        if self.left[sid]:
            return
        school = self.report.schools[sid]
        start = self.first_start.get(sid)
        school.elapsed = time.monotonic() - start if start is not None else 0.0
        school.finished_at = time.time()
        before, after = self.stats_before.get(sid, SchoolStats()), self.engine.client.stats(sid)
        school.retries = after.retries - before.retries
        school.http_requests = after.requests - before.requests
        school.http_not_modified = after.statuses.get(304, 0) - before.statuses.get(304, 0)
        if self.recorder is not None:
            errors = school.errors
            run = SyncRun(
                school_id=sid, started_at=school.started_at or school.finished_at,
                finished_at=school.finished_at, resources=self.engine.resources,
                records=school.records, removals=school.removals, requests=school.requests,
                not_modified=school.not_modified, retries=school.retries, ok=school.ok,
                error="; ".join(errors)[:2000] if errors else None,
            )
            try:
                await self.recorder.record_run(run)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("could not record the sync run of school %s", sid)


async def sync_many(
    client: AssemblyClient,
    school_ids: Iterable[int],
    resources: Sequence[str],
    sink: Sink,
    state: Any = None,
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    concurrency: int = 32,
    per_school: int = 1,
    on_progress: ProgressCallback | None = None,
    open_sink: bool = True,
) -> SyncReport:
    """Sync ``resources`` of every school in ``school_ids`` into ``sink``.

    A one-call wrapper around :class:`SyncEngine`. It opens the sink first and
    closes it afterwards unless ``open_sink=False``. Pass a persistent
    ``state`` (``SQLiteSyncState``) to make the next call incremental; without
    one every call is a full sync.
    """
    engine = SyncEngine(client, sink, state, resources=resources, params=params,
                        concurrency=concurrency, per_school=per_school,
                        on_progress=on_progress)
    if not open_sink:
        return await engine.run(school_ids)
    await sink.open()
    try:
        return await engine.run(school_ids)
    finally:
        await sink.close()
