"""Keeping secrets out of text: URLs with their secret query values replaced."""

from __future__ import annotations

from yarl import URL

__all__ = ["redact_url"]

_SECRET_QUERY_KEYS = frozenset({"access_token", "refresh_token", "code", "client_secret"})


def redact_url(url: URL | str) -> str:
    """The URL as text with secret query values (tokens, codes) replaced."""
    url = URL(str(url))
    if not url.query or not _SECRET_QUERY_KEYS & set(url.query):
        return str(url)
    pairs = [(k, "<redacted>" if k in _SECRET_QUERY_KEYS else v) for k, v in url.query.items()]
    return str(url.with_query(pairs))
