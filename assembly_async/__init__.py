"""assembly_async: an asyncio-native SDK for the Assembly Platform API.

The public surface is re-exported here; every other module is private.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

from ._bulk import (
    JobState,
    ProgressCallback,
    ProgressEvent,
    ResourceResult,
    SchoolResult,
    SyncEngine,
    SyncReport,
    sync_many,
)
from ._client import AssemblyClient
from ._config import DEFAULT, CallOptions, Timeouts
from ._converter import make_converter
from ._errors import (
    AssemblyError,
    AuthError,
    BadRequest,
    ConfigurationError,
    ConnectionFailed,
    DecodeError,
    Forbidden,
    HTTPError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    NotFound,
    NotModified,
    OAuthError,
    RateLimited,
    RequestTimeout,
    SchoolAuthRevoked,
    ServerError,
    TokenUnavailable,
    TransportError,
    Unauthorized,
    UnexpectedContentType,
    UnexpectedStatus,
    UnprocessableEntity,
    UnsupportedVersion,
)
from ._events import Event, EventKind, Hooks, SchoolStats
from ._pagination import DEFAULT_CONCURRENCY, Page, Paginator
from ._ratelimit import RateLimiter, SlidingWindowLimiter
from ._retry import RetryPolicy, backoff, should_retry
from ._sansio import PageInfo, Validators
from ._session import AppSession, SchoolSession
from ._sync import CHANGE_OPERATIONS, Delta, Snapshot
from ._sync_sqlite import SQLiteSyncState
from ._sync_state import MemorySyncState, SyncState, sync_key
from ._tokens import StaticToken, TokenProvider

__all__ = [
    "CHANGE_OPERATIONS",
    "DEFAULT",
    "DEFAULT_CONCURRENCY",
    "AppSession",
    "AssemblyClient",
    "AssemblyError",
    "AuthError",
    "BadRequest",
    "CallOptions",
    "ConfigurationError",
    "ConnectionFailed",
    "DecodeError",
    "Delta",
    "Event",
    "EventKind",
    "Forbidden",
    "HTTPError",
    "Hooks",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "JobState",
    "MemorySyncState",
    "NotFound",
    "NotModified",
    "OAuthError",
    "Page",
    "PageInfo",
    "Paginator",
    "ProgressCallback",
    "ProgressEvent",
    "RateLimited",
    "RateLimiter",
    "RequestTimeout",
    "ResourceResult",
    "RetryPolicy",
    "SQLiteSyncState",
    "SchoolAuthRevoked",
    "SchoolResult",
    "SchoolSession",
    "SchoolStats",
    "ServerError",
    "SlidingWindowLimiter",
    "Snapshot",
    "StaticToken",
    "SyncEngine",
    "SyncReport",
    "SyncState",
    "Timeouts",
    "TokenProvider",
    "TokenUnavailable",
    "TransportError",
    "Unauthorized",
    "UnexpectedContentType",
    "UnexpectedStatus",
    "UnprocessableEntity",
    "UnsupportedVersion",
    "Validators",
    "__version__",
    "backoff",
    "make_converter",
    "should_retry",
    "sync_key",
    "sync_many",
]
