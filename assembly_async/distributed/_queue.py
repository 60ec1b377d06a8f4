"""Starting, watching and reporting runs: the side that is not a worker.

::

    async with SyncQueue("redis://redis.internal:6379/0") as queue:
        run = await queue.submit(school_ids, resources=["students", "staff_members"])
        report = await queue.wait(run.id, on_progress=print)   # a SyncReport

:meth:`SyncQueue.submit` records the run in the ledger, then sends one
message per job (school by school). :meth:`SyncQueue.wait` polls the ledger,
sweeps the run (expired leases and lost messages are queued again, as the
workers do too) and returns the :class:`SyncReport` when every job ended.
Stopping the wait (Ctrl-C) leaves the run to the workers: ``wait`` again
later, or :meth:`cancel` it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from .._core.errors import ConfigurationError, StorageError
from .._sync.report import SyncReport
from ..redis import DEFAULT_PREFIX, RedisLike
from ..sinks import redact_dsn
from ._ledger import RunLedger
from ._messages import JobMessage, Send
from ._registry import WorkerInfo
from ._report import build_report
from ._types import RunInfo, RunOptions, RunProgress, split_job

__all__ = ["SyncQueue"]

#: Messages sent at once when a run starts.
SEND_BATCH = 64


class SyncQueue:
    """Runs on the workers sharing ``redis`` (a URL, or a ``redis.asyncio.Redis``
    with your own ``send``) and ``prefix``.

    ``send`` puts a :class:`JobMessage` in front of the workers; by default it
    is the taskiq stream broker the ``worker`` command listens to (its
    consumer group is created before the first message, so none is missed).
    Pass your own to feed Celery or arq workers that call
    :func:`execute_job`.
    """

    def __init__(self, redis: RedisLike, *, prefix: str = DEFAULT_PREFIX,
                 send: Send | None = None) -> None:
        if send is None and not isinstance(redis, str):
            raise ConfigurationError("without send=, SyncQueue needs a Redis URL (for taskiq)")
        self._url = redis if isinstance(redis, str) else None
        self.ledger = RunLedger(redis, prefix=prefix)
        self._send = send
        self._broker: Any = None
        self.prefix = prefix

    def __repr__(self) -> str:
        where = redact_dsn(self._url) if self._url else "a Redis client"
        return f"<SyncQueue {where} prefix={self.prefix!r}>"

    async def open(self) -> SyncQueue:
        await self.ledger.open()
        if self._send is None and self._url is not None:
            from ._taskiq import make_broker, taskiq_sender

            broker = make_broker(self._url, prefix=self.prefix, pool_size=SEND_BATCH + 2)
            try:
                await broker.startup()  # creates the consumer group before any message
            except Exception:
                await broker.shutdown()
                raise
            self._broker = broker
            self._send = taskiq_sender(broker, redact_dsn(self._url))
        return self

    async def close(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()
        await self.ledger.close()

    async def __aenter__(self) -> SyncQueue:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def _send_all(self, run_id: str, jobs: Sequence[tuple[str, int]]) -> None:
        if self._send is None:
            raise RuntimeError("open the SyncQueue first")
        send = self._send
        for i in range(0, len(jobs), SEND_BATCH):
            batch = []
            for job, position in jobs[i:i + SEND_BATCH]:
                sid, resource = split_job(job)
                batch.append(send(JobMessage(run_id, sid, resource, position)))
            await asyncio.gather(*batch)

    async def submit(self, school_ids: Sequence[int], *,
                     resources: Sequence[str] = ("students", "staff_members"),
                     params: Mapping[str, Mapping[str, Any]] | None = None,
                     options: RunOptions | None = None, sink: str | None = None) -> RunInfo:
        """Start a run: every (school, resource) job is queued for the workers.

        ``params`` are the resources' ``changes`` arguments (JSON values).
        ``sink`` is the identity of the sink the workers must write to
        (``PostgresSink.instance``): a worker whose sink differs declines the
        jobs. A message that cannot be sent is found by the sweeps (its job
        stays queued), so a run is never half-created."""
        info, jobs = await self.ledger.create(school_ids, resources, params=params,
                                              options=options, sink=sink)
        await self._send_all(info.id, jobs)
        return info

    async def sweep(self, run_id: str) -> int:
        """Queue again the run's jobs that must be (see :meth:`RunLedger.sweep`)."""
        jobs = await self.ledger.sweep(run_id)
        await self._send_all(run_id, jobs)
        return len(jobs)

    async def progress(self, run_id: str) -> RunProgress | None:
        return await self.ledger.progress(run_id)

    async def report(self, run_id: str) -> SyncReport | None:
        """The run's :class:`SyncReport` (partial while jobs are queued or running)."""
        info = await self.ledger.info(run_id)
        if info is None:
            return None
        jobs = await self.ledger.jobs(run_id)
        return build_report(info, jobs, await self.ledger.revoked(run_id))

    async def wait(self, run_id: str, *, poll: float = 1.0,
                   on_progress: Callable[[RunProgress], object] | None = None,
                   patience: float = 60.0) -> SyncReport:
        """Watch the run until every job ended; returns its report.

        Every ``poll`` seconds: the progress goes to ``on_progress`` (may be
        async) and the run is swept. Redis failing for ``patience`` seconds in
        a row raises its :class:`StorageError` (shorter outages are waited
        out); :class:`ConfigurationError` when the run does not exist (or
        expired)."""
        failing_since: float | None = None
        while True:
            try:
                progress = await self.ledger.progress(run_id)
            except StorageError:
                now = time.monotonic()
                failing_since = now if failing_since is None else failing_since
                if now - failing_since >= patience:
                    raise
                await asyncio.sleep(poll)
                continue
            failing_since = None
            if progress is None:
                raise ConfigurationError(f"no run {run_id} in this Redis (or it expired)")
            if on_progress is not None:
                out = on_progress(progress)
                if inspect.isawaitable(out):
                    await out
            if progress.finished:
                report = await self.report(run_id)
                assert report is not None
                return report
            with contextlib.suppress(StorageError):
                await self.sweep(run_id)
            await asyncio.sleep(poll)

    async def cancel(self, run_id: str) -> str:
        """Cancel a run (see :meth:`RunLedger.cancel`)."""
        return await self.ledger.cancel(run_id)

    async def runs(self, *, limit: int = 20) -> list[RunInfo]:
        return await self.ledger.runs(limit=limit)

    async def workers(self) -> list[WorkerInfo]:
        """The workers heard of in the last minute."""
        return await self.ledger.workers().alive()
