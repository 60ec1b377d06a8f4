"""Refresh coordination across processes: token versions, pending grants, leases.

A token store shared by several processes (or machines) needs more than
compare-and-set to refresh safely when the provider rotates refresh tokens:
two workers that both send the grant with the same refresh token turn it into
one new token and one ``invalid_grant``. A ``LeasingTokenStore``
(:mod:`assembly_async.auth._stores`) adds what
:mod:`assembly_async.auth._refresh` needs to send each grant once:

* a **version** per key, bumped by every write (``set``, ``compare_and_set``,
  ``mark_unusable``, :meth:`~LeasingTokenStore.replace`); the refreshed token
  is saved by compare-and-set on the version it was refreshed from, and
  correctness rests on that check alone;
* a **lease** per key (owner id, expiry in the store's own clock): the holder
  is the one worker allowed to send the grant; a dead holder is survived when
  its lease expires;
* a **pending** mark: the owner id of a grant that was sent and whose answer
  was not recorded (yet). The next holder that finds it knows the server may
  already have rotated the refresh token; if that token is then refused, the
  refresh was *interrupted*, not revoked.

The built-in stores (memory, SQLite, Redis) implement it. A store that
implements only ``TokenStore`` still works, with a refresh that is
single-flight inside one process only. This module holds the values the
protocol's methods return.
"""

from __future__ import annotations

import attrs

from ._token import Token

__all__ = ["Lease", "TokenRecord"]


@attrs.frozen
class TokenRecord:
    """A stored token with its version and pending mark.

    ``version`` is 0 for a token written by code that predates versions (an
    older SQLite file) and grows by one with every write. ``pending`` is the
    owner id of a refresh grant that was sent from this version and whose
    answer was not saved; it is cleared by the next write unless the writer
    keeps it (a token marked unusable after an interrupted refresh keeps it,
    so that every worker can tell "interrupted" from "revoked").
    """

    token: Token
    version: int
    pending: str | None = None


@attrs.frozen
class Lease:
    """The answer to :meth:`LeasingTokenStore.try_lease`.

    ``acquired`` says whether the caller holds the lease now; ``holder`` is the
    owner id of whoever holds it (None when free); ``remaining`` is how many
    seconds the holder's lease has left, as measured by the store's clock.
    """

    acquired: bool
    holder: str | None
    remaining: float
