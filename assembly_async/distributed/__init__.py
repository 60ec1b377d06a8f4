"""Distributed bulk sync: one run's jobs on many workers on many machines.

Needs the ``distributed`` extra (``pip install "assembly-async[distributed]"``:
taskiq, taskiq-redis, redis-py, asyncpg) and plain Redis >= 7 (not Cluster:
taskiq-redis's cluster broker never reclaims a message).

A worker (``assembly-async worker``, or :func:`serve`) takes (school,
resource) jobs from a Redis stream through taskiq and runs each with
:func:`~assembly_async.sync_job`, the code ``SyncEngine`` runs, sharing
tokens (one refresh per school across workers), rate budgets and a
PostgreSQL sink with every other worker. A run lives in a ledger in Redis:
each job's state, its lease while it runs, its outcome::

    from assembly_async.distributed import SyncQueue

    async with SyncQueue("redis://redis.internal:6379/0") as queue:
        run = await queue.submit(school_ids, resources=["students"])
        report = await queue.wait(run.id)       # a SyncReport, as SyncEngine.run gives

Guarantees: a job runs on one worker at a time (a lease, renewed while it
runs; a duplicate delivery is refused); a killed worker's jobs are queued
again when their lease expires, and a lost message when later ones were
delivered (taskiq-redis alone reclaims only when new messages arrive); a
revoked school's other jobs are skipped; a job's records and watermark commit
together. :func:`execute_job` is the engine-neutral job function a Celery or
arq task can call (README: "Running on many machines").
"""

try:
    import taskiq  # noqa: F401
    import taskiq_redis  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('assembly_async.distributed needs the distributed extra: '
                      'pip install "assembly-async[distributed]"') from exc

from ._execute import JobOutcome, WorkerContext, execute_job
from ._ledger import RunLedger
from ._messages import JobMessage, Send
from ._queue import SyncQueue
from ._registry import WorkerInfo
from ._taskiq import TASK_NAME, BrokerOptions, make_broker
from ._types import RunInfo, RunOptions, RunProgress
from ._worker import WorkerConfig, open_worker, serve

__all__ = [
    "TASK_NAME",
    "BrokerOptions",
    "JobMessage",
    "JobOutcome",
    "RunInfo",
    "RunLedger",
    "RunOptions",
    "RunProgress",
    "Send",
    "SyncQueue",
    "WorkerConfig",
    "WorkerContext",
    "WorkerInfo",
    "execute_job",
    "make_broker",
    "open_worker",
    "serve",
]
