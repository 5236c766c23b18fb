"""The OpenAPI document: generated from the bundle's schemas, complete, and true to the answers."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app import create_app
from web import openapi
from web.errors import ERROR_CODES
from web.state import close_stores, store

IVORY_AD = {"advertiser_id": "adv-17", "headline": "Antique carved ivory netsuke", "body": "$400, ships worldwide."}


@pytest.fixture
def doc(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def validator_for(doc: dict, schema: dict) -> Draft202012Validator:
    """A validator for a schema inside the document, its $refs resolved against the document."""
    contents = {**doc, "x-under-test": schema}
    registry = Registry().with_resource("urn:doc", Resource.from_contents(contents, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": "urn:doc#/x-under-test"}, registry=registry)


def response_schema(doc: dict, path: str, method: str, status: int) -> dict:
    return doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]


def assert_conforms(doc, path, method, response):
    schema = response_schema(doc, path, method, response.status_code)
    errors = list(validator_for(doc, schema).iter_errors(response.get_json()))
    assert not errors, [e.message for e in errors]


# -- shape --------------------------------------------------------------------------------
def test_document_is_openapi_3_1_with_bearer_security(doc):
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    check = doc["paths"]["/v1/check"]["post"]
    assert check["security"] == [{"bearer": []}] and check["x-required-role"] == "submitter"
    assert doc["paths"]["/healthz"]["get"]["security"] == []


def test_every_component_schema_is_valid_json_schema(doc):
    assert {"Error", "Submission", "Verdict", "Reason", "Evidence", "VerdictPage"} <= set(doc["components"]["schemas"])
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_ref_resolves(doc):
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs and refs <= set(doc["components"]["schemas"])


def test_operation_ids_are_unique_and_links_point_at_them(doc):
    ops = [op for item in doc["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids))
    links = [link for op in ops for resp in op["responses"].values() for link in resp.get("links", {}).values()]
    assert links and all(link["operationId"] in ids for link in links)


def test_error_body_schema(doc):
    err = doc["components"]["schemas"]["Error"]["properties"]["error"]
    assert err["required"] == ["code", "message", "details"]  # details always, empty when no field is at fault
    assert set(err["properties"]) == {"code", "message", "details"}
    assert "minItems" not in err["properties"]["details"]
    assert err["properties"]["code"]["enum"] == list(ERROR_CODES)
    assert err["properties"]["details"]["items"]["required"] == ["field", "problem"]


def test_every_operation_documents_its_errors(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            statuses = set(op["responses"])
            assert "500" in statuses, (method, path)
            if op["security"]:
                assert "401" in statuses, (method, path)
            if "requestBody" in op:
                assert {"400", "413", "415"} <= statuses, (method, path)
    check = doc["paths"]["/v1/check"]["post"]["responses"]
    assert set(check) == {"200", "400", "401", "413", "415", "500", "503"}
    codes_503 = check["503"]["content"]["application/json"]["schema"]["allOf"][1]
    assert codes_503["properties"]["error"]["properties"]["code"]["enum"] == ["log_unavailable", "not_ready"]
    # No role lacks `submitter`, so a submitter operation never answers 403.
    assert "403" not in check


# -- generated, not copied --------------------------------------------------------------
def test_request_body_is_the_bundles_submission_schema(doc, app):
    from web.state import engine

    source = engine(app).bundle.schemas["submission"]
    body = doc["components"]["schemas"]["Submission"]
    assert doc["paths"]["/v1/check"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Submission"
    }
    assert list(body["properties"]) == list(source["properties"])
    assert body["required"] == source["required"] and body["additionalProperties"] is False
    for name, prop in source["properties"].items():
        for key in ("type", "maxLength", "maxItems", "minLength"):
            assert body["properties"][name].get(key) == prop.get(key), (name, key)


def test_document_follows_a_changed_schema(make_bundle, tmp_path):
    d = make_bundle()
    path = d / "schema" / "submission.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["headline"]["maxLength"] = 150
    path.write_text(json.dumps(schema))
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "v.db"), "AUTH_DISABLED": True, "POLICY_DIR": str(d)})
    try:
        doc = app.test_client().get("/openapi.json").get_json()
        assert doc["components"]["schemas"]["Submission"]["properties"]["headline"]["maxLength"] == 150
        r = app.test_client().post("/v1/check", json={"advertiser_id": "a", "headline": "x" * 151})
        assert r.status_code == 400 and "at most 150" in r.get_json()["error"]["details"][0]["problem"]
    finally:
        close_stores()


def test_documented_submission_refuses_nul_like_the_service(doc, client):
    body = doc["components"]["schemas"]["Submission"]
    v = validator_for(doc, body)
    bad = {"advertiser_id": "a", "headline": "nul \x00 here"}
    assert not v.is_valid(bad)
    assert client.post("/v1/check", json=bad).status_code == 400
    assert v.is_valid(IVORY_AD)


# -- patterns every dialect reads alike -------------------------------------------------------
def test_spelled_out_space_class_is_pythons_whitespace():
    cls = re.compile(f"[{openapi.PY_SPACE}]")
    assert [c for c in range(0x110000) if bool(cls.match(chr(c))) != bool(re.match(r"\s", chr(c)))] == []


@pytest.mark.parametrize(
    "pattern, text",
    [
        (r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+[^\s]*$", "http://x.example/\x1dpath"),
        (r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+[^\s]*$", "https://x.example/a\u0085b"),
        (r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+[^\s]*$", "https://x.example/a\ufeffb"),
        (r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+[^\s]*$", "https://x.example/ok"),
        (r"\S", "\x1c\x1d"),
        (r"\S", "\ufeff"),
        (r"\S", " \u3000x"),
    ],
)
def test_portable_pattern_means_what_python_means(pattern, text):
    assert bool(re.search(openapi.portable_pattern(pattern), text)) == bool(re.search(pattern, text))


def test_documented_landing_url_and_service_agree(doc, client):
    v = validator_for(doc, doc["components"]["schemas"]["Submission"])
    for url in ("HTTP://x.example/\x1d", "https://x.example/\u0085", "https://x.example/\ufeff", "https://ok.example/"):
        ad = {"advertiser_id": "a", "landing_url": url}
        status = client.post("/v1/check", json=ad).status_code
        assert status == (200 if v.is_valid(ad) else 400), url


# -- complete ---------------------------------------------------------------------------------
def _routes(app) -> set[tuple[str, str]]:
    return {
        (openapi.openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_v1_route_is_documented(app, doc):
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    missing = {r for r in _routes(app) if r[0].startswith("/v1/")} - documented
    assert not missing, f"document these in web/openapi.py (see its docstring): {sorted(missing)}"


def test_every_documented_operation_exists(app, doc):
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert documented - _routes(app) == set()


def test_path_conversion():
    assert openapi.openapi_path("/v1/verdicts/<decision_id>") == "/v1/verdicts/{decision_id}"
    assert openapi.openapi_path("/v1/x/<string:a>/<int:b>") == "/v1/x/{a}/{b}"
    assert openapi.flask_path("/v1/verdicts/{decision_id}") == "/v1/verdicts/<decision_id>"


def test_registry_refuses_unknown_error_codes_and_roles():
    with pytest.raises(ValueError, match="unknown error code"):
        openapi.operation("GET", "/v1/nothing", summary="x", role="submitter", errors=("teapot",))
    with pytest.raises(ValueError, match="unknown role"):
        openapi.operation("GET", "/v1/nothing", summary="x", role="king")
    assert ("/v1/nothing", "get") not in openapi.OPERATIONS


# -- true to the answers ----------------------------------------------------------------------
def test_examples_are_valid_and_accepted(doc, client):
    check = doc["paths"]["/v1/check"]["post"]
    examples = check["requestBody"]["content"]["application/json"]["examples"]
    v = validator_for(doc, doc["components"]["schemas"]["Submission"])
    decisions = set()
    for example in examples.values():
        assert v.is_valid(example["value"])
        r = client.post("/v1/check", json=example["value"])
        assert r.status_code == 200
        assert_conforms(doc, "/v1/check", "post", r)
        decisions.add(r.get_json()["decision"])
    assert decisions == {"approved", "rejected"}


def test_answers_conform(doc, client, app):
    r = client.post("/v1/check", json=IVORY_AD)
    assert r.get_json()["decision"] == "rejected"
    assert_conforms(doc, "/v1/check", "post", r)
    decision_id = r.get_json()["decision_id"]
    assert_conforms(doc, "/v1/verdicts/{decision_id}", "get", client.get(f"/v1/verdicts/{decision_id}"))
    assert_conforms(doc, "/v1/verdicts", "get", client.get("/v1/verdicts?limit=1"))
    assert_conforms(doc, "/healthz", "get", client.get("/healthz"))
    # Purged verdicts keep only the field of their evidence; they still conform.
    with app.app_context():
        assert store().purge("9999-01-01") == 1
    purged = client.get(f"/v1/verdicts/{decision_id}")
    assert purged.get_json()["reasons"][0]["evidence"] == [{"field": "headline"}]
    assert_conforms(doc, "/v1/verdicts/{decision_id}", "get", purged)


@pytest.mark.parametrize(
    "method, url, kwargs, path, status",
    [
        ("post", "/v1/check", {"json": {"advertiser_id": "a"}}, "/v1/check", 400),
        ("post", "/v1/check", {"data": "{", "content_type": "application/json"}, "/v1/check", 400),
        ("post", "/v1/check", {"data": "x", "content_type": "text/plain"}, "/v1/check", 415),
        ("post", "/v1/check", {"json": {"advertiser_id": "a", "body": "x" * 300_000}}, "/v1/check", 413),
        ("get", "/v1/verdicts/vd_nope", {}, "/v1/verdicts/{decision_id}", 404),
        ("get", "/v1/verdicts?limit=0&colour=red", {}, "/v1/verdicts", 400),
    ],
)
def test_errors_conform(doc, client, method, url, kwargs, path, status):
    r = getattr(client, method)(url, **kwargs)
    assert r.status_code == status
    assert_conforms(doc, path, method, r)


def test_unauthorized_conforms(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "v.db"), "AUTH_DISABLED": False})
    try:
        c = app.test_client()
        doc = c.get("/openapi.json").get_json()  # the document itself needs no key
        r = c.post("/v1/check", json=IVORY_AD)
        assert r.status_code == 401
        assert_conforms(doc, "/v1/check", "post", r)
    finally:
        close_stores()
