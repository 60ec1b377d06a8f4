"""Docstrings of the generated resource methods, from the spec (used by _render_resources.py).

Each method's docstring carries the operation's summary, its HTTP call, the
token level and scopes it needs (required, one of, or inferred where the API
documentation says nothing) and each parameter's description.
"""

from __future__ import annotations

import textwrap
from typing import Any

__all__ = [
    "BODY_DOCS", "CALL_DOCS", "MAX_BATCH", "PATH_TYPES", "PY_TYPES", "RESOURCE_DOCS",
    "call_line", "class_name", "docstring", "param_doc", "return_type", "returns_doc",
    "scope_text",
]

#: Parameter types of the generated signatures, by ParamKind.
PY_TYPES = {
    "ids": "Sequence[int] | None",
    "bool": "bool | None",
    "int": "int | None",
    "str": "str | None",
    "date": "DateArg | None",
}
PATH_TYPES = {"int": "int", "str": "str", "ids": "Sequence[int]", "bool": "bool", "date": "DateArg"}
#: CONCEPTS "Writing results": up to 50 student results per payload.
MAX_BATCH = {"results": 50}
#: The request bodies' fields have no descriptions in the spec; CONCEPTS "Writing results".
BODY_DOCS = {
    "subject_id": "Subject of every result in this request.",
    "facet_id": "Facet of every result (achieved, target, prediction or baseline).",
    "assessment_point_rank": "Assessment point, by rank (the same on sandbox and production).",
    "assessment_id": "Assessment of every result.",
    "results": "1 to 50 results.",
    "student_id": "Student the result belongs to.",
    "result_id": "Result to change.",
    "grade_id": "Grade, from the assessment's grade set.",
    "result_date": "When the result was achieved.",
}
#: Class docstrings where "Operations on <attribute>" would say little.
RESOURCE_DOCS = {
    "details": "The token's school: its details, sync status, sync request and deauthorization.",
}
CALL_DOCS = {
    "per_page": "Records per page, 1 to 1500 (default: the most the server allows).",
    "options": "Per-call options (:class:`CallOptions`): retries, deadline, timeouts, "
    "API version.",
    "state": "Where the watermark is kept (default: the client's in-memory sync state).",
    "concurrency": "Pages fetched at once.",
    "key": "The watermark's key in ``state`` (default: school, operation and filters).",
}
WRAP = 88


def class_name(attr: str) -> str:
    return "".join(part.capitalize() for part in attr.split("_")) + "Resource"


def return_type(op: dict[str, Any]) -> str:
    model = op["model"]
    if op["v1_model"]:
        model = f"{model} | {op['v1_model']}"
    return {
        "list": f"Paginator[{model}]",
        "raw_list": "Paginator[dict[str, Any]]",
        "items": f"list[{model}]",
        "one": f"{model}",
        "none": "None",
    }[op["returns"]]


def _code(names: list[str] | tuple[str, ...], last: str = "and") -> str:
    quoted = [f"``{n}``" for n in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + f" {last} " + quoted[-1]


def scope_text(op: dict[str, Any]) -> str:
    """Which scopes and token the operation needs, as the spec states them."""
    token = {"school": "a school token", "app": "an app token",
             "any": "an app or a school token"}[op["token_level"]]
    required, inferred = op["required_scopes"], op["inferred_scopes"]
    if required.get("allOf"):
        scopes = f"Scopes: {_code(required['allOf'])}."
    elif required.get("anyOf"):
        scopes = f"Scopes: one of {_code(required['anyOf'], 'or')}."
    elif inferred.get("allOf") or inferred.get("anyOf"):
        names = inferred.get("allOf") or inferred.get("anyOf")
        how = "" if inferred.get("allOf") else "one of "
        scopes = (f"Scopes: {how}{_code(names, 'and' if inferred.get('allOf') else 'or')} "
                  "(inferred: the API documentation does not say).")
    elif op["token_level"] == "school":
        scopes = "Scopes: none stated by the API documentation."
    else:
        scopes = "No scope needed."
    return f"Needs {token}. {scopes}"


def _wrap(text: str, indent: str, first: str = "") -> list[str]:
    return textwrap.wrap(text, WRAP - len(indent), initial_indent=first,
                         subsequent_indent="    " if first else "") or [first]


def docstring(summary: str, paragraphs: list[str], args: list[tuple[str, str]],
               returns: str | None) -> list[str]:
    ind = "        "
    out = [f'{ind}"""{summary}', ""]
    for para in paragraphs:
        out += [ind + line for line in _wrap(para, ind)]
        out.append("")
    if args:
        out.append(f"{ind}Args:")
        for name, text in args:
            out += [ind + "    " + line for line in _wrap(text, ind + "    ", f"{name}: ")]
        out.append("")
    if returns:
        out.append(f"{ind}Returns:")
        out += [ind + "    " + line for line in _wrap(returns, ind + "    ")]
        out.append("")
    out[-1] = f'{ind}"""'
    return out


def param_doc(op: dict[str, Any], name: str) -> str:
    text = op["param_docs"].get(name) or "See the API documentation."
    text = text.rstrip()
    if not text.endswith("."):
        text += "."
    for group in op["exclusive"]:
        if name in group:
            others = [n for n in group if n != name]
            text += f" Not together with {_code(others)}."
    for flag, needs in op["requires"]:
        if flag == name and "needs" not in text:
            text += f" Needs ``{needs}=True``."
    return text


def call_line(op: dict[str, Any]) -> str:
    parts = [f"``{op['operation_id']}``: {op['method']} {op['path']}."]
    if op["returns"] in ("list", "raw_list"):
        parts.append("A paged list: ``async for`` walks every page, ``await ....page(n)`` "
                     "fetches one page with its paging facts and HTTP answer.")
    if op["conditional"] and op["returns"] == "list":
        parts.append("Conditional: the ``changes`` method gives only what changed since "
                     "the last sync.")
    return " ".join(parts)


def returns_doc(op: dict[str, Any]) -> str | None:
    model = op["model"]
    return {
        "list": f"A :class:`Paginator` of :class:`{model}`.",
        "raw_list": "A :class:`Paginator` of plain dicts (the spec documents no shape).",
        "items": f"A list of :class:`{model}`.",
        "one": (f":class:`{model}` (:class:`{op['v1_model']}` with API version 1)."
                if op["v1_model"] else f"The :class:`{model}`."),
        "none": None,
    }[op["returns"]]
