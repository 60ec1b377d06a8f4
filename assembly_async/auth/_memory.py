"""The in-process token store (tests, scripts, short-lived jobs)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable

import attrs

from ._leases import Lease, TokenRecord
from ._stores import same_token
from ._token import Token

__all__ = ["MemoryTokenStore"]


class MemoryTokenStore:
    """A per-instance, in-process store (tests, scripts, short-lived jobs).

    Nothing survives the process. Each instance has its own dict and lock;
    there is no module-level state. It implements the whole
    :class:`LeasingTokenStore` protocol (versions, leases timed by ``clock``,
    pending marks), so several clients in one process that share it send one
    refresh grant between them.
    """

    def __init__(
        self,
        tokens: dict[str, Token] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens: dict[str, Token] = dict(tokens or {})
        self._versions: dict[str, int] = dict.fromkeys(self._tokens, 1)
        self._pending: dict[str, str] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._clock = clock
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MemoryTokenStore({len(self._tokens)} tokens)"

    def _write(self, key: str, token: Token, *, keep_pending: bool = False) -> int:
        self._tokens[key] = token
        version = self._versions[key] = self._versions.get(key, 0) + 1
        if not keep_pending:
            self._pending.pop(key, None)
        return version

    async def get(self, key: str) -> Token | None:
        """The token under ``key``, or None."""
        return self._tokens.get(key)

    async def set(self, key: str, token: Token) -> None:
        """Store ``token`` under ``key``."""
        async with self._lock:
            self._write(key, token)

    async def compare_and_set(self, key: str, expected: Token | None, new: Token) -> bool:
        """Store ``new`` only if the current token is ``expected`` (by access token)."""
        async with self._lock:
            if not same_token(self._tokens.get(key), expected):
                return False
            self._write(key, new)
            return True

    async def mark_unusable(self, key: str, *, failed: Token | None = None) -> None:
        """Flag the token under ``key`` as unusable; no-op if there is none, or
        if ``failed`` is given and the stored token is no longer that one."""
        async with self._lock:
            current = self._tokens.get(key)
            if current is None or not current.usable:
                return
            if failed is not None and not same_token(current, failed):
                return
            self._write(key, attrs.evolve(current, usable=False), keep_pending=True)

    async def delete(self, key: str) -> bool:
        """Remove the token under ``key``; returns whether there was one. The
        key's version still moves on, so a refresh in flight cannot write the
        removed token back."""
        async with self._lock:
            if self._tokens.pop(key, None) is None:
                return False
            self._versions[key] = self._versions.get(key, 0) + 1
            self._pending.pop(key, None)
            return True

    async def keys(self) -> list[str]:
        """All keys, sorted."""
        return sorted(self._tokens)

    async def get_many(self, keys: Iterable[str]) -> dict[str, Token]:
        """The tokens of ``keys`` that exist."""
        tokens = self._tokens
        return {key: tokens[key] for key in keys if key in tokens}

    # -- LeasingTokenStore ---------------------------------------------------

    async def read(self, key: str) -> TokenRecord | None:
        """The token under ``key`` with its version and pending mark."""
        token = self._tokens.get(key)
        if token is None:
            return None
        return TokenRecord(token, self._versions.get(key, 0), self._pending.get(key))

    async def replace(
        self, key: str, version: int, token: Token, *, keep_pending: bool = False
    ) -> int | None:
        """Store ``token`` if the version is still ``version``; the new version or None."""
        async with self._lock:
            if self._versions.get(key, 0) != version:
                return None
            return self._write(key, token, keep_pending=keep_pending)

    async def set_pending(self, key: str, version: int, owner: str | None) -> bool:
        """Set or clear the pending mark if the version is still ``version``."""
        async with self._lock:
            if key not in self._tokens or self._versions.get(key, 0) != version:
                return False
            if owner is None:
                self._pending.pop(key, None)
            else:
                self._pending[key] = owner
            return True

    async def try_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """Take (or renew) the lease unless another owner holds an unexpired one."""
        async with self._lock:
            now = self._clock()
            holder, until = self._leases.get(key, (None, -math.inf))
            if holder is not None and holder != owner and until > now:
                return Lease(False, holder, until - now)
            self._leases[key] = (owner, now + ttl)
            return Lease(True, owner, ttl)

    async def release_lease(self, key: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it."""
        async with self._lock:
            if self._leases.get(key, (None, 0.0))[0] == owner:
                del self._leases[key]
