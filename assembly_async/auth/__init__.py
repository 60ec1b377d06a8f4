"""OAuth for the Assembly Platform: tokens, sans-I/O grant helpers and token stores.

This package never sends a request. :mod:`._oauth` builds the authorisation URL
and :class:`TokenRequest` values and reads the token endpoint's answers; the
HTTP layer sends them. Tokens are kept in a :class:`TokenStore`
(:class:`MemoryTokenStore`, :class:`SQLiteTokenStore`,
``assembly_async.redis.RedisTokenStore``, or your own); a
:class:`LeasingTokenStore` also lets every process that shares it send each
refresh grant exactly once.
"""

from ._authorize import (
    Scope,
    ScopeLike,
    authorization_url,
    check_state,
    make_state,
    parse_callback,
)
from ._leases import Lease, TokenRecord
from ._memory import MemoryTokenStore
from ._oauth import (
    PRODUCTION_OAUTH_BASE,
    SANDBOX_OAUTH_BASE,
    GrantType,
    OAuthHosts,
    ParamsIn,
    TokenRequest,
    client_credentials_grant,
    code_grant,
    redact,
    refresh_grant,
)
from ._sqlite import SQLiteTokenStore
from ._stores import (
    APP_KEY,
    CallbackTokenStore,
    LeasingTokenStore,
    OnSet,
    TokenStore,
    leasing,
    school_key,
)
from ._token import REDACTED, Token, TokenLevel
from ._token_response import grant_surely_unused, read_token_response

__all__ = [
    "APP_KEY",
    "PRODUCTION_OAUTH_BASE",
    "REDACTED",
    "SANDBOX_OAUTH_BASE",
    "CallbackTokenStore",
    "GrantType",
    "Lease",
    "LeasingTokenStore",
    "MemoryTokenStore",
    "OAuthHosts",
    "OnSet",
    "ParamsIn",
    "SQLiteTokenStore",
    "Scope",
    "ScopeLike",
    "Token",
    "TokenLevel",
    "TokenRecord",
    "TokenRequest",
    "TokenStore",
    "authorization_url",
    "check_state",
    "client_credentials_grant",
    "code_grant",
    "grant_surely_unused",
    "leasing",
    "make_state",
    "parse_callback",
    "read_token_response",
    "redact",
    "refresh_grant",
    "school_key",
]
