"""/review/stats: verdicts per day, the rules that fire most, overturn rates, as server-drawn SVG."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app import create_app
from checker import authoring, pipeline
from tests.conftest import tiny_policy, tiny_rule
from web import auth, verdicts
from web.state import close_stores, engine, store

ADS = [
    {"advertiser_id": "a", "headline": "Old ivory carving"},
    {"advertiser_id": "a", "headline": "Ivory netsuke"},
    {"advertiser_id": "a", "headline": "Tiger claw"},
    {"advertiser_id": "a", "headline": "Dog bed"},
]


def make_app(make_bundle, tmp_path, auth_disabled=True):
    rules = [
        tiny_rule(),
        tiny_rule("claw", decision="review", when={"terms": ["part"]}, match=["claw"], no_match=["x"]),
    ]
    return create_app(
        {
            "TESTING": True,
            "DATABASE": str(tmp_path / "v.db"),
            "AUTH_DISABLED": auth_disabled,
            "POLICY_DIR": str(make_bundle(policies={"tiny": tiny_policy(rules)})),
        }
    )


NOW = datetime(2026, 11, 28, 23, 59, 59, 999000, tzinfo=UTC)  # a second before midnight, on purpose


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW.astimezone(tz) if tz else NOW.replace(tzinfo=None)


@pytest.fixture
def frozen(monkeypatch):
    """Every verdict checked at NOW, and NOW is today for the stats: no test straddles midnight."""
    monkeypatch.setattr(pipeline, "now_iso", lambda: NOW.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    monkeypatch.setattr(authoring, "datetime", _FrozenDatetime)
    return NOW


@pytest.fixture
def filled(make_bundle, tmp_path, frozen):
    """Four verdicts (2 rejected by ivory, 1 review by claw, 1 approved) and three reviews, all checked at NOW."""
    app = make_app(make_bundle, tmp_path)
    client = app.test_client()
    ids = [client.post("/v1/check", json=ad).get_json()["decision_id"] for ad in ADS]
    with app.app_context():
        store().add_review(ids[0], "rev", "approved", "bone, not ivory")  # rejected -> approved: overturned
        store().add_review(ids[1], "rev", "rejected", "ivory")  # upheld
        store().add_review(ids[2], "rev", "rejected", "real claw")  # review -> rejected: upheld
        assert {store().get(i)["checked_at"] for i in ids} == {"2026-11-28T23:59:59.999Z"}
    app.today = frozen.date()
    app.ids = ids
    yield app
    close_stores()


def test_stats_figures(filled):
    with filled.app_context():
        s = authoring.stats(store(), days=7, today=filled.today)
    assert [d["day"] for d in s["per_day"]][-1] == filled.today.isoformat() and len(s["per_day"]) == 7
    assert s["per_day"][-1] | {"day": None} == {"day": None, "approved": 1, "review": 1, "rejected": 2}
    assert sum(d["approved"] + d["review"] + d["rejected"] for d in s["per_day"][:-1]) == 0
    assert s["total"] == 4
    assert s["top_rules"] == [
        {"rule": "ivory", "policy": "tiny", "hits": 2},
        {"rule": "claw", "policy": "tiny", "hits": 1},
    ]
    assert (s["reviewed"], s["overturned"]) == (3, 1)
    assert s["overturn_by_decision"] == [
        {"label": "review", "reviewed": 1, "overturned": 0, "rate": 0.0},
        {"label": "rejected", "reviewed": 2, "overturned": 1, "rate": 0.5},
    ]
    assert s["overturn_by_rule"][0] == {"label": "ivory", "reviewed": 2, "overturned": 1, "rate": 0.5}


def test_stats_window_excludes_other_days(filled):
    with filled.app_context():
        later = authoring.stats(store(), days=7, today=filled.today + timedelta(days=30))
        earlier = authoring.stats(store(), days=7, today=filled.today - timedelta(days=1))
    for s in (later, earlier):
        assert s["total"] == 0 and s["top_rules"] == [] and s["reviewed"] == 0


def test_the_page_draws_the_charts_with_words(filled):
    r = filled.test_client().get("/review/stats?days=7")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-store"
    assert html.count('role="img"') == 4  # per day, top rules, overturns by decision and by rule
    for chart in ("perday", "toprules", "obd", "obr"):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in html
        assert f'<title id="{chart}-title">' in html and f'<desc id="{chart}-desc">' in html
    assert "In all 4 verdicts:" in html
    assert f"<title>{filled.today.isoformat()}: 4 verdicts (1 approved, 1 review, 2 rejected)</title>" in html
    assert "ivory 2, claw 1." in html
    assert "rejected: 1 of 2 overturned (50%)" in html
    assert "<script" not in html and "style=" not in html  # the pages' CSP allows neither


def test_the_page_is_a_page_with_the_pages_headers_and_errors(filled, tmp_path):
    client = filled.test_client()
    r = client.get("/review/stats")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["Referrer-Policy"] == "same-origin" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"
    (tmp_path / "a-file").write_text("")
    filled.config["DATABASE"] = str(tmp_path / "a-file" / "v.db")  # a log that cannot be opened
    broken = client.get("/review/stats")
    assert broken.status_code == 503 and broken.mimetype == "text/html"
    assert "Content-Security-Policy" in broken.headers and "<h1>" in broken.get_data(as_text=True)


def test_stacked_bars_are_as_tall_as_their_counts():
    per_day = [
        {"day": "2026-11-27", "approved": 3, "review": 1, "rejected": 4},
        {"day": "2026-11-28", "approved": 0, "review": 0, "rejected": 0},
    ]
    chart = authoring.stacked_bars(per_day, width=100, height=100)
    assert chart["max"] == 10  # a round scale at or above the tallest bar (8)
    first, empty = chart["bars"]
    assert [(s["key"], s["h"]) for s in first["segments"]] == [("approved", 30.0), ("review", 10.0), ("rejected", 40.0)]
    assert first["segments"][-1]["y"] == 20.0  # the top of the stack: 100 - 80
    assert empty["segments"] == [] and empty["total"] == 0
    assert [t["value"] for t in chart["ticks"]] == [0, 2, 4, 6, 8, 10]
    assert authoring.hbars([{"n": 5}, {"n": 10}], "n", width=200) == [{"n": 5, "len": 100.0}, {"n": 10, "len": 200.0}]


def test_the_page_needs_a_reviewer_session(make_bundle, tmp_path):
    app = make_app(make_bundle, tmp_path, auth_disabled=False)
    try:
        client = app.test_client()
        r = client.get("/review/stats")
        assert r.status_code == 302 and r.headers["Location"].startswith("/login")
        with app.app_context():
            submitter_id, _ = auth.create_key("submitter", "flow")
            reviewer_id, _ = auth.create_key("reviewer", "ana")
        with client.session_transaction() as s:
            s["key_id"] = submitter_id
        assert client.get("/review/stats").status_code == 302
        with client.session_transaction() as s:
            s["key_id"] = reviewer_id
        r = client.get("/review/stats?days=9999")  # an unknown period falls back to 30 days
        assert r.status_code == 200
        assert re.search(r"<strong aria-current=\"true\">30 days</strong>", r.get_data(as_text=True))
    finally:
        close_stores()


def test_the_page_on_an_empty_log_says_so(make_bundle, tmp_path):
    app = make_app(make_bundle, tmp_path)
    try:
        r = app.test_client().get("/review/stats")
    finally:
        close_stores()
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "0 in all" in html and "No rule fired in this period." in html
    assert "No verdict of this period has been reviewed yet." in html
    assert html.count("<rect") >= 30  # a (transparent) bar per day still carries its title


def test_try_it_verdicts_do_not_count(filled):
    with filled.app_context():
        # An ivory verdict made on the Try it page.
        eng = engine()
        tried = {"advertiser_id": verdicts.TRY_IT_ADVERTISER, "headline": "Ivory netsuke"}
        store().record(pipeline.run(eng.bundle, eng.checker, tried, eng.languages).row)
        counted = authoring.stats(store(), days=7, today=filled.today)
        everything = authoring.stats(store(), days=7, today=filled.today, exclude_advertisers=())
        page = authoring.stats(store(), days=7, today=filled.today, exclude_advertisers=(verdicts.TRY_IT_ADVERTISER,))
    assert everything["total"] == 5 and everything["top_rules"][0]["hits"] == 3
    assert page["total"] == 4 and page["top_rules"][0]["hits"] == 2
    assert counted == everything  # excluding is the caller's choice


def test_no_advertiser_may_pass_as_the_try_it_page(filled):
    r = filled.test_client().post("/v1/check", json={"advertiser_id": verdicts.TRY_IT_ADVERTISER, "headline": "ivory"})
    assert r.status_code == 400
    assert r.get_json()["error"]["details"] == [
        {"field": "$.advertiser_id", "problem": "is reserved for the staff Try it page"}
    ]


def test_staff_pages_link_to_the_statistics(filled):
    html = filled.test_client().get("/review").get_data(as_text=True)
    assert 'href="/review/stats"' in html
