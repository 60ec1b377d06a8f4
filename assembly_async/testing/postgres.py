"""A throwaway PostgreSQL server for tests and benchmarks.

:class:`TempPostgres` runs ``initdb`` into a temporary directory and starts
``postgres`` on a free loopback port (and a unix socket in the same
directory), so tests never touch a server someone else runs::

    with TempPostgres() as pg:
        sink = PostgresSink(pg.dsn)

The server refuses to run as root, so when we are root the data directory is
given to the ``postgres`` system user (created by Debian's ``postgresql``
package) and the server runs as that user. :func:`find_postgres_bin` looks in
``$PG_BIN``, ``pg_config --bindir``, ``/usr/lib/postgresql/<newest>/bin`` and
``PATH``; :class:`PostgresMissing` says what to install when nothing is found.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

__all__ = ["PostgresMissing", "TempPostgres", "find_postgres_bin", "missing_postgres"]


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def missing_postgres(reason: str) -> NoReturn:
    """In a pytest fixture when PostgreSQL cannot run: fail under ``CI`` (set to
    anything), skip otherwise. A CI run never passes by skipping the database."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}")
    pytest.skip(reason)


def find_postgres_bin() -> Path:
    """The directory holding ``initdb`` and ``postgres``; raises :class:`PostgresMissing`."""
    candidates: list[Path] = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            candidates.append(Path(out))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                      reverse=True)
    candidates.extend(versions)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    raise PostgresMissing("PostgreSQL server binaries not found (initdb, postgres): "
                          "install them, e.g. `apt-get install -y postgresql`, or set PG_BIN")


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that, on Linux, asks the kernel for SIGINT (PostgreSQL's
    fast shutdown) when the process that started the server dies, so a test run
    killed outright (SIGKILL, a CI timeout) leaves no server behind. Everything
    is looked up here, in the parent: the child may already run as ``postgres``,
    which cannot read our Python installation."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig, sigint = 1, int(signal.SIGINT)

    def hook() -> None:
        prctl(pr_set_pdeathsig, sigint, 0, 0, 0)

    return hook


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempPostgres:
    """A PostgreSQL server in a temporary directory, stopped and deleted on exit.

    ``dsn`` connects as the superuser ``postgres`` (trust authentication, loopback
    only) to the database ``postgres``; :meth:`create_database` makes more.
    ``settings`` are extra ``-c name=value`` server settings (``fsync=off`` is
    the default: a test server never needs to survive the machine crashing, only
    its client being killed, which fsync does not affect).
    """

    def __init__(self, *, settings: dict[str, str] | None = None) -> None:
        self.bin = find_postgres_bin()
        self.settings = {"fsync": "off", "max_connections": "200", **(settings or {})}
        self.port = 0
        self.root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = "postgres" if os.geteuid() == 0 else None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(args, user=self._user, capture_output=True, check=True,
                              timeout=120, **kwargs)

    def start(self) -> TempPostgres:
        self.root = Path(tempfile.mkdtemp(prefix="assembly-pg-"))
        data = self.root / "data"
        if self._user is not None:
            try:
                entry = pwd.getpwnam(self._user)
            except KeyError:
                raise PostgresMissing("running as root needs the 'postgres' system user "
                                      "(apt-get install -y postgresql creates it)") from None
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        try:
            self._run([str(self.bin / "initdb"), "-D", str(data), "-U", "postgres",
                       "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C"])
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from None
        for _ in range(5):
            self.port = _free_port()
            args = [str(self.bin / "postgres"), "-D", str(data), "-p", str(self.port),
                    "-h", "127.0.0.1", "-k", str(self.root)]
            for name, value in self.settings.items():
                args += ["-c", f"{name}={value}"]
            log = open(self.root / "server.log", "ab")
            try:
                self._proc = subprocess.Popen(
                    args, user=self._user, stdout=log, stderr=log, start_new_session=True,
                    preexec_fn=_die_with_parent())
            finally:
                log.close()
            if self._wait_ready():
                return self
            self._stop_proc()
        raise RuntimeError("PostgreSQL did not start: "
                           + (self.root / "server.log").read_text(errors="replace")[-2000:])

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            with contextlib.suppress(subprocess.SubprocessError):
                ok = subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1",
                                     "-p", str(self.port)], capture_output=True, timeout=10)
                if ok.returncode == 0:
                    return True
            time.sleep(0.1)
        return False

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql (unaligned, tuples only) and return its output."""
        out = self._run([str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                         "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1",
                         "-A", "-t", "-c", sql])
        return out.stdout.decode().strip()

    def create_database(self, name: str) -> str:
        """Create a database and return its DSN."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.dsn_for(name)

    def _stop_proc(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)  # fast shutdown
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)

    def stop(self) -> None:
        self._stop_proc()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
