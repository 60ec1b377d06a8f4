"""Cheap checks of an answer before it is decoded: is it JSON, is it whole?

Pure functions of a :class:`Response`. Their messages never quote a data body
(a page of pupils' records): only sizes, the content type, and the text of a
proxy's HTML page.
"""

from __future__ import annotations

import orjson

from .._core.errors import DecodeError, UnexpectedContentType
from .transport import Response

__all__ = ["check_body_complete", "check_content_type", "error_code"]

_CLOSERS = {ord("["): ord("]"), ord("{"): ord("}")}
_WS = b" \t\r\n"


def error_code(body: bytes) -> str | None:
    """The ``error`` member of a JSON error body, if there is one."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:  # malformed, or nested past orjson's depth limit
        return None
    code = parsed.get("error") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) else None


def check_content_type(resp: Response, method: str) -> None:
    """A 2xx body must be JSON; an HTML page from a proxy is not data.

    The message quotes the start of an HTML page (what a proxy said), never a
    body of another type, which may be the data itself."""
    if not resp.body.strip():
        return
    ctype = resp.headers.get("content-type", "")
    if ctype and "json" not in ctype.lower():
        kind = ctype.split(";")[0].strip()
        if "html" in kind.lower():
            excerpt = resp.body[:200].decode("utf-8", "replace")
            shown = f": {' '.join(excerpt.split())!r}"
        else:
            shown = f" ({len(resp.body)} bytes)"
        raise UnexpectedContentType(
            f"expected a JSON body, got {kind!r}{shown}",
            url=resp.url, status=resp.status, content_type=ctype, method=method,
        )


def check_body_complete(resp: Response) -> None:
    """Cheap O(1) check that a JSON array/object body was not cut short: its last
    non-blank byte must close what its first one opened. Catches truncation by
    a proxy before decoding (so a GET can be retried); not a full validation."""
    body = resp.body
    if not body:
        return
    start = 0
    while start < len(body) and body[start] in _WS:
        start += 1
    if start == len(body):
        return
    closer = _CLOSERS.get(body[start])
    if closer is None:
        return
    end = len(body) - 1
    while body[end] in _WS:
        end -= 1
    if body[end] != closer:
        # No excerpt: the tail of a page of records is pupils' data.
        raise DecodeError(
            f"the JSON body is incomplete ({len(body)} bytes, it opens with "
            f"{chr(body[start])!r} but does not end with {chr(closer)!r})", url=resp.url)
