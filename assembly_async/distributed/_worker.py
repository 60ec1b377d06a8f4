"""A worker process: its configuration, its resources, and the taskiq loop.

::

    config = WorkerConfig.from_env(concurrency=16)   # ASSEMBLY_REDIS_URL, ASSEMBLY_SINK, ...
    await serve(config)                               # until SIGTERM / stop.set()

The worker opens one Redis client shared by the token store (refresh once per
school across every worker), the rate limiter (one budget per school across
every worker, timed by Redis) and the run ledger; a :class:`PostgresSink`
whose own :class:`PostgresSyncState` keeps the watermarks, so a job's records
and watermark commit in one transaction; and an :class:`AssemblyClient` with
the credentials of its own environment. Messages carry ids only.

Besides running jobs, every worker sweeps the active runs every few seconds
(``sweep_interval``): jobs whose lease expired (a worker was killed) or whose
message was lost are queued again, so a run completes without anyone
watching it. Stopping (``stop`` set, SIGTERM in the CLI) takes no new job,
gives running ones ``shutdown_grace`` seconds, then hands the rest back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import attrs

from .._client.client import AssemblyClient
from .._core.errors import AssemblyError, ConfigurationError
from .._core.version import __version__
from .._sync.job import JobResources
from ..redis import DEFAULT_PREFIX, RedisRateLimiter, RedisTokenStore
from ..sinks import PostgresSink, is_dsn, redact_dsn
from ._execute import HAND_BACK_TIMEOUT, WorkerContext
from ._ledger import RunLedger
from ._messages import JobMessage, Send
from ._taskiq import BrokerOptions, make_broker, register_job_task, taskiq_sender
from ._tasks import stop_task

__all__ = ["WorkerConfig", "open_worker", "serve"]

_log = logging.getLogger("assembly_async.distributed")


def _at_least_one(_: Any, attribute: Any, value: float) -> None:
    if not value >= 1:
        raise ConfigurationError(f"{attribute.name} must be >= 1, got {value!r}")


def _positive(_: Any, attribute: Any, value: float) -> None:
    if not value > 0:
        raise ConfigurationError(f"{attribute.name} must be positive, got {value!r}")


@attrs.frozen(repr=False)
class WorkerConfig:
    """Everything a worker needs, from its own environment and options.

    ``redis``: the Redis URL (queue, ledger, tokens, rate budgets). ``sink``:
    the PostgreSQL DSN records go to. ``concurrency``: jobs at once (the sink
    gets a pool of that plus two). ``rate_limit``/``rate_window``: each
    school's budget, the same in every worker. The repr hides the secret and
    the passwords in the URLs.
    """

    redis: str
    sink: str
    client_id: str
    client_secret: str
    environment: str = "sandbox"
    api_url: str | None = None
    oauth_url: str | None = None
    concurrency: int = attrs.field(default=16, validator=_at_least_one)
    prefix: str = DEFAULT_PREFIX
    rate_limit: int = attrs.field(default=600, validator=_at_least_one)
    rate_window: float = attrs.field(default=300.0, validator=_positive)
    shutdown_grace: float = attrs.field(default=30.0, validator=_positive)
    sweep_interval: float = attrs.field(default=5.0, validator=_positive)
    label: str | None = None
    broker: BrokerOptions = attrs.field(factory=BrokerOptions)

    def __attrs_post_init__(self) -> None:
        if not self.redis.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError("the worker's Redis is a redis://, rediss:// or unix:// URL")
        if not is_dsn(self.sink):
            raise ConfigurationError("a distributed worker's sink is a postgresql:// URL "
                                     "(every worker writes to the same database)")
        if self.environment not in ("sandbox", "production"):
            raise ConfigurationError(f"environment must be sandbox or production, "
                                     f"got {self.environment!r}")
        if not self.client_id or not self.client_secret:
            raise ConfigurationError("a worker needs the OAuth client id and secret")

    def __repr__(self) -> str:
        return (f"WorkerConfig(redis={redact_dsn(self.redis)!r}, sink={redact_dsn(self.sink)!r},"
                f" concurrency={self.concurrency}, prefix={self.prefix!r})")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> WorkerConfig:
        """Read ``ASSEMBLY_REDIS_URL``, ``ASSEMBLY_SINK``, ``ASSEMBLY_CLIENT_ID``,
        ``ASSEMBLY_CLIENT_SECRET``, ``ASSEMBLY_ENVIRONMENT``, ``ASSEMBLY_API_URL``
        and ``ASSEMBLY_OAUTH_URL``; ``options`` (not None) take precedence."""
        env = os.environ if env is None else env
        names = {"redis": "ASSEMBLY_REDIS_URL", "sink": "ASSEMBLY_SINK",
                 "client_id": "ASSEMBLY_CLIENT_ID", "client_secret": "ASSEMBLY_CLIENT_SECRET",
                 "environment": "ASSEMBLY_ENVIRONMENT", "api_url": "ASSEMBLY_API_URL",
                 "oauth_url": "ASSEMBLY_OAUTH_URL"}
        values: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        for field, var in names.items():
            if field not in values and env.get(var, "").strip():
                values[field] = env[var].strip()
        missing = [names[f] for f in ("redis", "sink", "client_id", "client_secret")
                   if f not in values]
        if missing:
            raise ConfigurationError(f"the worker needs {', '.join(missing)} (or the options)")
        return cls(**values)


@contextlib.asynccontextmanager
async def open_worker(config: WorkerConfig, send: Send) -> AsyncIterator[WorkerContext]:
    """Open what a worker's jobs use (see the module docstring); closes it all."""
    from redis.asyncio import Redis

    redis = Redis.from_url(config.redis)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(redis.aclose)
        ledger = await RunLedger(redis, prefix=config.prefix).open()
        tokens = await RedisTokenStore(redis, prefix=config.prefix).open()
        limiter = await RedisRateLimiter(redis, limit=config.rate_limit,
                                         window=config.rate_window, prefix=config.prefix).open()
        stack.push_async_callback(limiter.close)
        sink = PostgresSink(config.sink, pool_size=config.concurrency + 2)
        await sink.open()
        stack.push_async_callback(sink.close)
        client = AssemblyClient(
            environment=config.environment, api_url=config.api_url,  # type: ignore[arg-type]
            oauth_url=config.oauth_url, client_id=config.client_id,
            client_secret=config.client_secret, token_store=tokens, rate_limiter=limiter)
        stack.push_async_callback(client.aclose)
        resources = JobResources(client, sink, sink.sync_state())
        yield WorkerContext(resources, ledger, send, label=config.label)


async def _sweep_once(context: WorkerContext) -> int:
    sent = 0
    for run_id in await context.ledger.active():
        for job, position in await context.ledger.sweep(run_id):
            sid, _, resource = job.partition("/")
            await context.send(JobMessage(run_id, int(sid), resource, position))
            sent += 1
    return sent


async def _watch(context: WorkerContext, config: WorkerConfig, stop: asyncio.Event) -> None:
    """Sweep the active runs and announce this worker, every ``sweep_interval``,
    until ``stop`` is set; then say this worker is gone."""
    registry = context.ledger.workers()
    while not stop.is_set():
        try:
            await registry.announce(context.label, {
                "pid": os.getpid(), "concurrency": config.concurrency,
                "running": len(context.running), "outcomes": context.outcomes,
                "version": __version__})
            sent = await _sweep_once(context)
            if sent:
                _log.info("queued %d jobs again (expired leases, lost messages)", sent)
        except AssemblyError as exc:
            _log.warning("sweep failed: %s", exc)
        with contextlib.suppress(asyncio.TimeoutError):
            pause = config.sweep_interval * random.uniform(0.8, 1.2)
            await asyncio.wait_for(stop.wait(), pause)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(registry.forget(context.label), 2.0)


async def serve(config: WorkerConfig, *, stop: asyncio.Event | None = None,
                on_ready: Callable[[WorkerContext], object] | None = None) -> dict[str, int]:
    """Run jobs until ``stop`` is set; returns the outcomes counted by kind.

    taskiq's :class:`Receiver` pulls messages (``concurrency`` at once,
    acknowledged once the task ran); when Redis goes away the worker waits
    and tries again (1 s, doubling to 30 s)."""
    from taskiq.acks import AcknowledgeType
    from taskiq.receiver import Receiver

    stop = stop or asyncio.Event()
    broker = make_broker(config.redis, prefix=config.prefix, options=config.broker,
                         pool_size=config.concurrency + 4)
    send = taskiq_sender(broker, redact_dsn(config.redis))
    broker.is_worker_process = True
    async with open_worker(config, send) as context:
        register_job_task(broker, lambda: context)
        watcher = asyncio.create_task(_watch(context, config, stop), name="assembly-sweeper")
        try:
            pause = 1.0
            while not stop.is_set():
                try:
                    await broker.startup()
                    receiver = Receiver(
                        broker, max_async_tasks=config.concurrency,
                        ack_type=AcknowledgeType.WHEN_EXECUTED, run_startup=False,
                        wait_tasks_timeout=config.shutdown_grace)
                    if on_ready is not None:
                        on_ready(context)
                        on_ready = None
                    await receiver.listen(stop)
                    pause = 1.0
                except Exception as exc:
                    _log.warning("the queue failed (%s: %s); trying again in %.0f s",
                                 type(exc).__name__, exc, pause)
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)
                    pause = min(pause * 2, 30.0)
        finally:
            stop.set()
            # Jobs still running after the grace go back to the queue (given the
            # time to hand them back before being cancelled again).
            await asyncio.gather(*(stop_task(t, every=HAND_BACK_TIMEOUT + 1)
                                   for t in list(context.running)))
            await stop_task(watcher, every=5.0)
            await broker.shutdown()
        return dict(context.outcomes)
