"""Render ``assembly_async/_client/resources/generated.py`` (used by generate_operations.py).

One typed method per operation, with a docstring from the spec
(``_render_docs.py``); a typed ``changes()`` per conditional list
(``school.students.changes()`` -> ``Delta[Student]``) and the overloads of
``school.changes("students")``; a ``with_raw_response`` view per resource.
"""

from __future__ import annotations

import keyword
from typing import Any

from _render_docs import (
    BODY_DOCS,
    CALL_DOCS,
    MAX_BATCH,
    PATH_TYPES,
    PY_TYPES,
    RESOURCE_DOCS,
    call_line,
    class_name,
    docstring,
    param_doc,
    return_type,
    returns_doc,
    scope_text,
)


def method(op: dict[str, Any], name: str, body_fields: dict[str, list[tuple[str, str]]]
           ) -> list[str]:
    oid = op["operation_id"]
    args = ["self"]
    docs: list[tuple[str, str]] = []
    for pname, kind in op["path_params"]:
        args.append(f"{pname}: {PATH_TYPES[kind]}")
        docs.append((pname, param_doc(op, pname)))
    if op["path_params"]:
        args.append("/")
    kw: list[str] = []
    for pname, kind, _required in op["query"]:
        if keyword.iskeyword(pname):
            raise SystemExit(f"{oid}: parameter {pname} is a Python keyword")
        kw.append(f"{pname}: {PY_TYPES[kind]} = None")
        docs.append((pname, param_doc(op, pname)))
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
    ret = return_type(op)
    lines = [f"    {head} {name}(", *(f"        {a}," for a in args), f"    ) -> {ret}:"]
    summary = op["summary"].rstrip(".") + "."
    lines += docstring(summary, [call_line(op), scope_text(op)], docs, returns_doc(op))
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
        docs.append((pname, param_doc(op, pname)))
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
        docs.insert(0, (pname, param_doc(op, pname)))
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
    lines += docstring(f"Records of {call} changed since the last sync.", paras, docs,
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
    any_name = [
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
    ]
    lines += [
        "    @overload",
        *any_name,
        "    ) -> Delta[Any]: ...",
        "",
        *any_name,
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
