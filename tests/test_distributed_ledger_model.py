"""A model-based property test of the run ledger's Lua scripts on a real
redis-server: random interleavings of claims, renewals, finishes, releases,
lease expiries, sweeps, revocations and a cancel by several workers, checked
step by step against a plain Python model and against the ledger's own
bookkeeping (counts, queue, leases, owners, schools left)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from redis_server import RedisServer

from assembly_async.distributed import _ledger_lua as lua

RESOURCES = ("students", "staff_members")
SCHOOLS = (1, 2, 3)
JOBS = [f"{s}/{r}" for s in SCHOOLS for r in RESOURCES]
FINAL = {"done", "not_modified", "failed", "skipped", "cancelled"}
MAX_ATTEMPTS = 3


def s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LedgerMachine(RuleBasedStateMachine):
    url = ""

    def __init__(self) -> None:
        super().__init__()
        import redis

        self.r = redis.Redis.from_url(self.url)
        self.prefix = f"m{uuid.uuid4().hex[:10]}:"
        self.scripts = {n: self.r.register_script(getattr(lua, n))
                        for n in ("CLAIM", "RENEW", "FINISH", "RELEASE", "SWEEP", "CANCEL")}
        self.keys = [f"{self.prefix}{{run:r1}}:{k}" for k in lua.KINDS]
        self.key = dict(zip(lua.KINDS, self.keys, strict=True))
        # the model
        self.state = dict.fromkeys(JOBS, "queued")
        self.holder: dict[str, str] = {}
        self.expired: set[str] = set()
        self.attempts: Counter[str] = Counter()
        self.revoked: set[int] = set()
        self.status = "running"
        self.finished_once: Counter[str] = Counter()
        self.tokens = 0

    def teardown(self) -> None:
        self.r.delete(*self.keys)
        self.r.close()

    @initialize()
    def create(self) -> None:
        k = self.key
        self.r.hset(k["meta"], mapping={
            "id": "r1", "status": "running", "created": 0, "total": len(JOBS),
            "schools": len(SCHOOLS), "resources": orjson.dumps(list(RESOURCES)),
            "params": "{}", "lease_ms": 3_600_000, "grace_ms": 3_600_000,
            "stall_ms": 3_600_000, "stall_cur": 3_600_000, "stall_batch": 2,
            "max_attempts": MAX_ATTEMPTS, "keep": 600, "seq": len(JOBS), "maxleased": 0,
            "last_event": 10**13, "requeued": 0, "sink": ""})
        self.r.hset(k["state"], mapping=dict.fromkeys(JOBS, "queued"))
        self.r.zadd(k["queue"], {j: i for i, j in enumerate(JOBS, start=1)})
        self.r.hset(k["left"], mapping={str(sid): len(RESOURCES) for sid in SCHOOLS})
        self.r.hset(k["counts"], mapping={"queued": len(JOBS)})

    def run(self, name: str, *args: Any) -> Any:
        return self.scripts[name](keys=self.keys, args=list(args))

    def new_token(self) -> str:
        self.tokens += 1
        return f"tok{self.tokens}"

    def school_of(self, job: str) -> int:
        return int(job.split("/")[0])

    def end(self, job: str, final: str) -> None:
        self.state[job] = final
        self.holder.pop(job, None)
        self.expired.discard(job)

    def settle(self) -> None:
        if self.status == "running" and all(v in FINAL for v in self.state.values()):
            self.status = "done"

    # -- rules --------------------------------------------------------------------------

    @rule(job=st.sampled_from(JOBS))
    def claim(self, job: str) -> None:
        token = self.new_token()
        out = [s(x) for x in self.run("CLAIM", job, self.school_of(job), 1, token, "w")]
        current = self.state[job]
        if self.status != "running" and current not in FINAL:
            assert out[0] == "stopped", out
        elif current in FINAL:
            assert out == ["finished", current], out
        elif current == "running" and job not in self.expired:
            assert out[0] == "busy", out  # never two live holders
        elif self.school_of(job) in self.revoked:
            assert out[0] == "skipped", out
            self.end(job, "skipped")
        elif self.attempts[job] >= MAX_ATTEMPTS:
            assert out[0] == "abandoned", out
            self.end(job, "failed")
        else:
            assert out[0] == "ok", out
            self.attempts[job] += 1
            assert int(out[1]) == self.attempts[job]
            self.state[job] = "running"
            self.holder[job] = token
            self.expired.discard(job)
        self.settle()

    @rule(job=st.sampled_from(JOBS), stale=st.booleans())
    def renew(self, job: str, stale: bool) -> None:
        token = self.holder.get(job, "nobody") if not stale else "tok-old"
        out = [s(x) for x in self.run("RENEW", job, token, 3)]
        if job in self.holder and not stale:
            assert out[0] == ("ok" if self.status == "running" else "stopped"), out
            self.expired.discard(job)
        else:
            assert out[0] == "lost", out

    @rule(job=st.sampled_from(JOBS), final=st.sampled_from(["done", "failed", "not_modified"]),
          revoke=st.booleans())
    def finish(self, job: str, final: str, revoke: bool) -> None:
        token = self.holder.get(job, "nobody")
        desc = '{"type":"SchoolAuthRevoked","message":"x"}' if revoke else ""
        out = [s(x) for x in self.run("FINISH", job, self.school_of(job), token, final,
                                      f'{{"state":"{final}"}}', desc, 1, *RESOURCES)]
        if job not in self.holder:
            assert out == ["stale"], out
            return
        assert out[0] == "ok", out
        self.finished_once[job] += 1
        self.end(job, final)
        sid = self.school_of(job)
        if revoke:
            self.revoked.add(sid)
            for other in JOBS:
                if self.school_of(other) == sid and self.state[other] == "queued":
                    self.end(other, "skipped")
        self.settle()
        assert out[1] == ("1" if all(self.state[j] in FINAL for j in JOBS
                                     if self.school_of(j) == sid) else "0")

    @rule(job=st.sampled_from(JOBS))
    def release(self, job: str) -> None:
        token = self.holder.get(job, "nobody")
        out = [s(x) for x in self.run("RELEASE", job, token)]
        if job not in self.holder:
            assert out == ["stale"], out
        elif self.status != "running":
            assert out == ["cancelled"], out
            self.end(job, "cancelled")
        else:
            assert out[0] == "ok", out
            self.attempts[job] -= 1
            self.state[job] = "queued"
            self.holder.pop(job)
            self.expired.discard(job)
        self.settle()

    @rule(job=st.sampled_from(JOBS))
    def expire(self, job: str) -> None:
        """Time passes beyond the job's lease (its worker stopped renewing)."""
        if self.state[job] == "running":
            self.r.zadd(self.key["leases"], {job: 0})
            self.expired.add(job)

    @rule()
    def sweep(self) -> None:
        out = [s(x) for x in self.run("SWEEP", 3_600_000, 2)]
        swept = out[0::2]
        if self.status != "running":
            assert swept == []
            return
        assert sorted(swept) == sorted(self.expired), (swept, self.expired)
        for job in swept:
            self.state[job] = "queued"
            self.holder.pop(job)
        self.expired.clear()

    @rule()
    def cancel(self) -> None:
        out = s(self.run("CANCEL"))
        if self.status != "running":
            assert out == self.status, out
            return
        assert out == "running"
        self.status = "cancelled"
        for job in JOBS:
            if self.state[job] == "queued":
                self.end(job, "cancelled")

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def ledger_matches_the_model(self) -> None:
        k = self.key
        states = {s(a): s(b) for a, b in self.r.hgetall(k["state"]).items()}
        assert states == self.state
        counts = {s(a): int(b) for a, b in self.r.hgetall(k["counts"]).items()}
        tally = Counter(self.state.values())
        assert {n: c for n, c in counts.items() if c} == dict(tally)
        queued = {s(x) for x in self.r.zrange(k["queue"], 0, -1)}
        assert queued == {j for j, v in self.state.items() if v == "queued"}
        leased = {s(x) for x in self.r.zrange(k["leases"], 0, -1)}
        running = {j for j, v in self.state.items() if v == "running"}
        assert leased == running
        owners = {s(a): s(b) for a, b in self.r.hgetall(k["owner"]).items()}
        assert owners == {j: t for j, t in self.holder.items()}
        assert set(owners) == running
        left = {int(s(a)): int(b) for a, b in self.r.hgetall(k["left"]).items()}
        for sid in SCHOOLS:
            assert left[sid] == sum(1 for j in JOBS if self.school_of(j) == sid
                                    and self.state[j] not in FINAL)
        assert s(self.r.hget(k["meta"], "status")) == self.status
        assert all(n == 1 for n in self.finished_once.values())  # a job ends once
        # one record per finished job, summed by the ledger
        assert int(self.r.hget(k["meta"], "records") or 0) == sum(self.finished_once.values())
        if self.status != "running":
            assert self.r.ttl(k["meta"]) > 0  # an ended run expires


def test_ledger_scripts_against_a_model(redis_server: RedisServer) -> None:
    LedgerMachine.url = redis_server.url
    test = LedgerMachine.TestCase
    test.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                             suppress_health_check=list(HealthCheck))
    test().runTest()


def test_a_jobs_decode_problems_reach_the_run_report() -> None:
    """The ledger keeps a finished job's decode-problem count (as JSON, like the
    rest of its outcome), so a distributed run reports them as SyncEngine does."""
    import orjson

    from assembly_async._sync.report import ResourceResult
    from assembly_async.distributed._report import outcome_of, result_of

    done = ResourceResult("students", state="done", records=3, decode_problems=2)
    entry = orjson.loads(orjson.dumps(outcome_of(done, started_at=0.0, attempt=1, worker="w")))
    assert result_of("students", entry).decode_problems == 2
