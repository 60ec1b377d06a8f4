"""pytest fixtures for the fake Assembly server.

Enable with ``pytest_plugins = ["assembly_async.testing.pytest_plugin"]`` in a
``conftest.py``.  Fixtures:

* ``fake_assembly`` - a running :class:`FakeAssembly` with small data sizes
  (function scoped).
* ``fake_assembly_factory`` - ``await factory(**options)`` starts more fakes
  with your own options; all are closed after the test.
* ``assembly_client`` - an :class:`~assembly_async.AssemblyClient` wired to
  ``fake_assembly`` with every school's token in its token store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from .._client.client import AssemblyClient
from ..auth import Token
from ._sdk_tokens import sdk_token
from .server import FakeAssembly

SMALL: dict[str, Any] = {
    "schools": 2,
    "students_per_school": 40,
    "staff_per_school": 10,
    "teaching_groups_per_year": 3,
    "attendance_days": 2,
    "calendar_events": 6,
    "rooms": 4,
}

FakeFactory = Callable[..., Awaitable[FakeAssembly]]


@pytest_asyncio.fixture
async def fake_assembly_factory() -> AsyncIterator[FakeFactory]:
    started: list[FakeAssembly] = []

    async def factory(**options: Any) -> FakeAssembly:
        fake = FakeAssembly(**{**SMALL, **options})
        await fake.start()
        started.append(fake)
        return fake

    try:
        yield factory
    finally:
        for fake in reversed(started):
            await fake.close()


@pytest_asyncio.fixture
async def fake_assembly() -> AsyncIterator[FakeAssembly]:
    async with FakeAssembly(**SMALL) as fake:
        yield fake


@pytest_asyncio.fixture
async def assembly_client(fake_assembly: FakeAssembly) -> AsyncIterator[AssemblyClient]:
    """An :class:`AssemblyClient` wired to ``fake_assembly``: its API and OAuth
    URLs, its client credentials, and every school's token in the token store,
    so ``assembly_client.school(school_id)`` works (and refreshes) at once."""
    client = AssemblyClient(
        api_url=str(fake_assembly.api_url), oauth_url=str(fake_assembly.oauth_url),
        client_id=fake_assembly.client_id, client_secret=fake_assembly.client_secret,
    )
    try:
        for school_id in fake_assembly.school_ids:
            await client.add_token(school_token(fake_assembly, school_id))
        yield client
    finally:
        await client.aclose()


def school_token(fake: FakeAssembly, school_id: int) -> Token:
    """The fake's initial token pair of a school as an SDK :class:`Token`."""
    return sdk_token(fake, school_id)
