"""Real worker processes for the distributed tests and the benchmark.

Each worker is ``python -m assembly_async.cli worker ...`` (the command a
user runs), against the fake server running in the test's own event loop, a
real redis-server and a real PostgreSQL. A worker is ready when it says so
on stderr; its stderr is kept (and shown when a test fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

READY_TIMEOUT = 90.0


class WorkerProcess:
    def __init__(self, label: str, proc: asyncio.subprocess.Process) -> None:
        self.label = label
        self.proc = proc
        self.lines: list[str] = []
        self._ready = asyncio.Event()
        self._drain = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while True:
            raw = await self.proc.stderr.readline()
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if " ready: " in line:
                self._ready.set()

    async def ready(self) -> None:
        waiter = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait({waiter, self._drain}, timeout=READY_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            raise AssertionError(f"worker {self.label} did not start:\n" + self.log())

    def log(self) -> str:
        return "\n".join(f"  [{self.label}] {line}" for line in self.lines[-60:])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)

    async def stop(self, timeout: float = 30.0) -> int:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._drain, 5)
        assert self.proc.returncode is not None
        return self.proc.returncode


class Cluster:
    """Workers on one Redis (a prefix of their own), one PostgreSQL database and
    one fake Assembly."""

    def __init__(self, redis_url: str, dsn: str, fake: Any) -> None:
        self.redis_url = redis_url
        self.dsn = dsn
        self.fake = fake
        self.prefix = f"d{uuid.uuid4().hex[:10]}:"
        self.workers: list[WorkerProcess] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSEMBLY_")}
        env.update({"ASSEMBLY_CLIENT_ID": self.fake.client_id,
                    "ASSEMBLY_CLIENT_SECRET": self.fake.client_secret,
                    "ASSEMBLY_REDIS_URL": self.redis_url, "ASSEMBLY_SINK": self.dsn,
                    "PYTHONUNBUFFERED": "1"})
        return env

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "assembly_async.cli", *args]

    async def start(self, n: int, *, concurrency: int = 4, extra: Sequence[str] = ()
                    ) -> list[WorkerProcess]:
        """Start ``n`` workers (labels w1, w2...) and wait until all are ready."""
        started = []
        for _ in range(n):
            label = f"w{len(self.workers) + 1}"
            proc = await asyncio.create_subprocess_exec(
                *self.cli("worker", "--prefix", self.prefix, "--concurrency", str(concurrency),
                          "--api-url", str(self.fake.api_url),
                          "--oauth-url", str(self.fake.oauth_url),
                          "--sweep-interval", "0.5", "--label", label, *extra),
                env=self.env(), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            worker = WorkerProcess(label, proc)
            self.workers.append(worker)
            started.append(worker)
        for worker in started:
            await worker.ready()
        return started

    async def stop(self) -> list[int]:
        return [await w.stop() for w in self.workers]

    def logs(self) -> str:
        return "\n".join(w.log() for w in self.workers)

    async def seed_tokens(self, *, expired: bool = False) -> None:
        """Every school's token in the workers' Redis token store."""
        import attrs

        from assembly_async.auth import school_key
        from assembly_async.redis import RedisTokenStore
        from assembly_async.testing.pytest_plugin import school_token

        async with RedisTokenStore(self.redis_url, prefix=self.prefix) as store:
            for sid in self.fake.school_ids:
                token = school_token(self.fake, sid)
                if expired:
                    token = attrs.evolve(token, expires_at=time.time() - 60)
                await store.set(school_key(sid), token)
        if expired:
            self.fake.expire_access_tokens()

    async def sink_identity(self) -> str:
        from assembly_async.sinks import PostgresSink

        async with PostgresSink(self.dsn, pool_size=1) as sink:
            assert sink.instance is not None
            return sink.instance

    async def sink_rows(self, resource: str) -> list[tuple[int, int]]:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(f"SELECT school_id, id FROM {resource}")
        finally:
            await conn.close()
        return sorted((r["school_id"], r["id"]) for r in rows)

    def fake_rows(self, resource: str) -> list[tuple[int, int]]:
        return sorted((sid, rid) for sid in self.fake.school_ids
                      for rid in self.fake.record_ids(sid, resource))
