"""Fixtures for the fake-server tests: a small running fake and an HTTP helper."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio
from fake_helpers import SMALL, Api

from assembly_async.testing import FakeAssembly

# ``fake_assembly`` and ``fake_assembly_factory`` come from
# assembly_async.testing.pytest_plugin, enabled by tests/conftest.py.


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAssembly]:
    async with FakeAssembly(**SMALL) as f:
        yield f


@pytest_asyncio.fixture
async def api(fake: FakeAssembly) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, fake)
