"""Refreshing a school's token once, for every process that shares the token store.

:class:`Refresher` runs one refresh of one school for its
:class:`~assembly_async.auth._managers.SchoolTokenManager`, which already makes
it single-flight inside the process. Across processes it depends on the store:

With a :class:`LeasingTokenStore` (memory, SQLite, Redis):

1. Read the record. A newer usable token that is not about to expire (another
   worker refreshed) is used as it is; an unusable one raises.
2. Take the school's lease (owner id, ``lease_ttl`` seconds in the store's
   clock). Without it, poll the version (20 ms growing to 250 ms) until it
   moves or the holder's lease runs out, then start again: a dead holder is
   survived by expiry.
3. Holding the lease, re-read; the version must not have moved. Record
   ``pending`` (our owner id) before sending, then send the grant, bounded by
   ``grant_timeout`` so that it ends while the lease is still ours.
4. Save the new token by compare-and-set on the version (clearing
   ``pending``) before anything else uses it; release the lease.

Correctness rests on the version compare-and-set, not on the lease: a holder
whose lease expired under it can send a second grant, but only one token is
ever saved. The manager runs all of this in a task shielded from the callers,
so a caller cancelled mid-grant never loses a rotated token.

Honest states when the grant answers ``invalid_grant``:

* the store moved on (another worker refreshed): use the newer token;
* ``pending`` was already set when we took the lease (an earlier grant from
  this token was sent and its answer lost, so the server may have rotated the
  refresh token): :class:`RefreshInterrupted`; the token is marked unusable
  with ``pending`` kept, so every worker tells the same story;
* otherwise the refresh token is still the current one and was refused: the
  school revoked access. The token is marked unusable by compare-and-set on
  its version and :class:`SchoolAuthRevoked` is raised.

With a store that implements only :class:`TokenStore`, the refresh is
single-flight inside one process only; across processes two workers may send
the grant at once. The loser's ``invalid_grant`` is still not taken for
revocation when the store already holds another token, and a token is only
ever marked unusable by compare-and-set on the token that was refused; but
a loser that reads the store before the winner saved will report
:class:`SchoolAuthRevoked` and mark the token (the winner then overwrites that
mark with its token). Use a :class:`LeasingTokenStore` when several processes
share tokens and the provider rotates refresh tokens.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import attrs

from .._core.errors import (
    AssemblyError,
    OAuthError,
    RefreshInterrupted,
    RequestTimeout,
    SchoolAuthRevoked,
    TokenUnavailable,
    TransportError,
)
from ._leases import TokenRecord
from ._stores import LeasingTokenStore, TokenStore, leasing, same_token
from ._token import Token

__all__ = ["Granter", "Refresher", "new_owner_id"]

log = logging.getLogger("assembly_async.auth")

#: First and longest pause between two polls of a waiter (seconds).
_POLL_FIRST, _POLL_MAX = 0.02, 0.25
#: Rounds of the store-only (lease-less) refresh before giving up on a store that keeps changing.
_UNLEASED_ROUNDS = 4


class Granter(Protocol):
    """What sends the refresh grant (:class:`~assembly_async.auth._managers.OAuthClient`)."""

    async def refresh(self, token: Token) -> Token: ...


def new_owner_id() -> str:
    """A lease owner id: host, process id and a random part (no secret in it)."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


#: Error statuses after which the token endpoint surely did not use the grant: it
#: refused it (4xx) or a proxy/limiter turned it away. A 500 may come after the
#: server rotated the refresh token, so it is not one of them.
_REFUSED = frozenset({400, 401, 403, 404, 405, 409, 415, 422, 429, 502, 503, 504})


def _surely_not_granted(exc: AssemblyError) -> bool:
    """True when the grant certainly did not happen: the token endpoint refused
    it (a 4xx, 429, 502/503/504), or the request never left this machine."""
    if isinstance(exc, OAuthError):
        return exc.status in _REFUSED
    if isinstance(exc, TransportError):
        return not exc.request_sent
    return False


@attrs.define
class Refresher:
    """One school's refresh, single-flight across every process sharing ``store``.

    ``lease_ttl`` bounds how long a dead holder delays the others; the grant
    is sent only while the lease has at least ``grant_timeout`` + a margin
    left, and is cut off after ``grant_timeout`` seconds.
    """

    school_id: int
    key: str
    store: TokenStore
    granter: Granter | None
    leeway: float = 300.0
    lease_ttl: float = 70.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    owner: str = attrs.field(factory=new_owner_id)
    #: Refresh grants this refresher sent that were answered with a token.
    grants: int = 0

    @property
    def margin(self) -> float:
        """Slack kept between the grant's timeout and the lease's end."""
        return min(5.0, self.lease_ttl / 6)

    @property
    def grant_timeout(self) -> float:
        """The longest a grant may take: the lease minus two margins."""
        return self.lease_ttl - 2 * self.margin

    async def run(self, stale: Token) -> Token:
        """A token newer than ``stale``: refreshed here, or by another worker."""
        store = leasing(self.store)
        if store is None:
            return await self._unleased(stale)
        return await self._leased(store, stale)

    # -- states ------------------------------------------------------------------

    def unusable(self, record: TokenRecord | None) -> TokenUnavailable:
        """The error for a token marked unusable (interrupted if ``pending`` is kept)."""
        sid = self.school_id
        if record is not None and record.pending is not None:
            return RefreshInterrupted(
                f"school {sid}: a refresh of its token was interrupted after the grant was"
                " sent (the worker died or lost the answer) and the refresh token it used"
                " is now refused, so no working token is left. Re-authorise the school:"
                " have its admin approve the app again and exchange the new code"
                " (AssemblyClient.exchange_code); that makes it usable again.",
                school_id=sid,
            )
        return TokenUnavailable(
            f"school {sid} revoked access; its token is marked unusable (a new code"
            " exchange makes it usable again)")

    def _adoptable(self, record: TokenRecord | None, stale: Token) -> Token | None:
        """The stored token if it can be used instead of refreshing; None to refresh
        it. Raises when there is none or it is unusable."""
        if record is None:
            raise TokenUnavailable(f"no token stored for school {self.school_id}")
        token = record.token
        if not token.usable:
            raise self.unusable(record)
        if (token.access_token != stale.access_token
                and not token.expires_within(self.leeway, self.clock())):
            return token  # another worker refreshed and saved it
        if self.granter is None:
            raise TokenUnavailable(
                f"school {self.school_id}: the token expired and no client credentials "
                "were given to refresh it")
        return None

    async def _grant(self, token: Token) -> Token:
        assert self.granter is not None  # checked by _adoptable
        if not token.refresh_token:
            raise TokenUnavailable(f"school {self.school_id}: the token has no refresh token")
        try:
            new = await asyncio.wait_for(self.granter.refresh(token), self.grant_timeout)
        except asyncio.TimeoutError:
            raise RequestTimeout(
                f"the refresh grant of school {self.school_id} took longer than"
                f" {self.grant_timeout:g}s", method="POST", url="(token endpoint)",
            ) from None
        self.grants += 1
        return new

    # -- with a LeasingTokenStore ---------------------------------------------------

    async def _leased(self, store: LeasingTokenStore, stale: Token) -> Token:
        waited, patience = 0.0, 3 * self.lease_ttl
        while True:
            record = await store.read(self.key)
            adopted = self._adoptable(record, stale)
            if adopted is not None:
                return adopted
            assert record is not None
            lease = await store.try_lease(self.key, self.owner, self.lease_ttl)
            if not lease.acquired:
                if waited >= patience:
                    raise TokenUnavailable(
                        f"school {self.school_id}: the token was not refreshed within"
                        f" {waited:.0f}s; another worker holds the refresh lease")
                waited += await self._wait(store, record.version, lease.remaining)
                continue
            try:
                if lease.remaining >= self.grant_timeout + self.margin:
                    token = await self._hold(store, record.version)
                    if token is not None:
                        return token
                    continue  # the record moved: start again from it
            finally:
                await self._release(store)
            # A lease too short for a grant (a store whose clock or rounding
            # disagrees): try again after a pause, never in a tight loop.
            if waited >= patience:
                raise TokenUnavailable(
                    f"school {self.school_id}: the token store's refresh leases are too "
                    f"short for a grant ({lease.remaining:.1f}s of {self.lease_ttl:g}s)")
            await self.sleep(_POLL_MAX)
            waited += _POLL_MAX

    async def _release(self, store: LeasingTokenStore) -> None:
        # Never mask the refresh's own outcome; an unreleased lease just expires.
        try:
            await store.release_lease(self.key, self.owner)
        except Exception:
            log.warning("school %s: could not release the refresh lease", self.school_id,
                        exc_info=True)

    async def _wait(self, store: LeasingTokenStore, version: int, remaining: float) -> float:
        """Poll until the version moves, or the holder's lease ends or is given
        up (its grant failed without a new token: a 503, a timeout); the
        seconds waited. Without the lease check every other worker would sit
        out the rest of a released lease (70 s by default)."""
        started = time.monotonic()
        limit = max(remaining, 0.0) + 0.05
        delay = _POLL_FIRST
        while (elapsed := time.monotonic() - started) < limit:
            await self.sleep(min(delay, limit - elapsed))
            record = await store.read(self.key)
            if record is None or record.version != version:
                break
            if (await store.try_lease(self.key, self.owner, self.lease_ttl)).acquired:
                await self._release(store)  # free: the caller's loop takes it again
                break
            delay = min(delay * 1.5, _POLL_MAX)
        return time.monotonic() - started

    async def _hold(self, store: LeasingTokenStore, version: int) -> Token | None:
        """Refresh while holding the lease; None when the record moved (start again)."""
        record = await store.read(self.key)
        if record is None or record.version != version:
            return None
        if not record.token.usable:
            raise self.unusable(record)
        interrupted = record.pending is not None
        if not record.token.refresh_token:
            raise TokenUnavailable(f"school {self.school_id}: the token has no refresh token")
        if not await store.set_pending(self.key, version, self.owner):
            return None
        try:
            new = await self._grant(record.token)
        except SchoolAuthRevoked as exc:
            return await self._refused(store, record, interrupted, exc)
        except AssemblyError as exc:
            if _surely_not_granted(exc) and not interrupted:
                await store.set_pending(self.key, version, None)
            raise
        # Saved before anything else uses it (and before the lease is released).
        if await store.replace(self.key, version, new) is not None:
            return new
        return await self._lost_race(store, new)

    async def _refused(self, store: LeasingTokenStore, record: TokenRecord,
                       interrupted: bool, exc: SchoolAuthRevoked) -> Token | None:
        """``invalid_grant`` for ``record``'s refresh token: which honest state is it?"""
        again = await store.read(self.key)
        if again is None or again.version != record.version:
            return None  # the store moved on meanwhile: start again from it
        token = record.token
        failed = attrs.evolve(token, usable=False)
        if interrupted:
            if await store.replace(self.key, record.version, failed, keep_pending=True) is None:
                return None
            log.warning("school %s: refresh interrupted earlier; token marked unusable",
                        self.school_id)
            raise self.unusable(attrs.evolve(record, pending=self.owner)) from exc
        if await store.replace(self.key, record.version, failed) is None:
            return None
        log.warning("school %s revoked access: token marked unusable", self.school_id)
        raise exc

    async def _lost_race(self, store: LeasingTokenStore, new: Token) -> Token | None:
        """Our grant succeeded but another write came first (our lease ran out, or a
        code exchange): keep a usable stored token, else save ours over the mark."""
        for _ in range(2):
            again = await store.read(self.key)
            if again is None:
                return None
            if again.token.usable:
                log.info("school %s: another worker saved a token meanwhile; using it",
                         self.school_id)
                return None  # the next round adopts (or refreshes) it
            if await store.replace(self.key, again.version, new) is not None:
                return new
        return None

    # -- with a plain TokenStore ---------------------------------------------------------

    async def _unleased(self, stale: Token) -> Token:
        store = self.store
        for _ in range(_UNLEASED_ROUNDS):
            stored = await store.get(self.key)
            record = None if stored is None else TokenRecord(stored, 0)
            adopted = self._adoptable(record, stale)
            if adopted is not None:
                return adopted
            assert stored is not None
            try:
                new = await self._grant(stored)
            except SchoolAuthRevoked:
                again = await store.get(self.key)
                if again is not None and not same_token(again, stored):
                    continue  # another worker refreshed: adopt its token next round
                if await store.compare_and_set(self.key, stored,
                                               attrs.evolve(stored, usable=False)):
                    log.warning("school %s revoked access: token marked unusable",
                                self.school_id)
                    raise
                continue
            if await store.compare_and_set(self.key, stored, new):
                return new
            again = await store.get(self.key)
            if again is not None and again.usable:
                log.info("school %s: another worker saved a token meanwhile; using it",
                         self.school_id)
                stale = stored
                continue
            if await store.compare_and_set(self.key, again, new):
                return new
        raise TokenUnavailable(
            f"school {self.school_id}: the token store kept changing during the refresh")
