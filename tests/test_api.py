"""The HTTP contract: verdicts, stored before answered, and a JSON error for every bad request."""

from __future__ import annotations

import json
import sqlite3

import pytest

from web.state import store

IVORY_AD = {
    "advertiser_id": "adv-17",
    "submission_id": "camp-9/ad-3",
    "headline": "Antique carved ivory netsuke",
    "body": "Signed, Meiji period. $400, ships worldwide.",
    "language": "en",
    "target_countries": ["US", "SE"],
}
CLEAN_AD = {"advertiser_id": "adv-17", "headline": "Grain-free dog food, 12 kg", "body": "Free delivery over $50."}


def test_rejected_ad_gets_reasons_with_exact_evidence(client):
    r = client.post("/v1/check", json=IVORY_AD)
    assert r.status_code == 200
    v = r.get_json()
    assert v["decision"] == "rejected"
    assert v["advertiser_id"] == "adv-17" and v["submission_id"] == "camp-9/ad-3"
    assert v["policy_version"].startswith("sha256:") and len(v["policy_version"]) == 71
    assert v["checked_at"].endswith("Z")
    reason = next(x for x in v["reasons"] if x["rule"] == "ivory-any-animal")
    assert reason["policy"] == "protected-wildlife-products"
    assert reason["help_url"] == "/policies/protected-wildlife-products"
    assert reason["language"] == "en" and reason["message"] and reason["title"]
    ev = reason["evidence"][0]
    assert IVORY_AD[ev["field"]][ev["start"] : ev["end"]] == ev["text"] == "ivory"


def test_approved_ad_has_no_reasons(client):
    v = client.post("/v1/check", json=CLEAN_AD).get_json()
    assert v["decision"] == "approved"
    assert v["reasons"] == []


def test_verdict_is_stored_before_it_is_answered(client, app):
    v = client.post("/v1/check", json=IVORY_AD).get_json()
    with app.app_context():
        row = store().get(v["decision_id"])
    assert row is not None
    assert row["decision"] == "rejected" and row["policy_version"] == v["policy_version"]
    assert json.loads(row["submission_json"]) == IVORY_AD
    assert json.loads(row["reasons_json"]) == v["reasons"]
    assert row["duration_ms"] >= 0


def test_failed_write_answers_503_and_no_verdict(client, app):
    with app.app_context():
        store().db.execute(
            "CREATE TRIGGER fail_insert BEFORE INSERT ON verdicts BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    r = client.post("/v1/check", json=IVORY_AD)
    assert r.status_code == 503
    body = r.get_json()
    assert body["error"]["code"] == "log_unavailable"
    assert "decision" not in body and "decision_id" not in body
    with app.app_context():
        assert store().count() == 0


def test_unreadable_log_answers_503(client, app, tmp_path):
    app.config["DATABASE"] = str(tmp_path / "missing-dir" / "sub")  # a directory path cannot be a database
    (tmp_path / "missing-dir" / "sub").mkdir(parents=True)
    r = client.post("/v1/check", json=IVORY_AD)
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "log_unavailable"


def test_get_verdict_returns_what_was_answered(client):
    v = client.post("/v1/check", json=IVORY_AD).get_json()
    r = client.get(f"/v1/verdicts/{v['decision_id']}")
    assert r.status_code == 200
    got = r.get_json()
    for key in ("decision_id", "decision", "advertiser_id", "submission_id", "policy_version", "checked_at", "reasons"):
        assert got[key] == v[key]


def test_unknown_verdict_is_json_404(client):
    r = client.get("/v1/verdicts/vd_NOPE")
    assert r.status_code == 404
    assert r.get_json()["error"]["code"] == "not_found"


def test_list_newest_first_with_cursor_and_filters(client):
    ids = [client.post("/v1/check", json=ad).get_json()["decision_id"] for ad in (IVORY_AD, CLEAN_AD, IVORY_AD)]
    first = client.get("/v1/verdicts?limit=2").get_json()
    assert [v["decision_id"] for v in first["verdicts"]] == [ids[2], ids[1]]
    assert first["next"] == ids[1]
    second = client.get(f"/v1/verdicts?limit=2&before={first['next']}").get_json()
    assert [v["decision_id"] for v in second["verdicts"]] == [ids[0]]
    assert second["next"] is None
    rejected = client.get("/v1/verdicts?decision=rejected").get_json()["verdicts"]
    assert {v["decision_id"] for v in rejected} == {ids[0], ids[2]}
    assert client.get("/v1/verdicts?advertiser_id=someone-else").get_json()["verdicts"] == []


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "query.limit"),
        ("limit=abc", "query.limit"),
        ("limit=1000", "query.limit"),
        ("decision=maybe", "query.decision"),
        ("before=vd_unknown", "query.before"),
        ("colour=red", "query.colour"),
    ],
)
def test_list_rejects_bad_parameters(client, query, field):
    r = client.get(f"/v1/verdicts?{query}")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "invalid_parameter"
    assert [d["field"] for d in err["details"]] == [field]


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"


# -- every 4xx path ---------------------------------------------------------------
def _error(r, status, code):
    assert r.status_code == status
    assert r.is_json, r.data[:200]
    err = r.get_json()["error"]
    assert err["code"] == code and err["message"]
    return err


def test_malformed_json_is_400(client):
    err = _error(
        client.post("/v1/check", data='{"advertiser_id": ', content_type="application/json"), 400, "invalid_json"
    )
    assert "line 1" in err["message"]


def test_invalid_utf8_is_400(client):
    _error(client.post("/v1/check", data=b'{"headline": "\xff"}', content_type="application/json"), 400, "invalid_json")


def test_nan_is_not_json(client):
    body = '{"advertiser_id": "a", "headline": NaN}'
    _error(client.post("/v1/check", data=body, content_type="application/json"), 400, "invalid_json")


def test_wrong_content_type_is_415(client):
    _error(
        client.post("/v1/check", data=json.dumps(IVORY_AD), content_type="text/plain"), 415, "unsupported_media_type"
    )


def test_body_over_256_kib_is_413(client):
    big = {"advertiser_id": "a", "body": "x" * (300 * 1024)}
    _error(client.post("/v1/check", json=big), 413, "payload_too_large")


def test_unknown_route_is_json_404(client):
    _error(client.get("/v2/whatever"), 404, "not_found")


def test_wrong_method_is_json_405(client):
    r = client.get("/v1/check")
    _error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


def test_every_problem_is_reported_by_field(client):
    bad = {
        "advertiser_id": "has spaces",
        "headline": "x" * 201,
        "keywords": ["ok", 7],
        "landing_url": "ftp://example.com",
        "target_countries": ["SE", "XX", "se"],
        "language": "english please",
        "colour": "red",
    }
    err = _error(client.post("/v1/check", json=bad), 400, "invalid_submission")
    fields = {d["field"] for d in err["details"]}
    assert {
        "$.advertiser_id",
        "$.headline",
        "$.keywords[1]",
        "$.landing_url",
        "$.target_countries[1]",
        "$.target_countries[2]",
        "$.language",
        "$.colour",
    } <= fields
    assert all(d["problem"] for d in err["details"])


@pytest.mark.parametrize(
    "payload, field, fragment",
    [
        ({"headline": "Ivory"}, "$.advertiser_id", "required"),
        ({"advertiser_id": "a"}, "$", "at least one of"),
        ({"advertiser_id": "a", "headline": "   ", "keywords": [" "]}, "$", "at least one of"),
        ({"advertiser_id": "a", "body": "x" * 5001}, "$.body", "at most 5000"),
        ({"advertiser_id": "a", "body": "ok", "keywords": ["k"] * 51}, "$.keywords", "at most 50"),
        ({"advertiser_id": "a", "body": "ok", "keywords": ["k" * 101]}, "$.keywords[0]", "at most 100"),
        ({"advertiser_id": "a", "transcript": "x" * 20001}, "$.transcript", "at most 20000"),
        ({"advertiser_id": "a", "body": "ok", "category": "c" * 65}, "$.category", "at most 64"),
        ({"advertiser_id": "a", "body": "ok", "submission_id": "s" * 129}, "$.submission_id", "at most 128"),
        ({"advertiser_id": "a" * 65, "body": "ok"}, "$.advertiser_id", "at most 64"),
        ({"advertiser_id": "a", "body": "nul \u0000 byte"}, "$.body", "NUL"),
        ({"advertiser_id": "a", "body": "ok", "target_countries": ["SE", "SE"]}, "$.target_countries", "repeat"),
        ({"advertiser_id": "a", "body": 12}, "$.body", "string"),
        ({"advertiser_id": "a", "landing_url": "javascript:alert(1)"}, "$.landing_url", "http"),
    ],
)
def test_contract_violations_name_the_field(client, payload, field, fragment):
    err = _error(client.post("/v1/check", json=payload), 400, "invalid_submission")
    assert any(d["field"] == field and fragment in d["problem"] for d in err["details"]), err["details"]


def test_lone_surrogate_is_a_clean_400(client):
    body = '{"advertiser_id": "a", "headline": "ivory \\ud800 here"}'
    err = _error(client.post("/v1/check", data=body, content_type="application/json"), 400, "invalid_submission")
    assert err["details"][0]["field"] == "$.headline"


def test_non_object_body_is_400(client):
    err = _error(client.post("/v1/check", json=["not", "an", "object"]), 400, "invalid_submission")
    assert err["details"] == [{"field": "$", "problem": "must be a JSON object"}]


def test_bad_input_never_touches_the_log(client, app):
    client.post("/v1/check", json={"advertiser_id": "a"})
    client.post("/v1/check", data="{", content_type="application/json")
    with app.app_context():
        assert store().count() == 0


def test_log_survives_a_restart(app, tmp_path):
    from app import create_app

    v = app.test_client().post("/v1/check", json=IVORY_AD).get_json()
    again = create_app({"TESTING": True, "DATABASE": app.config["DATABASE"], "AUTH_DISABLED": True})
    assert again.test_client().get(f"/v1/verdicts/{v['decision_id']}").status_code == 200
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
