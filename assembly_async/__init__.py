"""assembly_async: an asyncio-native SDK for the Assembly Platform API.

The public surface is re-exported here; every other module is private.
"""

from __future__ import annotations

from ._client.client import AssemblyClient
from ._client.delta import CHANGE_OPERATIONS, Delta
from ._client.pagination import DEFAULT_CONCURRENCY, Page, Paginator
from ._client.rawresponse import RawResponse, raw_response
from ._client.session import AppSession, SchoolSession
from ._client.snapshot import Snapshot
from ._client.syncstate import MemorySyncState, SyncState, sync_key
from ._core.config import DEFAULT, CallOptions, Timeouts
from ._core.errors import (
    AssemblyError,
    AuthError,
    BadRequest,
    BudgetExhausted,
    ConfigurationError,
    ConnectionFailed,
    DecodeError,
    Forbidden,
    HTTPError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    JobFailed,
    NotFound,
    NotModified,
    OAuthError,
    PagingError,
    RateLimited,
    RefreshInterrupted,
    RequestTimeout,
    ResponseTooLarge,
    SchoolAuthRevoked,
    ServerError,
    SinkError,
    StorageError,
    TokenUnavailable,
    TransportError,
    Unauthorized,
    UnexpectedContentType,
    UnexpectedStatus,
    UnprocessableEntity,
    UnsupportedVersion,
    UsageError,
)
from ._core.logs import configure_from_env as _configure_logging
from ._core.logs import enable_logging
from ._core.paging import PageInfo
from ._core.responses import Validators
from ._core.version import __version__
from ._core.walk import WalkSummary
from ._http.events import Event, EventKind, Hooks, SchoolStats
from ._http.ratelimit import BudgetUnavailable, RateLimiter, SlidingWindowLimiter
from ._http.retry import RetryPolicy, backoff, should_retry
from ._http.tokens import StaticToken, TokenProvider
from ._sync.engine import (
    JobState,
    ProgressCallback,
    ProgressEvent,
    ResourceResult,
    SchoolResult,
    SyncEngine,
    SyncReport,
    sync_many,
)
from ._sync.job import JobResources, JobSpec, sync_job
from ._sync.sqlite_state import SQLiteSyncState
from .models._converter import make_converter
from .models._problems import DecodeProblem

_configure_logging()  # ASSEMBLY_LOG=debug|info: the SDK's log on stderr, no code needed

__all__ = [
    "CHANGE_OPERATIONS",
    "DEFAULT",
    "DEFAULT_CONCURRENCY",
    "AppSession",
    "AssemblyClient",
    "AssemblyError",
    "AuthError",
    "BadRequest",
    "BudgetExhausted",
    "BudgetUnavailable",
    "CallOptions",
    "ConfigurationError",
    "ConnectionFailed",
    "DecodeError",
    "DecodeProblem",
    "Delta",
    "Event",
    "EventKind",
    "Forbidden",
    "HTTPError",
    "Hooks",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "JobFailed",
    "JobResources",
    "JobSpec",
    "JobState",
    "MemorySyncState",
    "NotFound",
    "NotModified",
    "OAuthError",
    "Page",
    "PageInfo",
    "Paginator",
    "PagingError",
    "ProgressCallback",
    "ProgressEvent",
    "RateLimited",
    "RateLimiter",
    "RawResponse",
    "RefreshInterrupted",
    "RequestTimeout",
    "ResourceResult",
    "ResponseTooLarge",
    "RetryPolicy",
    "SQLiteSyncState",
    "SchoolAuthRevoked",
    "SchoolResult",
    "SchoolSession",
    "SchoolStats",
    "ServerError",
    "SinkError",
    "SlidingWindowLimiter",
    "Snapshot",
    "StaticToken",
    "StorageError",
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
    "UsageError",
    "Validators",
    "WalkSummary",
    "__version__",
    "backoff",
    "enable_logging",
    "make_converter",
    "raw_response",
    "should_retry",
    "sync_job",
    "sync_key",
    "sync_many",
]
