"""assembly_async: an asyncio-native SDK for the Assembly Platform API.

The public surface is re-exported here; every other module is private.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

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
from ._pagination import Page, Paginator
from ._sansio import PageInfo, Validators
from ._session import AppSession, SchoolSession
from ._tokens import StaticToken, TokenProvider

__all__ = [
    "DEFAULT",
    "AppSession",
    "AssemblyClient",
    "AssemblyError",
    "AuthError",
    "BadRequest",
    "CallOptions",
    "ConfigurationError",
    "ConnectionFailed",
    "DecodeError",
    "Forbidden",
    "HTTPError",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "NotFound",
    "NotModified",
    "OAuthError",
    "Page",
    "PageInfo",
    "Paginator",
    "RateLimited",
    "RequestTimeout",
    "SchoolAuthRevoked",
    "SchoolSession",
    "ServerError",
    "StaticToken",
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
    "make_converter",
]
