"""POST /v1/check/batch: one result per item, in order; a bad item fails only itself; every verdict is logged."""

from __future__ import annotations

import json

import pytest

from app import create_app
from web import auth
from web.openapi import document
from web.state import close_stores, store

IVORY = {"advertiser_id": "adv-1", "headline": "Old ivory carving", "body": "$300"}
CLEAN = {"advertiser_id": "adv-1", "headline": "Dog bed, large"}
NO_TEXT = {"advertiser_id": "adv-1"}


def make_app(make_bundle, tmp_path, **config):
    return create_app(
        {
            "TESTING": True,
            "DATABASE": str(tmp_path / "v.db"),
            "AUTH_DISABLED": True,
            "POLICY_DIR": str(make_bundle()),
            **config,
        }
    )


@pytest.fixture
def tiny_app(make_bundle, tmp_path):
    app = make_app(make_bundle, tmp_path)
    yield app
    close_stores()


@pytest.fixture
def tiny_client(tiny_app):
    return tiny_app.test_client()


def test_mixed_batch_answers_200_with_one_result_per_item_in_order(tiny_client, tiny_app):
    r = tiny_client.post("/v1/check/batch", json=[IVORY, NO_TEXT, CLEAN, "not an object", IVORY])
    assert r.status_code == 200
    body = r.get_json()
    results = body["results"]
    assert [x.get("decision") or x["error"]["code"] for x in results] == [
        "rejected",
        "invalid_submission",
        "approved",
        "invalid_submission",
        "rejected",
    ]
    assert body["counts"] == {"approved": 1, "review": 0, "rejected": 2, "error": 2}
    assert results[0]["reasons"][0]["rule"] == "ivory"
    assert results[0]["decision_id"] != results[4]["decision_id"]
    with tiny_app.app_context():
        assert store().count() == 3  # every verdict, and nothing for the bad items
        for v in (results[0], results[2], results[4]):
            row = store().get(v["decision_id"])
            assert row["decision"] == v["decision"]
            assert (
                json.loads(row["submission_json"])["headline"] == (IVORY if v is not results[2] else CLEAN)["headline"]
            )


def test_an_items_error_is_the_single_checks_error(tiny_client):
    for bad in (NO_TEXT, {"advertiser_id": "adv 1!", "headline": "x", "colour": "red"}, 42):
        single = tiny_client.post("/v1/check", json=bad)
        assert single.status_code == 400
        (item,) = tiny_client.post("/v1/check/batch", json=[bad]).get_json()["results"]
        assert item == single.get_json()


def test_a_verdict_in_a_batch_is_what_the_single_check_answers(tiny_client):
    single = tiny_client.post("/v1/check", json=IVORY).get_json()
    (item,) = tiny_client.post("/v1/check/batch", json=[IVORY]).get_json()["results"]
    volatile = {"decision_id", "checked_at", "explanation_url"}
    assert {k: v for k, v in item.items() if k not in volatile} == {
        k: v for k, v in single.items() if k not in volatile
    }
    assert set(item) == set(single)


@pytest.mark.parametrize(
    "body, problem",
    [
        ({"submissions": [IVORY]}, "must be an array of 1 to 100 submissions"),
        ([], "has 0 items; send 1 to 100"),
        ([CLEAN] * 101, "has 101 items; send 1 to 100"),
    ],
)
def test_a_body_that_is_not_an_array_of_1_to_100_is_a_400(tiny_client, tiny_app, body, problem):
    r = tiny_client.post("/v1/check/batch", json=body)
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "invalid_submission"
    assert err["details"] == [{"field": "$", "problem": problem}]
    with tiny_app.app_context():
        assert store().count() == 0


def test_a_batch_of_exactly_100_is_accepted(tiny_client):
    r = tiny_client.post("/v1/check/batch", json=[CLEAN] * 100)
    assert r.status_code == 200
    assert r.get_json()["counts"]["approved"] == 100


def test_invalid_json_fails_the_whole_request(tiny_client):
    r = tiny_client.post("/v1/check/batch", data="[{", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_json"


def test_when_the_log_fails_mid_batch_earlier_verdicts_stand_and_the_rest_are_log_unavailable(tiny_client, tiny_app):
    with tiny_app.app_context():
        store().db.execute(
            "CREATE TRIGGER fail_second BEFORE INSERT ON verdicts WHEN NEW.seq >= 2 "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    r = tiny_client.post("/v1/check/batch", json=[IVORY, CLEAN, NO_TEXT, IVORY])
    assert r.status_code == 200
    assert r.headers["Retry-After"] == "5"
    results = r.get_json()["results"]
    assert results[0]["decision"] == "rejected"
    assert [x["error"]["code"] for x in results[1:]] == ["log_unavailable"] * 3
    assert all("decision" not in x for x in results[1:])
    with tiny_app.app_context():
        assert store().count() == 1
        assert store().get(results[0]["decision_id"]) is not None


def test_batch_needs_a_submitter_key(make_bundle, tmp_path):
    app = make_app(make_bundle, tmp_path, AUTH_DISABLED=False)
    try:
        client = app.test_client()
        assert client.post("/v1/check/batch", json=[CLEAN]).status_code == 401
        with app.app_context():
            _, key = auth.create_key("submitter", "flow")
        r = client.post("/v1/check/batch", json=[CLEAN], headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200 and r.get_json()["counts"]["approved"] == 1
    finally:
        close_stores()


def test_batch_is_in_the_openapi_document(tiny_app):
    with tiny_app.app_context():
        doc = document()
    op = doc["paths"]["/v1/check/batch"]["post"]
    assert op["x-required-role"] == "submitter"
    assert set(op["responses"]) >= {"200", "400", "401", "503"}
    assert doc["components"]["schemas"]["BatchRequest"]["maxItems"] == 100
