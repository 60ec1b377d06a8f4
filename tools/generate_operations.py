#!/usr/bin/env python3
"""Generate the operation table and the typed resource classes from the vendored spec.

    python tools/generate_operations.py          # write the files
    python tools/generate_operations.py --check  # exit 1 when they are stale

Writes ``assembly_async/_core/operations.py`` (one Operation per operationId,
and where each lives in the SDK) and ``assembly_async/_client/resources/generated.py``
(one typed method per operation, grouped by resource). NAMES below is the one
hand-written part: where each operationId lives in the SDK (resource attribute,
method name).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import _render_resources  # tools/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "assembly_async" / "_core" / "spec" / "openapi.json"
OPS_OUT = ROOT / "assembly_async" / "_core" / "operations.py"
RES_OUT = ROOT / "assembly_async" / "_client" / "resources" / "generated.py"
DOC_OUT = ROOT / "docs" / "api.md"

#: operationId -> (session attribute, method name). "app" methods live on AppSession.
NAMES: dict[str, tuple[str, str]] = {
    "getAcademicYears": ("academic_years", "list"),
    "findAcademicYear": ("academic_years", "get"),
    "getAssessmentPoints": ("assessment_points", "list"),
    "findAssessmentPoint": ("assessment_points", "get"),
    "getAssessmentPointResults": ("assessment_points", "results"),
    "getAssessments": ("assessments", "list"),
    "findAssessment": ("assessments", "get"),
    "findAssessmentGradeSet": ("assessments", "grade_set"),
    "getAssessmentResults": ("assessments", "results"),
    "getAttendances": ("attendances", "list"),
    "getAttendanceSummaries": ("attendances", "summaries"),
    "getCalendarEvents": ("calendar_events", "list"),
    "getContacts": ("contacts", "list"),
    "getExclusions": ("exclusions", "list"),
    "getFacets": ("facets", "list"),
    "findFacet": ("facets", "get"),
    "getGradeSets": ("grade_sets", "list"),
    "findGradeSet": ("grade_sets", "get"),
    "getGroups": ("groups", "list"),
    "getGroupEnrolments": ("groups", "enrolments"),
    "findGroup": ("groups", "get"),
    "getGroupStudents": ("groups", "students"),
    "getMisSubjects": ("mis_subjects", "list"),
    "getRegistrationGroups": ("registration_groups", "list"),
    "findRegistrationGroup": ("registration_groups", "get"),
    "getRegistrationGroupStudents": ("registration_groups", "students"),
    "bulkUpdateResults": ("results", "update_many"),
    "createResult": ("results", "create"),
    "getResults": ("results", "list"),
    "updateResults": ("results", "update"),
    "getRooms": ("rooms", "list"),
    "findRoom": ("rooms", "get"),
    "getClosures": ("rooms", "closures"),
    "getLessons": ("rooms", "lessons"),
    "findSchool": ("details", "get"),
    "deauthorize": ("details", "deauthorize"),
    "status": ("details", "status"),
    "sync": ("details", "request_sync"),
    "getDietaryNeeds": ("dietary_needs", "list"),
    "findDietaryNeed": ("dietary_needs", "get"),
    "getLearningAims": ("learning_aims", "list"),
    "findLearningAim": ("learning_aims", "get"),
    "getMedicalConditions": ("medical_conditions", "list"),
    "findMedicalCondition": ("medical_conditions", "get"),
    "getStaffAbsences": ("staff_absences", "list"),
    "getStaffContracts": ("staff_contracts", "list"),
    "getStaffMembers": ("staff_members", "list"),
    "getLeftStaffMembers": ("staff_members", "left"),
    "findStaffMember": ("staff_members", "get"),
    "getStudents": ("students", "list"),
    "getLeftStudents": ("students", "left"),
    "findStudent": ("students", "get"),
    "getSubjects": ("subjects", "list"),
    "getTeachingGroups": ("teaching_groups", "list"),
    "findTeachingGroup": ("teaching_groups", "get"),
    "getTeachingGroupStudents": ("teaching_groups", "students"),
    "getTimetables": ("timetables", "list"),
    "findTimetable": ("timetables", "get"),
    "getYearGroups": ("year_groups", "list"),
    "findYearGroup": ("year_groups", "get"),
    "getYearGroupStudents": ("year_groups", "students"),
    # App-level endpoints (AppSession); getMe is also on SchoolSession.
    "getMe": ("app", "me"),
    "getRegisteredSchools": ("app", "registered_schools"),
    "getAuthorizations": ("app", "authorizations"),
}
#: OAuth operations are served by assembly_async.auth, not by resources.
OAUTH_OPS = {"oauthAuthorize": "auth.authorization_url", "oauthToken": "auth token grants"}
#: CONCEPTS "Versions": what version 1 returns instead.
V1_MODEL = {"getMe": "MeV1"}
V1_KEY = {"findAssessmentGradeSet": "grade_set"}


def _ref(schema: dict[str, Any]) -> str | None:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for alt in schema.get("anyOf", []):
        if "$ref" in alt:
            return str(alt["$ref"]).rsplit("/", 1)[-1]
    return None


def _kind(param: dict[str, Any]) -> str:
    schema = param.get("schema", {})
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "array" in types:
        return "ids"
    if "boolean" in types:
        return "bool"
    if param["name"] == "year_code":
        return "str"  # CONCEPTS: typed integer on some operations, string on others.
    if "integer" in types:
        return "int"
    if schema.get("format") in ("date", "date-time") or param["name"] in (
        "date",
        "start_date",
        "end_date",
    ):
        return "date"
    return "str"


def load_operations() -> list[dict[str, Any]]:
    """Every operation of the spec as a plain dict for the templates."""
    spec = json.loads(SPEC.read_text("utf-8"))
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            oid = op["operationId"]
            if oid in OAUTH_OPS:
                continue
            params = op.get("parameters", [])
            path_params = [p for p in params if p.get("in") == "path"]
            query = [
                p
                for p in params
                if p.get("in") == "query" and p["name"] not in ("page", "per_page")
            ]
            names = [p["name"] for p in params]
            responses = op.get("responses", {})
            ok = responses.get("200") or {}
            schema = ok.get("content", {}).get("application/json", {}).get("schema")
            model, returns = None, "none"
            if schema is not None:
                if schema.get("type") == "array":
                    model = _ref(schema.get("items", {}))
                    returns = "list" if op.get("x-paginated") else "items"
                    if model is None:
                        returns = "raw_list"
                else:
                    model, returns = _ref(schema), "one"
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            excl = tuple(tuple(x["params"]) for x in op.get("x-mutually-exclusive", []))
            reqs = tuple((k, v[0]) for k, v in sorted(op.get("x-requires", {}).items()))
            level = op.get("x-token-level", "school")
            ops.append(
                {
                    "operation_id": oid,
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "path_params": [(p["name"], _kind(p)) for p in path_params],
                    "query": [(p["name"], _kind(p), bool(p.get("required"))) for p in query],
                    "paginated": bool(op.get("x-paginated")),
                    "has_per_page": "per_page" in names,
                    "conditional": bool(op.get("x-conditional")),
                    "model": model,
                    "returns": returns,
                    "v1_model": V1_MODEL.get(oid),
                    "v1_key": V1_KEY.get(oid),
                    "body_model": _ref(body["schema"]) if "schema" in body else None,
                    "token_level": "any" if level == "app or school" else level,
                    "exclusive": excl,
                    "requires": reqs,
                    "scopes": tuple(op.get("x-required-scopes", {}).get("allOf", [])),
                    "required_scopes": op.get("x-required-scopes", {}),
                    "inferred_scopes": op.get("x-scopes-inferred", {}),
                    "param_docs": {
                        p["name"]: p.get("description", "")
                        for p in params if p.get("in") in ("path", "query")
                    },
                }
            )
    return ops


HEADER = '''"""{doc}

Generated by tools/generate_operations.py from assembly_async/_core/spec/openapi.json.
Do not edit by hand: change the generator and run it again.
"""
'''


def render_operations(ops: list[dict[str, Any]]) -> str:
    out = [
        HEADER.format(doc="The operation table: one Operation per operationId of the spec."),
        "from __future__ import annotations\n",
        "from .endpoint import Operation, Param\n",
        '__all__ = ["OPERATIONS", "SDK_CALLS"]\n',
        "OPERATIONS: dict[str, Operation] = {",
    ]
    for op in sorted(ops, key=lambda o: o["operation_id"]):
        out.append(f"    {op['operation_id']!r}: Operation(")
        for key in ("operation_id", "method", "path", "summary"):
            out.append(f"        {key}={op[key]!r},")
        if op["path_params"]:
            items = ", ".join(f"Param({n!r}, {k!r}, True)" for n, k in op["path_params"])
            out.append(f"        path_params=({items},),")
        if op["query"]:
            out.append("        query=(")
            for n, k, r in op["query"]:
                out.append(f"            Param({n!r}, {k!r}{', True' if r else ''}),")
            out.append("        ),")
        for key in ("paginated", "has_per_page", "conditional"):
            if op[key]:
                out.append(f"        {key}=True,")
        for key in ("model", "returns", "v1_model", "v1_key", "body_model", "token_level"):
            if op[key] is not None:
                out.append(f"        {key}={op[key]!r},")
        for key in ("exclusive", "requires", "scopes"):
            if op[key]:
                out.append(f"        {key}={op[key]!r},")
        out.append("    ),")
    out.append("}\n")
    out.append("#: operationId -> SDK call, for docs/api.md and the coverage test.")
    out.append("SDK_CALLS: dict[str, str] = {")
    for oid, (attr, name) in sorted(NAMES.items()):
        target = f"app.{name}" if attr == "app" else f"school.{attr}.{name}"
        out.append(f"    {oid!r}: {target!r},")
    out.append("}\n")
    return "\n".join(out)


def _body_fields(
    spec: dict[str, Any], ops: list[dict[str, Any]]
) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    schemas = spec["components"]["schemas"]
    for op in ops:
        name = op["body_model"]
        if not name or name in out:
            continue
        fields = []
        for fname, prop in schemas[name]["properties"].items():
            types = prop.get("type")
            types = types if isinstance(types, list) else [types]
            if "array" in types:
                fields.append((fname, f"Sequence[{_ref(prop['items'])}] | None"))
            elif "integer" in types:
                fields.append((fname, "int | None"))
            elif prop.get("format") == "date-time":
                fields.append((fname, "datetime.datetime | None"))
            else:
                fields.append((fname, "str | None"))
        out[name] = fields
    return out


def render_resources(ops: list[dict[str, Any]]) -> str:
    spec = json.loads(SPEC.read_text("utf-8"))
    return _render_resources.render_resources(ops, NAMES, _body_fields(spec, ops), HEADER)


def render_doc(ops: list[dict[str, Any]]) -> str:
    """docs/api.md: every operation of the spec and the SDK call that runs it."""
    lines = [
        "# API coverage: every operation and its SDK call",
        "",
        "Generated by `tools/generate_operations.py` from the vendored spec; a test fails",
        "when an operationId of the spec has no row or no method.",
        "",
        "`school` is a `SchoolSession` (`client.school(...)`), `app` an `AppSession`",
        "(`client.app(...)`). List calls return a `Paginator`: `async for` walks every",
        "page, `await ....page(n)` fetches one page with its paging info.",
        "",
        "| method | path | operationId | SDK call |",
        "|---|---|---|---|",
    ]
    for op in sorted(ops, key=lambda o: (o["path"], o["method"])):
        attr, name = NAMES[op["operation_id"]]
        call = f"app.{name}" if attr == "app" else f"school.{attr}.{name}"
        args = ", ".join(n for n, _ in op["path_params"])
        lines.append(
            f"| {op['method']} | `{op['path']}` | {op['operation_id']} | `{call}({args})` |"
        )
    lines.append("| GET | `/me` (school token) | getMe | `school.me()` |")
    for oid, where in OAUTH_OPS.items():
        lines.append(f"| OAuth | see `assembly_async.auth` | {oid} | `{where}` |")
    lines += [
        "",
        "## Incremental sync: `changes()`",
        "",
        "Every conditional list (CONCEPTS \"Conditional requests\") has a typed `changes`",
        "method returning a `Delta` of its model; `school.changes(name)` is the same",
        "delta by name and shares its watermark.",
        "",
        "| `school.changes(...)` name | typed method | yields |",
        "|---|---|---|",
    ]
    rows = []
    for op in ops:
        attr, name = NAMES[op["operation_id"]]
        if attr == "app" or not (op["conditional"] and op["returns"] == "list"):
            continue
        key = attr if name == "list" else f"{attr}.{name}"
        method = "changes" if name == "list" else f"{name}_changes"
        args = ", ".join(n for n, _ in op["path_params"])
        rows.append(f"| `{key}` | `school.{attr}.{method}({args})` | `{op['model']}` |")
    lines += sorted(rows)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    ops = load_operations()
    missing = sorted({o["operation_id"] for o in ops} - set(NAMES))
    if missing:
        print(f"operations without an SDK name: {missing}", file=sys.stderr)
        return 1
    outputs = {
        OPS_OUT: render_operations(ops),
        RES_OUT: render_resources(ops),
        DOC_OUT: render_doc(ops),
    }
    if "--check" in argv:
        stale = [
            str(p) for p, text in outputs.items() if not p.exists() or p.read_text("utf-8") != text
        ]
        if stale:
            print(f"stale: {stale}; run tools/generate_operations.py", file=sys.stderr)
            return 1
        return 0
    for path, text in outputs.items():
        path.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
