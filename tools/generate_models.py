#!/usr/bin/env python3
"""Generate the attrs models of assembly_async from the vendored OpenAPI spec.

Writes ``assembly_async/models/_generated.py`` (one frozen attrs class per
component schema, plus the named classes for inline objects) and
``assembly_async/models/__init__.py`` (re-exports). Standard library only, so it
runs before the package's dependencies are installed.

Usage::

    python tools/generate_models.py           # write the files
    python tools/generate_models.py --check   # exit 1 when a file is stale

Every field is optional (``T | None = None``): the API may send null for any
field, or leave it out; except the fields the spec marks non-nullable, ``id``
(required) and ``object`` (the spec's type tag as default). Date fields are
``CalendarDate`` or ``Instant``, and a few strings ``Code``, as
``tools/field_rules.py`` decides (with the reason for each). Enums stay
``str`` so an unknown value never fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import keyword
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "assembly_async" / "_core" / "spec" / "openapi.json"
GENERATED_PATH = ROOT / "assembly_async" / "models" / "_generated.py"
INIT_PATH = ROOT / "assembly_async" / "models" / "__init__.py"

#: Names for inline object schemas, keyed by (owner class, property). Inline
#: objects not listed here are named owner + CamelCase(property).
INLINE_NAMES: dict[tuple[str, str], str] = {
    ("AuthorizationsV1", "data"): "AuthorizationV1",
}

#: The annotations of the two kinds of date field and of floats (``models/_types.py``).
DATE_ALIAS = "CalendarDate"
INSTANT_ALIAS = "Instant"
FLOAT_ALIAS = "FiniteFloat"
CODE_ALIAS = "Code"

#: Fields the spec marks non-nullable that stay so in the models: the record's
#: identity (required) and its type tag (the spec's default, when it has one).
NON_NULLABLE = frozenset({"id", "object"})

#: A string field with a name like these must have a row in the date rules.
_DATE_NAME = re.compile(r"(^|_)(date|dob)$|_(at|on)$")

#: Module-level names the generated annotations use; a field with one of these
#: names would shadow it inside the class body, so the generator refuses it.
_RESERVED = frozenset(
    {"datetime", "attrs", "Any", DATE_ALIAS, INSTANT_ALIAS, FLOAT_ALIAS, CODE_ALIAS, "SCHEMAS"}
    | {"int", "str", "float", "bool", "dict", "tuple", "None"}
)


def _load_field_rules() -> Any:
    """``tools/field_rules.py`` (loaded by path: the generator runs as a script and in tests)."""
    path = Path(__file__).resolve().parent / "field_rules.py"
    spec = importlib.util.spec_from_file_location("_assembly_field_rules", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_RULES = _load_field_rules()
DATE_RULES: dict[tuple[str, str], tuple[str, str]] = _RULES.DATE_RULES
CODE_RULES: dict[tuple[str, str], str] = _RULES.CODE_RULES

_REF_PREFIX = "#/components/schemas/"
_LINE_WIDTH = 100


class GeneratorError(Exception):
    """The spec contains something the generator cannot turn into a model."""


@dataclass
class FieldSpec:
    """One attrs field: its name, annotation text, default text (None: required)
    and comment lines."""

    name: str
    annotation: str
    comments: list[str] = field(default_factory=list)
    default: str | None = "None"


@dataclass
class ClassSpec:
    """One generated class."""

    name: str
    doc: list[str]
    fields: list[FieldSpec]
    deps: set[str]
    source: str  # where it comes from, for error messages


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name) if part)


def _check_identifier(name: str, where: str) -> None:
    if not name.isidentifier():
        raise GeneratorError(f"{where}: {name!r} is not a valid Python identifier")
    if keyword.iskeyword(name):
        raise GeneratorError(f"{where}: {name!r} is a Python keyword; add a rename rule")


class _Builder:
    """Walks the component schemas and collects ClassSpecs (inline extras too)."""

    def __init__(
        self,
        schemas: Mapping[str, Any],
        rules: Mapping[tuple[str, str], tuple[str, str]],
        codes: Mapping[tuple[str, str], str],
    ) -> None:
        self.schemas = schemas
        self.rules = rules
        self.codes = codes
        self.used_rules: set[tuple[str, str]] = set()
        self.classes: dict[str, ClassSpec] = {}

    def build(self) -> list[ClassSpec]:
        for name, schema in self.schemas.items():
            self._add_class(name, schema, source=f"components/schemas/{name}")
        for spec in self.classes.values():
            for fld in spec.fields:
                if fld.name in self.classes:
                    raise GeneratorError(
                        f"{spec.source}.{fld.name}: field name would shadow the class {fld.name}"
                    )
        unused = sorted((set(self.rules) | set(self.codes)) - self.used_rules)
        if unused:
            raise GeneratorError(f"field rules for fields the spec does not have: {unused}")
        return _toposort(self.classes)

    def _add_class(self, name: str, schema: Mapping[str, Any], *, source: str) -> None:
        _check_identifier(name, source)
        if name in self.classes:
            raise GeneratorError(f"{source}: class name {name!r} is already used")
        if name in _RESERVED:
            raise GeneratorError(f"{source}: class name {name!r} clashes with a generated name")
        kind = schema.get("type", "object")
        if kind != "object" and kind != ["object", "null"]:
            raise GeneratorError(f"{source}: only object schemas become classes, got {kind!r}")
        # Reserve the name before walking properties (inline classes may nest).
        doc = _class_doc(name, schema)
        spec = ClassSpec(name=name, doc=doc, fields=[], deps=set(), source=source)
        self.classes[name] = spec
        for prop, prop_schema in (schema.get("properties") or {}).items():
            where = f"{source}.{prop}"
            _check_identifier(prop, where)
            if prop in _RESERVED:
                raise GeneratorError(f"{where}: field name {prop!r} would shadow a module name")
            text = self._annotation(prop_schema, owner=name, prop=prop, where=where, deps=spec.deps)
            comments = _field_comments(prop_schema)
            if prop in NON_NULLABLE and _non_nullable(prop_schema) and text in ("int", "str"):
                default = prop_schema.get("default")
                spec.fields.append(FieldSpec(
                    prop, text, comments, None if default is None else json.dumps(default)))
                continue
            annotation = text if text == "Any" else f"{text} | None"
            spec.fields.append(FieldSpec(prop, annotation, comments))

    def _inline_class(
        self, schema: Mapping[str, Any], *, owner: str, prop: str, where: str, item: bool
    ) -> str:
        name = INLINE_NAMES.get((owner, prop))
        if name is None:
            name = owner + _camel(prop) + ("Item" if item else "")
        if name in self.schemas:
            raise GeneratorError(f"{where}: inline class name {name!r} clashes with a schema")
        if "description" not in schema:
            noun = "item of the" if item else "object in the"
            schema = {**schema, "description": f"Inline {noun} ``{prop}`` field of {owner}."}
        self._add_class(name, schema, source=where)
        return name

    def _annotation(
        self, schema: Mapping[str, Any], *, owner: str, prop: str, where: str, deps: set[str]
    ) -> str:
        """Annotation text for a schema, without the trailing ``| None``."""
        if "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith(_REF_PREFIX) or ref[len(_REF_PREFIX) :] not in self.schemas:
                raise GeneratorError(f"{where}: unresolvable $ref {ref!r}")
            target = str(ref[len(_REF_PREFIX) :])
            deps.add(target)
            return target
        for combinator in ("anyOf", "oneOf"):
            if combinator in schema:
                options = [s for s in schema[combinator] if s.get("type") != "null"]
                if not options:
                    return "Any"
                texts = [
                    self._annotation(s, owner=owner, prop=prop, where=where, deps=deps)
                    for s in options
                ]
                return _union(texts)
        if "allOf" in schema:
            parts = schema["allOf"]
            if len(parts) != 1:
                raise GeneratorError(f"{where}: allOf with {len(parts)} parts is not supported")
            return self._annotation(parts[0], owner=owner, prop=prop, where=where, deps=deps)

        raw_type = schema.get("type")
        if raw_type is None:
            if "properties" in schema:
                raw_type = "object"
            else:
                return "Any"  # `{}`: anything goes
        types = [raw_type] if isinstance(raw_type, str) else list(raw_type)
        types = [t for t in types if t != "null"]
        if not types:
            return "Any"
        texts = []
        for kind in types:
            if kind == "integer":
                texts.append("int")
            elif kind == "number":
                texts.append(FLOAT_ALIAS)
            elif kind == "boolean":
                texts.append("bool")
            elif kind == "string":
                texts.append(self._string(schema, owner=owner, prop=prop, where=where))
            elif kind == "array":
                items = schema.get("items")
                if not items:
                    texts.append("tuple[Any, ...]")
                    continue
                if _is_inline_object(items):
                    item_text = self._inline_class(
                        items, owner=owner, prop=prop, where=f"{where}[]", item=True
                    )
                    deps.add(item_text)
                else:
                    item_text = self._annotation(
                        items, owner=owner, prop=prop, where=f"{where}[]", deps=deps
                    )
                texts.append(f"tuple[{item_text}, ...]")
            elif kind == "object":
                if _is_inline_object(schema):
                    name = self._inline_class(
                        schema, owner=owner, prop=prop, where=where, item=False
                    )
                    deps.add(name)
                    texts.append(name)
                elif (
                    isinstance(schema.get("additionalProperties"), dict)
                    and schema["additionalProperties"]
                ):
                    value = self._annotation(
                        schema["additionalProperties"],
                        owner=owner,
                        prop=prop,
                        where=f"{where}{{}}",
                        deps=deps,
                    )
                    texts.append(f"dict[str, {value}]")
                else:
                    texts.append("dict[str, Any]")
            else:
                raise GeneratorError(f"{where}: unsupported type {kind!r}")
        return _union(texts)


    def _string(self, schema: Mapping[str, Any], *, owner: str, prop: str, where: str) -> str:
        """``str``, or a date kind from the date rules (every date field needs a rule)."""
        fmt = schema.get("format")
        if (owner, prop) in self.codes and fmt is None:
            self.used_rules.add((owner, prop))
            return CODE_ALIAS
        rule = self.rules.get((owner, prop))
        if rule is None:
            if fmt in ("date", "date-time") or (fmt is None and _DATE_NAME.search(prop)):
                raise GeneratorError(
                    f"{where}: a date field without a rule; add ({owner!r}, {prop!r}) to "
                    "DATE_RULES in tools/field_rules.py (a calendar date or an instant, and why)"
                )
            return "str"
        self.used_rules.add((owner, prop))
        kind, _reason = rule
        if kind == "date":
            return DATE_ALIAS
        if kind == "instant":
            return INSTANT_ALIAS
        raise GeneratorError(f"{where}: unknown date kind {kind!r} in DATE_RULES")


def _non_nullable(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return isinstance(kind, str) and kind != "null"


def _is_inline_object(schema: Mapping[str, Any]) -> bool:
    return "$ref" not in schema and bool(schema.get("properties"))


def _union(texts: Iterable[str]) -> str:
    unique = list(dict.fromkeys(texts))
    if "Any" in unique:
        return "Any"
    return " | ".join(unique)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if text and text[-1] not in ".!?":
        text += "."
    return text


def _class_doc(name: str, schema: Mapping[str, Any]) -> list[str]:
    first = _sentence(schema.get("description") or f"The {name} schema of the Assembly API.")
    lines = [first]
    extra = []
    if "x-note" in schema:
        extra.append(_sentence(f"Note: {schema['x-note']}"))
    if schema.get("x-api-version"):
        extra.append(f"Only returned by API version {schema['x-api-version']}.")
    if extra:
        lines.append("")
        lines.extend(extra)
    return lines


def _literal_list(values: Iterable[Any]) -> str:
    return ", ".join(json.dumps(v) for v in values if v is not None)


def _field_comments(schema: Mapping[str, Any]) -> list[str]:
    parts = []
    if schema.get("description"):
        parts.append(_sentence(schema["description"]))
    if "const" in schema:
        parts.append(f"Always {json.dumps(schema['const'])}.")
    elif "default" in schema and isinstance(schema["default"], str):
        parts.append(f"Normally {json.dumps(schema['default'])}.")
    enum = schema.get("enum")
    if enum:
        parts.append(f"Known values: {_literal_list(enum)} (others are kept as given).")
    if "pattern" in schema:
        parts.append(f"Pattern: ``{schema['pattern']}``.")
    if not parts:
        return []
    return _wrap(" ".join(parts), width=_LINE_WIDTH - len("    #: "))


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def _toposort(classes: Mapping[str, ClassSpec]) -> list[ClassSpec]:
    """Order classes so each one's dependencies come first (spec order otherwise)."""
    ordered: list[ClassSpec] = []
    state: dict[str, int] = {}  # 1 = in progress, 2 = done

    def visit(name: str, chain: list[str]) -> None:
        mark = state.get(name)
        if mark == 2:
            return
        if mark == 1:
            cycle = " -> ".join([*chain, name])
            raise GeneratorError(f"reference cycle between schemas: {cycle}")
        state[name] = 1
        spec = classes[name]
        for dep in sorted(spec.deps, key=list(classes).index):
            visit(dep, [*chain, name])
        state[name] = 2
        ordered.append(spec)

    for name in classes:
        visit(name, [])
    return ordered


_HEADER = '''\
# Generated by tools/generate_models.py from the vendored OpenAPI spec
# (assembly_async/_core/spec/openapi.json). DO NOT EDIT: change the spec, the
# generator or tools/field_rules.py, then run `python tools/generate_models.py`.
"""Typed models for every component schema of the Assembly Platform API.

Each class is a frozen, slotted attrs class with keyword-only fields. Every
field is optional and defaults to None because the API may send null for any
field, or leave it out; except ``id``, which identifies the record and is
required, and ``object``, the record's type tag, which defaults to the tag the
spec gives. Date fields are ``CalendarDate`` (``datetime.date``) or
``Instant`` (an aware ``datetime.datetime``), and ``Code`` is a ``str`` the API
may send as a number: ``tools/field_rules.py`` says which, and why. Enums are
plain strings so unknown values never fail to decode. Arrays become tuples so
that models stay immutable and hashable. Every class is a :class:`Model`:
``to_dict()``, ``to_json()``, and a repr that shows ids and kinds but no
personal data (``ASSEMBLY_REPR=full`` shows everything).
"""

from typing import Any

import attrs

from ._base import Model
from ._types import CalendarDate, Code, FiniteFloat, Instant

'''


def _render_all(names: Iterable[str]) -> list[str]:
    lines = ["__all__ = ["]
    lines.extend(f'    "{name}",' for name in names)
    lines.append("]")
    return lines


def _sorted_exports(classes: list[ClassSpec], *, for_import: bool = False) -> list[str]:
    # The orders ruff wants: CONSTANTS first, then Classes; import lists sort
    # case-insensitively (isort), ``__all__`` case-sensitively (RUF022).
    key = str.lower if for_import else None
    return ["SCHEMAS", *sorted((c.name for c in classes), key=key)]


def render_generated(classes: list[ClassSpec]) -> str:
    """The text of ``models/_generated.py``."""
    out = [_HEADER.rstrip("\n"), ""]
    out.extend(_render_all(_sorted_exports(classes)))
    for spec in classes:
        out += ["", "", "@attrs.frozen(kw_only=True, repr=False)", f"class {spec.name}(Model):"]
        lines: list[str] = []
        for paragraph in spec.doc:
            lines.extend(_wrap(paragraph, _LINE_WIDTH - 8) if paragraph else [""])
        if len(lines) == 1 and len(lines[0]) + 10 <= _LINE_WIDTH:
            out.append(f'    """{lines[0]}"""')
        else:
            out.append(f'    """{lines[0]}')
            out.extend(f"    {line}" if line else "" for line in lines[1:])
            out.append('    """')
        if spec.fields:
            out.append("")
        for fld in spec.fields:
            out.extend(f"    #: {line}" for line in fld.comments)
            default = "" if fld.default is None else f" = {fld.default}"
            out.append(f"    {fld.name}: {fld.annotation}{default}")
    out += ["", ""]
    out.append("#: Schema name (and inline class name) -> model class.")
    out.append("SCHEMAS: dict[str, type[Any]] = {")
    out.extend(f'    "{spec.name}": {spec.name},' for spec in classes)
    out.append("}")
    return "\n".join(out) + "\n"


#: Hand-written names ``models/__init__.py`` re-exports beside the classes.
EXTRA_EXPORTS: dict[str, tuple[str, ...]] = {
    "assembly_async.models._base": ("Model", "full_repr"),
    "assembly_async.models._problems": ("NO_VALUE", "DecodeProblem"),
    "assembly_async.models._types": (DATE_ALIAS, INSTANT_ALIAS, CODE_ALIAS),
}


def render_init(classes: list[ClassSpec]) -> str:
    """The text of ``models/__init__.py``."""
    extras = [name for names in EXTRA_EXPORTS.values() for name in names]
    out = [
        "# Generated by tools/generate_models.py. DO NOT EDIT.",
        '"""Typed models of the Assembly Platform API (see ``_generated`` for the rules)."""',
        "",
    ]
    imports: dict[str, list[str]] = {
        "assembly_async.models._generated": [
            "from assembly_async.models._generated import (",
            *(f"    {name}," for name in _sorted_exports(classes, for_import=True)),
            ")",
        ]
    }
    for module, names in EXTRA_EXPORTS.items():
        ordered = [*sorted(n for n in names if n.isupper()),
                   *sorted(n for n in names if not n.isupper())]
        imports[module] = [f"from {module} import {', '.join(ordered)}"]
    for module in sorted(imports):  # the order ruff's isort rules expect
        out.extend(imports[module])
    out.append("")
    names = [*_sorted_exports(classes), *extras]
    # ruff's order (RUF022): CONSTANTS first, then the rest, each case-sensitively.
    out.extend(_render_all([*sorted(n for n in names if n.isupper()),
                            *sorted(n for n in names if not n.isupper())]))
    return "\n".join(out) + "\n"


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """Read the vendored spec (stdlib json; no import of the package)."""
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def build_classes(spec: Mapping[str, Any]) -> list[ClassSpec]:
    """All classes to generate, dependencies first."""
    schemas = spec.get("components", {}).get("schemas", {})
    if not schemas:
        raise GeneratorError("the spec has no components/schemas")
    return _Builder(schemas, DATE_RULES, CODE_RULES).build()


def generate(spec: Mapping[str, Any] | None = None) -> dict[Path, str]:
    """Map each output path to the text it should have."""
    classes = build_classes(load_spec() if spec is None else spec)
    return {GENERATED_PATH: render_generated(classes), INIT_PATH: render_init(classes)}


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a generated file is missing or stale"
    )
    args = parser.parse_args(argv)
    try:
        outputs = generate()
    except GeneratorError as exc:
        print(f"generate_models: {exc}", file=sys.stderr)
        return 2
    stale = []
    for path, text in outputs.items():
        current = path.read_text("utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
            print(f"wrote {_show(path)}")
    if stale:
        for path in stale:
            print(f"stale: {_show(path)} (run python tools/generate_models.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
