"""Sans-I/O OAuth for the Assembly Platform: build requests, read answers.

Nothing here sends anything. The functions build :class:`TokenRequest` values
(method, URL, headers, grant parameters) for the three grants;
:mod:`._token_response` turns the token endpoint's raw answer (status,
headers, bytes) into a :class:`Token` or an exception. The HTTP layer does the
sending, which keeps this module testable without a network and usable from
any client.

Facts from ``docs/CONCEPTS.md`` (OAuth grants, Hosts, Scopes):

* all grants are ``POST {oauth host}/oauth/token`` with HTTP Basic
  ``client_id:client_secret`` and ``Accept: application/json``; the grant
  parameters go in a form-encoded body by default (the official Ruby client
  does this; the documentation shows the query string, which stays
  selectable with ``params_in="query"``): a body never ends up in a proxy's
  access log, in aiohttp's exception texts or in a URL anyone prints;
* the OAuth host differs from the API host; the sandbox OAuth host is
  ``platform-sandbox`` (one source says ``sandbox``), so it can be overridden;
* the browser half (authorisation URL, state, scopes) is in ``_authorize``.

Secrets (client secret, code, refresh and access tokens) never appear in a
``repr``, ``str`` or exception message produced here; :func:`redact` is the
shared helper other layers use for their log lines.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import quote, quote_plus, urlencode, urlsplit

import attrs
from yarl import URL

from .._core.config import is_loopback
from .._core.errors import ConfigurationError
from ._token import REDACTED

__all__ = [
    "PRODUCTION_OAUTH_BASE",
    "SANDBOX_OAUTH_BASE",
    "GrantType",
    "OAuthHosts",
    "ParamsIn",
    "TokenRequest",
    "client_credentials_grant",
    "code_grant",
    "redact",
    "refresh_grant",
]

PRODUCTION_OAUTH_BASE = "https://platform.assembly.education"
SANDBOX_OAUTH_BASE = "https://platform-sandbox.assembly.education"

GrantType = Literal["authorization_code", "refresh_token", "client_credentials"]
#: Where the grant parameters travel: the form body (default) or the query string.
ParamsIn = Literal["body", "query"]

#: How much of an error body or description goes into an exception message.
_EXCERPT = 200
#: Query parameters whose values are secrets.
_SECRET_PARAMS = frozenset({"code", "refresh_token", "client_secret", "access_token"})
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


# ---------------------------------------------------------------------------
# redaction


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``<redacted>``.

    The URL-encoded forms of each secret are replaced too, so a secret inside a
    logged URL is caught. Empty and None secrets are ignored. A single regex
    pass is used, so a short secret cannot match inside an earlier replacement.
    """
    variants: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        variants.update((secret, quote(secret, safe=""), quote_plus(secret, safe="")))
    if not variants or not text:
        return text
    pattern = "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))
    return re.sub(pattern, REDACTED, text)


def _excerpt(text: str, hidden: Iterable[str | None], limit: int = _EXCERPT) -> str:
    """Redact first, then collapse whitespace and truncate (so no secret is cut in half)."""
    flat = " ".join(redact(text, hidden).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# ---------------------------------------------------------------------------
# hosts


def _normalise_base(url: str, what: str = "oauth_base") -> str:
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{what} must be a non-empty URL string")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigurationError(f"{what} must be an absolute http(s) URL, got {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(f"{what} must not carry a query, fragment or credentials")
    if parts.scheme == "http" and not is_loopback(URL(url)):
        raise ConfigurationError(
            f"{what} must use https (plain http only to a loopback host), got {url!r}")
    return url.rstrip("/")


@attrs.frozen
class OAuthHosts:
    """Where ``/oauth/authorize`` and ``/oauth/token`` live.

    Use :meth:`production` or :meth:`sandbox`, or pass another base URL (for
    example ``https://sandbox.assembly.education``, which one Assembly source
    gives as the sandbox host, or a local fake server in tests).
    """

    oauth_base: str = attrs.field(converter=_normalise_base)

    @classmethod
    def production(cls) -> OAuthHosts:
        """``https://platform.assembly.education``."""
        return cls(PRODUCTION_OAUTH_BASE)

    @classmethod
    def sandbox(cls) -> OAuthHosts:
        """``https://platform-sandbox.assembly.education`` (the recommended sandbox default)."""
        return cls(SANDBOX_OAUTH_BASE)

    @classmethod
    def for_environment(cls, environment: Literal["production", "sandbox"]) -> OAuthHosts:
        """The hosts of a named environment; anything else is a :class:`ConfigurationError`."""
        if environment == "production":
            return cls.production()
        if environment == "sandbox":
            return cls.sandbox()
        raise ConfigurationError(
            f"environment must be 'production' or 'sandbox', not {environment!r}"
        )

    @property
    def authorize_url(self) -> str:
        """The browser page where a school approves the app."""
        return f"{self.oauth_base}/oauth/authorize"

    @property
    def token_url(self) -> str:
        """The token endpoint for all three grants."""
        return f"{self.oauth_base}/oauth/token"


def _base_of(oauth_base: str | OAuthHosts) -> OAuthHosts:
    return oauth_base if isinstance(oauth_base, OAuthHosts) else OAuthHosts(oauth_base)


def _require_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{what} must be a non-empty string")
    return value


# ---------------------------------------------------------------------------
# token requests


def _freeze(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


def _check_params_in(_inst: Any, _attr: Any, value: Any) -> None:
    if value not in ("body", "query"):
        raise ConfigurationError(f"grant parameters go in 'body' or 'query', not {value!r}")


@attrs.frozen(kw_only=True, repr=False)
class TokenRequest:
    """A ready-to-send ``POST /oauth/token``: the HTTP layer sends exactly this
    (:attr:`target_url`, :attr:`headers`, :attr:`body`).

    ``params`` travel as ``params_in`` says: a form-encoded body (default) or
    the query string, as the API documents. ``secret_values`` lists every
    secret the request carries (client secret, Basic credentials, code or
    refresh token) so that error texts and logs can be passed through
    :func:`redact`. ``repr()`` shows none of them.
    """

    method: str = "POST"
    url: str
    grant_type: GrantType
    headers: Mapping[str, str] = attrs.field(converter=_freeze)
    params: Mapping[str, str] = attrs.field(converter=_freeze)
    secret_values: tuple[str, ...] = attrs.field(default=(), eq=False)
    params_in: ParamsIn = attrs.field(default="body", validator=_check_params_in)

    @property
    def target_url(self) -> str:
        """The URL to send to (with the parameters when they go in the query)."""
        if self.params_in == "query":
            return f"{self.url}?{urlencode(dict(self.params))}"
        return self.url

    @property
    def body(self) -> bytes | None:
        """The form-encoded parameters, or None when they go in the query."""
        if self.params_in == "body":
            return urlencode(dict(self.params)).encode("ascii")
        return None

    @property
    def send_headers(self) -> dict[str, str]:
        """The headers to send (plus the form Content-Type when there is a body)."""
        headers = dict(self.headers)
        if self.params_in == "body":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers

    def redacted_headers(self) -> dict[str, str]:
        """The headers with credentials replaced by ``<redacted>`` (for logs)."""
        return {
            k: (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in self.headers.items()
        }

    def redacted_params(self) -> dict[str, str]:
        """The query parameters with codes and tokens replaced by ``<redacted>``."""
        return {k: (REDACTED if k in _SECRET_PARAMS else v) for k, v in self.params.items()}

    def redacted_url(self) -> str:
        """The URL sent to, secrets redacted: safe for log lines and errors
        (with the query string only when the parameters travel in it)."""
        if self.params_in == "body":
            return self.url
        return f"{self.url}?{urlencode(self.redacted_params(), safe='<>')}"

    def __repr__(self) -> str:
        return (
            f"TokenRequest(method={self.method!r}, url={self.url!r}, "
            f"grant_type={self.grant_type!r}, headers={self.redacted_headers()!r}, "
            f"params={self.redacted_params()!r}, params_in={self.params_in!r})"
        )

    __str__ = __repr__


def _client_auth(client_id: str, client_secret: str) -> tuple[dict[str, str], tuple[str, ...]]:
    _require_text(client_id, "client_id")
    _require_text(client_secret, "client_secret")
    if ":" in client_id:
        raise ConfigurationError("client_id cannot contain ':' (HTTP Basic would split it)")
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
    headers = {"Authorization": f"Basic {basic}", "Accept": "application/json"}
    return headers, (client_secret, basic)


def code_grant(
    *,
    oauth_base: str | OAuthHosts,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    params_in: ParamsIn = "body",
) -> TokenRequest:
    """Exchange the code from the redirect for a school token (``authorization_code``).

    ``redirect_uri`` must equal the one registered for the app.
    """
    headers, hidden = _client_auth(client_id, client_secret)
    _require_text(code, "code")
    _require_text(redirect_uri, "redirect_uri")
    return TokenRequest(
        url=_base_of(oauth_base).token_url,
        grant_type="authorization_code",
        headers=headers,
        params={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        secret_values=(*hidden, code),
        params_in=params_in,
    )


def refresh_grant(
    *,
    oauth_base: str | OAuthHosts,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    params_in: ParamsIn = "body",
) -> TokenRequest:
    """Renew a school token (``refresh_token`` grant)."""
    headers, hidden = _client_auth(client_id, client_secret)
    _require_text(refresh_token, "refresh_token")
    return TokenRequest(
        url=_base_of(oauth_base).token_url,
        grant_type="refresh_token",
        headers=headers,
        params={"grant_type": "refresh_token", "refresh_token": refresh_token},
        secret_values=(*hidden, refresh_token),
        params_in=params_in,
    )


def client_credentials_grant(
    *,
    oauth_base: str | OAuthHosts,
    client_id: str,
    client_secret: str,
    params_in: ParamsIn = "body",
) -> TokenRequest:
    """Get an app-level token (``client_credentials`` grant)."""
    headers, hidden = _client_auth(client_id, client_secret)
    return TokenRequest(
        url=_base_of(oauth_base).token_url,
        grant_type="client_credentials",
        headers=headers,
        params={"grant_type": "client_credentials"},
        secret_values=hidden,
        params_in=params_in,
    )
