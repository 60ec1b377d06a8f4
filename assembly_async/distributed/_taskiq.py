"""taskiq underneath: the Redis stream broker, the job task, sending messages.

The broker is taskiq-redis's :class:`RedisStreamBroker` (messages in a Redis
stream read by a consumer group, acknowledged when the task has run):

* ``xread_count=1`` and ``unacknowledged_batch_size=1``: a worker takes one
  message per free slot, so one worker never hoards the queue while others
  idle (the default of 100 hands a whole run to whoever reads first);
* ``idle_timeout`` (an hour by default) before taskiq-redis hands an
  unacknowledged message to another worker; the run ledger's leases do the
  real work (taskiq-redis reclaims only when a new message arrives, and a
  live job delivered twice is refused by its lease: taskiq-redis#101);
* ``unacknowledged_lock_timeout`` set (taskiq-redis#131), ``maxlen`` set
  (streams are never trimmed otherwise), ``consumer_id="0"`` (a consumer
  group created late still sees every message).

Plain Redis >= 7 only: taskiq-redis's cluster broker never reclaims (#130).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker

from .._core.errors import ConfigurationError, StorageError
from ..redis import DEFAULT_PREFIX
from ._execute import WorkerContext, execute_job
from ._messages import JobMessage, Send

__all__ = ["TASK_NAME", "BrokerOptions", "make_broker", "register_job_task", "stream_key",
           "taskiq_sender"]

#: The task's name in messages.
TASK_NAME = "assembly_async.sync_job"
CONSUMER_GROUP = "assembly-sync"
_LABELS = {"ack_type": "when_executed"}


def _positive(_: Any, attribute: Any, value: float) -> None:
    if not value > 0:
        raise ConfigurationError(f"{attribute.name} must be positive, got {value!r}")


@attrs.frozen
class BrokerOptions:
    """The stream broker's settings (seconds, messages)."""

    idle_timeout: float = attrs.field(default=3600.0, validator=_positive)
    maxlen: int = attrs.field(default=100_000, validator=_positive)
    block: float = attrs.field(default=2.0, validator=_positive)
    lock_timeout: float = attrs.field(default=30.0, validator=_positive)


def stream_key(prefix: str = DEFAULT_PREFIX) -> str:
    """The Redis stream holding the job messages."""
    return f"{prefix}{{queue}}:jobs"


def make_broker(url: str, *, prefix: str = DEFAULT_PREFIX,
                options: BrokerOptions | None = None, pool_size: int = 20
                ) -> RedisStreamBroker:
    """The stream broker on ``url`` (``redis://``, ``rediss://``, ``unix://``)."""
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError("the queue is a redis://, rediss:// or unix:// URL")
    options = options or BrokerOptions()
    return RedisStreamBroker(
        url, queue_name=stream_key(prefix), consumer_group_name=CONSUMER_GROUP,
        consumer_id="0", mkstream=True, xread_block=int(options.block * 1000),
        maxlen=options.maxlen, approximate=True, idle_timeout=int(options.idle_timeout * 1000),
        unacknowledged_batch_size=1, unacknowledged_lock_timeout=options.lock_timeout,
        xread_count=1, max_connection_pool_size=pool_size)


def taskiq_sender(broker: RedisStreamBroker, address: str = "redis") -> Send:
    """A :data:`Send` that kicks the job task on ``broker``."""
    kicker: AsyncKicker[Any, Any] = AsyncKicker(TASK_NAME, broker, labels=dict(_LABELS))

    async def send(message: JobMessage) -> None:
        try:
            await kicker.kiq(message.to_dict())
        except SendTaskError as exc:
            cause = exc.__cause__
            raise StorageError(f"Redis at {address}: could not queue a job message: "
                               f"{type(cause).__name__}", path=address) from None

    return send


def register_job_task(broker: RedisStreamBroker,
                      context: Callable[[], WorkerContext]) -> None:
    """Register the job task on ``broker``; ``context()`` gives the worker's
    :class:`WorkerContext` when a message arrives."""

    async def sync_job_task(message: dict[str, Any]) -> str:
        return (await execute_job(message, context())).outcome

    broker.register_task(sync_job_task, task_name=TASK_NAME, **_LABELS)
