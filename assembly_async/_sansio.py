"""Sans-I/O core: build requests and read responses as pure functions.

Nothing here does I/O or touches asyncio; every function is a function of its
arguments (operation, parameters, status, headers, body), tested offline.
Everything above (pipeline, pagination, sync) reuses these.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson
from yarl import URL

from . import _errors as e
from ._config import is_loopback
from ._endpoint import Operation, Param

__all__ = [
    "MAX_PER_PAGE",
    "PageInfo",
    "Request",
    "Validators",
    "accept_header",
    "build_request",
    "check_token_destination",
    "encode_value",
    "error_for",
    "format_http_date",
    "paging_from_envelope",
    "paging_from_headers",
    "parse_http_date",
    "read_validators",
    "redact_url",
    "retry_after_seconds",
]

#: CONCEPTS "Pagination": per_page maximum is 1500 on version 1.1.
MAX_PER_PAGE = 1500
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECRET_QUERY_KEYS = frozenset({"access_token", "refresh_token", "code", "client_secret"})


@attrs.frozen
class Request:
    """A request ready for the transport (the Authorization header is added later)."""

    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes | None = None
    operation_id: str = ""


@attrs.frozen
class PageInfo:
    """Paging facts of one list response, from v1.1 headers or the v1 envelope."""

    page: int
    per_page: int | None = None
    total: int | None = None
    total_pages: int | None = None
    next_page: int | None = None
    prev_page: int | None = None


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


def accept_header(version: str) -> str:
    """The Accept header naming the API version (CONCEPTS "Versions")."""
    return f"application/vnd.assembly+json; version={version}"


def _as_date(name: str, value: Any) -> str:
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE_RE.match(value):
        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise e.ConfigurationError(f"{name} must be a date or 'YYYY-MM-DD', got {value!r}")


def encode_value(param: Param, value: Any) -> str:
    """Encode one parameter value as the API expects it.

    ID lists are space-separated (sent as ``+``), booleans ``true``/``false``,
    dates ``YYYY-MM-DD`` (CONCEPTS "Filters and dates").
    """
    name = param.name
    if param.kind == "bool":
        if not isinstance(value, bool):
            raise e.ConfigurationError(f"{name} must be True or False, got {value!r}")
        return "true" if value else "false"
    if param.kind == "date":
        return _as_date(name, value)
    if param.kind == "ids":
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            value = [value]
        items = [_as_int(name, v) for v in value]
        if not items:
            raise e.ConfigurationError(f"{name} must name at least one id")
        return " ".join(str(i) for i in items)
    if param.kind == "int":
        return str(_as_int(name, value))
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise e.ConfigurationError(f"{name} must be a string, got {value!r}")
    return str(value)


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise e.ConfigurationError(f"{name} must be an integer, got {value!r}")
    return value


def _check_combinations(op: Operation, args: dict[str, Any]) -> None:
    for group in op.exclusive:
        given = [name for name in group if args.get(name) is not None]
        if len(given) > 1:
            raise e.ConfigurationError(
                f"{op.operation_id}: {' and '.join(given)} cannot be combined"
            )
    for flag, needed in op.requires:
        if args.get(flag):
            if args.get(needed) is False:
                raise e.ConfigurationError(f"{op.operation_id}: {flag}=True needs {needed}=True")
            # CONCEPTS: care/ever_in_care need demographics=true; add it for the caller.
            args[needed] = True


def build_request(
    base_url: URL,
    op: Operation,
    *,
    path_args: Mapping[str, Any] | None = None,
    query: Mapping[str, Any] | None = None,
    version: str,
    page: int | None = None,
    per_page: int | None = None,
    validators: Validators | None = None,
    body: bytes | None = None,
    user_agent: str = "assembly-async",
) -> Request:
    """Turn an operation and its arguments into a :class:`Request`.

    Arguments left as None are not sent. Invalid combinations raise
    :class:`ConfigurationError` (a ValueError) before anything is sent.
    """
    path = op.path
    path_args = path_args or {}
    for param in op.path_params:
        if path_args.get(param.name) is None:
            raise e.ConfigurationError(f"{op.operation_id}: {param.name} is required")
        path = path.replace("{" + param.name + "}", encode_value(param, path_args[param.name]))

    args = {k: v for k, v in (query or {}).items() if v is not None}
    known = {p.name: p for p in op.query}
    unknown = sorted(set(args) - set(known))
    if unknown:
        raise e.ConfigurationError(f"{op.operation_id}: unknown parameter(s) {unknown}")
    _check_combinations(op, args)
    pairs: list[tuple[str, str]] = []
    for param in op.query:
        if param.name in args:
            pairs.append((param.name, encode_value(param, args[param.name])))
        elif param.required:
            raise e.ConfigurationError(f"{op.operation_id}: {param.name} is required")
    if page is not None:
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise e.ConfigurationError(f"page must be an integer >= 1, got {page!r}")
        pairs.append(("page", str(page)))
    if per_page is not None:
        if isinstance(per_page, bool) or not isinstance(per_page, int):
            raise e.ConfigurationError(f"per_page must be an integer, got {per_page!r}")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise e.ConfigurationError(
                f"per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}"
            )
        pairs.append(("per_page", str(per_page)))

    url = base_url.with_path(base_url.path.rstrip("/") + path)
    if pairs:
        url = url.with_query(pairs)
    headers = {"Accept": accept_header(version), "User-Agent": user_agent}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if validators:
        headers.update(validators.headers())
    return Request(
        method=op.method, url=url, headers=headers, body=body, operation_id=op.operation_id
    )


def check_token_destination(url: URL, api_url: URL) -> None:
    """Refuse to attach a token to a request that leaves the configured API origin
    or would travel over plain HTTP to a non-loopback host."""
    if url.origin() != api_url.origin():
        raise e.ConfigurationError(
            f"refusing to send a token to {url.origin()}: the API is {api_url.origin()}"
        )
    if url.scheme != "https" and not is_loopback(url):
        raise e.ConfigurationError(f"refusing to send a token over plain HTTP to {url.host}")


def redact_url(url: URL | str) -> str:
    """The URL as text with secret query values (tokens, codes) replaced."""
    url = URL(str(url))
    if not url.query or not _SECRET_QUERY_KEYS & set(url.query):
        return str(url)
    pairs = [(k, "<redacted>" if k in _SECRET_QUERY_KEYS else v) for k, v in url.query.items()]
    return str(url.with_query(pairs))


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def paging_from_headers(headers: Mapping[str, str], requested_page: int) -> PageInfo:
    """Read v1.1 paging headers (``Page``, ``Total``, ``Total-Pages``, ``Per-Page``,
    ``Next-Page``, ``Prev-Page``; the last two empty when there is none).

    ``headers`` must be keyed in lower case (the transport normalises them).
    """
    return PageInfo(
        page=_int_header(headers, "page") or requested_page,
        per_page=_int_header(headers, "per-page"),
        total=_int_header(headers, "total"),
        total_pages=_int_header(headers, "total-pages"),
        next_page=_int_header(headers, "next-page"),
        prev_page=_int_header(headers, "prev-page"),
    )


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def paging_from_envelope(meta: Mapping[str, Any], requested_page: int) -> PageInfo:
    """Read the v1 envelope fields (``total_count``, ``total_pages``, ``current_page``,
    ``next_page``, ``prev_page``)."""
    return PageInfo(
        page=_opt_int(meta.get("current_page")) or requested_page,
        per_page=None,
        total=_opt_int(meta.get("total_count")),
        total_pages=_opt_int(meta.get("total_pages")),
        next_page=_opt_int(meta.get("next_page")),
        prev_page=_opt_int(meta.get("prev_page")),
    )


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
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment


def _parse_body(body: bytes) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def retry_after_seconds(headers: Mapping[str, str], body: Any) -> float | None:
    """Seconds to wait after a 429: the body's ``data.period`` (CONCEPTS "Rate
    limiting"), else a ``Retry-After`` header (seconds or HTTP-date)."""
    if isinstance(body, Mapping):
        data = body.get("data")
        if isinstance(data, Mapping):
            period = data.get("period")
            if isinstance(period, (int, float)) and not isinstance(period, bool) and period >= 0:
                return float(period)
    value = (headers.get("retry-after") or "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            moment = parse_http_date(value)
            if moment is not None:
                delta = moment - _dt.datetime.now(_dt.timezone.utc)
                return max(0.0, delta.total_seconds())
    return None


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
    method: str, url: URL | str, status: int, headers: Mapping[str, str], body: bytes
) -> e.HTTPError:
    """Map an error response to its typed exception, keeping the evidence.

    A non-JSON body (an HTML page from a proxy, say) never crashes this: the
    raw text is kept, truncated, and the status decides the class.
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
        return e.RateLimited(retry_after=retry_after_seconds(headers, parsed), **kwargs)
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
