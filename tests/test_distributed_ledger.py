"""The run ledger against a real redis-server: claims and leases, what the
sweeps queue again (expired leases, lost messages, a stalled run), revoked
schools, attempts, cancellation, key layout and expiry; and a model-based
property test of the scripts over random interleavings of several workers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot
from redis_server import RedisServer

from assembly_async._core.errors import ConfigurationError, JobFailed, StorageError
from assembly_async.distributed import JobMessage, RunLedger, RunOptions
from assembly_async.distributed._report import build_report, error_record

RESOURCES = ("students", "staff_members")


@pytest.fixture
async def ledger(redis_client: Redis, redis_prefix: str) -> Any:
    return await RunLedger(redis_client, prefix=redis_prefix).open()


async def new_run(ledger: RunLedger, schools: int = 3, **options: Any) -> Any:
    info, jobs = await ledger.create(list(range(1, schools + 1)), RESOURCES,
                                     options=RunOptions(**options))
    return info, dict(jobs)


async def test_create_lays_out_namespaced_keys_in_one_slot(
        ledger: RunLedger, redis_client: Redis, redis_prefix: str) -> None:
    info, jobs = await new_run(ledger, 2, keep=50)
    assert list(jobs) == ["1/students", "1/staff_members", "2/students", "2/staff_members"]
    assert list(jobs.values()) == [1, 2, 3, 4]  # school by school, in message order
    assert (info.total, info.schools, info.status, info.resources) == (4, 2, "running",
                                                                         RESOURCES)
    run_keys = [k.decode() for k in await redis_client.keys(f"{redis_prefix}{{run:*")]
    assert run_keys and all(k.startswith(f"{redis_prefix}{{run:{info.id}}}:") for k in run_keys)
    assert len({key_slot(k.encode()) for k in run_keys}) == 1
    assert [await redis_client.ttl(k) for k in run_keys] == [-1] * len(run_keys)  # no expiry
    progress = await ledger.progress(info.id)
    assert progress is not None and progress.counts["queued"] == 4 and progress.ended == 0
    with pytest.raises(ConfigurationError):
        await ledger.create([1], ["students"], run_id=info.id)
    with pytest.raises(ConfigurationError):
        await ledger.create([1], ["students"], params={"students": {"when": object()}})
    with pytest.raises(ConfigurationError):
        await ledger.create([1], ["students"], params={"staff_members": {}})


async def test_a_lease_holds_a_job_against_duplicates(ledger: RunLedger) -> None:
    info, _ = await new_run(ledger)
    claim = await ledger.claim(info.id, "1/students", 1, "tok-a", "worker-a")
    assert (claim.outcome, claim.attempt) == ("ok", 1)
    duplicate = await ledger.claim(info.id, "1/students", 1, "tok-b", "worker-b")
    assert (duplicate.outcome, duplicate.detail) == ("busy", "worker-a")
    assert await ledger.renew(info.id, "1/students", "tok-b", 0) == "lost"  # not its lease
    assert await ledger.renew(info.id, "1/students", "tok-a", 7) == "ok"
    progress = await ledger.progress(info.id)
    assert progress is not None and progress.records == 7
    finish = await ledger.finish(info.id, "1/students", "tok-a", "done",
                                 {"state": "done", "records": 9}, ends_school=None,
                                 resources=RESOURCES)
    assert finish.outcome == "ok" and not finish.school_done
    again = await ledger.claim(info.id, "1/students", 1, "tok-c", "worker-c")
    assert (again.outcome, again.detail) == ("finished", "done")
    stale = await ledger.finish(info.id, "1/students", "tok-b", "done", {}, ends_school=None,
                                resources=RESOURCES)
    assert stale.outcome == "stale"


async def test_an_expired_lease_is_queued_again_and_the_old_holder_loses_it(
        ledger: RunLedger) -> None:
    info, jobs = await new_run(ledger, lease=0.2)
    assert (await ledger.claim(info.id, "1/students", 1, "old", "w1")).outcome == "ok"
    assert await ledger.sweep(info.id) == []  # the lease is alive
    await asyncio.sleep(0.3)
    swept = await ledger.sweep(info.id)
    assert [job for job, _ in swept] == ["1/students"]
    assert swept[0][1] > max(jobs.values())  # a new message position, after all others
    assert await ledger.renew(info.id, "1/students", "old", 0) == "lost"
    claim = await ledger.claim(info.id, "1/students", swept[0][1], "new", "w2")
    assert (claim.outcome, claim.attempt) == ("ok", 2)
    assert (await ledger.finish(info.id, "1/students", "old", "done", {}, ends_school=None,
                                resources=RESOURCES)).outcome == "stale"
    info_after = await ledger.info(info.id)
    assert info_after is not None and info_after.requeued == 1


async def test_a_job_behind_a_delivered_message_is_sent_again_after_the_grace(
        ledger: RunLedger) -> None:
    """Messages are delivered in order: when message 4 was claimed, 1-3 were
    delivered; one still queued after the grace was lost (its worker died
    between delivery and claim; taskiq-redis reclaims only on new messages)."""
    info, jobs = await new_run(ledger, grace=0.3)
    for job in ("1/students", "1/staff_members"):
        assert (await ledger.claim(info.id, job, jobs[job], "t" + job, "w")).outcome == "ok"
    assert (await ledger.claim(info.id, "2/staff_members", 4, "t4", "w")).outcome == "ok"
    assert await ledger.sweep(info.id) == []  # 2/students is behind: the grace starts
    await asyncio.sleep(0.4)
    assert [job for job, _ in await ledger.sweep(info.id)] == ["2/students"]
    assert await ledger.sweep(info.id) == []  # sent again once, not on every sweep


async def test_a_stalled_run_sends_its_first_jobs_again_with_a_doubling_period(
        ledger: RunLedger) -> None:
    info, _ = await new_run(ledger, stall=0.3, stall_batch=2)
    assert await ledger.sweep(info.id) == []
    await asyncio.sleep(0.35)
    first = await ledger.sweep(info.id)
    assert [job for job, _ in first] == ["1/students", "1/staff_members"]
    await asyncio.sleep(0.35)
    assert await ledger.sweep(info.id) == []  # the period doubled to 0.6 s
    await asyncio.sleep(0.3)
    assert [job for job, _ in await ledger.sweep(info.id)] == ["2/students", "2/staff_members"]


async def test_a_revoked_school_skips_its_other_jobs(ledger: RunLedger) -> None:
    info, _ = await new_run(ledger, 2)
    assert (await ledger.claim(info.id, "1/students", 1, "t", "w")).outcome == "ok"
    error = {"type": "SchoolAuthRevoked", "message": "school 1: refresh refused"}
    finish = await ledger.finish(info.id, "1/students", "t", "failed",
                                 {"state": "failed", "error": error}, ends_school=error,
                                 resources=RESOURCES)
    assert finish.outcome == "ok" and finish.school_done  # its other job was skipped
    entries = await ledger.jobs(info.id)
    assert entries["1/staff_members"]["state"] == "skipped"
    assert entries["1/staff_members"]["error"] == error
    assert entries["2/students"]["state"] == "queued"
    claim = await ledger.claim(info.id, "1/staff_members", 2, "t2", "w")
    assert claim.outcome == "finished"
    report = build_report(info, entries, await ledger.revoked(info.id))
    school = report.schools[1]
    assert school.revoked and not school.ok
    skipped = school.resources["staff_members"]
    assert skipped.state == "skipped" and isinstance(skipped.error, JobFailed)
    assert skipped.error.kind == "SchoolAuthRevoked"
    assert school.errors[1] == "staff_members: SchoolAuthRevoked: school 1: refresh refused"


async def test_a_job_that_keeps_killing_its_worker_is_abandoned(ledger: RunLedger) -> None:
    info, _ = await new_run(ledger, 1, lease=0.05, max_attempts=2)
    position = 1
    for attempt in (1, 2):
        claim = await ledger.claim(info.id, "1/students", position, f"t{attempt}", "w")
        assert (claim.outcome, claim.attempt) == ("ok", attempt)
        await asyncio.sleep(0.1)
        position = dict(await ledger.sweep(info.id))["1/students"]
    claim = await ledger.claim(info.id, "1/students", position, "t3", "w")
    assert claim.outcome == "abandoned" and "JobAbandoned" in claim.detail
    entry = (await ledger.jobs(info.id))["1/students"]
    assert entry["state"] == "failed" and entry["error"]["type"] == "JobAbandoned"


async def test_records_of_a_lost_attempt_are_not_counted(ledger: RunLedger) -> None:
    """A job's progress (records its running attempt wrote, not yet committed)
    goes with the attempt: swept, then abandoned, the job counts no records."""
    info, _ = await new_run(ledger, 1, lease=0.05, max_attempts=1)
    assert (await ledger.claim(info.id, "1/students", 1, "t1", "w")).outcome == "ok"
    assert await ledger.renew(info.id, "1/students", "t1", 37) == "ok"
    progress = await ledger.progress(info.id)
    assert progress is not None and progress.records == 37
    await asyncio.sleep(0.1)
    position = dict(await ledger.sweep(info.id))["1/students"]
    progress = await ledger.progress(info.id)
    assert progress is not None and progress.records == 0  # rolled back with its worker
    assert (await ledger.claim(info.id, "1/students", position, "t2", "w")).outcome == \
        "abandoned"
    progress = await ledger.progress(info.id)
    assert progress is not None and progress.records == 0
    assert (await ledger.jobs(info.id))["1/students"].get("records", 0) == 0


async def test_release_hands_a_job_back_without_counting_the_attempt(
        ledger: RunLedger) -> None:
    info, jobs = await new_run(ledger, 1)
    assert (await ledger.claim(info.id, "1/students", 1, "t", "w")).attempt == 1
    position = await ledger.release(info.id, "1/students", "t")
    assert position is not None and position > max(jobs.values())
    assert await ledger.release(info.id, "1/students", "t") is None  # not ours any more
    assert (await ledger.claim(info.id, "1/students", position, "t2", "w")).attempt == 1


async def test_cancel_ends_queued_jobs_stops_running_ones_and_expires_the_run(
        ledger: RunLedger, redis_client: Redis, redis_prefix: str) -> None:
    info, _ = await new_run(ledger, 2, keep=100)
    assert (await ledger.claim(info.id, "1/students", 1, "t", "w")).outcome == "ok"
    assert info.id in await ledger.active()
    assert await ledger.cancel(info.id) == "running"  # it was running: now cancelled
    assert await ledger.cancel(info.id) == "cancelled"  # idempotent: already cancelled
    assert await ledger.renew(info.id, "1/students", "t", 0) == "stopped"
    assert (await ledger.claim(info.id, "2/students", 3, "u", "w")).outcome == "finished"
    finish = await ledger.finish(info.id, "1/students", "t", "cancelled",
                                 {"state": "cancelled"}, ends_school=None, resources=RESOURCES)
    assert finish.outcome == "ok" and finish.run_status == "cancelled"
    progress = await ledger.progress(info.id)
    assert progress is not None and progress.counts["cancelled"] == 4 and progress.finished
    assert info.id not in await ledger.active()
    for key in await redis_client.keys(f"{redis_prefix}{{run:*"):
        assert 0 < await redis_client.ttl(key) <= 100, key


async def test_the_last_job_ends_the_run_and_its_keys_expire(
        ledger: RunLedger, redis_client: Redis, redis_prefix: str) -> None:
    info, jobs = await new_run(ledger, 1, keep=30)
    for n, job in enumerate(jobs, start=1):
        assert (await ledger.claim(info.id, job, jobs[job], f"t{n}", "w")).outcome == "ok"
        outcome = {"state": "done", "records": 5, "started_at": 100.0 + n,
                   "finished_at": 110.0 + n}
        finish = await ledger.finish(info.id, job, f"t{n}", "done", outcome,
                                     ends_school=None, resources=RESOURCES)
    assert finish.school_done and finish.run_status == "done"
    keys = await redis_client.keys(f"{redis_prefix}{{run:*")
    assert keys and all(0 < ttl <= 30 for ttl in [await redis_client.ttl(k) for k in keys])
    assert [r.id for r in await ledger.runs()] == [info.id]
    report = build_report(info, await ledger.jobs(info.id))
    assert report.ok and report.records == 10
    school = report.schools[1]
    assert (school.started_at, school.finished_at, school.elapsed) == (101.0, 112.0, 11.0)


async def test_messages_carry_ids_only_and_reject_anything_else() -> None:
    message = JobMessage("abc123", 7, "students", 3)
    assert JobMessage.from_dict(message.to_dict()) == message
    assert set(message.to_dict()) == {"run", "school_id", "resource", "position"}
    for bad in ({"run": "abc", "school_id": 0, "resource": "students"},
                {"run": "a b", "school_id": 1, "resource": "students"},
                {"run": "abc", "school_id": 1, "resource": "sync_runs"},
                {"run": "abc", "school_id": 1, "resource": "students", "token": "x"},
                {"run": "abc", "school_id": True, "resource": "students"},
                {"school_id": 1, "resource": "students"}, ["abc", 1, "students"]):
        with pytest.raises(ConfigurationError):
            JobMessage.from_dict(bad)  # type: ignore[arg-type]


def test_errors_are_recorded_without_what_they_might_leak() -> None:
    from assembly_async import SchoolAuthRevoked

    assert error_record(SchoolAuthRevoked("school 4: invalid_grant", school_id=4)) == {
        "type": "SchoolAuthRevoked", "message": "school 4: invalid_grant"}
    leaky = KeyError("Jane Doe, born 2011-02-03")  # a bug's text could hold anything
    record = error_record(leaky)
    assert record["type"] == "KeyError" and "Jane" not in record["message"]


async def test_unreachable_redis_is_a_storage_error(tmp_path: Any) -> None:
    ledger = RunLedger(f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(StorageError):
        await ledger.open()
    await ledger.close()


async def test_run_ids_and_options_are_checked(ledger: RunLedger,
                                               redis_server: RedisServer) -> None:
    with pytest.raises(ConfigurationError):
        await ledger.info("../../etc")
    with pytest.raises(ConfigurationError):
        RunOptions(lease=0)
    with pytest.raises(ConfigurationError):
        await ledger.create([], RESOURCES)
    with pytest.raises(ConfigurationError):
        await ledger.create([1, -2], RESOURCES)


def test_what_counts_as_storage_failing_for_a_while() -> None:
    """Jobs that failed this way are tried again; the others are reported."""
    from assembly_async import PagingError, SinkError
    from assembly_async.distributed._execute import _transient

    assert _transient(StorageError("Redis at unix:///x: ConnectionError", path="redis"))
    assert _transient(SinkError("PostgreSQL: AdminShutdownError", sqlstate="57P01"))
    assert _transient(SinkError("PostgreSQL: ConnectionFailure", sqlstate="08006"))
    assert _transient(SinkError("PostgreSQL: DeadlockDetectedError", sqlstate="40P01"))
    assert _transient(SinkError("PostgreSQL: TooManyConnectionsError", sqlstate="53300"))
    assert _transient(SinkError("PostgreSQL at x: ConnectionRefusedError",
                                reason="ConnectionRefusedError"))
    assert not _transient(SinkError("PostgreSQL: UniqueViolationError", sqlstate="23505"))
    assert not _transient(SinkError("record 1 cannot be written", reason="bad record"))
    assert not _transient(SinkError("layout version 9", reason=None))
    assert not _transient(PagingError("short", url=None, page=None))
    assert not _transient(ValueError("bug"))
    assert not _transient(None)
