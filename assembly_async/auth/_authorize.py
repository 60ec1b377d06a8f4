"""Sans-I/O OAuth, the browser half: the authorisation URL, its state, scopes,
and reading the redirect back (CONCEPTS "OAuth grants", "Scopes").

Scopes are space separated (``+`` in the URL), each ``name:required`` or
``name:optional``; a bare name means required. The state is made with
:mod:`secrets` and compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import attrs

from .._core.errors import ConfigurationError, OAuthError
from ._oauth import OAuthHosts, _base_of, _excerpt, _require_text

__all__ = [
    "Scope",
    "ScopeLike",
    "authorization_url",
    "check_state",
    "make_state",
    "parse_callback",
]

# ---------------------------------------------------------------------------
# state


def make_state(nbytes: int = 32) -> str:
    """A fresh anti-CSRF ``state`` value (URL-safe, ``nbytes`` of randomness)."""
    if nbytes < 16:
        raise ConfigurationError("state needs at least 16 bytes of randomness")
    return secrets.token_urlsafe(nbytes)


def check_state(expected: str | None, received: str | None) -> bool:
    """Compare the ``state`` sent with the one the redirect brought back, in constant time.

    False when either is missing or empty. Both are compared as UTF-8 bytes, so
    a non-ASCII value from the query string cannot make the comparison raise.
    """
    if not expected or not received:
        return False
    if not isinstance(expected, str) or not isinstance(received, str):
        return False
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8"))


# ---------------------------------------------------------------------------
# scopes and the authorisation URL


def _check_scope_name(_inst: Any, _attr: attrs.Attribute[str], name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise ConfigurationError("a scope name must be a non-empty string")
    if any(ch.isspace() for ch in name) or ":" in name:
        raise ConfigurationError(
            f"invalid scope name {name!r}: no spaces, and ':' only before required/optional"
        )


@attrs.frozen
class Scope:
    """One requested scope; ``optional=True`` shows the school an unticked box.

    ``str(Scope("students.basic"))`` is ``"students.basic:required"``.
    """

    name: str = attrs.field(validator=_check_scope_name)
    optional: bool = False

    def __str__(self) -> str:
        return f"{self.name}:{'optional' if self.optional else 'required'}"

    @classmethod
    def parse(cls, value: ScopeLike) -> Scope:
        """Accept ``Scope``, ``"name"``, ``"name:required"``, ``"name:optional"``,
        ``("name", "optional")`` or ``("name", True)`` (True meaning optional)."""
        if isinstance(value, Scope):
            return value
        if isinstance(value, str):
            name, sep, suffix = value.partition(":")
            if not sep:
                return cls(name)
            return cls(name, optional=_optional_flag(suffix, value))
        if isinstance(value, tuple) and len(value) == 2:
            name, flag = value
            if isinstance(flag, bool):
                return cls(name, optional=flag)
            if isinstance(flag, str):
                return cls(name, optional=_optional_flag(flag, value))
        raise ConfigurationError(f"cannot read {value!r} as a scope")


ScopeLike = str | Scope | tuple[str, str] | tuple[str, bool]


def _optional_flag(suffix: str, original: object) -> bool:
    if suffix == "optional":
        return True
    if suffix == "required":
        return False
    raise ConfigurationError(f"scope {original!r}: the suffix must be 'required' or 'optional'")


def _scope_list(scopes: Iterable[ScopeLike] | str) -> list[Scope]:
    items: Iterable[ScopeLike] = scopes.split() if isinstance(scopes, str) else scopes
    result: list[Scope] = []
    by_name: dict[str, Scope] = {}
    for item in items:
        scope = Scope.parse(item)
        seen = by_name.get(scope.name)
        if seen is None:
            by_name[scope.name] = scope
            result.append(scope)
        elif seen != scope:
            raise ConfigurationError(f"scope {scope.name!r} requested both required and optional")
    if not result:
        raise ConfigurationError("at least one scope is needed")
    return result


def authorization_url(
    *,
    oauth_base: str | OAuthHosts,
    client_id: str,
    redirect_uri: str,
    scopes: Iterable[ScopeLike] | str,
    state: str,
) -> str:
    """The URL to send a school's browser to, so it can approve the app.

    ``GET /oauth/authorize?client_id&redirect_uri&scope&state``; the scope list
    is space separated and encoded as ``+``, each entry ``name:required`` or
    ``name:optional`` (a bare name means required). The redirect comes back to
    ``redirect_uri?code=…&state=…``: check it with :func:`parse_callback`.
    """
    hosts = _base_of(oauth_base)
    _require_text(client_id, "client_id")
    _require_text(redirect_uri, "redirect_uri")
    _require_text(state, "state")
    scope_text = " ".join(str(s) for s in _scope_list(scopes))
    query = "&".join(
        [
            f"client_id={quote_plus(client_id, safe='')}",
            f"redirect_uri={quote_plus(redirect_uri, safe='')}",
            # ':' is legal in a query and keeps "name:optional" readable, as documented.
            f"scope={quote_plus(scope_text, safe=':')}",
            f"state={quote_plus(state, safe='')}",
        ]
    )
    return f"{hosts.authorize_url}?{query}"


def parse_callback(query: str | Mapping[str, str], *, expected_state: str) -> str:
    """Check the redirect back from ``/oauth/authorize`` and return the ``code``.

    ``query`` is the full redirect URL, its query string, or already parsed
    parameters. Raises :class:`OAuthError` when the state does not match
    (``error="state_mismatch"``), when the school refused (the ``error`` the
    server sent, e.g. ``access_denied``), or when no code came back. Messages
    never contain the code or the state.
    """
    if isinstance(query, str):
        text = query.split("#", 1)[0]
        if "?" in text:
            text = text.split("?", 1)[1]
        params = dict(parse_qsl(text, keep_blank_values=True))
    else:
        params = dict(query)
    if not check_state(expected_state, params.get("state")):
        raise OAuthError(
            "the state in the OAuth redirect does not match the one sent (possible CSRF)",
            error="state_mismatch",
        )
    error = params.get("error")
    if error:
        description = params.get("error_description") or params.get("message") or ""
        detail = f": {_excerpt(description, ())}" if description else ""
        raise OAuthError(f"authorisation was not granted ({error}){detail}", error=error)
    code = params.get("code")
    if not code:
        raise OAuthError("the OAuth redirect carries no code", error="missing_code")
    return code
