"""The :class:`Token` value type.

A token is immutable: refreshing produces a new :class:`Token`, which token
stores swap in atomically (see :meth:`TokenStore.compare_and_set`).

Secrets (``access_token``, ``refresh_token``) never appear in ``repr()`` or
``str()``; :meth:`Token.to_dict` is the only place they are written out, for
token stores.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

import attrs

from .._core.errors import DecodeError, OAuthError

__all__ = ["REDACTED", "Token", "TokenLevel"]

#: What a secret is replaced with wherever text is shown to people.
REDACTED = "<redacted>"

TokenLevel = Literal["school", "app"]
_LEVELS: tuple[str, ...] = ("school", "app")

#: Version of the :meth:`Token.to_dict` layout, stored with each token.
_DICT_VERSION = 1


def _secret_repr(value: str | None) -> str:
    return "None" if value is None else REDACTED


def _check_access_token(_inst: Any, _attr: attrs.Attribute[str], value: Any) -> None:
    # Hand-written (not attrs.validators.instance_of) so that the message
    # never contains the value itself.
    if not isinstance(value, str) or not value:
        raise ValueError("access_token must be a non-empty string")


def _check_refresh_token(_inst: Any, _attr: attrs.Attribute[str | None], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError("refresh_token must be a non-empty string or None")


def _check_level(_inst: Any, _attr: attrs.Attribute[str], value: Any) -> None:
    if value not in _LEVELS:
        raise ValueError(f"level must be 'school' or 'app', not {value!r}")


def _check_expires_at(_inst: Any, _attr: attrs.Attribute[float | None], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"expires_at must be a number or None, not {type(value).__name__}")


def _check_school_id(_inst: Any, _attr: attrs.Attribute[int | None], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"school_id must be an int or None, not {type(value).__name__}")


def _to_scopes(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ValueError("scopes must be a sequence of names, not a single string")
    scopes = tuple(value)
    for scope in scopes:
        if not isinstance(scope, str):
            raise ValueError(f"scopes must be strings, not {type(scope).__name__}")
    return scopes


@attrs.frozen
class Token:
    """An OAuth access token as issued by ``POST /oauth/token``.

    ``expires_at`` is an absolute UNIX time (``time.time()`` clock); ``None``
    means the token never expires, which is how app tokens are issued today.
    ``usable`` turns False once the school revoked access (a refresh answered
    ``invalid_grant``); such a token is kept so that the store remembers why
    the school has no working token.
    """

    access_token: str = attrs.field(repr=_secret_repr, validator=_check_access_token)
    refresh_token: str | None = attrs.field(repr=_secret_repr, validator=_check_refresh_token)
    token_type: str
    level: TokenLevel = attrs.field(validator=_check_level)
    expires_at: float | None = attrs.field(validator=_check_expires_at)
    school_id: int | None = attrs.field(validator=_check_school_id)
    scopes: tuple[str, ...] = attrs.field(default=(), converter=_to_scopes)
    usable: bool = True

    # -- time -------------------------------------------------------------

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """True if the token expires within ``seconds`` from ``now`` (default: the clock).

        Used to refresh a little before expiry, so that a request is never sent
        with a token that dies on the way. Never-expiring tokens answer False.
        """
        if self.expires_at is None:
            return False
        if now is None:
            now = time.time()
        return self.expires_at - now <= seconds

    def is_expired(self, now: float | None = None) -> bool:
        """True if ``expires_at`` has passed."""
        return self.expires_within(0, now)

    def authorization_header(self) -> str:
        """The ``Authorization`` header value for API calls (``Bearer …``)."""
        return f"Bearer {self.access_token}"

    # -- parsing the token endpoint's answer --------------------------------

    @classmethod
    def from_response(
        cls,
        body: Mapping[str, Any],
        *,
        now: float,
        previous: Token | None = None,
    ) -> Token:
        """Build a token from a decoded ``OAuthTokenResponse`` body.

        ``now`` is the time the response arrived, so ``expires_at = now +
        expires_in``; a null or missing ``expires_in`` means "never expires".
        ``previous`` is the token being refreshed: the API documents no new
        ``refresh_token`` on refresh, so the previous one is kept, and
        ``school_id``/``scopes`` fall back to the previous values when absent.

        Raises :class:`OAuthError` naming the offending field (never its value)
        when the body does not fit.
        """
        if not isinstance(body, Mapping):
            raise OAuthError("token response is not a JSON object")

        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise OAuthError("token response has no access_token")

        refresh_token = body.get("refresh_token")
        if refresh_token in (None, ""):
            refresh_token = previous.refresh_token if previous is not None else None
        elif not isinstance(refresh_token, str):
            raise OAuthError(
                f"token response field refresh_token is a {type(refresh_token).__name__},"
                " expected a string"
            )

        token_type = body.get("token_type")
        if token_type is None:
            token_type = previous.token_type if previous is not None else "bearer"
        if not isinstance(token_type, str):
            raise OAuthError("token response field token_type is not a string")

        school_id = _read_int(body, "school_id")
        if school_id is None and previous is not None:
            school_id = previous.school_id

        level = body.get("level")
        if level is None:
            if previous is not None:
                level = previous.level
            else:
                level = "school" if school_id is not None else "app"
        if level not in _LEVELS:
            raise OAuthError(f"token response field level is {level!r}, expected 'school' or 'app'")

        expires_in = _read_number(body, "expires_in")
        expires_at = None if expires_in is None else now + expires_in

        scopes = _read_scopes(body)
        if scopes is None:
            scopes = previous.scopes if previous is not None else ()

        return cls(
            access_token=access_token,
            refresh_token=refresh_token,
            token_type=token_type,
            level=cast(TokenLevel, level),
            expires_at=expires_at,
            school_id=school_id,
            scopes=scopes,
        )

    # -- storage ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field, secrets included (for token stores only)."""
        return {
            "v": _DICT_VERSION,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "level": self.level,
            "expires_at": self.expires_at,
            "school_id": self.school_id,
            "scopes": list(self.scopes),
            "usable": self.usable,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        """Inverse of :meth:`to_dict`; raises :class:`DecodeError` (without secrets) if invalid."""
        if not isinstance(data, Mapping):
            raise DecodeError("stored token is not an object", schema="Token")
        version = data.get("v", _DICT_VERSION)
        if version != _DICT_VERSION:
            raise DecodeError(f"unknown stored token version {version!r}", schema="Token")
        for name in ("access_token", "token_type", "level"):
            if name not in data:
                raise DecodeError("missing field", schema="Token", path=f"$.{name}")
        usable = data.get("usable", True)
        if not isinstance(usable, bool):
            raise DecodeError("expected a boolean", schema="Token", path="$.usable")
        token_type = data["token_type"]
        if not isinstance(token_type, str):
            raise DecodeError("expected a string", schema="Token", path="$.token_type")
        try:
            return cls(
                access_token=data["access_token"],
                refresh_token=data.get("refresh_token"),
                token_type=token_type,
                level=data["level"],
                expires_at=data.get("expires_at"),
                school_id=data.get("school_id"),
                scopes=data.get("scopes") or (),
                usable=usable,
            )
        except (TypeError, ValueError) as exc:
            # Our validators never put secret values in their messages.
            raise DecodeError(str(exc), schema="Token") from None


def _read_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise OAuthError(f"token response field {name} is a boolean, expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        try:  # "²".isdigit() is True, yet int("²") raises ValueError
            return int(value)
        except ValueError:
            pass
    raise OAuthError(f"token response field {name} is not an integer")


def _read_number(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise OAuthError(f"token response field {name} is a boolean, expected a number")
    number: float | None = None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is not None and math.isfinite(number):
        return number
    raise OAuthError(f"token response field {name} is not a number")


def _read_scopes(body: Mapping[str, Any]) -> tuple[str, ...] | None:
    """``scopes`` as documented (a list); RFC 6749's space-separated ``scope`` is also accepted."""
    value = body.get("scopes")
    if value is None:
        value = body.get("scope")
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise OAuthError("token response field scopes is not a list of strings")
