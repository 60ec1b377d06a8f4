"""Token stores: where tokens live between requests and between runs.

A store maps a string key to a :class:`Token`. School tokens are filed under
:func:`school_key` (``"school:<id>"``), the app token under :data:`APP_KEY`.

Refreshing is a read-modify-write race when several workers (coroutines or
processes) share a store: two of them may refresh the same school at once, and
since the refresh token may be single-use, the loser must not overwrite the
winner. :meth:`TokenStore.compare_and_set` settles this: it writes only when the
stored token is still the one the caller started from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, runtime_checkable

import attrs

from .._core.errors import ConfigurationError
from ._token import Token

__all__ = [
    "APP_KEY",
    "CallbackTokenStore",
    "MemoryTokenStore",
    "OnSet",
    "TokenStore",
    "school_key",
]

#: The store key of the app-level token.
APP_KEY = "app"


def school_key(school_id: int) -> str:
    """The store key of a school's token: ``"school:<id>"``."""
    if isinstance(school_id, bool) or not isinstance(school_id, int):
        raise ConfigurationError(f"school_id must be an int, not {type(school_id).__name__}")
    return f"school:{school_id}"


def same_token(a: Token | None, b: Token | None) -> bool:
    """The compare in compare-and-set: both absent, or the same access token."""
    if a is None or b is None:
        return a is None and b is None
    return a.access_token == b.access_token


@runtime_checkable
class TokenStore(Protocol):
    """What the client needs from a token store. All methods are coroutines.

    Implement this to keep tokens in your own database; or wrap a built-in
    store in :class:`CallbackTokenStore` to be told about every write.
    """

    async def get(self, key: str) -> Token | None:
        """The token stored under ``key``, or None."""
        ...

    async def set(self, key: str, token: Token) -> None:
        """Store ``token`` under ``key`` unconditionally."""
        ...

    async def compare_and_set(self, key: str, expected: Token | None, new: Token) -> bool:
        """Atomically store ``new`` if the stored token is still ``expected``.

        "Still" means the stored token has the same ``access_token`` as
        ``expected``, or both are absent. Returns whether it wrote.
        """
        ...

    async def mark_unusable(self, key: str) -> None:
        """Flag the stored token ``usable=False`` (the school revoked access); no-op if absent."""
        ...

    async def keys(self) -> list[str]:
        """Every key in the store."""
        ...

    async def get_many(self, keys: Iterable[str]) -> dict[str, Token]:
        """The tokens of the given keys that exist, in one cheap bulk load."""
        ...


class MemoryTokenStore:
    """A per-instance, in-process store (tests, scripts, short-lived jobs).

    Nothing survives the process. Each instance has its own dict and lock;
    there is no module-level state.
    """

    def __init__(self, tokens: dict[str, Token] | None = None) -> None:
        self._tokens: dict[str, Token] = dict(tokens or {})
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MemoryTokenStore({len(self._tokens)} tokens)"

    async def get(self, key: str) -> Token | None:
        """The token under ``key``, or None."""
        return self._tokens.get(key)

    async def set(self, key: str, token: Token) -> None:
        """Store ``token`` under ``key``."""
        async with self._lock:
            self._tokens[key] = token

    async def compare_and_set(self, key: str, expected: Token | None, new: Token) -> bool:
        """Store ``new`` only if the current token is ``expected`` (by access token)."""
        async with self._lock:
            if not same_token(self._tokens.get(key), expected):
                return False
            self._tokens[key] = new
            return True

    async def mark_unusable(self, key: str) -> None:
        """Flag the token under ``key`` as unusable; no-op if there is none."""
        async with self._lock:
            current = self._tokens.get(key)
            if current is not None and current.usable:
                self._tokens[key] = attrs.evolve(current, usable=False)

    async def delete(self, key: str) -> bool:
        """Remove the token under ``key``; returns whether there was one."""
        return self._tokens.pop(key, None) is not None

    async def keys(self) -> list[str]:
        """All keys, sorted."""
        return sorted(self._tokens)

    async def get_many(self, keys: Iterable[str]) -> dict[str, Token]:
        """The tokens of ``keys`` that exist."""
        tokens = self._tokens
        return {key: tokens[key] for key in keys if key in tokens}


#: ``on_set(key, token)``: awaited after each write to a :class:`CallbackTokenStore`.
OnSet = Callable[[str, Token], Awaitable[None]]


class CallbackTokenStore:
    """Wrap a store and await ``on_set(key, token)`` after every successful write.

    A hook for users who keep tokens in their own storage: mirror each new or
    refreshed token there. Called after ``set``, after a ``compare_and_set``
    that wrote, and after ``mark_unusable`` (with the now unusable token). The
    write to ``inner`` has already happened when the callback runs; an
    exception from the callback propagates to the caller.
    """

    def __init__(self, inner: TokenStore, on_set: OnSet) -> None:
        self.inner = inner
        self._on_set = on_set

    def __repr__(self) -> str:
        return f"CallbackTokenStore({self.inner!r})"

    async def get(self, key: str) -> Token | None:
        """Read through to ``inner``."""
        return await self.inner.get(key)

    async def set(self, key: str, token: Token) -> None:
        """Write to ``inner``, then call ``on_set``."""
        await self.inner.set(key, token)
        await self._on_set(key, token)

    async def compare_and_set(self, key: str, expected: Token | None, new: Token) -> bool:
        """Compare-and-set on ``inner``; call ``on_set`` only when it wrote."""
        written = await self.inner.compare_and_set(key, expected, new)
        if written:
            await self._on_set(key, new)
        return written

    async def mark_unusable(self, key: str) -> None:
        """Mark on ``inner``, then call ``on_set`` with the stored (unusable) token."""
        await self.inner.mark_unusable(key)
        token = await self.inner.get(key)
        if token is not None:
            await self._on_set(key, token)

    async def keys(self) -> list[str]:
        """Read through to ``inner``."""
        return await self.inner.keys()

    async def get_many(self, keys: Iterable[str]) -> dict[str, Token]:
        """Read through to ``inner``."""
        return await self.inner.get_many(keys)
