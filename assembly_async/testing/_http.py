"""HTTP helpers: error bodies, Accept/version parsing, query parameters, paging."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from ._opspec import OpInfo
from ._util import dumps

VND = "application/vnd.assembly+json"
VERSIONS = ("1", "1.1")
PER_PAGE_DEFAULT = 100
PER_PAGE_MAX = 1500
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = ("true", "1")
_FALSE = ("false", "0")


class ApiError(Exception):
    """Raised by handlers; turned into ``{"error": ..., "message": ...}``."""

    def __init__(self, status: int, error: str | None, message: str | None = None, *,
                 data: Any = None, headers: Mapping[str, str] | None = None,
                 body: Any = None) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message
        self.data = data
        self.headers = dict(headers or {})
        self.body = body

    def payload(self) -> Any:
        if self.body is not None:
            return self.body
        out: dict[str, Any] = {"error": self.error}
        if self.message is not None:
            out["message"] = self.message
        if self.data is not None:
            out["data"] = self.data
        return out


def not_found() -> ApiError:
    return ApiError(404, "not_found", "not found")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None
                  ) -> web.Response:
    return web.Response(body=dumps(body), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


def error_response(err: ApiError) -> web.Response:
    return json_response(err.payload(), err.status, err.headers)


def parse_version(accept: str | None) -> str | None:
    """``"1"``/``"1.1"`` from an ``Accept`` header, or None when unsupported."""
    if not accept:
        return None
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if pieces[0].lower() != VND:
            continue
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "version" and value.strip().strip('"') in VERSIONS:
                return value.strip().strip('"')
    return None


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None


def parse_bool(name: str, raw: str) -> bool:
    v = raw.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise bad_request(f"{name} must be true or false")


def parse_date(name: str, raw: str) -> date:
    try:
        if not _DATE_RE.match(raw.strip()):
            raise ValueError(raw)
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise bad_request(f"Invalid date for {name}: {raw!r} (expected YYYY-MM-DD)") from None


def parse_query(op: OpInfo, query: MultiMapping[str]) -> dict[str, Any]:
    """Typed values of the documented query parameters that were sent."""
    out: dict[str, Any] = {}
    for qp in op.query:
        if qp.kind == "array":
            raws = list(query.getall(qp.name, [])) + list(query.getall(qp.name + "[]", []))
            if not raws:
                continue
            ids: list[int] = []
            for text in raws:
                for piece in re.split(r"[\s,+]+", text.strip()):
                    if piece:
                        ids.append(_parse_int(qp.name, piece))
            out[qp.name] = ids
            continue
        raw = query.get(qp.name)
        if raw is None or (raw == "" and qp.kind != "string"):
            continue
        if qp.name == "year_code":
            out[qp.name] = raw.strip()
        elif qp.kind == "integer":
            out[qp.name] = _parse_int(qp.name, raw)
        elif qp.kind == "boolean":
            out[qp.name] = parse_bool(qp.name, raw)
        elif qp.kind == "date":
            out[qp.name] = parse_date(qp.name, raw)
        else:
            out[qp.name] = raw
    for group in op.exclusive:
        if all(name in out for name in group):
            raise bad_request(" and ".join(group) + " cannot be used together")
    return out


def parse_paging(query: MultiMapping[str], max_per_page: int = PER_PAGE_MAX,
                 over: str = "refuse") -> tuple[int, int]:
    """``page`` and the ``per_page`` served: above ``max_per_page`` a 400
    (``over="refuse"``) or pages of ``max_per_page`` (``over="cap"``)."""
    page_raw, per_raw = query.get("page"), query.get("per_page")
    page = _parse_int("page", page_raw) if page_raw else 1
    per_page = _parse_int("per_page", per_raw) if per_raw else PER_PAGE_DEFAULT
    if page < 1:
        raise bad_request("page must be 1 or more")
    if per_page > max_per_page and over == "cap" and per_page <= PER_PAGE_MAX:
        return page, max_per_page
    if not 1 <= per_page <= max_per_page:
        raise bad_request(f"per_page must be between 1 and {max_per_page}")
    return page, per_page


class PageInfo:
    """Kaminari-style paging numbers (next/prev are None when out of range)."""

    def __init__(self, total: int, page: int, per_page: int) -> None:
        self.total = total
        self.page = page
        self.per_page = per_page
        self.total_pages = math.ceil(total / per_page) if total else 0
        in_range = page <= self.total_pages
        self.next_page = page + 1 if in_range and page < self.total_pages else None
        self.prev_page = page - 1 if in_range and page > 1 else None
        self.start = (page - 1) * per_page
        self.stop = self.start + per_page

    def headers(self) -> dict[str, str]:
        return {
            "Page": str(self.page), "Total": str(self.total), "Total-Pages": str(self.total_pages),
            "Per-Page": str(self.per_page),
            "Next-Page": "" if self.next_page is None else str(self.next_page),
            "Prev-Page": "" if self.prev_page is None else str(self.prev_page),
        }

    def envelope(self, data: list[Any]) -> dict[str, Any]:
        return {"object": "list", "total_count": self.total, "total_pages": self.total_pages,
                "current_page": self.page, "prev_page": self.prev_page,
                "next_page": self.next_page, "data": data}
