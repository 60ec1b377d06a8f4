"""Token providers: where a session gets the bearer token for each request.

The pipeline asks its provider for a token before every request and tells it
when the API rejected one (401 ``invalid_token``). A static token can do
nothing about that; a refreshing provider (see :mod:`assembly_async.auth._managers`)
refreshes once and lets the pipeline replay the request.

Because a token fetch may refresh (a request to the token endpoint), the
pipeline bounds it by the call's deadline, which costs a task per request. A
provider may offer the optional fast path ``ready_token()`` (see
:func:`ready_token`): the token ``access_token()`` would return right now
without any I/O, or None; the SDK's providers do.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .._core.errors import ConfigurationError

__all__ = ["StaticToken", "TokenProvider", "ready_token"]


@runtime_checkable
class TokenProvider(Protocol):
    """Supplies access tokens to the pipeline."""

    async def access_token(self) -> str:
        """A token to send now (refreshing first if it is about to expire)."""
        ...

    async def token_rejected(self, token: str) -> bool:
        """The API answered 401 invalid_token for ``token``.

        Return True when a different token is now available and the request
        should be replayed once; False to let the 401 reach the caller.
        """
        ...


def ready_token(provider: TokenProvider) -> str | None:
    """The provider's token when it has one in hand (no load, no refresh due),
    through its optional ``ready_token()`` method; else None."""
    peek = getattr(provider, "ready_token", None)
    if peek is None:
        return None
    token = peek()
    return token if isinstance(token, str) and token else None


class StaticToken:
    """A fixed access token (a sandbox token from the dashboard, or one the caller manages)."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError("access_token must be a non-empty string")
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(<redacted>)"

    async def access_token(self) -> str:
        return self._token

    def ready_token(self) -> str:
        return self._token

    async def token_rejected(self, token: str) -> bool:
        return False
