"""Shared test configuration."""

from __future__ import annotations

import inspect
import itertools
import os
import types
from collections.abc import Iterator
from typing import Any

import aioresponses.core
import pytest
from aiohttp import ClientResponse

pytest_plugins = ["assembly_async.testing.pytest_plugin", "redis_server"]


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

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A running :class:`TempPostgres` for the whole session."""
    from assembly_async.testing.postgres import PostgresMissing, TempPostgres, missing_postgres

    try:
        import asyncpg  # noqa: F401
    except ImportError:
        missing_postgres("asyncpg is not installed (pip install -e '.[dev]')")
    try:
        server = TempPostgres().start()
    except PostgresMissing as exc:
        missing_postgres(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(postgres: Any) -> str:
    """The DSN of a new, empty database on the session's server."""
    return str(postgres.create_database(f"t{os.getpid()}_{next(_databases)}"))
