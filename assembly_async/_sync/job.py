"""One (school, resource) sync job: the code every scheduler runs.

:class:`SyncEngine` runs it for each job of a run in one process;
``assembly_async.distributed`` runs it in taskiq workers on many machines; a
Celery or arq task can call it too. It is a plain async function of a
:class:`JobSpec` (ids and parameters, nothing secret, fit for a message) and
the worker's :class:`JobResources` (its client, sink and sync state)::

    result = await sync_job(JobSpec(42, "students"), JobResources(client, sink, state))
    print(result.state, result.records, result.error)

What one job does: one incremental ``school.changes(resource, state=...)``
delta; the records of every page go to the sink as they arrive, leavers are
removed, and the delta commits its watermark only when the job finished
cleanly, after the sink accepted everything. A full sync into an
:class:`IdLister` sink also removes what the API no longer lists, but only
after a walk proven complete; otherwise the job fails with a
:class:`PagingError` and removes nothing. When the sink's database also holds
the state (``PostgresSink`` with its ``PostgresSyncState``) the job's records
and watermark commit in one transaction (``jobs.py``). A failed or cancelled
job never moves the watermark: running it again fetches the same changes
(sinks upsert), so jobs are safe to repeat.

Requests wait for their school's rate budget and 429 pauses however long that
takes (``CallOptions(wait_for_budget=True)``, unless ``params`` pass their own
``options``); the client's ``deadline`` still bounds each request's attempts,
backoff and token refresh.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._client.syncstate import SyncState
from .._core.config import CallOptions
from .._core.errors import ConfigurationError, SchoolAuthRevoked, TokenUnavailable
from ..sinks import Sink, check_resource_name, has_usable_id
from .jobs import JobWriter, open_job
from .report import ResourceResult

if TYPE_CHECKING:
    from .._client.client import AssemblyClient

__all__ = ["JobResources", "JobSpec", "JobUpdate", "ends_school", "sync_job"]

_log = logging.getLogger("assembly_async._sync.engine")

#: A job waits for its school's budget instead of failing at the deadline.
WAIT_FOR_BUDGET = CallOptions(wait_for_budget=True)

#: Called with the job's result as it goes (started, after every page); may be async.
JobUpdate = Callable[[ResourceResult], "Awaitable[None] | None"]


def _school_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"a school id is a positive int, got {value!r}")
    return value


@attrs.frozen
class JobSpec:
    """What to sync: a school, a resource and the keyword arguments of its
    ``changes`` call (``{"demographics": True}``). Ids and parameters only:
    a job message carries this, never a token or a password."""

    school_id: int = attrs.field(converter=_school_id)
    resource: str = attrs.field(converter=check_resource_name)
    params: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)

    @property
    def key(self) -> str:
        """``"<school_id>/<resource>"``: the job's name in reports and ledgers."""
        return f"{self.school_id}/{self.resource}"


@attrs.frozen
class JobResources:
    """What a worker brings to every job: its client (tokens, rate budget), the
    sink records go to, and the sync state keeping the watermarks. The job
    never opens or closes them."""

    client: AssemblyClient
    sink: Sink
    state: SyncState


def ends_school(error: BaseException | None) -> bool:
    """Whether ``error`` means the school's authorisation is gone (revoked, or
    no usable token): its other jobs are skipped rather than run."""
    return isinstance(error, (SchoolAuthRevoked, TokenUnavailable))


async def _notify(on_update: JobUpdate | None, result: ResourceResult) -> None:
    if on_update is None:
        return
    out = on_update(result)
    if inspect.isawaitable(out):
        await out


async def sync_job(spec: JobSpec, resources: JobResources, *,
                  result: ResourceResult | None = None,
                  on_update: JobUpdate | None = None) -> ResourceResult:
    """Run one job and return its :class:`ResourceResult` (filled in place when
    ``result`` is given).

    Errors do not raise: the result's ``state`` is ``"failed"`` and ``error``
    the exception (:func:`ends_school` tells whether the school's other jobs
    should be skipped). Cancellation marks the result ``"cancelled"`` and
    propagates; nothing of the job commits. ``on_update`` sees the result when
    the job starts and after every page (not at the end: the caller has the
    returned result).
    """
    res = result if result is not None else ResourceResult(spec.resource)
    sid, resource = spec.school_id, spec.resource
    res.state = "running"
    await _notify(on_update, res)
    t0 = time.monotonic()
    delta: Any = None
    job: JobWriter | None = None
    try:
        session = resources.client.school(sid)
        params = {"options": WAIT_FOR_BUDGET, **spec.params}
        # The job's writes (and, where the sink can, its watermark: see jobs.py).
        job = await open_job(resources.sink, resources.state, sid, resource)
        delta = session.changes(resource, state=job.state, **params)
        async with delta:
            # A full sync lists everything the school has: remember the ids so
            # that records the sink holds but the API no longer lists go.
            lister = job if job.can_list else None
            seen: set[Any] | None = set() if delta.full and lister is not None else None
            async for page in delta.raw_pages():
                # A record without a usable id cannot be upserted; the delta
                # reported it as a decode problem (left out of the models too).
                page = [r for r in page if has_usable_id(r)]
                if page:
                    await job.write(page)
                    res.records += len(page)
                    if seen is not None:
                        seen.update(r.get("id") for r in page)
                res.requests = delta.requests
                res.add_problems(delta.problems[res.decode_problems:])
                await _notify(on_update, res)
            left = list(delta.left_ids or ())
            if lister is not None and seen is not None and not delta.not_modified:
                left.extend(await _unlisted(delta, lister, seen))
            if left:
                await job.remove(left)
                res.removals += len(left)
            res.requests = delta.requests
            res.not_modified = bool(delta.not_modified)
            res.full = bool(delta.full)
        await job.finish()
        res.state = ("not_modified" if res.not_modified and not res.records
                     and not res.removals else "done")
    except asyncio.CancelledError:
        res.state = "cancelled"
        raise
    except Exception as exc:
        res.state, res.error = "failed", exc
        _log.debug("sync of school %s %s failed", sid, resource, exc_info=True)
    finally:
        if job is not None:
            await job.close()
        res.elapsed = time.monotonic() - t0
        if delta is not None:
            res.requests = max(res.requests, int(getattr(delta, "requests", 0) or 0))
    return res


async def _unlisted(delta: Any, lister: JobWriter, seen: set[Any]) -> set[Any]:
    """What a full sync may remove: the stored ids its walk did not list, and only
    when that walk is proven complete (``Delta.proven``). Otherwise, if anything
    would go, raise the delta's :class:`PagingError`: the job fails, reports why,
    removes nothing and commits no watermark (a misread walk, a shifted list, a
    server that states no total never empties a sink)."""
    gone = await lister.ids() - seen
    error = delta.removal_error(len(gone))
    if error is not None:
        raise error
    return gone
