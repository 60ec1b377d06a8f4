"""Descriptions of API operations, as data.

The generated table in ``_operations.py`` holds one :class:`Operation` per
operationId of the vendored spec; the sans-I/O core turns an operation plus
arguments into a request, so resources never build URLs or headers by hand.
"""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = ["Operation", "Param", "ParamKind", "Returns"]

#: How a parameter is encoded on the wire (CONCEPTS "Filters and dates").
ParamKind = Literal["int", "str", "bool", "date", "ids"]
#: What a successful response holds.
Returns = Literal["list", "items", "one", "none", "raw_list"]


@attrs.frozen
class Param:
    """One query or path parameter of an operation."""

    name: str
    kind: ParamKind
    required: bool = False


@attrs.frozen(kw_only=True)
class Operation:
    """One API operation from the spec (method, path template, parameters, result)."""

    operation_id: str
    method: str
    path: str
    summary: str = ""
    path_params: tuple[Param, ...] = ()
    query: tuple[Param, ...] = ()
    #: x-paginated: the list is paged with page/per_page.
    paginated: bool = False
    #: The operation declares per_page (three paged lists in the spec do not).
    has_per_page: bool = False
    #: x-conditional: accepts If-Modified-Since (and usually If-None-Match).
    conditional: bool = False
    #: Model (schema name) of the records or of the single object returned.
    model: str | None = None
    returns: Returns = "one"
    #: Version 1 returns another shape for a few operations (CONCEPTS "Versions").
    v1_model: str | None = None
    #: Version 1 wraps the result under this key (``grade_set``).
    v1_key: str | None = None
    #: Schema of the JSON request body, for writes.
    body_model: str | None = None
    #: "school", "app" or "any": which token level may call it.
    token_level: str = "school"
    #: Pairs of parameters that may not be combined (x-mutually-exclusive).
    exclusive: tuple[tuple[str, ...], ...] = ()
    #: Flags that need another flag set (x-requires: care needs demographics).
    requires: tuple[tuple[str, str], ...] = ()
    #: Scopes the spec says the call needs.
    scopes: tuple[str, ...] = ()

    @property
    def safe(self) -> bool:
        """GET is safe to retry; writes are not unless the server never saw them."""
        return self.method == "GET"
