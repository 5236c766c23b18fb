"""The OpenAPI 3.1 document at GET /openapi.json, built from the same JSON
Schemas the service validates with.

The request body of POST /v1/check is the bundle's own submission schema
(`engine().bundle.schemas["submission"]`), not a copy: change the schema and
the document follows. Responses and errors are described here, once.

Adding an endpoint (a test fails until every route under /v1/ is here):

    from web import openapi

    openapi.operation(
        "POST", "/v1/check/batch",                 # OpenAPI path syntax: /v1/x/{name}
        summary="Check up to 100 submissions",
        role="submitter",                          # None: no key needed
        body=openapi.ref("BatchRequest"),          # a JSON request body, if any
        responses={200: ("One result per item.", openapi.ref("BatchResult"))},
        errors=("invalid_submission",),            # codes from web.errors.ERROR_CODES
    )
    openapi.schema("BatchRequest", {...})          # JSON Schema 2020-12 components
    openapi.schema("BatchResult", lambda bundle: {...})   # or built from the bundle

Call these at import time of your blueprint's module. Statuses follow from
the error codes; every operation also documents `internal_error` (500),
operations with a role document `unauthorized` (401) and, where some role
lacks it, `forbidden` (403), and operations with a body document
`invalid_json`, `payload_too_large` and `unsupported_media_type`. Also:
`parameters` (OpenAPI parameter objects), `body_examples` (run by the fuzz
tests), `auth_optional=True` (a key or another credential, such as a signed
link), `links` (status -> OpenAPI links), `operation_id`.

To add a field to an existing response, extend its schema with
`extend(name, properties, required=...)`: response schemas forbid unknown
fields, so tests/test_fuzz.py notices an undocumented one. Verdicts: `Verdict`
is what POST /v1/check answers, `StoredVerdict` what the reads answer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, jsonify

from checker.bundle import Bundle
from checker.document import TEXT_FIELDS

from .auth import IMPLIES, ROLES
from .errors import ERROR_CODES
from .state import engine

bp = Blueprint("openapi", __name__)

Schema = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    method: str  # lower case
    path: str  # OpenAPI syntax
    summary: str
    role: str | None
    body: Schema | None = None
    body_examples: dict[str, Any] = field(default_factory=dict)
    parameters: tuple[dict, ...] = ()
    responses: dict[int, tuple[str, Schema | None]] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    description: str | None = None
    operation_id: str | None = None
    links: dict[int, dict] = field(default_factory=dict)  # status -> OpenAPI links from that answer
    tags: tuple[str, ...] = ()
    media_type: str = "application/json"
    auth_optional: bool = False  # a key is one way in; another credential (a signed link) is the other


OPERATIONS: dict[tuple[str, str], Operation] = {}
SCHEMAS: dict[str, Schema | Callable[[Bundle], Schema]] = {}


def operation(method: str, path: str, **kwargs) -> Operation:
    """Document an endpoint (see the module docstring)."""
    op = Operation(method.lower(), path, **kwargs)
    unknown = [c for c in op.errors if c not in ERROR_CODES]
    if unknown:
        raise ValueError(f"unknown error code(s) {unknown} for {method} {path}")
    if op.role is not None and op.role not in ROLES:
        raise ValueError(f"unknown role {op.role!r} for {method} {path}")
    OPERATIONS[(op.path, op.method)] = op
    return op


def schema(name: str, value: Schema | Callable[[Bundle], Schema]) -> None:
    """Add a component schema: a dict, or a function of the bundle in force."""
    SCHEMAS[name] = value


def extend(name: str, properties: Schema, required: tuple[str, ...] = ()) -> None:
    """Add properties to a component schema (a response that gained a field)."""
    base = SCHEMAS[name]
    if callable(base):
        raise TypeError(f"{name} is built from the bundle; edit its builder instead")
    base["properties"].update(properties)
    base.setdefault("required", []).extend(r for r in required if r not in base["required"])


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def flask_path(openapi_path: str) -> str:
    """/v1/verdicts/{decision_id} -> /v1/verdicts/<decision_id> (for tests and tools)."""
    return re.sub(r"\{([^}]+)\}", r"<\1>", openapi_path)


def openapi_path(rule: str) -> str:
    """/v1/verdicts/<decision_id> or <string:decision_id> -> /v1/verdicts/{decision_id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


# -- the document ---------------------------------------------------------------------
@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())


def document(bundle: Bundle | None = None) -> dict:
    """The whole OpenAPI 3.1 document for the bundle in force."""
    bundle = bundle or engine().bundle
    components = {name: (value(bundle) if callable(value) else copy.deepcopy(value)) for name, value in SCHEMAS.items()}
    paths: dict[str, dict] = {}
    for op in sorted(OPERATIONS.values(), key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Pangolin",
            "version": "1",
            "summary": "Checks ads against the policies on protected wildlife products and live-animal sales.",
            "description": (
                "Every verdict is stored in the verdict log before it is answered. Every error is JSON: "
                '`{"error": {"code", "message", "details": [{"field", "problem"}]}}`. '
                + (f"Policy version {bundle.version}." if bundle else "")
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (`pgk_…`) made with `flask keys create --role ROLE --name NAME`.",
                }
            },
        },
    }


def _operation(op: Operation) -> dict:
    out: dict[str, Any] = {
        "operationId": op.operation_id or _operation_id(op),
        "summary": op.summary,
    }
    if op.description:
        out["description"] = op.description
    if op.tags:
        out["tags"] = list(op.tags)
    if op.role is None:
        out["security"] = []
    else:
        out["security"] = [{"bearer": []}, {}] if op.auth_optional else [{"bearer": []}]
        out["x-required-role"] = op.role
    if op.parameters:
        out["parameters"] = [copy.deepcopy(p) for p in op.parameters]
    if op.body is not None:
        media: dict[str, Any] = {"schema": copy.deepcopy(op.body)}
        if op.body_examples:
            media["examples"] = {k: {"value": v} for k, v in op.body_examples.items()}
        out["requestBody"] = {"required": True, "content": {op.media_type: media}}
    responses: dict[str, Any] = {}
    for status, (description, body) in sorted(op.responses.items()):
        resp: dict[str, Any] = {"description": description}
        if status in op.links:
            resp["links"] = copy.deepcopy(op.links[status])
        if body is not None:
            resp["content"] = {"application/json": {"schema": copy.deepcopy(body)}}
        responses[str(status)] = resp
    by_status: dict[int, list[str]] = {}
    for code in _error_codes(op):
        by_status.setdefault(ERROR_CODES[code], []).append(code)
    for status, codes in sorted(by_status.items()):
        responses[str(status)] = _error_response(codes)
    out["responses"] = responses
    return out


def _error_codes(op: Operation) -> list[str]:
    codes = list(op.errors)
    if op.body is not None:
        codes += ["invalid_json", "payload_too_large", "unsupported_media_type"]
    if op.role is not None:
        codes.append("unauthorized")
        if any(op.role not in IMPLIES[r] for r in ROLES):
            codes.append("forbidden")
    codes.append("internal_error")
    order = list(ERROR_CODES)
    return sorted(set(codes), key=order.index)


_ERROR_TEXT = {
    "invalid_json": "the body is not JSON (or not UTF-8, or nested too deeply)",
    "invalid_submission": "the submission breaks the contract; `details` names each field",
    "invalid_parameter": "a bad query parameter; `details` names each one",
    "invalid_request": "the body breaks its contract; `details` names each field",
    "bad_request": "the request could not be read (a malformed form, header or query)",
    "conflict": "the request conflicts with the verdict's state",
    "unauthorized": "no valid API key",
    "forbidden": "the key's role may not do this",
    "not_found": "no such verdict (or a link that is not valid for it)",
    "method_not_allowed": "wrong HTTP method",
    "payload_too_large": "the body is over 256 KiB",
    "unsupported_media_type": "the body is not `application/json`",
    "http_error": "another client error, answered with its own 4xx status",
    "log_unavailable": "the verdict log cannot be written or read: no verdict is given",
    "not_ready": "the policies are not loaded",
    "internal_error": "a bug; the message says whether anything was stored before it",
}


def _error_response(codes: list[str]) -> dict:
    description = "; ".join(f"`{c}`: {_ERROR_TEXT.get(c, c)}" for c in codes)
    body = {
        "allOf": [
            ref("Error"),
            {"properties": {"error": {"properties": {"code": {"enum": codes}}}}},
        ]
    }
    resp: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": body}}}
    if "unauthorized" in codes:
        resp["headers"] = {
            "WWW-Authenticate": {"description": '`Bearer realm="pangolin"`', "schema": {"type": "string"}}
        }
    if "log_unavailable" in codes:
        resp["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}}
    return resp


def _operation_id(op: Operation) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", op.path) if w and w != "v1"]
    return op.method + "".join(w[:1].upper() + w[1:] for w in words)


# -- component schemas --------------------------------------------------------------------
def submission_schema(bundle: Bundle) -> Schema:
    """The bundle's submission schema, plus what the validator checks beyond it.

    `checker.submission` also refuses NUL characters and unpaired surrogates
    in any string (JSON allows them, a text store must not take them); the
    document says so with `not: {pattern: "\\x00"}` on every string.
    """
    s = copy.deepcopy(bundle.schemas["submission"])
    s.pop("$schema", None)
    s.pop("$id", None)
    for prop in s.get("properties", {}).values():
        for sub in (prop, prop.get("items")):
            if isinstance(sub, dict) and sub.get("type") == "string":
                sub["not"] = {"pattern": "\\x00"}
    _portable_patterns(s)
    s["description"] = (
        s.get("description", "")
        + " No string may contain a NUL character or an unpaired UTF-16 surrogate. The body is at most 256 KiB."
    ).strip()
    return s


# What `\\s` matches in Python's `re`, which the service validates with. ECMA-262
# (what JSON Schema specifies), Rust and the `regex` module each disagree on a
# few of these (U+001C-U+001F, U+0085, U+FEFF), so the document spells the
# class out and every client reads a pattern as the service does.
PY_SPACE = "\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"


def portable_pattern(pattern: str) -> str:
    """`\\s` and `\\S` replaced by explicit classes with Python's meaning."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "s":
                out.append(PY_SPACE if in_class else f"[{PY_SPACE}]")
            elif nxt == "S":
                if in_class:
                    raise ValueError(f"cannot spell out \\S inside a character class: {pattern!r}")
                out.append(f"[^{PY_SPACE}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def _portable_patterns(node) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                node[key] = portable_pattern(value)
            elif key not in ("examples", "enum", "const", "default"):
                _portable_patterns(value)
    elif isinstance(node, list):
        for item in node:
            _portable_patterns(item)


_DECISION = {"type": "string", "enum": ["approved", "review", "rejected"]}
_FIELD = "^(" + "|".join(f for f in TEXT_FIELDS if f != "keywords") + r"|keywords\[[0-9]+\])$"

schema(
    "Error",
    {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": list(ERROR_CODES)},
                    "message": {"type": "string", "minLength": 1},
                    "details": {
                        "type": "array",
                        "description": "Every field at fault; empty when the problem is not in one field.",
                        "items": {
                            "type": "object",
                            "required": ["field", "problem"],
                            "additionalProperties": False,
                            "properties": {
                                "field": {
                                    "type": "string",
                                    "description": "`$.headline`, `$.keywords[3]`, `$` or `query.limit`.",
                                },
                                "problem": {"type": "string", "minLength": 1},
                            },
                        },
                    },
                },
            }
        },
    },
)
schema("Submission", submission_schema)
schema(
    "Evidence",
    {
        "type": "object",
        "description": "A span of the advertiser's text: `submission[field][start:end] == text`. "
        "After a purge only `field` remains.",
        "required": ["field"],
        "additionalProperties": False,
        "properties": {
            "field": {"type": "string", "pattern": _FIELD},
            "text": {"type": "string", "minLength": 1},
            "start": {"type": "integer", "minimum": 0},
            "end": {"type": "integer", "minimum": 1},
            "disclosed": {"type": "boolean"},
        },
        "dependentRequired": {"text": ["start", "end", "disclosed"]},
    },
)
schema(
    "Reason",
    {
        "type": "object",
        "required": [
            "policy",
            "policy_title",
            "rule",
            "decision",
            "title",
            "message",
            "advice",
            "language",
            "help_url",
            "evidence",
        ],
        "additionalProperties": False,
        "properties": {
            "policy": {"type": "string"},
            "policy_title": {"type": "string"},
            "rule": {"type": "string"},
            "decision": {"type": "string", "enum": ["review", "rejected"]},
            "title": {"type": "string"},
            "message": {"type": "string"},
            "advice": {"type": "string"},
            "language": {"type": "string"},
            "help_url": {"type": "string"},
            "evidence": {"type": "array", "items": ref("Evidence")},
        },
    },
)
_VERDICT = {
    "decision_id": {"type": "string", "pattern": "^vd_[0-9A-HJKMNP-TV-Z]{26}$"},
    "decision": {**_DECISION, "description": "What the checker answered."},
    "advertiser_id": {"type": "string"},
    "submission_id": {"type": ["string", "null"]},
    "policy_version": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
    "checked_at": {"type": "string", "format": "date-time"},
    "language": {"type": "string", "description": "The language of the reasons."},
    "reasons": {"type": "array", "items": ref("Reason"), "description": "Empty when approved."},
    "explanation_url": {
        "type": "string",
        "description": "The advertiser's page for this verdict: a relative path with a signed token.",
    },
}
_HISTORY = {
    "effective_decision": {**_DECISION, "description": "The decision in force: the latest review's, else `decision`."},
    "reviews": {"type": "array", "items": ref("Review")},
    "appeals": {"type": "array", "items": ref("Appeal")},
}
schema(
    "Verdict",
    {
        "type": "object",
        "description": "A verdict as POST /v1/check answers it, stored in the log before it was answered.",
        "required": list(_VERDICT),
        "additionalProperties": False,
        "properties": _VERDICT,
    },
)
schema(
    "StoredVerdict",
    {
        "type": "object",
        "description": "A verdict as it was answered, with what people did since.",
        "required": [*_VERDICT, *_HISTORY],
        "additionalProperties": False,
        "properties": {**_VERDICT, **_HISTORY},
    },
)
schema(
    "Review",
    {
        "type": "object",
        "required": ["decision", "note", "reviewer", "created_at"],
        "additionalProperties": False,
        "properties": {
            "decision": {"enum": ["approved", "rejected"]},
            "note": {"type": "string"},
            "reviewer": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)
schema(
    "Appeal",
    {
        "type": "object",
        "required": ["reason", "language", "created_at"],
        "additionalProperties": False,
        "properties": {
            "reason": {"type": "string"},
            "language": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)
_TEXT = {
    "type": "string",
    "minLength": 1,
    "maxLength": 2000,
    "pattern": "[^" + PY_SPACE + "]",
    "not": {"pattern": "\\x00"},
}
schema(
    "AppealRequest",
    {
        "type": "object",
        "required": ["reason"],
        "additionalProperties": False,
        "properties": {
            "token": {
                "type": "string",
                "description": "The token of the explanation link; without it, a submitter key.",
            },
            "reason": {**_TEXT, "description": "Why the advertiser disagrees."},
            "language": {"type": "string", "minLength": 1, "maxLength": 35},
        },
    },
)
schema(
    "AppealCreated",
    {
        "type": "object",
        "required": ["decision_id", "appeal", "status"],
        "additionalProperties": False,
        "properties": {
            "decision_id": {"type": "string"},
            "appeal": ref("Appeal"),
            "status": {"const": "pending"},
        },
    },
)
schema(
    "ReviewRequest",
    {
        "type": "object",
        "required": ["decision", "note"],
        "additionalProperties": False,
        "properties": {"decision": {"enum": ["approved", "rejected"]}, "note": _TEXT},
    },
)
schema(
    "VerdictPage",
    {
        "type": "object",
        "required": ["verdicts", "next"],
        "additionalProperties": False,
        "properties": {
            "verdicts": {"type": "array", "items": ref("StoredVerdict")},
            "next": {
                "type": ["string", "null"],
                "description": "Pass as `before` for the next page; null on the last.",
            },
        },
    },
)
schema(
    "Health",
    {
        "type": "object",
        "required": ["status"],
        "additionalProperties": False,
        "properties": {"status": {"const": "ok"}, "auth": {"const": "disabled"}},
    },
)

# -- the endpoints of web/api.py and this module -------------------------------------------
EXAMPLE_ID = "vd_01M8H8V7E5B232R4YXF0JFCQ54"
_BY_ID = {"decision_id": "$response.body#/decision_id"}
_IVORY = {
    "advertiser_id": "adv-17",
    "headline": "Antique carved ivory netsuke",
    "body": "Signed, Meiji period. $400, ships worldwide.",
    "language": "en",
}
_CLEAN = {"advertiser_id": "adv-17", "headline": "Grain-free dog food, 12 kg", "body": "Free delivery over $50."}

operation(
    "POST",
    "/v1/check",
    summary="Check one ad submission",
    description="Validates, checks and stores the verdict, then answers it. If the verdict log cannot be "
    "written the answer is 503 and no verdict is given.",
    role="submitter",
    body=ref("Submission"),
    body_examples={"rejected": _IVORY, "approved": _CLEAN},
    responses={200: ("The verdict, as stored in the log.", ref("Verdict"))},
    links={
        200: {
            "GetVerdict": {"operationId": "getVerdict", "parameters": _BY_ID},
            "Appeal": {"operationId": "appealVerdict", "parameters": _BY_ID},
            "Review": {"operationId": "reviewVerdict", "parameters": _BY_ID},
        }
    },
    errors=("invalid_submission", "log_unavailable", "not_ready"),
    tags=("verdicts",),
)
operation(
    "GET",
    "/v1/verdicts/{decision_id}",
    summary="A stored verdict",
    operation_id="getVerdict",
    role="submitter",
    parameters=(
        {
            "name": "decision_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
            "example": EXAMPLE_ID,
        },
    ),
    responses={200: ("The verdict as it was answered, with its reviews and appeals.", ref("StoredVerdict"))},
    errors=("not_found", "log_unavailable"),
    tags=("verdicts",),
)
operation(
    "GET",
    "/v1/verdicts",
    summary="Stored verdicts, newest first",
    description="Unknown query parameters are an error. `before` must be the decision_id of a stored verdict.",
    role="submitter",
    parameters=(
        {"name": "advertiser_id", "in": "query", "schema": {"type": "string"}},
        {"name": "decision", "in": "query", "schema": _DECISION},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
        {
            "name": "before",
            "in": "query",
            "schema": {"type": "string"},
            "description": "The `next` of the previous page.",
            "example": EXAMPLE_ID,
        },
    ),
    responses={200: ("A page of verdicts.", ref("VerdictPage"))},
    errors=("invalid_parameter", "log_unavailable"),
    tags=("verdicts",),
)
operation(
    "GET",
    "/healthz",
    summary="Liveness",
    role=None,
    responses={200: ("The app is up.", ref("Health"))},
    tags=("operations",),
)
operation(
    "GET",
    "/openapi.json",
    summary="This document",
    role=None,
    responses={200: ("The OpenAPI 3.1 document.", {"type": "object", "required": ["openapi", "paths"]})},
    tags=("operations",),
)
operation(
    "POST",
    "/v1/verdicts/{decision_id}/appeal",
    summary="Appeal a verdict",
    operation_id="appealVerdict",
    description="The advertiser's way in is the token of the explanation link (no key); without a token a "
    "submitter key may appeal on the advertiser's behalf. A bad token is 404, exactly like an unknown verdict. "
    "409 if the ad is approved or an appeal is already waiting.",
    role="submitter",
    auth_optional=True,
    parameters=({"name": "decision_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}},),
    body=ref("AppealRequest"),
    body_examples={"appeal": {"reason": "It is resin, not ivory.", "language": "en"}},
    responses={201: ("The appeal is recorded and waits for a person.", ref("AppealCreated"))},
    errors=("invalid_request", "not_found", "conflict", "log_unavailable"),
    tags=("verdicts",),
)
operation(
    "POST",
    "/v1/verdicts/{decision_id}/reviews",
    summary="Review a verdict",
    operation_id="reviewVerdict",
    description="A reviewer's decision; the verdict row itself is never changed. Answers the verdict with its history.",
    role="reviewer",
    parameters=({"name": "decision_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}},),
    body=ref("ReviewRequest"),
    body_examples={"review": {"decision": "approved", "note": "The carving is resin; the seller shows a receipt."}},
    responses={201: ("The review is recorded.", ref("StoredVerdict"))},
    errors=("invalid_request", "not_found", "log_unavailable"),
    tags=("verdicts",),
)
