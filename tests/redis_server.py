"""A real ``redis-server`` for the tests: started once per session on a unix
socket in a temporary directory (no persistence), stopped at the end.

Without ``redis-server`` or the ``redis`` package the tests that need it are
skipped, except under ``CI=true``, where they fail: CI must never pass by not
running them (``.ci/run`` installs redis-server when it is missing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

STARTUP_TIMEOUT = 20.0


class RedisServer:
    """One ``redis-server`` process listening on ``<dir>/redis.sock`` only."""

    def __init__(self, directory: Path, binary: str) -> None:
        self.directory = directory
        self.socket = directory / "redis.sock"
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pid(self) -> int:
        assert self._proc is not None, "the server is not running"
        return self._proc.pid

    def start(self) -> RedisServer:
        import redis

        self._proc = subprocess.Popen(
            [self._binary, "--port", "0", "--unixsocket", str(self.socket),
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--daemonize", "no", "--loglevel", "warning",
             "--logfile", str(self.directory / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}: {log}")
            if self.socket.exists():
                try:
                    client = redis.Redis(unix_socket_path=str(self.socket))
                    try:
                        if client.ping():
                            return self
                    finally:
                        client.close()
                except redis.ConnectionError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer within 20 s")
            time.sleep(0.02)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: these tests must run; .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A running redis-server for the whole session (unix socket, no persistence)."""
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("redis-server is not installed (apt-get install redis-server)")
        raise AssertionError("unreachable")
    try:
        import redis  # noqa: F401
    except ImportError:
        _unavailable("the redis package is not installed (pip install -e '.[dev]')")
    # A short path: unix socket paths are limited to about 100 bytes.
    directory = Path(tmp_path_factory.mktemp("redis", numbered=True))
    server = RedisServer(directory, binary).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of its own for each test, so tests never see each other's keys."""
    return f"t{uuid.uuid4().hex[:12]}:"


@pytest_asyncio.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[object]:
    """A ``redis.asyncio.Redis`` on the session's server (closed after the test)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()
