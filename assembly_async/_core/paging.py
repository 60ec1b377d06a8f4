"""Paging facts of a list response, from version 1.1 headers or the version 1
envelope (CONCEPTS "Pagination"). Pure functions of headers and bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["MAX_PER_PAGE", "PageInfo", "paging_from_envelope", "paging_from_headers"]

#: CONCEPTS "Pagination": per_page maximum is 1500 on version 1.1.
MAX_PER_PAGE = 1500


@attrs.frozen
class PageInfo:
    """Paging facts of one list response, from v1.1 headers or the v1 envelope."""

    page: int
    per_page: int | None = None
    total: int | None = None
    total_pages: int | None = None
    next_page: int | None = None
    prev_page: int | None = None



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
        try:  # "²".isdigit() is True, yet int("²") raises
            return int(value)
        except ValueError:
            return None
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
