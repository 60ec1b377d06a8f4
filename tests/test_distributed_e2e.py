"""Distributed sync with real processes: three ``assembly-async worker``
processes, a real redis-server and PostgreSQL, the fake Assembly in this
test's event loop (with latency, so jobs overlap on every worker).

* a 50-school run delivers every record exactly once into PostgreSQL (the
  sink's rows are the fake's, each job ran once) and sends one refresh grant
  per expired school across all workers (rotating refresh tokens: a second
  grant would have failed);
* one worker SIGKILLed mid-run: its jobs are run again after their lease and
  the run completes with the same sink contents;
* the shared budget holds: no 429 at a scaled window with every worker on the
  same schools;
* messages taken by a consumer that died before claiming them (what
  taskiq-redis does not reclaim while no new message arrives) are sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _cluster import Cluster

from assembly_async.distributed import RunOptions, SyncQueue
from assembly_async.distributed._taskiq import CONSUMER_GROUP, stream_key

RESOURCES = ["students", "staff_members", "registration_groups", "rooms"]


@pytest.fixture
async def cluster(redis_server: Any, pg_dsn: str) -> AsyncIterator[Any]:
    made: list[Cluster] = []

    def make(fake: Any) -> Cluster:
        c = Cluster(redis_server.url, pg_dsn, fake)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.stop()


def latency(fake: Any, seconds: float) -> None:
    fake.faults.random_errors(1.0, kinds=[f"delay:{seconds}"], path="/*", match="glob")


async def wait_report(queue: SyncQueue, run_id: str, cluster: Cluster, timeout: float = 180.0
                      ) -> Any:
    try:
        return await asyncio.wait_for(queue.wait(run_id, poll=0.2), timeout)
    except asyncio.TimeoutError:
        progress = await queue.progress(run_id)
        raise AssertionError(f"run did not finish: {progress}\n{cluster.logs()}") from None


async def test_50_schools_on_3_workers_every_record_once_one_refresh_per_school(
        fake_assembly_factory: Any, cluster: Any) -> None:
    fake = await fake_assembly_factory(schools=50, rotate_refresh_tokens=True)
    latency(fake, 0.01)
    c: Cluster = cluster(fake)
    await c.seed_tokens(expired=True)
    await c.start(3, concurrency=4)
    async with SyncQueue(c.redis_url, prefix=c.prefix) as queue:
        run = await queue.submit(fake.school_ids, resources=RESOURCES,
                                 sink=await c.sink_identity())
        report = await wait_report(queue, run.id, c)
        jobs = await queue.ledger.jobs(run.id)
    assert await c.stop() == [0, 0, 0], c.logs()  # SIGTERM: a clean stop
    assert report.ok, (report.failed, [s.errors for s in report.schools.values()], c.logs())
    # Every record of the fake, once, in PostgreSQL; nothing else.
    for resource in RESOURCES:
        assert await c.sink_rows(resource) == c.fake_rows(resource), resource
    expected = sum(len(c.fake_rows(r)) for r in RESOURCES)
    assert report.records == expected
    # Each job ran once, and every worker ran some.
    assert len(jobs) == 50 * len(RESOURCES)
    assert {j["attempts"] for j in jobs.values()} == {1}
    assert set(Counter(j["worker"] for j in jobs.values())) == {"w1", "w2", "w3"}
    # One refresh grant per school across the three workers (counted by the fake).
    assert fake.stats.refreshes_by_school == Counter(dict.fromkeys(fake.school_ids, 1))
    assert len(fake.stats.requests(path="/oauth/token")) == 50
    assert fake.stats.status_counts.get(400, 0) == 0  # no invalid_grant
    # Each school's run is in the sink's log, written by the worker that ended it.
    import asyncpg

    conn = await asyncpg.connect(c.dsn)
    try:
        logged = await conn.fetch("SELECT school_id, records, ok FROM sync_runs")
    finally:
        await conn.close()
    assert sorted(r["school_id"] for r in logged) == fake.school_ids
    assert all(r["ok"] for r in logged)
    assert sum(r["records"] for r in logged) == expected
    per_worker = dict(sorted(Counter(j["worker"] for j in jobs.values()).items()))
    print(f"\n50 schools x {len(RESOURCES)} resources on 3 workers: {expected} records, each"
          f" once in PostgreSQL; jobs per worker {per_worker}; refresh grants at the fake"
          f" {fake.stats.total_refreshes} (at most 1 per school)")


async def test_a_worker_killed_mid_run_the_run_completes_with_the_same_rows(
        fake_assembly_factory: Any, cluster: Any) -> None:
    fake = await fake_assembly_factory(schools=12)
    latency(fake, 0.4)  # a job lasts about a second: the kill lands mid-job
    c: Cluster = cluster(fake)
    await c.seed_tokens()
    workers = await c.start(3, concurrency=3)
    async with SyncQueue(c.redis_url, prefix=c.prefix) as queue:
        run = await queue.submit(fake.school_ids, resources=RESOURCES,
                                 options=RunOptions(lease=2.0, grace=5.0))
        # Kill the worker holding the most running jobs once some jobs ended.
        deadline = time.monotonic() + 60
        while True:
            jobs = await queue.ledger.jobs(run.id)
            running = Counter(j.get("worker") for j in jobs.values() if j["state"] == "running")
            ended = sum(1 for j in jobs.values() if j["state"] == "done")
            if ended >= 3 and running:
                victim_label, held = running.most_common(1)[0]
                break
            assert time.monotonic() < deadline, f"no progress: {jobs}\n{c.logs()}"
            await asyncio.sleep(0.05)
        victim = next(w for w in workers if w.label == victim_label)
        victim.kill()
        assert await victim.stop() == -9
        # What the dead worker held (a dead process finishes nothing).
        killed_jobs = {k for k, j in (await queue.ledger.jobs(run.id)).items()
                       if j["state"] == "running" and j.get("worker") == victim_label}
        report = await wait_report(queue, run.id, c)
        after = await queue.ledger.jobs(run.id)
        info = await queue.ledger.info(run.id)
    assert sorted(await c.stop()) == [-9, 0, 0], c.logs()
    assert report.ok, (report.failed, c.logs())
    for resource in RESOURCES:
        assert await c.sink_rows(resource) == c.fake_rows(resource), resource
    # The killed worker's jobs ran again elsewhere, after their lease.
    assert held >= 1 and killed_jobs, held
    for job in killed_jobs:
        assert after[job]["attempts"] >= 2 and after[job]["worker"] != victim_label, after[job]
    assert info is not None and info.requeued >= len(killed_jobs)
    print(f"\n{victim_label} SIGKILLed holding {len(killed_jobs)} jobs: queued again after"
          f" their 2 s lease, run ok, {report.records} records, the sink equals the fake")


# The fake's budget scaled down: 20 requests per 4 s per token (300 s at time_scale 75).
LIMIT, WINDOW = 20, 4.0


def max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def test_three_workers_share_each_schools_budget(
        fake_assembly_factory: Any, cluster: Any) -> None:
    # Small pages (10 records) make about 40 requests per school: two windows' worth.
    fake = await fake_assembly_factory(schools=2, students_per_school=300, staff_per_school=60,
                                       max_per_page=10, over_max_per_page="cap",
                                       rate_limit=LIMIT, rate_window=300.0,
                                       time_scale=300.0 / WINDOW)
    c: Cluster = cluster(fake)
    await c.seed_tokens()
    await c.start(3, concurrency=4,
                  extra=["--rate-limit", str(LIMIT), "--rate-window", str(WINDOW)])
    async with SyncQueue(c.redis_url, prefix=c.prefix) as queue:
        run = await queue.submit(fake.school_ids, resources=["students", "staff_members"])
        report = await wait_report(queue, run.id, c)
        jobs = await queue.ledger.jobs(run.id)
    assert report.ok, (report.failed, c.logs())
    assert len({j["worker"] for j in jobs.values()}) >= 2  # the budget was shared
    rejected = fake.stats.status_counts.get(429, 0)
    peaks = {}
    for sid in fake.school_ids:
        token = fake.token_id(fake.school_token(sid).access_token)
        arrivals = [e.time for e in fake.stats.log if e.token_id == token]
        peaks[sid] = (len(arrivals), max_in_any_window(arrivals, WINDOW))
    print(f"\n3 workers, budget {LIMIT}/{WINDOW:g}s per school: (requests, peak in any"
          f" window) per school = {peaks}, 429s = {rejected}")
    assert rejected == 0, c.logs()
    assert all(n > LIMIT for n, _ in peaks.values())  # each school needed several windows
    assert all(peak <= LIMIT for _, peak in peaks.values())
    for resource in ("students", "staff_members"):
        assert await c.sink_rows(resource) == c.fake_rows(resource)


async def test_messages_lost_with_a_dead_consumer_are_sent_again(
        fake_assembly_factory: Any, cluster: Any) -> None:
    """A consumer reads messages and dies before claiming them. taskiq-redis
    would hand them to a live worker only after ``idle_timeout`` (an hour) and
    only when a new message arrives; the ledger's sweeps send them again: those
    behind a delivered message after the grace, the last ones when the run
    stalls."""
    from redis.asyncio import Redis

    fake = await fake_assembly_factory(schools=6)
    c: Cluster = cluster(fake)
    await c.seed_tokens()
    async with SyncQueue(c.redis_url, prefix=c.prefix) as queue:
        run = await queue.submit(fake.school_ids, resources=["students"],
                                 options=RunOptions(grace=1.0, stall=2.0))
        ghost = Redis.from_url(c.redis_url)
        try:
            stream = stream_key(c.prefix)
            taken = await ghost.xreadgroup(CONSUMER_GROUP, "ghost", {stream: ">"}, count=100)
            messages = taken[0][1]
            assert len(messages) == 6
            # The ghost dies holding the 2nd and the last message (never acknowledged,
            # never claimed); the others are given back as new messages.
            for i, (_, body) in enumerate(messages):
                if i not in (1, 5):
                    await ghost.xadd(stream, body)
        finally:
            await ghost.aclose()
        await c.start(2, concurrency=2)
        report = await wait_report(queue, run.id, c, timeout=120)
        info = await queue.ledger.info(run.id)
    assert report.ok, (report.failed, c.logs())
    assert info is not None and info.requeued >= 2
    assert await c.sink_rows("students") == c.fake_rows("students")


class AofRedis:
    """A redis-server of this test's own, persisting every write (AOF, fsync
    always), that can be killed and started again on the same files."""

    def __init__(self, directory: Any) -> None:
        import shutil

        self.dir = directory
        self.binary = shutil.which("redis-server") or "redis-server"
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"unix://{self.dir}/redis.sock"

    def start(self) -> None:
        import subprocess

        import redis

        self.proc = subprocess.Popen(
            [self.binary, "--port", "0", "--unixsocket", f"{self.dir}/redis.sock",
             "--unixsocketperm", "700", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.dir), "--loglevel", "warning"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                client = redis.Redis(unix_socket_path=f"{self.dir}/redis.sock")
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            except redis.ConnectionError:
                pass
            assert time.monotonic() < deadline and self.proc.poll() is None
            time.sleep(0.02)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


async def test_redis_killed_and_restarted_mid_run_the_run_completes(
        fake_assembly_factory: Any, redis_server: Any, pg_dsn: str,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Redis with AOF crashes mid-run and comes back: workers reconnect, jobs
    that failed on Redis meanwhile are tried again, and the run completes with
    every record. (Without persistence the run, the queue and the refresh
    tokens would be gone: README.)"""
    redis = AofRedis(tmp_path_factory.mktemp("aof", numbered=True))
    redis.start()
    try:
        # Pages of 10 records: every job asks Redis for budget several times.
        fake = await fake_assembly_factory(schools=10, max_per_page=10,
                                           over_max_per_page="cap")
        latency(fake, 0.2)
        c = Cluster(redis.url, pg_dsn, fake)
        await c.seed_tokens()
        await c.start(2, concurrency=3)
        async with SyncQueue(c.redis_url, prefix=c.prefix) as queue:
            run = await queue.submit(fake.school_ids, resources=RESOURCES,
                                     options=RunOptions(lease=5.0, grace=5.0))
            deadline = time.monotonic() + 60
            while (await queue.progress(run.id)).ended < 5:  # type: ignore[union-attr]
                assert time.monotonic() < deadline, c.logs()
                await asyncio.sleep(0.05)
            redis.kill()
            await asyncio.sleep(3.0)
            redis.start()
            report = await wait_report(queue, run.id, c)
            info = await queue.ledger.info(run.id)
        codes = await c.stop()
    finally:
        redis.kill()
    assert report.ok, (report.failed, [s.errors for s in report.schools.values()], c.logs())
    assert codes == [0, 0], c.logs()
    for resource in RESOURCES:
        assert await c.sink_rows(resource) == c.fake_rows(resource), resource
    said = [line for line in c.logs().splitlines() if "worker stopped:" in line]
    print(f"\nRedis killed and restarted: {info.requeued if info else 0} jobs queued again;",
          *said, sep="\n")
