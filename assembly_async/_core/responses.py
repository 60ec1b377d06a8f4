"""Reading responses: validators, HTTP dates, the 429 wait, and the typed error
of an error status. Pure functions of (status, headers, body)."""

from __future__ import annotations

import datetime as _dt
import email.utils
import math
from collections.abc import Mapping
from typing import Any

import attrs
import orjson
from yarl import URL

from . import errors as e
from .config import DEFAULT_MAX_RETRY_AFTER
from .redact import redact_url

__all__ = [
    "Validators",
    "error_for",
    "format_http_date",
    "parse_http_date",
    "read_validators",
    "retry_after_seconds",
]


@attrs.frozen
class Validators:
    """``Last-Modified`` / ``ETag`` of a response, to send back on the next request."""

    last_modified: str | None = None
    etag: str | None = None

    def __bool__(self) -> bool:
        return bool(self.last_modified or self.etag)

    def headers(self) -> dict[str, str]:
        """Conditional request headers (CONCEPTS: the server answers with a delta or 304)."""
        out: dict[str, str] = {}
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        if self.etag:
            out["If-None-Match"] = self.etag
        return out



def read_validators(headers: Mapping[str, str]) -> Validators:
    """``Last-Modified`` and ``ETag`` of a response (lower-case header keys)."""
    return Validators(
        last_modified=headers.get("last-modified") or None, etag=headers.get("etag") or None
    )


def format_http_date(moment: _dt.datetime) -> str:
    """HTTP-date for If-Modified-Since, e.g. ``Thu, 09 Mar 2017 18:05:23 GMT`` (H75)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return email.utils.format_datetime(moment.astimezone(_dt.timezone.utc), usegmt=True)


def parse_http_date(value: str) -> _dt.datetime | None:
    """Parse an HTTP-date; None when it is not one."""
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment


def _parse_body(body: bytes) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:  # malformed, or nested past orjson's depth limit
        return None


def _seconds(value: Any) -> float | None:
    """A finite, non-negative number of seconds, else None (rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        seconds = float(value)
    except (ValueError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def retry_after_seconds(
    headers: Mapping[str, str], body: Any, *, cap: float = DEFAULT_MAX_RETRY_AFTER,
    now: _dt.datetime | None = None,
) -> float | None:
    """Seconds to wait after a 429: the body's ``data.period`` (CONCEPTS "Rate
    limiting"), else a ``Retry-After`` header (seconds or HTTP-date).

    A value that is not a finite, non-negative number (``inf``, ``nan``, ``-5``,
    a string in the body) is rejected: the next one is tried, else None (the
    pipeline then backs off on its own). A valid value above ``cap`` is capped
    to it, so no server can pause a school for an hour, or for ever.
    """
    seconds: float | None = None
    if isinstance(body, Mapping):
        data = body.get("data")
        if isinstance(data, Mapping):
            period = data.get("period")
            if not isinstance(period, str):  # the API sends a number
                seconds = _seconds(period)
    if seconds is None:
        value = (headers.get("retry-after") or "").strip()
        if value:
            seconds = _seconds(value)
            if seconds is None and not _looks_numeric(value):
                moment = parse_http_date(value)
                if moment is not None:
                    current = now or _dt.datetime.now(_dt.timezone.utc)
                    seconds = max(0.0, (moment - current).total_seconds())
    return None if seconds is None else min(seconds, cap)


def _looks_numeric(value: str) -> bool:
    """``-5``, ``inf``, ``1e999``: a number (rejected above), not an HTTP-date."""
    try:
        float(value)
    except (ValueError, OverflowError):
        return False
    return True


_STATUS_ERRORS: dict[int, type[e.HTTPError]] = {
    304: e.NotModified,
    400: e.BadRequest,
    401: e.Unauthorized,
    403: e.Forbidden,
    404: e.NotFound,
    406: e.UnsupportedVersion,
    422: e.UnprocessableEntity,
}
_UNAUTHORIZED_CODES: dict[str, type[e.HTTPError]] = {
    "invalid_request": e.InvalidRequest,
    "invalid_token": e.InvalidToken,
    "insufficient_scope": e.InsufficientScope,
}


def error_for(
    method: str, url: URL | str, status: int, headers: Mapping[str, str], body: bytes,
    *, max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
) -> e.HTTPError:
    """Map an error response to its typed exception, keeping the evidence.

    A non-JSON body (an HTML page from a proxy, say) never crashes this: the
    raw text is kept, truncated, and the status decides the class. A 429's
    wait is validated and capped to ``max_retry_after`` (see
    :func:`retry_after_seconds`).
    """
    parsed = _parse_body(body)
    text = body[: e.BODY_EXCERPT_LIMIT * 2].decode("utf-8", "replace")
    code = message = None
    if isinstance(parsed, Mapping):
        raw_code, raw_message = parsed.get("error"), parsed.get("message")
        code = raw_code if isinstance(raw_code, str) else None
        message = raw_message if isinstance(raw_message, str) else None
    kwargs: dict[str, Any] = {
        "method": method,
        "url": redact_url(url),
        "status": status,
        "headers": {
            k: v for k, v in headers.items() if k.lower() not in ("authorization", "set-cookie")
        },
        "body": parsed,
        "text": text,
        "error": code,
        "message": message,
    }
    if status == 429:
        return e.RateLimited(
            retry_after=retry_after_seconds(headers, parsed, cap=max_retry_after), **kwargs)
    cls: type[e.HTTPError]
    if status == 401 and code in _UNAUTHORIZED_CODES:
        cls = _UNAUTHORIZED_CODES[code]
    elif status in _STATUS_ERRORS:
        cls = _STATUS_ERRORS[status]
    elif 500 <= status <= 599:
        cls = e.ServerError
    else:
        cls = e.UnexpectedStatus
    return cls(**kwargs)
