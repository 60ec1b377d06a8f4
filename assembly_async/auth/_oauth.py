"""Sans-I/O OAuth for the Assembly Platform: build requests, read answers.

Nothing here sends anything. The functions build :class:`TokenRequest` values
(method, URL, headers, query parameters) for the three grants, and turn the
token endpoint's raw answer (status, headers, bytes) into a :class:`Token` or
an exception. The HTTP layer does the sending, which keeps this module testable
without a network and usable from any client.

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
import orjson
from yarl import URL

from .._core.config import is_loopback
from .._core.errors import ConfigurationError, OAuthError, SchoolAuthRevoked
from ._token import REDACTED, Token

__all__ = [
    "PRODUCTION_OAUTH_BASE",
    "SANDBOX_OAUTH_BASE",
    "GrantType",
    "OAuthHosts",
    "ParamsIn",
    "TokenRequest",
    "client_credentials_grant",
    "code_grant",
    "grant_surely_unused",
    "read_token_response",
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


# ---------------------------------------------------------------------------
# token responses

_WWW_AUTH_ERROR = re.compile(r'error="?([A-Za-z0-9_.\-]+)"?')


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _load_json(body: bytes) -> Any:
    """The decoded body, or a sentinel when it is not JSON at all."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _NOT_JSON


_NOT_JSON = object()


#: Statuses that a proxy or the platform answers before handling a grant.
_UNUSED_GRANT_STATUSES = frozenset({429, 502, 503, 504})


def grant_surely_unused(status: int, headers: Mapping[str, str], body: bytes) -> bool:
    """True when the token endpoint's answer shows the grant was surely not
    used up, so sending it again is safe: 429 (refused before it was handled),
    502/503/504 (a gateway or an unavailable service), or a 2xx/5xx answer whose
    body is not JSON (an HTML page from a proxy: the token endpoint itself
    always answers JSON).

    A JSON 500, a 400/401 (``invalid_grant``...) or a timeout after the request
    was sent may mean the platform handled the grant: never repeated.
    (Assembly's refresh tokens are not rotated, CONCEPTS "OAuth grants", so
    even a wrong guess here would cost one failed retry, not the school.)
    """
    if status in _UNUSED_GRANT_STATUSES:
        return True
    if not (200 <= status < 300 or 500 <= status < 600):
        return False
    return _load_json(body) is _NOT_JSON and bool(body.strip())


def read_token_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    previous: Token | None = None,
    school_id: int | None = None,
    request: TokenRequest | None = None,
) -> Token:
    """Turn the token endpoint's answer into a :class:`Token`, or raise.

    * 2xx with a JSON object: the new token (see :meth:`Token.from_response`;
      ``previous`` supplies the refresh token the refresh answer omits).
      When ``school_id`` is given it fills a missing ``school_id``, and a
      token for another school is refused (it would be filed under the wrong
      school).
    * 400/401 with ``invalid_grant``: :class:`SchoolAuthRevoked` carrying
      ``school_id`` (or ``previous.school_id``): the school revoked access.
      When ``request`` says the grant was not a refresh (a bad or reused code),
      it is a plain :class:`OAuthError` instead, because no school revoked
      anything.
    * any other error: :class:`OAuthError` with the ``error`` code and status.
    * a body that is not JSON (an HTML error page): :class:`OAuthError`
      saying so, with a short excerpt for error statuses only; a 2xx body is
      never quoted since it may hold a token in an unexpected format.

    ``request`` and ``previous`` also name the secrets to strip from any text
    the server echoed back into the message.
    """
    hidden: list[str | None] = []
    if request is not None:
        hidden.extend(request.secret_values)
    if previous is not None:
        hidden.extend((previous.access_token, previous.refresh_token))
    grant = request.grant_type if request is not None else "token"
    content_type = _header(headers, "Content-Type") or "no content-type"
    data = _load_json(body)

    if 200 <= status < 300:
        if data is _NOT_JSON:
            raise OAuthError(
                f"token endpoint answered HTTP {status} to the {grant} grant with a body that is"
                f" not JSON ({_excerpt(content_type, hidden, 80)}, {len(body)} bytes)",
                status=status,
            )
        if not isinstance(data, dict):
            raise OAuthError(
                f"token endpoint answered HTTP {status} to the {grant} grant with JSON that"
                f" is not an object",
                status=status,
            )
        try:
            token = Token.from_response(data, now=now, previous=previous)
        except OAuthError as exc:
            raise OAuthError(f"{exc} (HTTP {status}, {grant} grant)", status=status) from None
        if school_id is not None:
            if token.school_id is None and token.level == "school":
                token = attrs.evolve(token, school_id=school_id)
            elif token.school_id is not None and token.school_id != school_id:
                raise OAuthError(
                    f"token endpoint issued a token for school {token.school_id}"
                    f" where school {school_id} was expected",
                    status=status,
                )
        return token

    code: str | None = None
    description: str | None = None
    if isinstance(data, dict):
        raw_code = data.get("error")
        if isinstance(raw_code, str) and raw_code:
            code = raw_code
        raw_description = data.get("error_description") or data.get("message")
        if isinstance(raw_description, str) and raw_description:
            description = raw_description
    if code is None:
        match = _WWW_AUTH_ERROR.search(_header(headers, "WWW-Authenticate") or "")
        if match:
            code = match.group(1)
    if code is not None:
        code = _excerpt(code, hidden, 80)

    if code == "invalid_grant" and status in (400, 401) and grant in ("refresh_token", "token"):
        sid = school_id if school_id is not None else (previous.school_id if previous else None)
        who = f"school {sid}" if sid is not None else "the school"
        detail = f": {_excerpt(description, hidden)}" if description else ""
        raise SchoolAuthRevoked(
            f"{who} revoked access: refreshing its token answered invalid_grant"
            f" (HTTP {status}){detail}",
            school_id=sid,
            status=status,
        )

    prefix = f"token endpoint refused the {grant} grant (HTTP {status})"
    if code is not None or description is not None:
        parts = []
        if code is not None:
            parts.append(f"error={code!r}")
        if description is not None:
            parts.append(f"description={_excerpt(description, hidden)!r}")
        message = f"{prefix}: {', '.join(parts)}"
    else:
        text = body.decode("utf-8", errors="replace")
        kind = "a non-JSON body" if data is _NOT_JSON else "JSON without an error code"
        excerpt = _excerpt(text, hidden)
        shown = f": {excerpt!r}" if excerpt else " (empty body)"
        message = f"{prefix} with {kind} ({_excerpt(content_type, hidden, 80)}){shown}"
    raise OAuthError(redact(message, hidden), error=code, status=status)
