"""Render ``assembly_async/_client/resources/generated.py`` (used by generate_operations.py).

One typed method per operation, with a docstring carrying the operation's
summary, its HTTP call, its scopes and token level and each parameter's
description from the spec; a typed ``changes()`` per conditional list
(``school.students.changes()`` -> ``Delta[Student]``) and the overloads of
``school.changes("students")``; a ``with_raw_response`` view per resource.
"""

from __future__ import annotations

import keyword
import textwrap
from typing import Any

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


def _return_type(op: dict[str, Any]) -> str:
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


def _docstring(summary: str, paragraphs: list[str], args: list[tuple[str, str]],
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


def _param_doc(op: dict[str, Any], name: str) -> str:
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


def _call_line(op: dict[str, Any]) -> str:
    parts = [f"``{op['operation_id']}``: {op['method']} {op['path']}."]
    if op["returns"] in ("list", "raw_list"):
        parts.append("A paged list: ``async for`` walks every page, ``await ....page(n)`` "
                     "fetches one page with its paging facts and HTTP answer.")
    if op["conditional"] and op["returns"] == "list":
        parts.append("Conditional: the ``changes`` method gives only what changed since "
                     "the last sync.")
    return " ".join(parts)


def _returns_doc(op: dict[str, Any]) -> str | None:
    model = op["model"]
    return {
        "list": f"A :class:`Paginator` of :class:`{model}`.",
        "raw_list": "A :class:`Paginator` of plain dicts (the spec documents no shape).",
        "items": f"A list of :class:`{model}`.",
        "one": (f":class:`{model}` (:class:`{op['v1_model']}` with API version 1)."
                if op["v1_model"] else f"The :class:`{model}`."),
        "none": None,
    }[op["returns"]]


def method(op: dict[str, Any], name: str, body_fields: dict[str, list[tuple[str, str]]]
           ) -> list[str]:
    oid = op["operation_id"]
    args = ["self"]
    docs: list[tuple[str, str]] = []
    for pname, kind in op["path_params"]:
        args.append(f"{pname}: {PATH_TYPES[kind]}")
        docs.append((pname, _param_doc(op, pname)))
    if op["path_params"]:
        args.append("/")
    kw: list[str] = []
    for pname, kind, _required in op["query"]:
        if keyword.iskeyword(pname):
            raise SystemExit(f"{oid}: parameter {pname} is a Python keyword")
        kw.append(f"{pname}: {PY_TYPES[kind]} = None")
        docs.append((pname, _param_doc(op, pname)))
    if op["body_model"]:
        for fname, ftype in body_fields[op["body_model"]]:
            kw.append(f"{fname}: {ftype} = None")
            docs.append((fname, BODY_DOCS.get(fname, "See the API documentation.")))
    is_list = op["returns"] in ("list", "raw_list")
    if is_list and op["has_per_page"]:
        kw.append("per_page: int | None = None")
        docs.append(("per_page", CALL_DOCS["per_page"]))
    kw.append("options: CallOptions | None = None")
    docs.append(("options", CALL_DOCS["options"]))
    args += ["*", *kw]
    head = "def" if is_list else "async def"
    ret = _return_type(op)
    lines = [f"    {head} {name}(", *(f"        {a}," for a in args), f"    ) -> {ret}:"]
    summary = op["summary"].rstrip(".") + "."
    lines += _docstring(summary, [_call_line(op), scope_text(op)], docs, _returns_doc(op))
    lines.append(f"        op = OPERATIONS[{oid!r}]")
    path_args = "{" + ", ".join(f"{n!r}: {n}" for n, _ in op["path_params"]) + "}"
    query = "{" + ", ".join(f"{n!r}: {n}" for n, _, _ in op["query"]) + "}"
    model = op["model"] or "None"
    if op["body_model"]:
        fields = body_fields[op["body_model"]]
        for fname, _ftype in fields:
            if fname in MAX_BATCH:
                lines.append(f"        check_batch({fname!r}, {fname}, {MAX_BATCH[fname]})")
        built = ", ".join(
            f"{f}=tuple({f}) if {f} is not None else None" if t.startswith("Sequence")
            else f"{f}={f}"
            for f, t in fields
        )
        lines.append(f"        body = {op['body_model']}({built})")
    body_arg = ", body=body" if op["body_model"] else ""
    if is_list:
        per_page = "per_page" if op["has_per_page"] else "None"
        lines.append(f"        return self._runner.paginate(op, {model}, {path_args}, {query}, "
                     f"per_page={per_page}, options=options)")
    elif op["returns"] == "none":
        lines.append(f"        await self._runner.call(op, None, {path_args}, {query}{body_arg}, "
                     "options=options)")
    else:
        v1 = f", v1_model={op['v1_model']}" if op["v1_model"] else ""
        call = (f"self._runner.call(op, {model}, {path_args}, {query}{body_arg}{v1}, "
                "options=options)")
        lines.append(f"        return await {call}  # type: ignore[no-any-return]")
    return lines


def _changes_args(op: dict[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    """Keyword parameters of a ``changes`` method/overload and their docs."""
    kw: list[str] = []
    docs: list[tuple[str, str]] = []
    for pname, kind, _required in op["query"]:
        kw.append(f"{pname}: {PY_TYPES[kind]} = None")
        docs.append((pname, _param_doc(op, pname)))
    kw.append("state: SyncState | None = None")
    docs.append(("state", CALL_DOCS["state"]))
    if op["has_per_page"]:
        kw.append("per_page: int | None = None")
        docs.append(("per_page", CALL_DOCS["per_page"]))
    kw += ["concurrency: int = DEFAULT_CONCURRENCY", "options: CallOptions | None = None",
           "key: str | None = None"]
    docs += [(n, CALL_DOCS[n]) for n in ("concurrency", "options", "key")]
    return kw, docs


def change_method(op: dict[str, Any], resource: str, list_name: str) -> list[str]:
    """``changes`` (or ``<list method>_changes``) of one conditional list."""
    name = "changes" if list_name == "list" else f"{list_name}_changes"
    model = op["model"]
    kw, docs = _changes_args(op)
    args = ["self"]
    for pname, kind in op["path_params"]:
        args.append(f"{pname}: {PATH_TYPES[kind]}")
        docs.insert(0, (pname, _param_doc(op, pname)))
    if op["path_params"]:
        args.append("/")
    args += ["*", *kw]
    lines = [f"    def {name}(", *(f"        {a}," for a in args), f"    ) -> Delta[{model}]:"]
    call = f"``{list_name}()``" if list_name != "list" else "``list()``"
    paras = [
        f"A delta of {call}: ``{op['operation_id']}`` with the watermark stored in ``state``; "
        "the first run yields every record, later runs only the records changed since, "
        "or none (a 304).",
        "Use ``async with delta: async for record in delta: ...``: the new watermark is "
        "stored only when the whole delta was consumed without an error"
        + (", and ``delta.left_ids`` then lists the leavers." if resource in ("students",
           "staff_members") and list_name == "list" else "."),
        scope_text(op),
    ]
    lines += _docstring(f"Records of {call} changed since the last sync.", paras, docs,
                        f"A :class:`Delta` of :class:`{model}`.")
    names = [n for n, _ in op["path_params"]] + [n for n, _, _ in op["query"]]
    filters = ", ".join(f"{n}={n}" for n in names)
    per_page = "per_page" if op["has_per_page"] else "None"
    key = resource if list_name == "list" else f"{resource}.{list_name}"
    lines.append(
        f"        return typed_changes(self._runner, {key!r}, {model}, state=state, "
        f"per_page={per_page}, concurrency=concurrency, options=options, key=key"
        + (f", {filters})" if filters else ")"))
    return lines


def school_changes(change_ops: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """``SchoolResources.changes``: one overload per resource name, then any name."""
    lines: list[str] = []
    for key, op in change_ops:
        kw, _ = _changes_args(op)
        path = [f"{n}: {PATH_TYPES[k]}" for n, k in op["path_params"]]
        args = ["self", f"resource: Literal[{key!r}]", "/", "*", *path, *kw]
        lines += ["    @overload", "    def changes(", *(f"        {a}," for a in args),
                  f"    ) -> Delta[{op['model']}]: ...", ""]
    lines += [
        "    @overload",
        "    def changes(",
        "        self,",
        "        resource: str,",
        "        /,",
        "        *,",
        "        state: SyncState | None = None,",
        "        per_page: int | None = None,",
        "        concurrency: int = DEFAULT_CONCURRENCY,",
        "        options: CallOptions | None = None,",
        "        key: str | None = None,",
        "        **params: Any,",
        "    ) -> Delta[Any]: ...",
        "",
        "    def changes(",
        "        self,",
        "        resource: str,",
        "        /,",
        "        *,",
        "        state: SyncState | None = None,",
        "        per_page: int | None = None,",
        "        concurrency: int = DEFAULT_CONCURRENCY,",
        "        options: CallOptions | None = None,",
        "        key: str | None = None,",
        "        **params: Any,",
        "    ) -> Delta[Any]:",
        '        """Records of ``resource`` changed since the watermark in ``state``.',
        "",
        '        ``resource`` names a conditional list: ``"students"``, ``"staff_members"``,',
        '        ``"teaching_groups.students"`` (with ``id=``)... (``CHANGE_OPERATIONS``);',
        "        ``params`` are its filters. With a name written out, the result is typed",
        '        (``school.changes("students")`` is a ``Delta[Student]``), the same as',
        "        ``school.students.changes()``, which shares its watermark. See :class:`Delta`.",
        '        """',
        "        return changes(self.runner, resource, state=state, per_page=per_page,",
        "                       concurrency=concurrency, options=options, key=key, **params)",
        "",
    ]
    return lines


def raw_class(attr: str, cls: str, names: list[str]) -> list[str]:
    """The ``with_raw_response`` view of a resource: its awaitable calls, each
    returning a :class:`RawResponse`."""
    where = "app" if attr == "app" else f"school.{attr}"
    out = [f"\nclass {cls}WithRawResponse:",
           f'    """``{where}`` calls that return a :class:`RawResponse` (HTTP status,',
           '    header fields and the parsed result) instead of the result alone."""\n',
           f"    __slots__ = {tuple(names)!r}\n",
           f"    def __init__(self, resource: {cls}) -> None:"]
    out += [f"        self.{n} = raw_response(resource.{n})" for n in names]
    out.append("")
    return out


def raw_property(cls: str) -> list[str]:
    return ["    @property",
            f"    def with_raw_response(self) -> {cls}WithRawResponse:",
            '        """The same calls, each returning a :class:`RawResponse`: the parsed result',
            '        with the HTTP status and header fields it came from."""',
            f"        return {cls}WithRawResponse(self)",
            ""]


def render_resources(ops: list[dict[str, Any]], names: dict[str, tuple[str, str]],
                     body_fields: dict[str, list[tuple[str, str]]], header: str) -> str:
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for op in ops:
        attr, name = names[op["operation_id"]]
        groups.setdefault(attr, []).append((name, op))
    models = sorted(
        {m for op in ops for m in (op["model"], op["v1_model"], op["body_model"]) if m}
        | {t.split("[")[1].split("]")[0] for fs in body_fields.values() for _, t in fs
           if t.startswith("Sequence[")},
        key=str.lower,  # the order ruff's isort rules expect
    )
    out = [
        header.format(doc="Typed resource classes: one method per API operation."),
        "from __future__ import annotations\n",
        "import datetime",
        "from collections.abc import Sequence",
        "from typing import Any, Literal, overload\n",
        "from ..._core.operations import OPERATIONS",
        "from ...models import (",
        *(f"    {m}," for m in models),
        ")",
        "from ..delta import Delta, changes, typed_changes",
        "from ..pagination import DEFAULT_CONCURRENCY, Paginator",
        "from ..rawresponse import raw_response",
        "from ..runner import OperationRunner",
        "from ..syncstate import SyncState",
        "from .base import CallOptions, DateArg, Resource, ResourceSlot, check_batch\n",
    ]
    classes: list[tuple[str, str]] = []
    change_ops: list[tuple[str, dict[str, Any]]] = []
    raw_names: list[str] = []
    for attr in [*sorted(a for a in groups if a != "app"), "app"]:
        cls = "AppResources" if attr == "app" else class_name(attr)
        if attr != "app":
            classes.append((attr, cls))
        members = sorted(groups[attr], key=lambda t: t[0])
        awaitable = [n for n, op in members if op["returns"] not in ("list", "raw_list")]
        if awaitable:
            out += raw_class(attr, cls, awaitable)
            raw_names.append(f"{cls}WithRawResponse")
        doc = ("App-level operations (they need an app token, except ``me``)." if attr == "app"
               else RESOURCE_DOCS.get(attr, f"Operations on {attr.replace('_', ' ')}."))
        out += [f"\nclass {cls}(Resource):", f'    """{doc}"""\n']
        if awaitable:
            out += raw_property(cls)
        for name, op in members:
            out += method(op, name, body_fields)
            out.append("")
            if attr != "app" and op["conditional"] and op["returns"] == "list":
                out += change_method(op, attr, name)
                out.append("")
                change_ops.append((attr if name == "list" else f"{attr}.{name}", op))
    me = next(op for name, op in groups["app"] if name == "me")
    out += ["\nclass SchoolResources:",
            '    """The resources of one school, as attributes of a SchoolSession (built on',
            '    first use), and the calls on the school as a whole."""\n',
            "    runner: OperationRunner\n"]
    out += [f"    {attr} = ResourceSlot({cls})" for attr, cls in classes]
    out.append("")
    me_lines = method(me, "me", body_fields)
    out += [line.replace("self._runner", "self.runner") for line in me_lines]
    out.append("")
    out += school_changes(sorted(change_ops))
    names_all = sorted([c for _, c in classes] + ["AppResources", "SchoolResources"] + raw_names)
    out.append("\n__all__ = [")
    out.extend(f"    {n!r}," for n in names_all)
    out.append("]")
    return "\n".join(out) + "\n"
