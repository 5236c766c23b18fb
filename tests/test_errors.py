"""The error contract: every status a code from ERROR_CODES, `details` always there, no false "nothing stored"."""

from __future__ import annotations

import re

import pytest
from flask import abort

from app import create_app
from checker.errors import StoreUnavailable
from tests.conftest import ROOT
from tests.test_pages import IVORY_AD
from web import ops
from web.errors import ERROR_CODES
from web.state import close_stores, store


@pytest.mark.parametrize(
    "status, code",
    [
        (400, "bad_request"),  # werkzeug's own 400 (a form or header it cannot read) is not a JSON problem
        (408, "http_error"),
        (416, "http_error"),
        (418, "http_error"),
        (431, "http_error"),
        (451, "http_error"),
        (501, "internal_error"),
    ],
)
def test_every_http_error_keeps_its_status_and_gets_a_listed_code(app, status, code):
    app.add_url_rule("/test/abort", "test_abort", lambda: abort(status))
    r = app.test_client().get("/test/abort")
    assert r.status_code == status
    err = r.get_json()["error"]
    assert err["code"] == code and code in ERROR_CODES and err["message"] and err["details"] == []


def test_a_range_beyond_the_file_is_416_not_500(client):
    r = client.get("/static/style.css", headers={"Range": "bytes=999999-"})
    assert r.status_code == 416
    assert r.get_json()["error"]["code"] == "http_error"
    assert r.headers["Content-Range"].startswith("bytes */")


@pytest.mark.parametrize(
    "method, url, status",
    [("get", "/nope", 404), ("delete", "/v1/check", 405), ("post", "/v1/check", 415), ("get", "/v1/verdicts/x", 404)],
)
def test_details_are_always_there(client, method, url, status):
    r = getattr(client, method)(url)
    assert r.status_code == status
    assert r.get_json()["error"]["details"] == []


def _readme_error_table() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Errors", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([a-z_]+)` \| ([0-9x]+) \|", table, flags=re.M))


def test_the_readme_lists_every_error_code_and_no_other():
    documented = _readme_error_table()
    assert set(documented) == set(ERROR_CODES)
    for code, status in documented.items():
        # "4xx" documents a code answered with several statuses; ERROR_CODES holds the first of them.
        assert re.fullmatch(status.replace("x", "[0-9]"), str(ERROR_CODES[code])), code


# -- after the write, never "nothing was stored" --------------------------------------------------
def _fail_after_storing(monkeypatch):
    def broken(outcome):
        raise RuntimeError("metrics are broken")

    monkeypatch.setattr(ops, "checked", broken)


def test_a_failure_after_the_verdict_is_stored_says_so(app, client, monkeypatch):
    _fail_after_storing(monkeypatch)
    r = client.post("/v1/check", json=IVORY_AD)
    assert r.status_code == 500
    err = r.get_json()["error"]
    assert err["code"] == "internal_error" and "nothing was stored" not in err["message"]
    with app.app_context():
        (row,) = store().list()
    assert f"the verdict {row['decision_id']}" in err["message"]


def test_a_batch_item_that_fails_after_its_verdict_is_stored_says_so(app, client, monkeypatch):
    _fail_after_storing(monkeypatch)
    r = client.post("/v1/check/batch", json=[IVORY_AD, {"advertiser_id": "a"}])
    assert r.status_code == 200
    stored, invalid = r.get_json()["results"]
    with app.app_context():
        (row,) = store().list()
    assert stored["error"]["code"] == "internal_error"
    assert f"the verdict {row['decision_id']}" in stored["error"]["message"]
    assert invalid["error"]["code"] == "invalid_submission"


def test_a_failure_before_anything_is_stored_says_so(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the checker is broken")

    monkeypatch.setattr("checker.pipeline.run", broken)
    r = client.post("/v1/check", json=IVORY_AD)
    assert r.status_code == 500 and "nothing was stored" in r.get_json()["error"]["message"]


# -- a log that fails to read is a 503, wherever it is read -------------------------------------------
def _closed_store(app):
    with app.app_context():
        s = store()
        s.close()  # the thread's connection stays in place, closed: every call now fails in sqlite3
    return s


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.seq_of("vd_x"),
        lambda s: s.reviews("vd_x"),
        lambda s: s.appeals("vd_x"),
        lambda s: s.count(),
        lambda s: s.find_key("x"),
        lambda s: s.active_key("key_x"),
        lambda s: s.get("vd_x"),
        lambda s: s.list(),
        lambda s: s.query("SELECT 1"),
    ],
)
def test_store_reads_turn_database_errors_into_store_unavailable(app, call):
    s = _closed_store(app)
    with pytest.raises(StoreUnavailable):
        call(s)


@pytest.mark.parametrize("url", ["/v1/verdicts?before=vd_x", "/v1/verdicts/vd_x", "/review"])
def test_an_unreadable_log_is_503_log_unavailable(app, client, url):
    _closed_store(app)
    r = client.get(url)
    assert r.status_code == 503
    if r.mimetype == "application/json":
        assert r.get_json()["error"]["code"] == "log_unavailable"
    else:
        assert "Retry later" in r.get_data(as_text=True)


def test_an_unreadable_log_is_503_for_a_signed_in_reviewer_too(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "v.db")})
    try:
        client = app.test_client()
        with client.session_transaction() as session:
            session["key_id"] = "key_anyone"
        _closed_store(app)
        r = client.get("/review")
        assert r.status_code == 503 and r.mimetype == "text/html"
    finally:
        close_stores()


# -- the session cookie -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "config, secure",
    [
        ({}, True),
        ({"TESTING": True}, False),
        ({"DEBUG": True}, False),
        ({"SESSION_COOKIE_SECURE": False}, False),  # an operator's explicit choice stands
    ],
)
def test_the_session_cookie_is_secure_outside_development(tmp_path, capsys, config, secure):
    app = create_app({"DATABASE": str(tmp_path / "v.db"), "AUTH_DISABLED": True, **config})
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is secure
    finally:
        close_stores()
