"""Who may do what: the gaps test_auth.py leaves (roles, 403, the first key, the loud warning)."""

from __future__ import annotations

import re

import pytest
from flask import jsonify

from app import create_app
from web import auth
from web.openapi import openapi_path
from web.state import close_stores, store

AD = {"advertiser_id": "adv-1", "headline": "Grain-free dog food"}


@pytest.fixture
def secure_app(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "v.db"), "AUTH_DISABLED": False})
    # A view per role, registered the way the API's views are.
    for role in auth.ROLES:
        app.add_url_rule(f"/v1/_test/{role}", f"test_{role}", auth.require(role)(lambda: jsonify(ok=True)))
    yield app
    close_stores()


def _key(app, role: str) -> str:
    with app.app_context():
        return auth.create_key(role, f"test-{role}")[1]


@pytest.mark.parametrize("needed", auth.ROLES)
@pytest.mark.parametrize("held", auth.ROLES)
def test_role_matrix(secure_app, held, needed):
    r = secure_app.test_client().get(
        f"/v1/_test/{needed}", headers={"Authorization": f"Bearer {_key(secure_app, held)}"}
    )
    allowed = auth.ROLES.index(held) >= auth.ROLES.index(needed)
    if allowed:
        assert r.status_code == 200
    else:
        assert r.status_code == 403 and r.is_json
        err = r.get_json()["error"]
        assert err["code"] == "forbidden" and needed in err["message"] and held in err["message"]
        assert "WWW-Authenticate" not in r.headers


@pytest.mark.parametrize(
    "header",
    ["bearer {key}", "BEARER {key}", "Bearer   {key}  "],
)
def test_bearer_scheme_is_case_insensitive_and_trimmed(secure_app, header):
    key = _key(secure_app, "submitter")
    r = secure_app.test_client().post("/v1/check", json=AD, headers={"Authorization": header.format(key=key)})
    assert r.status_code == 200


@pytest.mark.parametrize("header", ["{key}", "Token {key}", "Basic {key}", "Bearer {key}x", "Bearer x{key}"])
def test_anything_but_the_exact_key_is_401(secure_app, header):
    key = _key(secure_app, "admin")
    r = secure_app.test_client().post("/v1/check", json=AD, headers={"Authorization": header.format(key=key)})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="pangolin"'


def test_every_v1_endpoint_refuses_a_request_without_a_key(secure_app):
    c = secure_app.test_client()
    checked = 0
    for rule in secure_app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        url = re.sub(r"<[^>]+>", "vd_01M8H8V7E5B232R4YXF0JFCQ54", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            r = c.open(url, method=method, json={} if method != "GET" else None)
            assert r.status_code == 401, (method, openapi_path(rule.rule), r.status_code)
            assert r.get_json()["error"]["code"] == "unauthorized"
            checked += 1
    assert checked >= 4


def test_a_reviewer_endpoint_refuses_a_submitter_key(secure_app):
    c = secure_app.test_client()
    sub = {"Authorization": f"Bearer {_key(secure_app, 'submitter')}"}
    decision_id = c.post("/v1/check", json=AD, headers=sub).get_json()["decision_id"]
    r = c.post(f"/v1/verdicts/{decision_id}/reviews", json={"decision": "approved", "note": "ok"}, headers=sub)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


def test_the_first_key_is_printed_once_and_is_an_admin_key(tmp_path, capsys):
    db = str(tmp_path / "v.db")
    app = create_app({"TESTING": True, "DATABASE": db, "AUTH_DISABLED": False})
    try:
        printed = re.findall(r"pgk_[A-Za-z0-9_-]+", capsys.readouterr().err)
        assert len(printed) == 1
        with app.app_context():
            who = auth.principal_for(printed[0])
        assert who["role"] == "admin" and who["name"] == "first-admin"
        create_app({"TESTING": True, "DATABASE": db, "AUTH_DISABLED": False})
        assert "pgk_" not in capsys.readouterr().err
    finally:
        close_stores()


def test_no_first_key_when_auth_is_disabled(tmp_path, capsys):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "v.db"), "AUTH_DISABLED": True})
    try:
        assert "pgk_" not in capsys.readouterr().err
        with app.app_context():
            assert store().api_keys() == []
    finally:
        close_stores()


def test_disabled_auth_outside_tests_is_loud(tmp_path, capsys):
    app = create_app({"DATABASE": str(tmp_path / "v.db"), "AUTH_DISABLED": True})
    try:
        assert "WARNING: AUTH_DISABLED is on" in capsys.readouterr().err
        assert app.test_client().get("/healthz").get_json()["auth"] == "disabled"
    finally:
        close_stores()


def test_keys_list_shows_no_key_and_no_hash(secure_app):
    runner = secure_app.test_cli_runner()
    made = runner.invoke(args=["keys", "create", "--role", "reviewer", "--name", "Ann"])
    key = made.output.splitlines()[1]
    listed = runner.invoke(args=["keys", "list"]).output
    assert "reviewer" in listed and "Ann" in listed
    assert key not in listed and auth.hash_key(key) not in listed


# -- reviewer sessions: the helpers the pages are built on ------------------------------------
def test_only_reviewer_and_admin_keys_sign_in(secure_app):
    for role, may in (("submitter", False), ("reviewer", True), ("admin", True)):
        key = _key(secure_app, role)
        with secure_app.test_request_context("/login", method="POST"):
            from flask import session

            who = auth.sign_in(key)
            assert (who is not None) == may
            if may:
                assert session["role"] == role and session["csrf"]
                assert auth.session_principal()["role"] == role
            else:
                assert "key_id" not in session


def test_csrf_token_must_match(secure_app):
    with secure_app.test_request_context("/review/x", method="POST", data={"csrf_token": "wrong"}):
        token = auth.csrf_token()
        assert token and not auth.csrf_ok()
    with secure_app.test_request_context("/review/x", method="POST", headers={"X-CSRF-Token": "t"}):
        from flask import session

        session["csrf"] = "t"
        assert auth.csrf_ok()
    with secure_app.test_request_context("/review/x", method="POST", data={"csrf_token": ""}):
        assert not auth.csrf_ok()  # no token in the session: nothing matches


def test_a_revoked_key_ends_its_session(secure_app):
    with secure_app.app_context():
        key_id, key = auth.create_key("reviewer", "Ann")
    with secure_app.test_request_context("/review", method="POST"):
        assert auth.sign_in(key) is not None
        assert auth.session_principal() is not None
        store().revoke_key(key_id)
        assert auth.session_principal() is None
