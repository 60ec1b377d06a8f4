"""Keeping secrets out of text: URLs with their secret parts replaced.

Every URL that reaches an error, a log line or an event goes through
:func:`redact_url` first (the transport does it once per request).
"""

from __future__ import annotations

from yarl import URL

__all__ = ["REDACTED", "SECRET_QUERY_KEYS", "hide_secrets", "redact_url"]

#: What a URL that cannot be parsed is shown as (it is never echoed).
UNPARSEABLE = "<unparseable URL>"
#: What a secret is replaced with.
REDACTED = "<redacted>"
#: Query parameters whose values are secrets (compared case-insensitively): the
#: OAuth grant parameters, and the names tokens travel under elsewhere.
SECRET_QUERY_KEYS = frozenset({
    "access_token", "refresh_token", "code", "client_secret", "token", "id_token",
    "password", "api_key", "apikey", "key", "secret", "signature", "sig",
})


def redact_url(url: URL | str, *, mask: str = REDACTED) -> str:
    """The URL as text with secret query values (tokens, codes, a Redis
    ``?password=``) and any password in its user info replaced by ``mask``;
    an unparseable URL is not echoed."""
    try:
        parsed = URL(str(url))
    except (ValueError, TypeError):
        return UNPARSEABLE
    secret_query = any(k.lower() in SECRET_QUERY_KEYS for k in parsed.query)
    if parsed.password is None and not secret_query:
        return str(parsed)
    if parsed.password is not None:
        parsed = parsed.with_password(mask)
    if secret_query:
        parsed = parsed.with_query([(k, mask if k.lower() in SECRET_QUERY_KEYS else v)
                                    for k, v in parsed.query.items()])
    return str(parsed)


def hide_secrets(text: str, mask: str = "***") -> str:
    """``text`` as written when the URL in it holds no secret, else
    :func:`redact_url` with ``mask`` (for a URL a user typed and reads back);
    an unparseable URL is not echoed (it may hold a password)."""
    hidden = redact_url(text, mask=mask)
    if hidden == UNPARSEABLE:
        return hidden
    return text if hidden == redact_url(text, mask="") else hidden
