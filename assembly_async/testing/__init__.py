"""A faithful fake Assembly Platform server for tests (``assembly_async.testing``).

>>> async with FakeAssembly(schools=2, students_per_school=50) as fake:   # doctest: +SKIP
...     token = fake.school_token(fake.school_ids[0]).access_token
...     # call fake.api_url with Accept: application/vnd.assembly+json; version=1.1

Everything listens on 127.0.0.1 only.  See ``FakeAssembly`` for the control
API (tokens, data changes, faults, stats) and ``python -m assembly_async.testing``
for running it as a separate process.
"""

from __future__ import annotations

from ._auth import TokenPair
from ._config import FakeConfig
from ._faults import Fault, FaultInjector
from ._http import PER_PAGE_DEFAULT, PER_PAGE_MAX
from ._stats import LoggedRequest, Stats
from ._util import BASE_EPOCH, ID_BLOCK, SENTINEL_DT
from .schema import SchemaChecker
from .server import FakeAssembly

ACCEPT_V1 = "application/vnd.assembly+json; version=1"
ACCEPT_V1_1 = "application/vnd.assembly+json; version=1.1"

__all__ = [
    "ACCEPT_V1",
    "ACCEPT_V1_1",
    "BASE_EPOCH",
    "ID_BLOCK",
    "PER_PAGE_DEFAULT",
    "PER_PAGE_MAX",
    "SENTINEL_DT",
    "FakeAssembly",
    "FakeConfig",
    "Fault",
    "FaultInjector",
    "LoggedRequest",
    "SchemaChecker",
    "Stats",
    "TokenPair",
]
