"""The fake's school tokens as the SDK's :class:`Token`, and into a token store."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..auth import Token, TokenStore, school_key

if TYPE_CHECKING:
    from .server import FakeAssembly

__all__ = ["sdk_token", "store_school_tokens"]


def sdk_token(fake: FakeAssembly, school_id: int, *, now: float | None = None) -> Token:
    """The fake's current token pair of a school as an SDK :class:`Token`."""
    pair = fake.school_token(school_id)
    now = time.time() if now is None else now
    return Token(access_token=pair.access_token, refresh_token=pair.refresh_token,
                 token_type="bearer", level="school", expires_at=now + pair.expires_in,
                 school_id=school_id, scopes=tuple(pair.scopes))


async def store_school_tokens(fake: FakeAssembly, store: TokenStore) -> list[int]:
    """Put every school's token of ``fake`` into ``store``; returns the school ids."""
    now = time.time()
    for school_id in fake.school_ids:
        await store.set(school_key(school_id), sdk_token(fake, school_id, now=now))
    return list(fake.school_ids)
