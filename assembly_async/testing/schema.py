"""A small checker of JSON payloads against the vendored OpenAPI schemas.

It understands ``$ref``, ``type`` (string or list, incl. ``null``), ``anyOf``/
``oneOf``/``allOf``, ``enum``, ``const``, ``properties`` (unknown fields are
errors unless the schema lists no properties), ``required`` and ``items``.
Formats are ignored.  Version 1 list envelopes, ``MeV1`` and the combined v1
grade-set answer are handled by :meth:`SchemaChecker.response_schema`.
"""

from __future__ import annotations

from typing import Any

from assembly_async._core.spec import load_spec

_TYPES: dict[str, Any] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}
REF = "#/components/schemas/"


class SchemaChecker:
    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.spec = spec if spec is not None else load_spec()
        self.schemas: dict[str, Any] = self.spec["components"]["schemas"]
        self.ops: dict[str, dict[str, Any]] = {
            op["operationId"]: op for item in self.spec["paths"].values()
            for m, op in item.items() if isinstance(op, dict) and "operationId" in op
        }

    def ref(self, name: str) -> dict[str, Any]:
        return {"$ref": REF + name}

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith(REF):
                raise ValueError(f"unsupported $ref {ref}")
            schema = self.schemas[ref[len(REF):]]
        return schema

    def check(self, schema: dict[str, Any], value: Any, path: str = "$") -> list[str]:
        """Problems found (empty when ``value`` fits ``schema``)."""
        schema = self.resolve(schema)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                results = [self.check(s, value, path) for s in schema[key]]
                if any(not r for r in results):
                    return []
                return min(results, key=len)
        errors: list[str] = []
        for sub in schema.get("allOf", ()):
            errors += self.check(sub, value, path)
        if "const" in schema and value != schema["const"]:
            errors.append(f"{path}: {value!r} is not {schema['const']!r}")
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{path}: {value!r} not in {schema['enum']}")
        types = schema.get("type")
        if types is not None:
            names = [types] if isinstance(types, str) else list(types)
            if not any(_TYPES[t](value) for t in names):
                return [*errors, f"{path}: {type(value).__name__} {value!r:.60} is not {names}"]
        if isinstance(value, dict):
            props = schema.get("properties")
            if props is not None:
                for k, v in value.items():
                    if k not in props:
                        if schema.get("additionalProperties") in (None, False):
                            errors.append(f"{path}.{k}: field not in schema")
                    else:
                        errors += self.check(props[k], v, f"{path}.{k}")
            for k in schema.get("required", ()):
                if k not in value:
                    errors.append(f"{path}.{k}: required field missing")
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                errors += self.check(schema["items"], item, f"{path}[{i}]")
        return errors

    def response_schema(self, operation_id: str, status: int = 200, version: str = "1.1"
                        ) -> dict[str, Any] | None:
        """The schema a response body should fit (None when no body is documented)."""
        op = self.ops[operation_id]
        responses = op["responses"]
        resp = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        if resp is None:
            raise KeyError(f"{operation_id} documents no {status} response")
        if "$ref" in resp:
            resp = self.spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[-1]]
        content = resp.get("content", {}).get("application/json")
        if content is None:
            return None
        schema: dict[str, Any] = content["schema"]
        if version == "1" and status == 200:
            if operation_id == "getMe":
                return self.ref("MeV1")
            if operation_id == "findAssessmentGradeSet":
                props = dict(self.resolve(self.ref("Assessment"))["properties"])
                props["grade_set"] = {"anyOf": [self.ref("GradeSet"), {"type": "null"}]}
                return {"type": "object", "properties": props}
            if op.get("x-paginated") and schema.get("type") == "array":
                env = self.resolve(self.ref("ListEnvelopeV1"))
                props = dict(env["properties"])
                props["data"] = schema
                return {"type": "object", "properties": props,
                        "required": list(props)}
        return schema

    def check_response(self, operation_id: str, body: Any, status: int = 200,
                       version: str = "1.1") -> list[str]:
        schema = self.response_schema(operation_id, status, version)
        if schema is None:
            return [] if body in (None, b"", "") else [f"$: no body documented, got {body!r:.60}"]
        return self.check(schema, body)
