"""Shared test configuration."""

from __future__ import annotations

import inspect
import types
from typing import Any

import aioresponses.core
from aiohttp import ClientResponse

pytest_plugins = ["assembly_async.testing.pytest_plugin"]


# aioresponses 0.7.9 (the newest) builds ClientResponse without the
# ``stream_writer`` argument that aiohttp 3.14 requires; give it a stand-in
# whose only use there is ``output_size``. Test-only; the SDK is untouched.
if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:

    class _CompatResponse(ClientResponse):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
            super().__init__(*args, **kwargs)

    aioresponses.core.ClientResponse = _CompatResponse  # type: ignore[misc]


# -- PostgreSQL ----------------------------------------------------------------------
# One throwaway server per test session (initdb into a temporary directory, a free
# loopback port, run as the `postgres` user when we are root); a fresh database per
# test. Skipped only when PostgreSQL is truly missing and CI is unset: under CI=true
# a missing server fails the run (`.ci/run` installs it).

import itertools  # noqa: E402
import os  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

_databases = itertools.count(1)


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A running :class:`TempPostgres` for the whole session."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        _missing("asyncpg is not installed (pip install -e '.[dev]')")
    from assembly_async.testing.postgres import PostgresMissing, TempPostgres

    try:
        server = TempPostgres().start()
    except PostgresMissing as exc:
        _missing(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(postgres: Any) -> str:
    """The DSN of a new, empty database on the session's server."""
    return str(postgres.create_database(f"t{os.getpid()}_{next(_databases)}"))
