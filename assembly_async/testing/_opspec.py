"""What the server needs to know about each operation, read from the vendored spec."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from assembly_async._core.spec import load_spec

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class QueryParam:
    name: str
    kind: str  # integer | boolean | date | string | array


@dataclass(frozen=True)
class OpInfo:
    operation_id: str
    method: str  # upper case
    path: str
    query: tuple[QueryParam, ...]
    path_params: tuple[str, ...]
    all_of: frozenset[str]
    any_of: frozenset[str]
    token_level: str  # school | app | any | none
    paginated: bool
    conditional: bool
    exclusive: tuple[tuple[str, ...], ...]

    @property
    def is_oauth(self) -> bool:
        return self.path.startswith("/oauth/")


def _kind(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if t == "array":
        return "array"
    if t == "integer":
        return "integer"
    if t == "boolean":
        return "boolean"
    if schema.get("format") == "date":
        return "date"
    return "string"


def _level(op: dict[str, Any]) -> str:
    level = op.get("x-token-level")
    if level == "app":
        return "app"
    if level == "school":
        return "school"
    if level is None:
        return "none"
    return "any"


@functools.lru_cache(maxsize=1)
def operations() -> tuple[OpInfo, ...]:
    spec = load_spec()
    out: list[OpInfo] = []
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method not in METHODS:
                continue
            params = shared + op.get("parameters", [])
            query = tuple(
                QueryParam(p["name"], _kind(p.get("schema", {})))
                for p in params
                if p.get("in") == "query" and p["name"] not in ("page", "per_page")
            )
            path_params = tuple(p["name"] for p in params if p.get("in") == "path")
            req = op.get("x-required-scopes") or {}
            out.append(OpInfo(
                operation_id=op["operationId"], method=method.upper(), path=path, query=query,
                path_params=path_params, all_of=frozenset(req.get("allOf", ())),
                any_of=frozenset(req.get("anyOf", ())), token_level=_level(op),
                paginated=bool(op.get("x-paginated")), conditional=bool(op.get("x-conditional")),
                exclusive=tuple(tuple(x["params"]) for x in op.get("x-mutually-exclusive", ())),
            ))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def all_scopes() -> tuple[str, ...]:
    """Every school scope name the spec lists (85)."""
    schemes = load_spec()["components"]["securitySchemes"]
    return tuple(schemes["SchoolToken"]["flows"]["authorizationCode"]["scopes"])


def implied_scopes(scopes: set[str] | frozenset[str] | list[str]) -> frozenset[str]:
    """Apply the documented dependencies: any ``students.*`` implies ``students.basic``..."""
    out = set(scopes)
    for s in list(out):
        for prefix in ("students", "staff_members", "contacts"):
            if s.startswith(prefix + "."):
                out.add(prefix + ".basic")
    return frozenset(out)
