"""The run ledger: what a distributed sync run is, kept in Redis.

A run is a set of (school, resource) jobs. For each the ledger keeps its state
(queued, running, then done / not_modified / failed / skipped / cancelled),
the lease of the worker running it (a token, an expiry renewed while it runs),
its attempts, its progress and its outcome (the :class:`ResourceResult` as
JSON, a failure as the error's class name and its secret-free message). Every
change is one Lua script (``_ledger_lua.py``) timed by Redis's clock.

Keys: ``<prefix>{run:<id>}:<kind>`` (one hash slot per run), an index of runs
``<prefix>{runs}:index``. When the last job of a run ends (or the run is
cancelled) every key of the run gets an expiry (``keep``, 7 days by default).

Messages are only wake-ups: whoever receives one asks the ledger (``claim``)
whether to run the job. So a duplicate delivery, a stale message or a message
for a finished run is harmless, and a lost one is found by :meth:`sweep`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import orjson

from .._core.errors import ConfigurationError
from ..redis import DEFAULT_PREFIX, RedisLike
from ..redis._conn import RedisConnection, redis_errors, text
from ..sinks import check_resource_name
from . import _ledger_lua as lua
from ._registry import WorkerRegistry
from ._types import (
    FINAL,
    RUN_ID,
    STATES,
    Claim,
    Finish,
    RunInfo,
    RunOptions,
    RunProgress,
    check_run_id,
    job_key,
    split_job,
)

__all__ = ["RunLedger"]

def _s(value: Any) -> str:
    return text(value) or ""


class RunLedger:
    """Runs and their jobs in Redis. ``RunLedger(url)`` opens its own client
    (closed by :meth:`close`); pass a ``redis.asyncio.Redis`` to borrow one.
    ``prefix`` namespaces the keys (the same as the workers' token store)."""

    def __init__(self, redis: RedisLike, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._conn = RedisConnection(redis, prefix=prefix)
        self._scripts = {name: self._conn.script(getattr(lua, name))
                         for name in ("CLAIM", "RENEW", "FINISH", "RELEASE", "DECLINE",
                                      "SWEEP", "CANCEL")}

    def __repr__(self) -> str:
        return f"<RunLedger prefix={self._conn.prefix!r}>"

    @property
    def prefix(self) -> str:
        return self._conn.prefix

    @property
    def redis(self) -> Any:
        """The ``redis.asyncio.Redis`` client (borrowed or owned)."""
        return self._conn.client

    def workers(self) -> WorkerRegistry:
        """The registry of live workers on the same Redis and prefix."""
        return WorkerRegistry(self._conn)

    @redis_errors
    async def open(self) -> RunLedger:
        await self._conn.client.ping()
        return self

    async def close(self) -> None:
        await self._conn.close()

    async def __aenter__(self) -> RunLedger:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    # -- keys ------------------------------------------------------------------------

    def keys(self, run_id: str) -> list[str]:
        """The run's keys, in the order the scripts take them."""
        tag = f"run:{check_run_id(run_id)}"
        return [self._conn.key(tag, kind) for kind in lua.KINDS]

    def _key(self, run_id: str, kind: str) -> str:
        return self._conn.key(f"run:{run_id}", kind)

    @property
    def _index(self) -> str:
        return self._conn.key("runs", "index")

    @property
    def _active(self) -> str:
        return self._conn.key("runs", "active")

    # -- creating a run --------------------------------------------------------------

    @redis_errors
    async def create(self, school_ids: Sequence[int], resources: Sequence[str], *,
                     params: Mapping[str, Mapping[str, Any]] | None = None,
                     options: RunOptions | None = None, sink: str | None = None,
                     run_id: str | None = None) -> tuple[RunInfo, list[tuple[str, int]]]:
        """Record a new run (one MULTI: all of it or nothing) and return it with its
        jobs and their message positions, school by school, in the order to send."""
        options = options or RunOptions()
        ids = list(dict.fromkeys(school_ids))
        for sid in ids:
            if isinstance(sid, bool) or not isinstance(sid, int) or sid < 1:
                raise ConfigurationError(f"school ids must be positive ints, got {sid!r}")
        names = tuple(dict.fromkeys(check_resource_name(r) for r in resources))
        if not ids or not names:
            raise ConfigurationError("a run needs at least one school and one resource")
        plain = {k: dict(v) for k, v in (params or {}).items()}
        unknown = set(plain) - set(names)
        if unknown:
            raise ConfigurationError(f"params for resources not synced: {sorted(unknown)}")
        try:
            params_json = orjson.dumps(plain)
        except TypeError as exc:
            raise ConfigurationError(f"job params must be JSON values: {exc}") from None
        run_id = check_run_id(run_id or secrets.token_hex(8))
        jobs = [(job_key(sid, r), seq) for seq, (sid, r) in
                enumerate(((sid, r) for sid in ids for r in names), start=1)]
        seconds, micros = await self._conn.client.time()  # Redis's clock, like the scripts
        now = int(seconds) + int(micros) / 1e6
        meta: dict[Any, Any] = {
            "id": run_id, "status": "running", "created": int(now * 1000),
            "total": len(jobs), "schools": len(ids),
            "resources": orjson.dumps(list(names)).decode(), "params": params_json.decode(),
            "lease_ms": int(options.lease * 1000),
            "grace_ms": int(options.grace * 1000), "stall_ms": int(options.stall * 1000),
            "stall_cur": int(options.stall * 1000), "stall_batch": options.stall_batch,
            "max_attempts": options.max_attempts, "keep": max(1, int(options.keep)),
            "seq": len(jobs), "maxleased": 0, "last_event": int(now * 1000), "requeued": 0,
            "sink": sink or "",
        }
        keys = dict(zip(lua.KINDS, self.keys(run_id), strict=True))
        if await self._conn.client.exists(keys["meta"]):
            raise ConfigurationError(f"run {run_id} exists already")
        pipe = self._conn.client.pipeline(transaction=True)
        pipe.hset(keys["meta"], mapping=meta)
        for chunk in _chunks(jobs, 1000):
            pipe.hset(keys["state"], mapping=dict.fromkeys((j for j, _ in chunk), "queued"))
            pipe.zadd(keys["queue"], dict(chunk))
        pipe.hset(keys["left"], mapping={str(sid): len(names) for sid in ids})
        pipe.hset(keys["counts"], mapping={"queued": len(jobs)})
        pipe.zadd(self._index, {run_id: int(now * 1000)})
        pipe.sadd(self._active, run_id)
        await pipe.execute()
        info = await self.info(run_id)
        assert info is not None
        return info, jobs

    # -- a worker's side ---------------------------------------------------------------

    @redis_errors
    async def claim(self, run_id: str, job: str, position: int, token: str,
                    worker: str) -> Claim:
        sid, _ = split_job(job)
        reply = await self._scripts["CLAIM"](keys=self.keys(run_id),
                                             args=[job, sid, position, token, worker])
        out = [_s(x) for x in reply]
        kind = out[0]
        if kind == "ok":
            return Claim("ok", attempt=int(out[1]), lease=int(out[2]) / 1000)
        if kind in ("skipped", "abandoned"):
            return Claim(kind, detail=out[1], school_done=out[2] == "1")
        return Claim(kind, detail=out[1] if len(out) > 1 else "")

    @redis_errors
    async def renew(self, run_id: str, job: str, token: str, records: int) -> str:
        """``ok`` (the lease is extended), ``lost`` (another worker owns the job
        now) or ``stopped`` (the run was cancelled)."""
        reply = await self._scripts["RENEW"](keys=self.keys(run_id), args=[job, token, records])
        return _s(reply[0])

    @redis_errors
    async def finish(self, run_id: str, job: str, token: str, state: str,
                     outcome: Mapping[str, Any], *, ends_school: Mapping[str, str] | None,
                     resources: Iterable[str]) -> Finish:
        """Record a job's final ``state`` and ``outcome``; ``ends_school`` (the
        error, when the school's authorisation is gone) skips its queued jobs."""
        if state not in FINAL:
            raise ValueError(f"not a final state: {state!r}")
        sid, _ = split_job(job)
        revoke = orjson.dumps(dict(ends_school)).decode() if ends_school else ""
        reply = await self._scripts["FINISH"](
            keys=self.keys(run_id),
            args=[job, sid, token, state, orjson.dumps(dict(outcome)), revoke,
                  int(outcome.get("records") or 0), *resources])
        out = [_s(x) for x in reply]
        if out[0] != "ok":
            return Finish(out[0])
        return Finish("ok", school_done=out[1] == "1", run_status=out[2])

    @redis_errors
    async def release(self, run_id: str, job: str, token: str, *,
                      count_attempt: bool = False) -> int | None:
        """Hand an unfinished job back: its new message position, to send; None if
        nothing is to be sent. The attempt counts (``count_attempt``) when the
        job is to be tried again, not when its worker is stopping."""
        reply = await self._scripts["RELEASE"](keys=self.keys(run_id),
                                               args=[job, token, "1" if count_attempt else ""])
        out = [_s(x) for x in reply]
        return int(out[1]) if out[0] == "ok" else None

    @redis_errors
    async def decline(self, run_id: str, job: str, worker: str, reason: str) -> int | None:
        """This worker must not run the run's jobs: say why; the job's new position."""
        reply = await self._scripts["DECLINE"](keys=self.keys(run_id),
                                               args=[job, worker, reason[:500]])
        out = [_s(x) for x in reply]
        return int(out[1]) if out[0] == "ok" else None

    # -- watching ----------------------------------------------------------------------

    @redis_errors
    async def sweep(self, run_id: str) -> list[tuple[str, int]]:
        """Queue again what must be: expired leases, lost messages, a stalled run.
        Returns the jobs and their new positions: send their messages."""
        client = self._conn.client
        raw = await client.hmget(self._key(run_id, "meta"), ["grace_ms", "stall_batch"])
        if raw[0] is None:
            return []
        reply = await self._scripts["SWEEP"](keys=self.keys(run_id),
                                             args=[int(raw[0]), int(raw[1] or 8)])
        out = [_s(x) for x in reply]
        return [(out[i], int(out[i + 1])) for i in range(0, len(out), 2)]

    @redis_errors
    async def cancel(self, run_id: str) -> str:
        """Cancel a run: queued jobs end as cancelled, running ones stop when they
        next renew their lease (nothing of theirs commits). Returns the run's
        status before: ``running`` (this call cancelled it), ``done``,
        ``cancelled`` or ``gone``."""
        return _s(await self._scripts["CANCEL"](keys=self.keys(run_id), args=[]))

    # -- reading -----------------------------------------------------------------------

    @redis_errors
    async def info(self, run_id: str) -> RunInfo | None:
        raw = await self._conn.client.hgetall(self._key(check_run_id(run_id), "meta"))
        if not raw:
            return None
        m = {_s(k): _s(v) for k, v in raw.items()}
        finished = m.get("finished")
        return RunInfo(
            id=m["id"], status=m["status"], created=int(m["created"]) / 1000,
            finished=int(finished) / 1000 if finished else None,
            resources=tuple(orjson.loads(m["resources"])), params=orjson.loads(m["params"]),
            total=int(m["total"]), schools=int(m["schools"]),
            lease=int(m["lease_ms"]) / 1000, grace=int(m["grace_ms"]) / 1000,
            stall_batch=int(m.get("stall_batch") or 8),
            max_attempts=int(m.get("max_attempts") or 5), sink=m.get("sink") or None,
            requeued=int(m.get("requeued") or 0))

    @redis_errors
    async def progress(self, run_id: str) -> RunProgress | None:
        info = await self.info(run_id)
        if info is None:
            return None
        client = self._conn.client
        counts_raw = await client.hgetall(self._key(run_id, "counts"))
        counts = {s: 0 for s in STATES}
        counts.update({_s(k): int(v) for k, v in counts_raw.items()})
        # Ended jobs' records are summed by FINISH; running ones report theirs.
        records = int(await client.hget(self._key(run_id, "meta"), "records") or 0)
        records += sum(int(v) for v in await client.hvals(self._key(run_id, "progress")))
        declined = {_s(k): _s(v) for k, v in
                    (await client.hgetall(self._key(run_id, "declined"))).items()}
        return RunProgress(info, counts, records, declined)

    @redis_errors
    async def jobs(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Every job with its state, outcome (final jobs), progress and worker."""
        client = self._conn.client
        states = await client.hgetall(self._key(run_id, "state"))
        results = await client.hgetall(self._key(run_id, "result"))
        progress = await client.hgetall(self._key(run_id, "progress"))
        workers = await client.hgetall(self._key(run_id, "worker"))
        attempts = await client.hgetall(self._key(run_id, "attempts"))
        out: dict[str, dict[str, Any]] = {}
        for raw_job, raw_state in states.items():
            job = _s(raw_job)
            entry: dict[str, Any] = {"state": _s(raw_state)}
            if raw_job in results:
                entry.update(orjson.loads(results[raw_job]))
                entry["state"] = _s(raw_state)
            if raw_job in progress:
                entry["records"] = int(progress[raw_job])
            if raw_job in workers:
                entry.setdefault("worker", _s(workers[raw_job]))
            entry["attempts"] = int(attempts.get(raw_job, 0))
            out[job] = entry
        return out

    @redis_errors
    async def school_outcomes(self, run_id: str, school_id: int,
                              resources: Iterable[str]) -> list[dict[str, Any]]:
        """The outcomes of one school's jobs (after its last one ended)."""
        names = [job_key(school_id, r) for r in resources]
        raw = await self._conn.client.hmget(self._key(run_id, "result"), names)
        return [orjson.loads(r) for r in raw if r is not None]

    @redis_errors
    async def revoked(self, run_id: str) -> dict[int, dict[str, str]]:
        raw = await self._conn.client.hgetall(self._key(run_id, "revoked"))
        return {int(_s(k)): orjson.loads(v) for k, v in raw.items()}

    @redis_errors
    async def runs(self, *, limit: int = 20) -> list[RunInfo]:
        """The newest runs still in Redis (expired ones leave the index)."""
        client = self._conn.client
        ids = [_s(x) for x in await client.zrevrange(self._index, 0, max(0, limit * 2))]
        found: list[RunInfo] = []
        gone: list[str] = []
        for run_id in ids:
            info = await self.info(run_id) if RUN_ID.match(run_id) else None
            if info is None:
                gone.append(run_id)
            elif len(found) < limit:
                found.append(info)
        if gone:
            await client.zrem(self._index, *gone)
        return found

    @redis_errors
    async def active(self) -> list[str]:
        """Runs still running (what sweepers look at); runs that ended leave the set."""
        client = self._conn.client
        ids = sorted(_s(x) for x in await client.smembers(self._active))
        running: list[str] = []
        ended: list[str] = []
        for run_id in ids:
            status = (_s(await client.hget(self._key(run_id, "meta"), "status"))
                      if RUN_ID.match(run_id) else "")
            (running if status == "running" else ended).append(run_id)
        if ended:
            await client.srem(self._active, *ended)
        return running


def _chunks(items: Sequence[tuple[str, int]], size: int) -> Iterable[Sequence[tuple[str, int]]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
