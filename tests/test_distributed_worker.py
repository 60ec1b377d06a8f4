"""The worker side in this process (real Redis, PostgreSQL and the fake):
what ``execute_job`` does with duplicates, lost leases, cancelled runs,
revoked schools and a sink that is not the run's; a worker stopping hands its
jobs back; and the engine-neutral recipe (a queue of your own feeding
``execute_job``, as a Celery or arq task would)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import pytest

from assembly_async.auth import school_key
from assembly_async.distributed import (
    JobMessage,
    RunOptions,
    SyncQueue,
    WorkerConfig,
    WorkerContext,
    execute_job,
    open_worker,
    serve,
)
from assembly_async.distributed._tasks import stop_task
from assembly_async.redis import RedisTokenStore
from assembly_async.testing.pytest_plugin import school_token


class Sent:
    """A ``send`` that keeps the messages (and can feed a queue)."""

    def __init__(self) -> None:
        self.messages: list[JobMessage] = []
        self.queue: asyncio.Queue[JobMessage] = asyncio.Queue()

    async def __call__(self, message: JobMessage) -> None:
        self.messages.append(message)
        self.queue.put_nowait(message)


@attrs.define
class Rig:
    fake: Any
    config: WorkerConfig
    sent: Sent
    queue: SyncQueue
    dsn: str

    async def rows(self, resource: str) -> int:
        """Rows in the resource's table (0 when there is no table yet)."""
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            if not await conn.fetchval("SELECT to_regclass($1)", resource):
                return 0
            return int(await conn.fetchval(f"SELECT count(*) FROM {resource}"))
        finally:
            await conn.close()


@pytest.fixture
async def rig(fake_assembly_factory: Any, redis_server: Any, redis_prefix: str,
              pg_dsn: str) -> AsyncIterator[Callable[..., Any]]:
    opened: list[SyncQueue] = []

    async def make(**fake_options: Any) -> Rig:
        fake = await fake_assembly_factory(**{"schools": 3, **fake_options})
        async with RedisTokenStore(redis_server.url, prefix=redis_prefix) as store:
            for sid in fake.school_ids:
                await store.set(school_key(sid), school_token(fake, sid))
        config = WorkerConfig(redis=redis_server.url, sink=pg_dsn, client_id=fake.client_id,
                              client_secret=fake.client_secret, api_url=str(fake.api_url),
                              oauth_url=str(fake.oauth_url), prefix=redis_prefix,
                              concurrency=2, sweep_interval=0.3, shutdown_grace=0.2)
        sent = Sent()
        queue = await SyncQueue(redis_server.url, prefix=redis_prefix, send=sent).open()
        opened.append(queue)
        return Rig(fake, config, sent, queue, pg_dsn)

    yield make
    for queue in opened:
        await queue.close()


def slow(fake: Any, seconds: float) -> None:
    fake.faults.random_errors(1.0, kinds=[f"delay:{seconds}"], path="/*", match="glob")


async def drain(rig: Rig, context: WorkerContext, run_id: str, timeout: float = 60.0) -> Any:
    """Feed the sent messages to ``execute_job`` until the run ends: an engine of
    your own (what a Celery or arq worker does with the recipe)."""
    running: set[asyncio.Task[Any]] = set()

    async def engine() -> None:
        while True:
            message = await rig.sent.queue.get()
            task = asyncio.create_task(execute_job(message.to_dict(), context))
            running.add(task)
            task.add_done_callback(running.discard)

    runner = asyncio.create_task(engine())
    try:
        return await asyncio.wait_for(rig.queue.wait(run_id, poll=0.1), timeout)
    finally:
        await stop_task(runner)
        for task in list(running):
            await stop_task(task)


async def test_the_recipe_an_engine_of_your_own_runs_a_whole_run(rig: Any) -> None:
    r: Rig = await rig()
    run = await r.queue.submit(r.fake.school_ids, resources=["students", "staff_members"])
    async with open_worker(r.config, r.sent) as context:
        report = await drain(r, context, run.id)
    assert report.ok and report.records == 3 * (40 + 10)
    assert await r.rows("students") == 3 * 40


async def test_a_duplicate_delivery_never_runs_beside_the_original(rig: Any) -> None:
    r: Rig = await rig(schools=1)
    slow(r.fake, 0.3)
    run = await r.queue.submit([1], resources=["students"])
    message = r.sent.messages[0]
    async with open_worker(r.config, r.sent) as context:
        first = asyncio.create_task(execute_job(message, context))
        await asyncio.sleep(0.1)
        duplicate = await execute_job(message, context)  # taskiq-redis#101
        assert duplicate.outcome == "busy"
        assert (await first).outcome == "done"
        assert (await execute_job(message, context)).outcome == "finished"
    jobs = await r.queue.ledger.jobs(run.id)
    assert jobs["1/students"]["attempts"] == 1
    # One walk of the students at the fake, not two.
    assert len(r.fake.stats.requests(path="/students")) == 1


async def test_a_lost_lease_stops_the_job_and_commits_nothing(rig: Any) -> None:
    r: Rig = await rig(schools=1)
    slow(r.fake, 1.0)
    run = await r.queue.submit([1], resources=["students"], options=RunOptions(lease=0.6))
    async with open_worker(r.config, r.sent) as context:
        task = asyncio.create_task(execute_job(r.sent.messages[0], context))
        await asyncio.sleep(0.3)
        # Another worker was given the job (as if this one had stopped renewing).
        owner = r.queue.ledger.keys(run.id)[4]
        await r.queue.ledger.redis.hset(owner, "1/students", "someone-else")
        t0 = time.monotonic()
        outcome = await asyncio.wait_for(task, 10)
        stopped_after = time.monotonic() - t0
    assert outcome.outcome == "lost" and outcome.result is not None
    assert outcome.result.state == "cancelled"
    assert stopped_after < 0.6  # within a renewal, before a lease could have run out
    assert await r.rows("students") == 0  # the job's transaction was rolled back
    entry = (await r.queue.ledger.jobs(run.id))["1/students"]
    assert entry["state"] == "running"  # the other worker's, untouched


async def test_cancelling_a_run_stops_its_running_jobs(rig: Any) -> None:
    r: Rig = await rig(schools=2)
    slow(r.fake, 1.0)
    run = await r.queue.submit([1, 2], resources=["students"], options=RunOptions(lease=0.6))
    async with open_worker(r.config, r.sent) as context:
        task = asyncio.create_task(execute_job(r.sent.messages[0], context))
        await asyncio.sleep(0.3)
        assert await r.queue.cancel(run.id) == "running"
        outcome = await asyncio.wait_for(task, 10)
        assert (await execute_job(r.sent.messages[1], context)).outcome == "finished"
    assert outcome.outcome == "cancelled"
    report = await r.queue.report(run.id)
    assert report is not None and report.cancelled and not report.ok
    assert {s.resources["students"].state for s in report.schools.values()} == {"cancelled"}
    assert await r.rows("students") == 0


async def test_a_revoked_school_fails_once_and_its_other_jobs_are_skipped(rig: Any) -> None:
    r: Rig = await rig(schools=2)
    r.fake.revoke_school(1)
    async with RedisTokenStore(r.config.redis, prefix=r.config.prefix) as store:
        token = await store.get(school_key(1))
        assert token is not None
        await store.set(school_key(1), attrs.evolve(token, expires_at=time.time() - 60))
    run = await r.queue.submit([1, 2], resources=["students", "staff_members", "rooms"])
    async with open_worker(r.config, r.sent) as context:
        outcomes = [(await execute_job(m, context)).outcome for m in list(r.sent.messages)]
    assert outcomes == ["failed", "finished", "finished", "done", "done", "done"]
    report = await r.queue.report(run.id)
    assert report is not None
    school = report.schools[1]
    assert school.revoked and [r_.state for r_ in school.resources.values()] == [
        "failed", "skipped", "skipped"]
    assert all("SchoolAuthRevoked" in e for e in school.errors), school.errors
    assert report.schools[2].ok and report.failed == [1]
    assert r.fake.stats.refreshes_by_school[1] == 0  # one refused grant, then nothing


async def test_a_worker_on_another_database_declines_the_runs_jobs(rig: Any) -> None:
    r: Rig = await rig(schools=1)
    run = await r.queue.submit([1], resources=["students"], sink="another-database")
    async with open_worker(r.config, r.sent) as context:
        context.decline_delay = 0.01
        outcome = await execute_job(r.sent.messages[0], context)
    assert outcome.outcome == "declined"
    assert len(r.sent.messages) == 2 and r.sent.messages[1].position > 1  # sent again
    progress = await r.queue.progress(run.id)
    assert progress is not None and progress.counts["queued"] == 1
    assert "another-database" in progress.declined[context.label]
    assert await r.rows("students") == 0


async def test_a_stopping_worker_hands_its_running_jobs_back(rig: Any) -> None:
    """serve() on the taskiq broker: stopped mid-job (the grace is shorter than
    the job), the job goes back to the queue at once; another worker runs it."""
    r: Rig = await rig(schools=1)
    slow(r.fake, 1.0)
    async with SyncQueue(r.config.redis, prefix=r.config.prefix) as queue:
        run = await queue.submit([1], resources=["students"])
        stop = asyncio.Event()
        worker = asyncio.create_task(serve(r.config, stop=stop))
        deadline = time.monotonic() + 30
        while (await queue.ledger.jobs(run.id))["1/students"]["state"] != "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        stop.set()
        outcomes = await asyncio.wait_for(worker, 30)
        entry = (await queue.ledger.jobs(run.id))["1/students"]
        assert entry["state"] == "queued" and entry["attempts"] == 0, entry
        assert outcomes == {}  # handed back, not ended
        r.fake.faults.clear()
        stop2 = asyncio.Event()
        second = asyncio.create_task(serve(attrs.evolve(r.config, label="second"), stop=stop2))
        try:
            report = await asyncio.wait_for(queue.wait(run.id, poll=0.1), 30)
        finally:
            stop2.set()
            await asyncio.wait_for(second, 30)
        entry = (await queue.ledger.jobs(run.id))["1/students"]
    assert report.ok
    assert entry["worker"] == "second" and entry["attempts"] == 1
    assert await r.rows("students") == 40


@pytest.mark.parametrize("failure", ["hangs", "refused"])
async def test_a_worker_that_cannot_renew_stops_its_job_before_the_lease_ends(
        failure: str) -> None:
    """Renewals that hang or fail: the job is stopped within 0.8 of a lease of
    the last renewal Redis accepted, before Redis's expiry could give the job to
    another worker (two workers never run one job side by side)."""
    from types import SimpleNamespace

    from assembly_async import StorageError
    from assembly_async._sync.report import ResourceResult
    from assembly_async.distributed._execute import _Heartbeat

    lease = 0.6
    accepted: list[float] = []

    class Ledger:
        async def renew(self, *args: Any) -> str:
            if not accepted:
                accepted.append(time.monotonic())
                return "ok"
            if failure == "hangs":
                await asyncio.sleep(3600)
            raise StorageError("Redis at redis://x: ConnectionError", path="redis://x")

    stopped: list[float] = []

    async def job() -> ResourceResult:
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.append(time.monotonic())
        raise AssertionError("unreachable")

    task = asyncio.ensure_future(job())
    beat = _Heartbeat(Ledger(), SimpleNamespace(run="r", job="j"),  # type: ignore[arg-type]
                      "token", lease, task, ResourceResult("students"))
    await asyncio.wait_for(beat.run(), 10)
    assert beat.reason == "lost" and task.cancelled()
    assert accepted and stopped
    assert stopped[0] - accepted[0] < lease * 0.85, stopped[0] - accepted[0]
