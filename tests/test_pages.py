"""Signed explanation links, appeals, reviews and the pages people use (no browser here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app import create_app
from checker.bundle import load_bundle
from tests.conftest import ROOT, tiny_policy, tiny_rule
from web import auth, i18n, links
from web.state import close_stores, store

IVORY_AD = {
    "advertiser_id": "adv-17",
    "submission_id": "camp-9/ad-3",
    "headline": "Antique carved ivory netsuke",
    "body": "Signed, Meiji period. $400, ships worldwide.",
    "language": "en",
}
CLEAN_AD = {"advertiser_id": "adv-17", "headline": "Grain-free dog food, 12 kg"}


def check(client, ad=IVORY_AD) -> dict:
    r = client.post("/v1/check", json=ad)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def text_of(html: str) -> str:
    """The page's visible words, tags stripped (entities left as they are)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def marks(html: str) -> list[str]:
    return re.findall(r"<mark[^>]*>([^<]*)</mark>", html)


def _token(url: str) -> str:
    return url.split("token=", 1)[1]


def _tamper(token: str) -> str:
    """Change the signature's first character (the last may hold only padding bits)."""
    head, signature = token.rsplit(".", 1)
    return f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


# -- the signed link -----------------------------------------------------------------------
def test_every_verdict_answer_carries_a_working_explanation_url(client):
    v = check(client)
    url = v["explanation_url"]
    assert url.startswith(f"/verdicts/{v['decision_id']}?token=")
    got = client.get(f"/v1/verdicts/{v['decision_id']}").get_json()
    assert got["explanation_url"].startswith(f"/verdicts/{v['decision_id']}?token=")
    listed = client.get("/v1/verdicts").get_json()["verdicts"][0]
    assert listed["explanation_url"].split("?")[0] == url.split("?")[0]
    page = client.get(url)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "no-store" in page.headers["Cache-Control"]
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none': no script at all


def test_bad_links_are_404_and_say_nothing_about_the_verdict(client):
    v = check(client)
    other = check(client, CLEAN_AD)
    token = _token(v["explanation_url"])
    unknown = client.get("/verdicts/vd_01NOSUCHVERDICT00000000000?token=" + token)
    bodies = set()
    for url in (
        f"/verdicts/{v['decision_id']}",  # no token
        f"/verdicts/{v['decision_id']}?token=",
        f"/verdicts/{v['decision_id']}?token={_tamper(token)}",
        f"/verdicts/{v['decision_id']}?token={_token(other['explanation_url'])}",  # another verdict's token
        f"/verdicts/{other['decision_id']}?token={token}",
    ):
        r = client.get(url)
        assert r.status_code == 404, url
        body = r.get_data(as_text=True)
        assert "ivory" not in body and v["decision_id"] not in body
        bodies.add(body)
    assert unknown.status_code == 404
    bodies.add(unknown.get_data(as_text=True))
    assert len(bodies) == 1  # a bad link and an unknown verdict look the same


def test_expired_link_is_404(app, client):
    v = check(client)
    app.config["EXPLANATION_LINK_MAX_AGE"] = -1
    assert client.get(v["explanation_url"]).status_code == 404
    app.config["EXPLANATION_LINK_MAX_AGE"] = 3600
    assert client.get(v["explanation_url"]).status_code == 200


def test_link_signed_with_another_secret_is_404(tmp_path, client):
    v = check(client)
    other = create_app({"TESTING": True, "DATABASE": str(tmp_path / "o.db"), "AUTH_DISABLED": True, "SECRET_KEY": "x"})
    with other.test_request_context():
        forged = links.token_for(v["decision_id"])
    assert client.get(f"/verdicts/{v['decision_id']}?token={forged}").status_code == 404


# -- what the verdict page shows --------------------------------------------------------------
def test_rejected_page_shows_badge_reasons_and_evidence_in_place(client):
    v = check(client)
    html = client.get(v["explanation_url"]).get_data(as_text=True)
    assert '<html lang="en">' in html
    assert 'data-decision="rejected">Rejected<' in html
    assert marks(html) == ["ivory"]
    assert 'data-field="headline">Antique carved <mark data-reasons="1">ivory</mark>' in html
    page = text_of(html)
    assert "Found in the headline: “ivory”." in page
    assert "If “ivory” is the colour, say “ivory colour” or “cream”." in page
    assert 'href="/policies/protected-wildlife-products?lang=en"' in html
    assert "camp-9/ad-3" in page and "Send appeal" in page


def test_swedish_by_submission_by_switch_and_by_header(client):
    sv = check(client, {**IVORY_AD, "language": "sv"})
    html = client.get(sv["explanation_url"]).get_data(as_text=True)
    assert '<html lang="sv">' in html and ">Avvisad<" in html and "Hittat i rubriken" in html
    en = check(client)
    switched = client.get(en["explanation_url"] + "&lang=sv").get_data(as_text=True)
    assert '<html lang="sv">' in switched and "Ta bort elfenbensföremålet." in switched
    assert 'lang="sv"' in switched.split('id="reason-1"')[1][:40]  # the reasons were rebuilt in Swedish
    # No language in the submission: the browser's Accept-Language decides.
    bare = check(client, {k: v for k, v in IVORY_AD.items() if k != "language"})
    by_header = client.get(bare["explanation_url"], headers={"Accept-Language": "sv-SE,sv;q=0.9,en;q=0.5"})
    assert ">Avvisad<" in by_header.get_data(as_text=True)
    # The advertiser asked for English: their header does not override it.
    kept = client.get(en["explanation_url"], headers={"Accept-Language": "sv"}).get_data(as_text=True)
    assert ">Rejected<" in kept


def test_approved_page_has_no_reasons_and_no_appeal_form(client):
    v = check(client, CLEAN_AD)
    html = client.get(v["explanation_url"]).get_data(as_text=True)
    assert ">Approved<" in html and "What to change" not in html
    assert "nothing to appeal" in html and "<textarea" not in html


def test_ad_text_is_escaped(client):
    v = check(
        client,
        {
            "advertiser_id": "a",
            "headline": "Carved ivory <script>alert(1)</script>",
            "body": '<img src=x onerror="alert(2)"> "quoted" & more',
        },
    )
    html = client.get(v["explanation_url"]).get_data(as_text=True)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html


def test_purged_verdict_page_still_explains(app, client):
    v = check(client)
    with app.app_context():
        store().purge("9999-01-01")
    html = client.get(v["explanation_url"]).get_data(as_text=True)
    assert ">Rejected<" in html and "no longer kept" in html and "ivory" in html  # the rule's own words remain
    assert marks(html) == []
    page = text_of(html)
    assert "Found in the headline." in page and "“ivory”" not in page  # the field, not the ad's words
    assert "What to do: Remove the ivory item." in page
    assert "Where Headline" in page
    # Without the trace the reasons cannot be rebuilt in another language: shown as answered, and said so.
    sv = text_of(client.get(v["explanation_url"] + "&lang=sv").get_data(as_text=True))
    assert "Skälen visas på det språk de skrevs på." in sv and "Remove the ivory item." in sv


# -- withheld words ----------------------------------------------------------------------------
@pytest.fixture
def secret_app(tmp_path, make_bundle):
    rule = tiny_rule("ivory", disclose=False, message={"en": "No forbidden goods.", "sv": "Inga förbjudna varor."})
    policies = make_bundle(policies={"tiny": tiny_policy([rule])})
    load_bundle(policies)  # fail here, not in the app, if the test bundle is wrong
    app = create_app(
        {"TESTING": True, "DATABASE": str(tmp_path / "s.db"), "AUTH_DISABLED": True, "POLICY_DIR": str(policies)}
    )
    yield app
    close_stores()


def test_withheld_words_reach_the_flow_and_reviewers_but_not_the_advertiser(secret_app):
    client = secret_app.test_client()
    v = check(client, {"advertiser_id": "a", "headline": "Old ivory carving"})
    (reason,) = v["reasons"]
    assert reason["evidence"][0]["text"] == "ivory" and reason["evidence"][0]["disclosed"] is False
    page = client.get(v["explanation_url"]).get_data(as_text=True)
    assert marks(page) == []
    assert "Found in the headline. We do not quote the words this rule looks for." in text_of(page)
    assert "Where Headline" in text_of(page)
    review = client.get(f"/review/{v['decision_id']}").get_data(as_text=True)
    assert re.search(r'<mark data-reasons="1" class="withheld">ivory</mark>', review)
    assert "no (withheld)" in review


def test_policy_centre_hides_examples_of_withheld_rules(secret_app):
    html = secret_app.test_client().get("/policies/tiny").get_data(as_text=True)
    assert "Old ivory carving" not in html  # the rule's match example would teach its words
    assert "Faux ivory chess set" not in html  # and so would what it lets through ("faux" next to its words)


def test_policy_centre_shows_no_example_of_the_real_code_word_rule(client, default_bundle):
    (rule,) = [r for r in default_bundle.rules if r.id == "trade-code-words"]
    assert not rule.disclose
    html = client.get(f"/policies/{rule.policy}").get_data(as_text=True)
    for kind in ("match", "no_match"):
        for example in rule.examples[kind]:
            text = example if isinstance(example, str) else example.get("headline", "")
            assert text and text not in html, (kind, text)


# -- appeals over the API ----------------------------------------------------------------------
def test_appeal_with_the_link_token(client, app):
    v = check(client)
    r = client.post(
        f"/v1/verdicts/{v['decision_id']}/appeal",
        json={"token": _token(v["explanation_url"]), "reason": "It is resin, not ivory."},
    )
    assert r.status_code == 201
    body = r.get_json()
    assert body["appeal"]["reason"] == "It is resin, not ivory." and body["appeal"]["language"] == "en"
    assert "reasons" not in body  # the advertiser may hold this answer
    got = client.get(f"/v1/verdicts/{v['decision_id']}").get_json()
    assert [a["reason"] for a in got["appeals"]] == ["It is resin, not ivory."]
    assert got["decision"] == got["effective_decision"] == "rejected"
    html = client.get(v["explanation_url"]).get_data(as_text=True)
    assert "is waiting for a person" in html and "<textarea" not in html


def test_appeal_with_a_bad_token_is_the_same_404_as_no_verdict(client):
    v = check(client)
    token = _token(v["explanation_url"])
    bad = client.post(f"/v1/verdicts/{v['decision_id']}/appeal", json={"token": token + "x", "reason": "r"})
    none = client.post("/v1/verdicts/vd_NOPE/appeal", json={"token": token, "reason": "r"})
    assert bad.status_code == none.status_code == 404
    assert bad.get_json() == none.get_json()
    assert client.post(f"/v1/verdicts/{v['decision_id']}/appeal", json={"token": 7, "reason": "r"}).status_code == 404


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, ["$.reason"]),
        ({"reason": "   "}, ["$.reason"]),
        ({"reason": "x" * 2001}, ["$.reason"]),
        ({"reason": 5}, ["$.reason"]),
        ({"reason": "ok", "colour": "red"}, ["$.colour"]),
        ({"reason": "", "language": 3}, ["$.reason", "$.language"]),
    ],
)
def test_bad_appeals_name_every_field(client, body, fields):
    v = check(client)
    r = client.post(f"/v1/verdicts/{v['decision_id']}/appeal", json={"token": _token(v["explanation_url"]), **body})
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "invalid_request"
    assert sorted(d["field"] for d in err["details"]) == sorted(fields)


def test_appeal_body_must_be_an_object(client):
    v = check(client)
    r = client.post(f"/v1/verdicts/{v['decision_id']}/appeal", json=["x"])
    assert r.status_code == 400 and r.get_json()["error"]["details"] == [
        {"field": "$", "problem": "must be a JSON object"}
    ]


def test_nothing_to_appeal_and_one_open_appeal_at_a_time(client):
    ok = check(client, CLEAN_AD)
    r = client.post(
        f"/v1/verdicts/{ok['decision_id']}/appeal", json={"token": _token(ok["explanation_url"]), "reason": "r"}
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"
    v = check(client)
    body = {"token": _token(v["explanation_url"]), "reason": "first"}
    assert client.post(f"/v1/verdicts/{v['decision_id']}/appeal", json=body).status_code == 201
    assert client.post(f"/v1/verdicts/{v['decision_id']}/appeal", json=body).status_code == 409
    # After a reviewer answers, the advertiser may appeal again.
    client.post(f"/v1/verdicts/{v['decision_id']}/reviews", json={"decision": "rejected", "note": "Real ivory."})
    assert client.post(f"/v1/verdicts/{v['decision_id']}/appeal", json=body).status_code == 201


# -- keys: who may appeal and review -------------------------------------------------------------
@pytest.fixture
def secure_app(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "v.db"), "AUTH_DISABLED": False})
    yield app
    close_stores()


def _key(app, role):
    with app.app_context():
        return auth.create_key(role, f"test-{role}")


def test_submitter_key_may_appeal_for_the_advertiser_token_or_key_needed(secure_app):
    c = secure_app.test_client()
    _, key = _key(secure_app, "submitter")
    h = {"Authorization": f"Bearer {key}"}
    v = c.post("/v1/check", json=IVORY_AD, headers=h).get_json()
    url = f"/v1/verdicts/{v['decision_id']}/appeal"
    assert c.post(url, json={"reason": "resin"}).status_code == 401
    assert c.post(url, json={"reason": "resin", "token": "wrong"}, headers=h).status_code == 404
    assert c.post(url, json={"reason": "resin"}, headers=h).status_code == 201


def test_reviews_need_a_reviewer_key_and_leave_the_verdict_row_alone(secure_app):
    c = secure_app.test_client()
    _, submitter = _key(secure_app, "submitter")
    reviewer_id, reviewer = _key(secure_app, "reviewer")
    v = c.post("/v1/check", json=IVORY_AD, headers={"Authorization": f"Bearer {submitter}"}).get_json()
    with secure_app.app_context():
        before = store().get(v["decision_id"])
    url = f"/v1/verdicts/{v['decision_id']}/reviews"
    review = {"decision": "approved", "note": "Vegetable ivory (tagua); photo checked."}
    r = c.post(url, json=review, headers={"Authorization": f"Bearer {submitter}"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert c.post(url, json=review).status_code == 401
    r = c.post(url, json=review, headers={"Authorization": f"Bearer {reviewer}"})
    assert r.status_code == 201
    got = r.get_json()
    assert got["decision"] == "rejected" and got["effective_decision"] == "approved"
    assert got["reviews"][0]["note"] == review["note"]
    assert got["reviews"][0]["reviewer"] == f"test-reviewer ({reviewer_id})"
    with secure_app.app_context():
        assert store().get(v["decision_id"]) == before
        assert store().verify().ok
    # The advertiser's page shows the decision in force.
    page = c.get(v["explanation_url"]).get_data(as_text=True)
    assert ">Approved<" in page and "changed the decision" in page


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"decision": "maybe", "note": "n"}, ["$.decision"]),
        ({"decision": "approved"}, ["$.note"]),
        ({"decision": "review", "note": ""}, ["$.decision", "$.note"]),
        ({"decision": "approved", "note": "n", "by": "me"}, ["$.by"]),
    ],
)
def test_bad_reviews_name_every_field(client, body, fields):
    v = check(client)
    r = client.post(f"/v1/verdicts/{v['decision_id']}/reviews", json=body)
    assert r.status_code == 400
    assert sorted(d["field"] for d in r.get_json()["error"]["details"]) == sorted(fields)


def test_latest_review_wins(client):
    v = check(client)
    url = f"/v1/verdicts/{v['decision_id']}/reviews"
    client.post(url, json={"decision": "approved", "note": "first look"})
    got = client.post(url, json={"decision": "rejected", "note": "second look: real ivory"}).get_json()
    assert got["effective_decision"] == "rejected"
    assert [r["decision"] for r in got["reviews"]] == ["approved", "rejected"]


# -- the appeal form on the page --------------------------------------------------------------
def test_appeal_from_the_page(client, app):
    v = check(client)
    r = client.post(
        f"/verdicts/{v['decision_id']}/appeal",
        data={"token": _token(v["explanation_url"]), "reason": "Resin replica.", "lang": "sv"},
    )
    assert r.status_code == 303
    assert r.headers["Location"].startswith(f"/verdicts/{v['decision_id']}?token=")
    with app.app_context():
        (a,) = store().appeals(v["decision_id"])
    assert a["reason"] == "Resin replica." and a["language"] == "sv"


def test_page_appeal_problems_are_shown_on_the_page(client):
    v = check(client)
    url = f"/verdicts/{v['decision_id']}/appeal"
    r = client.post(url, data={"token": _token(v["explanation_url"]), "reason": " "})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "Write why the decision should change." in html and 'aria-invalid="true"' in html
    r = client.post(url, data={"token": _token(v["explanation_url"]), "reason": "x" * 2001, "lang": "sv"})
    assert r.status_code == 400 and "högst 2 000 tecken" in r.get_data(as_text=True)


def test_page_appeal_refuses_other_sites_and_bad_tokens(client, app):
    v = check(client)
    url = f"/verdicts/{v['decision_id']}/appeal"
    data = {"token": _token(v["explanation_url"]), "reason": "please"}
    assert client.post(url, data=data, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post(url, data=data, headers={"Referer": "https://evil.example/x"}).status_code == 403
    assert client.post(url, data={**data, "token": "nope"}).status_code == 404
    with app.app_context():
        assert store().appeals(v["decision_id"]) == []
    assert client.post(url, data=data, headers={"Origin": "http://localhost"}).status_code == 303


# -- the review queue -------------------------------------------------------------------------------
def _queue_ids(client, query="") -> list[str]:
    html = client.get("/review" + query).get_data(as_text=True)
    return re.findall(r'data-decision-id="([^"]+)"', html)


@pytest.fixture
def review_app(tmp_path, make_bundle):
    """A bundle with a rule that rejects (ivory) and one that sends to review (claw)."""
    claw = tiny_rule("claw", decision="review", when={"terms": ["part"]}, match=["Tiger claw"], no_match=["Paw"])
    other = tiny_policy([claw], policy_id="other")
    other["title"] = {"en": "Other", "sv": "Annan"}
    policies = make_bundle(policies={"tiny": tiny_policy(), "other": other})
    app = create_app(
        {"TESTING": True, "DATABASE": str(tmp_path / "r.db"), "AUTH_DISABLED": True, "POLICY_DIR": str(policies)}
    )
    yield app
    close_stores()


def test_queue_holds_review_verdicts_and_appeals_newest_first(review_app):
    client = review_app.test_client()
    borderline = check(client, {"advertiser_id": "a", "headline": "Tiger claw"})
    rejected = check(client, {"advertiser_id": "a", "headline": "Old ivory"})
    appealed = check(client, {"advertiser_id": "a", "headline": "Old ivory bangle"})
    tried = client.post("/", data={"csrf_token": _csrf(client, "/"), "headline": "Tiger claw"})
    assert tried.status_code == 303  # a Try it verdict: not for the queue
    assert borderline["decision"] == "review" and appealed["decision"] == "rejected"
    assert _queue_ids(client) == [borderline["decision_id"]]
    token = _token(appealed["explanation_url"])
    client.post(f"/v1/verdicts/{appealed['decision_id']}/appeal", json={"token": token, "reason": "resin"})
    assert _queue_ids(client) == [appealed["decision_id"], borderline["decision_id"]]
    assert rejected["decision_id"] not in _queue_ids(client, "?state=all")
    assert _queue_ids(client, "?decision=rejected") == [appealed["decision_id"]]
    assert _queue_ids(client, "?decision=review") == [borderline["decision_id"]]
    assert _queue_ids(client, "?policy=other") == [borderline["decision_id"]]
    assert _queue_ids(client, "?policy=tiny&decision=review") == []
    # Once a reviewer answers, it leaves the pending queue but stays in "all".
    client.post(f"/v1/verdicts/{appealed['decision_id']}/reviews", json={"decision": "approved", "note": "ok"})
    client.post(f"/v1/verdicts/{borderline['decision_id']}/reviews", json={"decision": "rejected", "note": "real"})
    assert _queue_ids(client) == []
    assert _queue_ids(client, "?state=all") == [appealed["decision_id"], borderline["decision_id"]]
    html = client.get("/review?state=all").get_data(as_text=True)
    assert "Appealed" in html and "Decided" in html


def test_queue_filters_are_checked(client):
    r = client.get("/review?decision=maybe&state=soon&policy=nope")
    assert r.status_code == 400 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "query.decision" in html and "query.state" in html and "query.policy" in html


def test_review_page_shows_the_whole_trace(client):
    v = check(client, {"advertiser_id": "a", "headline": "Antique carved 1v0ry netsuke"})
    html = client.get(f"/review/{v['decision_id']}").get_data(as_text=True)
    assert "antique carved ivory netsuke" in html  # the folded text
    assert "leet" in html  # the transform that was needed
    assert "ivory-any-animal" in html and "The rules' conditions" in html
    assert 'name="csrf_token"' in html


def test_reviewer_decision_from_the_page(client, app):
    v = check(client)
    url = f"/review/{v['decision_id']}"
    assert client.post(url, data={"decision": "approved", "note": "tagua"}).status_code == 403  # no CSRF token
    page = client.get(url).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    bad = client.post(url, data={"csrf_token": csrf, "decision": "", "note": ""})
    assert bad.status_code == 400 and "Choose a decision" in bad.get_data(as_text=True)
    r = client.post(url, data={"csrf_token": csrf, "decision": "approved", "note": "Tagua nut, photo checked."})
    assert r.status_code == 303
    with app.app_context():
        (review,) = store().reviews(v["decision_id"])
    assert review["decision"] == "approved" and review["reviewer"] == "auth-disabled"
    advertiser = client.get(v["explanation_url"]).get_data(as_text=True)
    assert ">Approved<" in advertiser
    assert "Tagua nut" not in advertiser  # notes are for the log, not the advertiser
    assert "Tagua nut" in client.get(url).get_data(as_text=True)


# -- signing in -------------------------------------------------------------------------------------
def _csrf(client, url="/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)


def test_login_flow(secure_app):
    c = secure_app.test_client()
    _, submitter = _key(secure_app, "submitter")
    _, reviewer = _key(secure_app, "reviewer")
    r = c.get("/review?decision=review")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/review?decision%3Dreview"
    assert c.get("/").status_code == 302  # Try it is for staff too
    assert c.post("/login", data={"key": reviewer}).status_code == 403  # no CSRF token
    assert c.post("/login", data={"key": submitter, "csrf_token": _csrf(c)}).status_code == 401
    assert c.post("/login", data={"key": "pgk_wrong", "csrf_token": _csrf(c)}).status_code == 401
    r = c.post("/login", data={"key": reviewer, "csrf_token": _csrf(c), "next": "/review?decision=review"})
    assert r.status_code == 303 and r.headers["Location"] == "/review?decision=review"
    assert c.get("/review").status_code == 200
    assert c.post("/logout").status_code == 403  # no CSRF token
    assert c.post("/logout", data={"csrf_token": _csrf(c, "/review")}).status_code == 303
    assert c.get("/review").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "/\t/evil.example/x",  # browsers drop the tab: //evil.example/x
        "/\n/evil.example/x",
        "/\r\n/evil.example",
        "/\\evil.example/x",  # browsers read a backslash as a slash
        "/\x00/evil.example",
        "/ /evil.example",
        "https://evil.example/x",
        "evil.example/x",
        "/\u2028/evil.example",
    ],
)
def test_login_never_redirects_off_site(secure_app, target):
    c = secure_app.test_client()
    _, reviewer = _key(secure_app, "reviewer")
    r = c.post("/login", data={"key": reviewer, "csrf_token": _csrf(c), "next": target})
    assert r.status_code == 303 and r.headers["Location"] == "/review"


def test_revoked_key_ends_the_session(secure_app):
    c = secure_app.test_client()
    key_id, reviewer = _key(secure_app, "reviewer")
    c.post("/login", data={"key": reviewer, "csrf_token": _csrf(c)})
    assert c.get("/review").status_code == 200
    with secure_app.app_context():
        store().revoke_key(key_id)
    assert c.get("/review").status_code == 302


# -- Try it -----------------------------------------------------------------------------------------
def test_try_it_stores_the_verdict_and_shows_it(client, app):
    csrf = _csrf(client, "/")
    r = client.post(
        "/",
        data={
            "csrf_token": csrf,
            "headline": "Antique carved ivory netsuke",
            "keywords": "netsuke, antique",
            "language": "sv",
        },
    )
    assert r.status_code == 303
    decision_id = r.headers["Location"].split("verdict=")[1]
    with app.app_context():
        row = store().get(decision_id)
    assert row["advertiser_id"] == "try-it" and row["language"] == "sv"
    assert json.loads(row["submission_json"])["keywords"] == ["netsuke", "antique"]
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert ">Avvisad<" not in html  # staff pages speak English ...
    assert "Hittat i rubriken" in html  # ... but show the reasons the advertiser would get
    assert "Open the advertiser's page" in html and marks(html) == ["ivory"]


def test_try_it_problems_name_the_field(client):
    r = client.post("/", data={"csrf_token": _csrf(client, "/"), "landing_url": "ftp://x"})
    assert r.status_code == 400
    assert "Landing page address" in r.get_data(as_text=True)
    empty = client.post("/", data={"csrf_token": _csrf(client, "/"), "headline": "  "})
    assert empty.status_code == 400 and "The ad: " in text_of(empty.get_data(as_text=True))


# -- the policy centre ------------------------------------------------------------------------------
def test_policy_centre_in_both_languages(client):
    en = client.get("/policies").get_data(as_text=True)
    assert "Products from protected animals" in en and "Sale of live animals" in en
    sv = client.get("/policies", headers={"Accept-Language": "sv"}).get_data(as_text=True)
    assert '<html lang="sv">' in sv and "Produkter från skyddade djur" in sv and "Inte tillåtet" in sv


@pytest.mark.parametrize(
    "url",
    [
        "/policies?_method=x",
        "/policies?_external=1&_scheme=javascript",
        "/policies/protected-wildlife-products?policy_id=live-animal-sales",
        "/policies/protected-wildlife-products?_anchor=x&lang=sv&lang=en",
    ],
)
def test_the_language_switcher_keeps_the_query_and_nothing_else(client, url):
    r = client.get(url, headers={"Host": "evil.example"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "evil.example" not in html and 'href="javascript' not in html and 'href="http' not in html
    path, _, query = url.partition("?")
    kept = "&amp;".join(p for p in query.split("&") if not p.startswith("lang="))
    assert f'href="{path}?{kept}&amp;lang=sv"' in html  # the same page and query, another language


def test_policy_page_examples_are_checked_by_the_service(client, default_bundle):
    html = client.get("/policies/protected-wildlife-products?lang=sv").get_data(as_text=True)
    policy = default_bundle.policy("protected-wildlife-products")
    assert policy.title["sv"] in html and policy.help["sv"]["forbidden"][0] in html
    section = html.split('id="ex-rejected"')[1].split("</section>")[0]
    first_match = policy.rules[0].examples["match"][0]
    assert (first_match if isinstance(first_match, str) else first_match.get("headline", "")) in section
    assert client.get("/policies/no-such-policy").status_code == 404


# -- keeping the pages honest -------------------------------------------------------------------------
def test_every_page_word_exists_in_every_language():
    keys = set(i18n.TEXT[i18n.FALLBACK])
    for lang, words in i18n.TEXT.items():
        assert set(words) == keys, lang
    from checker.document import TEXT_FIELDS

    assert {f"field_{name}" for name in TEXT_FIELDS} <= keys


def test_templates_never_switch_escaping_off():
    templates = list((ROOT / "templates").glob("*.html"))
    assert any(p.name == "base.html" for p in templates)
    for path in templates:
        source = path.read_text()
        assert "|safe" not in source.replace(" ", "") and "autoescape false" not in source, path.name
        assert "Markup(" not in source


def test_partials_are_named_with_an_underscore():
    names = {p.name for p in (ROOT / "templates").glob("*.html")}
    included = set()
    for path in (ROOT / "templates").glob("*.html"):
        included |= set(re.findall(r'{%\s*include\s+"([^"]+)"', path.read_text()))
    assert included <= names
    assert all(Path(name).name.startswith("_") for name in included)


def test_readme_documents_the_new_error_codes_and_pages():
    readme = (ROOT / "README.md").read_text()
    for code in ("invalid_request", "conflict"):
        assert f"`{code}`" in readme
    for path in (
        "/verdicts/<decision_id>",
        "/v1/verdicts/<decision_id>/appeal",
        "/review",
        "/policies",
        "explanation_url",
    ):
        assert path in readme, path
