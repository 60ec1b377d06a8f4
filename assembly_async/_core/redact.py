"""Keeping secrets out of text: URLs with their secret parts replaced.

Every URL that reaches an error, a log line or an event goes through
:func:`redact_url` first (the transport does it once per request).
"""

from __future__ import annotations

from yarl import URL

__all__ = ["REDACTED", "SECRET_QUERY_KEYS", "redact_url"]

#: What a secret is replaced with.
REDACTED = "<redacted>"
#: Query parameters whose values are secrets (compared case-insensitively): the
#: OAuth grant parameters, and the names tokens travel under elsewhere.
SECRET_QUERY_KEYS = frozenset({
    "access_token", "refresh_token", "code", "client_secret", "token", "id_token",
    "password", "api_key", "apikey", "key", "secret", "signature", "sig",
})


def redact_url(url: URL | str) -> str:
    """The URL as text with secret query values (tokens, codes) and any
    password in its user info replaced; an unparseable URL is not echoed."""
    try:
        parsed = URL(str(url))
    except (ValueError, TypeError):
        return "<unparseable URL>"
    if parsed.password is not None:
        parsed = parsed.with_password(REDACTED)
    if not parsed.query or not any(k.lower() in SECRET_QUERY_KEYS for k in parsed.query):
        return str(parsed)
    pairs = [(k, REDACTED if k.lower() in SECRET_QUERY_KEYS else v)
             for k, v in parsed.query.items()]
    return str(parsed.with_query(pairs))
