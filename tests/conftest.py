"""Shared test configuration."""

from __future__ import annotations

import inspect
import types
from typing import Any

import aioresponses.core
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
