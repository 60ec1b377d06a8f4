"""Building requests: pure functions from an operation and its arguments to a
:class:`Request` (URL, query, Accept header, conditional headers).

Nothing here does I/O; the pipeline sends what this builds. Resources never
build URLs or headers themselves.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from yarl import URL

from . import errors as e
from .config import is_loopback
from .endpoint import Operation, Param
from .paging import MAX_PER_PAGE
from .responses import Validators

__all__ = [
    "Request",
    "accept_header",
    "build_request",
    "check_token_destination",
    "encode_value",
    "probe_request",
]

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@attrs.frozen
class Request:
    """A request ready for the transport (the Authorization header is added later)."""

    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes | None = None
    operation_id: str = ""



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


def probe_request(base_url: URL, path: str, *, version: str,
                  user_agent: str = "assembly-async") -> Request:
    """A GET of ``path`` on ``base_url`` carrying no token: any answer at all
    shows the host can be reached (``AssemblyClient.ping``)."""
    url = base_url.with_path(base_url.path.rstrip("/") + path)
    return Request(method="GET", url=url, operation_id="ping",
                   headers={"Accept": accept_header(version), "User-Agent": user_agent})


def check_token_destination(url: URL, api_url: URL) -> None:
    """Refuse to attach a token to a request that leaves the configured API origin
    or would travel over plain HTTP to a non-loopback host."""
    if url.origin() != api_url.origin():
        raise e.ConfigurationError(
            f"refusing to send a token to {url.origin()}: the API is {api_url.origin()}"
        )
    if url.scheme != "https" and not is_loopback(url):
        raise e.ConfigurationError(f"refusing to send a token over plain HTTP to {url.host}")
