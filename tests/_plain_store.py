"""A token store written against the old protocol only (no versions, no leases)."""

from __future__ import annotations

from typing import Any

from assembly_async.auth import MemoryTokenStore, Token


class PlainStore:
    """A user's store written against the old protocol only."""

    def __init__(self) -> None:
        self.inner = MemoryTokenStore()

    async def get(self, key: str) -> Token | None:
        return await self.inner.get(key)

    async def set(self, key: str, tok: Token) -> None:
        await self.inner.set(key, tok)

    async def compare_and_set(self, key: str, expected: Token | None, new: Token) -> bool:
        return await self.inner.compare_and_set(key, expected, new)

    async def mark_unusable(self, key: str) -> None:
        await self.inner.mark_unusable(key)

    async def keys(self) -> list[str]:
        return await self.inner.keys()

    async def get_many(self, keys: Any) -> dict[str, Token]:
        return await self.inner.get_many(keys)
