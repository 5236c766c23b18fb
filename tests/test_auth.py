"""Keys, roles, and secure defaults."""

from __future__ import annotations

import pytest

from app import create_app
from web import auth
from web.state import close_stores, store

AD = {"advertiser_id": "adv-1", "headline": "Dog food"}


@pytest.fixture
def secure_app(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "v.db"), "AUTH_DISABLED": False})
    yield app
    close_stores()


def _key(app, role):
    with app.app_context():
        return auth.create_key(role, f"test-{role}")[1]


def test_first_start_makes_one_admin_key(secure_app, capsys):
    with secure_app.app_context():
        keys = store().api_keys()
    assert [k["role"] for k in keys] == ["admin"]
    # A second start finds the key and makes no other.
    create_app({"TESTING": True, "DATABASE": secure_app.config["DATABASE"], "AUTH_DISABLED": False})
    with secure_app.app_context():
        assert len(store().api_keys()) == 1


def test_no_key_is_401_with_challenge(secure_app):
    r = secure_app.test_client().post("/v1/check", json=AD)
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_key_is_401(secure_app):
    r = secure_app.test_client().post("/v1/check", json=AD, headers={"Authorization": "Bearer pgk_nope"})
    assert r.status_code == 401


def test_submitter_key_checks_and_reads(secure_app):
    key = _key(secure_app, "submitter")
    c = secure_app.test_client()
    h = {"Authorization": f"Bearer {key}"}
    v = c.post("/v1/check", json=AD, headers=h)
    assert v.status_code == 200
    assert c.get(f"/v1/verdicts/{v.get_json()['decision_id']}", headers=h).status_code == 200
    assert c.get("/v1/verdicts", headers=h).status_code == 200


def test_revoked_key_stops_working(secure_app):
    c = secure_app.test_client()
    with secure_app.app_context():
        key_id, key = auth.create_key("submitter", "flow")
        store().revoke_key(key_id)
    assert c.post("/v1/check", json=AD, headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_keys_are_stored_only_as_hashes(secure_app):
    key = _key(secure_app, "reviewer")
    with secure_app.app_context():
        dump = "\n".join(store().db.conn.iterdump())
    assert key not in dump and auth.hash_key(key) in dump


def test_health_needs_no_key(secure_app):
    assert secure_app.test_client().get("/healthz").get_json() == {"status": "ok"}


def test_disabled_auth_is_announced(client):
    assert client.get("/healthz").get_json()["auth"] == "disabled"


def test_keys_cli(secure_app):
    runner = secure_app.test_cli_runner()
    made = runner.invoke(args=["keys", "create", "--role", "submitter", "--name", "flow"])
    assert made.exit_code == 0, made.output
    key_id, key = made.output.split()[0], made.output.splitlines()[1]
    assert key.startswith("pgk_")
    listed = runner.invoke(args=["keys", "list"]).output
    assert key_id in listed and key not in listed
    assert runner.invoke(args=["keys", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(args=["keys", "list"]).output
    assert runner.invoke(args=["keys", "revoke", "key_missing"]).exit_code != 0
    assert runner.invoke(args=["keys", "create", "--role", "king", "--name", "x"]).exit_code != 0
