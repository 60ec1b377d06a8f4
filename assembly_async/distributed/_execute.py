"""Run one job message under a lease: the engine-neutral worker function.

:func:`execute_job` is a plain async function of a message (a
:class:`JobMessage` or its dict) and the worker's :class:`WorkerContext`. The
taskiq task calls it; so can a Celery or arq task (README: "Running on many
machines"). It:

1. asks the ledger to claim the job (a duplicate delivery, a finished job or
   a cancelled run end here, and a revoked school's job is skipped);
2. runs :func:`~assembly_async.sync_job`, exactly the code ``SyncEngine`` runs
   for a job, while a heartbeat renews the lease every third of its length;
   if the lease is lost (another worker was given the job after this one
   stopped renewing) or the run is cancelled, the job is cancelled at once,
   so two workers never run one job side by side, and nothing of it commits;
3. records the outcome; the worker that ends a school's last job writes the
   school's :class:`SyncRun` into its sink. A job that failed because Redis
   or the database could not be reached (nothing of it committed) is queued
   again after a pause instead, within the run's ``max_attempts``.

A worker stopping (its task cancelled) hands the job back to the queue at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Mapping
from typing import Any

import attrs

from .._core.errors import AssemblyError, SinkError, StorageError
from .._http.tasks import abandon, wait_done
from .._sync.job import JobResources, JobSpec, ends_school, sync_job
from .._sync.report import ResourceResult
from ..sinks import RunRecorder
from ._ledger import RunLedger
from ._messages import JobMessage, Send
from ._report import error_record, outcome_of, sync_run_of
from ._tasks import stop_task
from ._types import RunInfo

__all__ = ["JobOutcome", "WorkerContext", "execute_job"]

_log = logging.getLogger("assembly_async.distributed")

#: How long a stopping worker may take to hand a job back.
HAND_BACK_TIMEOUT = 10.0


@attrs.frozen
class JobOutcome:
    """What became of a message: ``done``, ``not_modified``, ``failed``,
    ``cancelled`` (the job ran), ``lost`` (its lease went to another worker),
    ``busy`` (a duplicate of a running job), ``finished``, ``skipped``,
    ``abandoned``, ``stopped``, ``gone``, ``declined`` (see :class:`Claim`),
    ``retry`` (it failed on Redis or the database and is queued again) or
    ``unrecorded`` (the job ran but Redis could not be told; it runs again)."""

    outcome: str
    result: ResourceResult | None = None


class WorkerContext:
    """What one worker process brings to every job: ``resources`` (its client,
    sink and sync state), the ``ledger``, and ``send`` to queue a job's message
    again. ``label`` names the worker in the ledger (``host:pid`` by default).

    ``sink_identity`` is what the worker's sink is (``PostgresSink.instance``
    by default): a run that recorded another sink's identity is declined, the
    job queued again after ``decline_delay`` seconds, so a worker pointed at
    the wrong database never writes a run's records there.
    """

    def __init__(self, resources: JobResources, ledger: RunLedger, send: Send, *,
                 label: str | None = None, sink_identity: str | None = None,
                 decline_delay: float = 5.0) -> None:
        self.resources = resources
        self.ledger = ledger
        self.send = send
        self.label = label or f"{socket.gethostname()}:{os.getpid()}"
        self.sink_identity = (sink_identity if sink_identity is not None
                              else getattr(resources.sink, "instance", None))
        self.decline_delay = decline_delay
        #: The tasks running jobs now (a stopping worker cancels them).
        self.running: set[asyncio.Task[Any]] = set()
        #: Outcomes so far, by kind.
        self.outcomes: dict[str, int] = {}
        self._runs: dict[str, RunInfo] = {}
        self._declined: set[str] = set()

    def __repr__(self) -> str:
        return f"<WorkerContext {self.label} {self.ledger!r}>"

    async def run_info(self, run_id: str) -> RunInfo | None:
        """The run's parameters (cached: they never change)."""
        info = self._runs.get(run_id)
        if info is None:
            info = await self.ledger.info(run_id)
            if info is not None:
                if len(self._runs) >= 256:
                    self._runs.pop(next(iter(self._runs)))
                self._runs[run_id] = info
        return info

    async def record_school(self, info: RunInfo, school_id: int) -> None:
        """Log a finished school's run in the sink (``sync_runs``), if it keeps one."""
        sink = self.resources.sink
        if not isinstance(sink, RunRecorder):
            return
        try:
            outcomes = await self.ledger.school_outcomes(info.id, school_id, info.resources)
            await sink.record_run(sync_run_of(school_id, info.resources, outcomes))
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("could not record the sync run of school %s", school_id)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class _Heartbeat:
    """Renews a running job's lease; cancels the job when the lease is lost, the
    run is cancelled, or Redis cannot be reached for most of a lease."""

    def __init__(self, ledger: RunLedger, message: JobMessage, token: str, lease: float,
                 job: asyncio.Task[ResourceResult], result: ResourceResult) -> None:
        self.ledger, self.message, self.token = ledger, message, token
        self.lease, self.job, self.result = lease, job, result
        #: Why the job was cancelled: "lost" or "stopped" (None: it was not).
        self.reason: str | None = None
        #: Set by the job's owner when the job ended (the loop also checks it).
        self.over = False

    async def run(self) -> None:
        # Renew every third of the lease; stop the job once 0.8 of a lease has
        # passed since the last renewal Redis accepted, whatever a renewal in
        # flight is doing, so the job has ended before Redis's expiry could hand
        # it to another worker.
        interval = max(self.lease / 3, 0.05)
        last_ok = time.monotonic()
        failure = "no answer"
        while not self.over:
            give_up_at = last_ok + self.lease * 0.8
            await asyncio.sleep(max(0.0, min(interval, give_up_at - time.monotonic())))
            if self.over:
                return
            left = give_up_at - time.monotonic()
            if left <= 0:
                _log.warning("job %s of run %s: cannot renew its lease (%s); stopping it",
                             self.message.job, self.message.run, failure)
                await self._stop("lost")
                return
            sent = time.monotonic()
            renew = asyncio.ensure_future(self.ledger.renew(
                self.message.run, self.message.job, self.token, self.result.records))
            if not await wait_done(renew, min(interval, left)):
                abandon(renew)
                failure = "no answer in time"
                continue
            try:
                answer = renew.result()
            except StorageError as exc:
                failure = type(exc).__name__
                continue
            if answer == "ok":
                last_ok = sent
                continue
            await self._stop("lost" if answer == "lost" else "stopped")
            return

    async def _stop(self, reason: str) -> None:
        self.reason = reason
        await stop_task(self.job, every=2.0)  # time for the job to roll back


async def _shielded(coro: Any, timeout: float) -> Any:
    """Run ``coro`` to the end even if our caller is being cancelled (bounded)."""
    task = asyncio.ensure_future(asyncio.wait_for(coro, timeout))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task
        raise


async def _send_again(context: WorkerContext, message: JobMessage, position: int | None) -> None:
    if position is not None:
        await context.send(attrs.evolve(message, position=position))


async def _hand_back(context: WorkerContext, message: JobMessage, token: str) -> None:
    try:
        position = await context.ledger.release(message.run, message.job, token)
        await _send_again(context, message, position)
    except Exception:
        _log.warning("could not hand job %s of run %s back; its lease will expire",
                     message.job, message.run, exc_info=True)


#: PostgreSQL error classes that may pass: connection exception, transaction
#: rollback (serialization failure, deadlock), insufficient resources (too many
#: connections), operator intervention (shutting down, cannot connect now).
_TRANSIENT_SQLSTATES = ("08", "40", "53", "57")
#: SinkErrors without an SQLSTATE that are about the data or our own use, not
#: the connection (which gives the driver's error class as the reason).
_NOT_CONNECTION = (None, "bad record", "closed")


def _transient(error: BaseException | None) -> bool:
    """Whether a job's failure is shared storage failing for a while (Redis or the
    database out of reach, restarting, out of connections), not the job's data."""
    if isinstance(error, StorageError):
        return True
    if isinstance(error, SinkError):
        if error.sqlstate:
            return str(error.sqlstate)[:2] in _TRANSIENT_SQLSTATES
        return error.reason not in _NOT_CONNECTION
    return False


async def _try_again(context: WorkerContext, message: JobMessage, token: str, attempt: int,
                     result: ResourceResult) -> JobOutcome:
    """The job failed on shared storage (Redis or the database unreachable for a
    moment): nothing of it committed, so it is queued again and its message sent
    after a pause (1, 2, 4... s), the attempt counted (``max_attempts`` bounds it)."""
    assert result.error is not None
    _log.warning("job %s of run %s failed on storage (%s); it is tried again", message.job,
                 message.run, type(result.error).__name__)
    try:
        position = await context.ledger.release(message.run, message.job, token,
                                                count_attempt=True)
        await asyncio.sleep(min(2.0 ** (attempt - 1), 30.0))
        await _send_again(context, message, position)
    except StorageError:
        pass  # Redis is still away: the lease expires and a sweep sends it again
    return JobOutcome("retry", result)


async def _decline(context: WorkerContext, info: RunInfo, message: JobMessage) -> JobOutcome:
    reason = (f"this worker's sink is {context.sink_identity or 'not a PostgresSink'}, "
              f"the run's is {info.sink}")
    if info.id not in context._declined:
        context._declined.add(info.id)
        _log.error("worker %s declines the jobs of run %s: %s (check its --sink)",
                   context.label, info.id, reason)
    await asyncio.sleep(context.decline_delay)
    position = await context.ledger.decline(info.id, message.job, context.label, reason)
    await _send_again(context, message, position)
    return JobOutcome("declined")


async def execute_job(message: JobMessage | Mapping[str, Any],
                      context: WorkerContext) -> JobOutcome:
    """Run the job a message names, under its lease; see the module docstring.
    Never raises for the job's own failures (they are recorded); raises
    :class:`StorageError` when Redis cannot be reached before the job starts,
    and :class:`asyncio.CancelledError` after handing the job back."""
    msg = message if isinstance(message, JobMessage) else JobMessage.from_dict(message)
    task = asyncio.current_task()
    if task is not None:
        context.running.add(task)
    try:
        outcome = await _execute(msg, context)
    finally:
        if task is not None:
            context.running.discard(task)
    context.count(outcome.outcome)
    return outcome


async def _execute(msg: JobMessage, context: WorkerContext) -> JobOutcome:
    ledger = context.ledger
    info = await context.run_info(msg.run)
    if info is None:
        return JobOutcome("gone")
    if msg.resource not in info.resources:
        return JobOutcome("gone")
    if info.sink and context.sink_identity != info.sink:
        return await _decline(context, info, msg)
    token = secrets.token_hex(8)
    claim = await ledger.claim(msg.run, msg.job, msg.position, token, context.label)
    if claim.school_done:
        await context.record_school(info, msg.school_id)
    if claim.outcome != "ok":
        return JobOutcome(claim.outcome)
    spec = JobSpec(msg.school_id, msg.resource, info.params.get(msg.resource, {}))
    result = ResourceResult(msg.resource)
    started = time.time()
    job = asyncio.create_task(sync_job(spec, context.resources, result=result),
                              name=f"assembly-job-{msg.job}")
    beat = _Heartbeat(ledger, msg, token, claim.lease, job, result)
    beating = asyncio.create_task(beat.run(), name=f"assembly-lease-{msg.job}")
    try:
        await job
    except asyncio.CancelledError:
        if beat.reason is None:  # we are being cancelled: the worker is stopping
            await stop_task(job, every=2.0)
            await _shielded(_hand_back(context, msg, token), HAND_BACK_TIMEOUT)
            raise
    finally:
        beat.over = True
        await stop_task(beating)
    if beat.reason == "lost":
        _log.warning("job %s of run %s lost its lease and was stopped", msg.job, msg.run)
        return JobOutcome("lost", result)
    if (beat.reason is None and _transient(result.error)
            and claim.attempt < info.max_attempts):
        return await _try_again(context, msg, token, claim.attempt, result)
    state = "cancelled" if beat.reason == "stopped" else result.state
    outcome = await _record(context, info, msg, token, state, claim.attempt, started, result)
    if result.error is not None and not isinstance(result.error, AssemblyError):
        _log.error("job %s of run %s failed", msg.job, msg.run, exc_info=result.error)
    return outcome


async def _record(context: WorkerContext, info: RunInfo, msg: JobMessage, token: str,
                  state: str, attempt: int, started: float,
                  result: ResourceResult) -> JobOutcome:
    """Tell the ledger how the job ended (trying again briefly while Redis is
    away); the worker ending a school's last job logs the school's run."""
    outcome = outcome_of(result, started_at=started, attempt=attempt, worker=context.label)
    revoked = (error_record(result.error)
               if result.error is not None and ends_school(result.error) else None)
    for pause in (0.5, 2.0, 0.0):
        try:
            finish = await context.ledger.finish(msg.run, msg.job, token, state, outcome,
                                                 ends_school=revoked,
                                                 resources=info.resources)
            break
        except StorageError:
            if not pause:
                _log.warning("job %s of run %s ran but could not be recorded; it will run "
                             "again", msg.job, msg.run, exc_info=True)
                return JobOutcome("unrecorded", result)
            await asyncio.sleep(pause)
    if finish.outcome != "ok":
        return JobOutcome("lost", result)
    if finish.school_done:
        await context.record_school(info, msg.school_id)
    return JobOutcome(state, result)
