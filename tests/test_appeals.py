"""Appeals and reviews in order: one open appeal at a time, whatever the timing, and only text a log can keep."""

from __future__ import annotations

import json
import threading

import pytest

from checker import store as store_module
from tests.test_pages import CLEAN_AD, IVORY_AD, _token, check
from web import verdicts
from web.state import close_stores, store

FROZEN = "2026-11-28T12:00:00.000Z"


def _appeal(client, v: dict, reason: str = "It is resin."):
    return client.post(
        f"/v1/verdicts/{v['decision_id']}/appeal", json={"token": _token(v["explanation_url"]), "reason": reason}
    )


def _review(client, v: dict, decision: str = "rejected"):
    return client.post(f"/v1/verdicts/{v['decision_id']}/reviews", json={"decision": decision, "note": "Real."})


def test_two_appeals_at_once_store_one(app, client):
    v = check(client)
    with app.app_context():
        # Both requests have read the verdict and seen no appeal waiting: only the write may decide.
        stale = [verdicts.load(v["decision_id"]), verdicts.load(v["decision_id"])]
    assert all(case.open_appeal is None for case in stale)
    ready = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def appeal(case: verdicts.Case) -> None:
        try:
            with app.test_request_context():  # this thread's own connection to the log
                ready.wait()
                try:
                    verdicts.appeal(case, "It is resin.", "en")
                    outcomes.append("stored")
                except verdicts.AppealConflict as e:
                    outcomes.append(e.why)
        finally:
            close_stores()

    threads = [threading.Thread(target=appeal, args=(case,)) for case in stale]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["open", "stored"]
    with app.app_context():
        assert len(store().appeals(v["decision_id"])) == 1


def test_an_appeal_in_the_same_millisecond_as_a_review_still_waits(app, client, monkeypatch):
    monkeypatch.setattr(store_module, "now_iso", lambda: FROZEN)  # every appeal and review at one instant
    v = check(client)
    assert _appeal(client, v).status_code == 201
    assert _review(client, v).status_code == 201
    assert _appeal(client, v, "Here is the receipt.").status_code == 201  # the review answered the first
    second = client.get(f"/v1/verdicts/{v['decision_id']}").get_json()["appeals"][1]
    assert second["created_at"] == FROZEN
    # The second appeal waits for a person, though a review has the same time.
    assert _appeal(client, v, "Third.").status_code == 409
    with app.app_context():
        assert verdicts.require(v["decision_id"]).open_appeal["reason"] == "Here is the receipt."
        (queued,) = verdicts.queue()
    assert queued["decision_id"] == v["decision_id"] and queued["pending"] is True
    assert "The advertiser appealed" in client.get(f"/review/{v['decision_id']}").get_data(as_text=True)
    # And a review in that same millisecond answers it.
    assert _review(client, v).status_code == 201
    with app.app_context():
        assert verdicts.queue() == []


@pytest.mark.parametrize("text", ["x\ud800", "\udfff", "nul\x00"])
def test_unstorable_characters_are_a_400_naming_the_field(client, text):
    v = check(client)
    url = f"/v1/verdicts/{v['decision_id']}"
    for path, body, field in (
        ("/appeal", {"token": _token(v["explanation_url"]), "reason": text}, "$.reason"),
        ("/reviews", {"decision": "approved", "note": text}, "$.note"),
    ):
        # json.dumps escapes the lone surrogate (\\ud800): valid JSON, and Python reads it back unpaired.
        r = client.post(url + path, data=json.dumps(body), content_type="application/json")
        assert r.status_code == 400, r.get_data(as_text=True)
        err = r.get_json()["error"]
        assert err["code"] == "invalid_request" and [d["field"] for d in err["details"]] == [field]


def test_a_refused_appeal_is_explained_in_the_page_language(client, monkeypatch):
    v = check(client, {**IVORY_AD, "language": "sv"})
    real = verdicts.appeal

    def another_tab_came_first(case, reason, language):
        store().add_appeal(case.decision_id, "Från en annan flik.", "sv")  # after this request read the verdict
        return real(case, reason, language)

    monkeypatch.setattr(verdicts, "appeal", another_tab_came_first)
    r = client.post(
        f"/verdicts/{v['decision_id']}/appeal",
        data={"token": _token(v["explanation_url"]), "reason": "Det är harts.", "lang": "sv"},
    )
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert '<html lang="sv">' in html and "väntar på en person" in html
    assert "An appeal is already waiting" not in html and "<textarea" not in html
    ok = check(client, {**CLEAN_AD, "language": "sv"})
    refused = client.post(
        f"/verdicts/{ok['decision_id']}/appeal", data={"token": _token(ok["explanation_url"]), "reason": "r"}
    )
    assert refused.status_code == 409 and "En godkänd annons behöver inte överklagas." in refused.get_data(as_text=True)


def test_the_page_names_unstorable_characters(client):
    v = check(client)
    r = client.post(
        f"/verdicts/{v['decision_id']}/appeal",
        data={"token": _token(v["explanation_url"]), "reason": "resin\x00"},
    )
    assert r.status_code == 400
    assert "characters we cannot store" in r.get_data(as_text=True)
