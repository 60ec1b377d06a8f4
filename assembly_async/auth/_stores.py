"""Token stores: where tokens live between requests and between runs.

A store maps a string key to a :class:`Token`. School tokens are filed under
:func:`school_key` (``"school:<id>"``), the app token under :data:`APP_KEY`.

Refreshing is a read-modify-write race when several workers (coroutines or
processes) share a store: two of them may refresh the same school at once, and
since the refresh token may be single-use, the loser must not overwrite the
winner. :meth:`TokenStore.compare_and_set` settles this: it writes only when the
stored token is still the one the caller started from.

Across processes, compare-and-set alone cannot stop two workers from *sending*
the refresh grant with the same refresh token (with rotating refresh tokens one
of them then gets ``invalid_grant``). :class:`LeasingTokenStore` adds token
versions, a refresh lease and a pending mark (see :mod:`._leases`), with which
exactly one worker in every process sharing the store sends each grant.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, runtime_checkable

import attrs

from .._core.errors import ConfigurationError
from ._leases import Lease, TokenRecord
from ._token import Token

__all__ = [
    "APP_KEY",
    "CallbackTokenStore",
    "LeasingTokenStore",
    "OnSet",
    "TokenStore",
    "leasing",
    "same_token",
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
        """Flag the stored token ``usable=False`` (the school revoked access); no-op if absent.

        The SDK itself no longer calls this: it marks a token unusable by
        compare-and-set on the very token whose refresh was refused, so that a
        token another worker saved meanwhile is never marked.
        """
        ...

    async def keys(self) -> list[str]:
        """Every key in the store."""
        ...

    async def get_many(self, keys: Iterable[str]) -> dict[str, Token]:
        """The tokens of the given keys that exist, in one cheap bulk load."""
        ...


@runtime_checkable
class LeasingTokenStore(TokenStore, Protocol):
    """A :class:`TokenStore` that coordinates refreshes across processes.

    Every write (``set``, ``compare_and_set``, ``mark_unusable`` and
    :meth:`replace`) bumps the key's version by one; absent keys have version
    0. All methods are atomic with respect to every process sharing the
    store. See :mod:`assembly_async.auth._leases` for the protocol.
    """

    async def read(self, key: str) -> TokenRecord | None:
        """The token under ``key`` with its version and pending mark, or None."""
        ...

    async def replace(
        self, key: str, version: int, token: Token, *, keep_pending: bool = False
    ) -> int | None:
        """Store ``token`` if the stored version is still ``version``.

        Returns the new version (``version + 1``), or None when another write
        came first. The pending mark is cleared unless ``keep_pending``.
        """
        ...

    async def set_pending(self, key: str, version: int, owner: str | None) -> bool:
        """Set (or, with None, clear) the pending mark if the version is still
        ``version`` and a token is stored; returns whether it did."""
        ...

    async def try_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """Take the refresh lease of ``key`` for ``ttl`` seconds if it is free,
        expired or already ``owner``'s (then it is renewed); else report its holder."""
        ...

    async def release_lease(self, key: str, owner: str) -> None:
        """Give the lease back, only if ``owner`` still holds it."""
        ...


def leasing(store: TokenStore) -> LeasingTokenStore | None:
    """``store`` as a :class:`LeasingTokenStore`, or None when it cannot coordinate
    refreshes across processes: it implements only :class:`TokenStore`, or it
    wraps such a store and says so with ``supports_leases = False``."""
    if not isinstance(store, LeasingTokenStore):
        return None
    if not getattr(store, "supports_leases", True):
        return None
    return store


#: ``on_set(key, token)``: awaited after each write to a :class:`CallbackTokenStore`.
OnSet = Callable[[str, Token], Awaitable[None]]


class CallbackTokenStore:
    """Wrap a store and await ``on_set(key, token)`` after every successful write.

    A hook for users who keep tokens in their own storage: mirror each new or
    refreshed token there. Called after ``set``, after a ``compare_and_set`` or
    ``replace`` that wrote, and after ``mark_unusable`` (with the now unusable
    token). The write to ``inner`` has already happened when the callback runs;
    an exception from the callback propagates to the caller.

    The wrapper coordinates refreshes across processes exactly when ``inner``
    does (``supports_leases``); the lease methods read through to it.
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

    async def mark_unusable(self, key: str, *, failed: Token | None = None) -> None:
        """Mark on ``inner``, then call ``on_set`` with the stored (unusable) token.

        With ``failed``, only while the stored token is still that one (by
        compare-and-set on ``inner``; nothing is called when it is not).
        """
        if failed is None:
            await self.inner.mark_unusable(key)
        else:
            current = await self.inner.get(key)
            if current is None or not current.usable or not same_token(current, failed):
                return
            if not await self.inner.compare_and_set(key, current,
                                                    attrs.evolve(current, usable=False)):
                return
        token = await self.inner.get(key)
        if token is not None:
            await self._on_set(key, token)

    async def keys(self) -> list[str]:
        """Read through to ``inner``."""
        return await self.inner.keys()

    async def get_many(self, keys: Iterable[str]) -> dict[str, Token]:
        """Read through to ``inner``."""
        return await self.inner.get_many(keys)

    # -- LeasingTokenStore, when ``inner`` is one ------------------------------

    @property
    def supports_leases(self) -> bool:
        """Whether ``inner`` coordinates refreshes across processes."""
        return leasing(self.inner) is not None

    def _leasing(self) -> LeasingTokenStore:
        inner = leasing(self.inner)
        if inner is None:
            raise ConfigurationError(f"{self.inner!r} does not support refresh leases")
        return inner

    async def read(self, key: str) -> TokenRecord | None:
        """Read through to ``inner``."""
        return await self._leasing().read(key)

    async def replace(
        self, key: str, version: int, token: Token, *, keep_pending: bool = False
    ) -> int | None:
        """Versioned compare-and-set on ``inner``; call ``on_set`` only when it wrote."""
        written = await self._leasing().replace(key, version, token, keep_pending=keep_pending)
        if written is not None:
            await self._on_set(key, token)
        return written

    async def set_pending(self, key: str, version: int, owner: str | None) -> bool:
        """Read through to ``inner`` (no token changes, no callback)."""
        return await self._leasing().set_pending(key, version, owner)

    async def try_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """Read through to ``inner``."""
        return await self._leasing().try_lease(key, owner, ttl)

    async def release_lease(self, key: str, owner: str) -> None:
        """Read through to ``inner``."""
        await self._leasing().release_lease(key, owner)
