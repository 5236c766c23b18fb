"""Shadow rules, `flask replay` and `flask policies coverage`, on a small fixture log.

The log is filled by `flask check --log` on tests/data/authoring_ads.jsonl
under the tiny bundle plus a shadow rule on claws:

    adv-1 Old ivory carving        rejected   ivory
    adv-2 Walrus tusk, hand carved approved
    adv-3 Faux ivory chess set     approved
    adv-4 Tiger claw necklace      approved   (shadow: claw)
    adv-5 Dog bed, large           approved
    adv-6 Tusk and claw pendant    approved   (shadow: claw)
"""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from app import create_app
from checker import authoring
from checker.bundle import load_bundle
from checker.evaluate import Checker
from tests.conftest import ROOT, TINY_LEXICONS, tiny_policy, tiny_rule
from web.state import close_stores, store

ADS = ROOT / "tests" / "data" / "authoring_ads.jsonl"
CLAW = tiny_rule("claw", when={"terms": ["part"]}, match=["Tiger claw"], no_match=["Dog bed"], mode="shadow")


def policies(rules=None):
    return {"tiny": tiny_policy(rules or [tiny_rule(), CLAW])}


@pytest.fixture
def logged(make_bundle, tmp_path):
    """An app whose log holds the six fixture ads, checked by `flask check --log`."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE": str(tmp_path / "v.db"),
            "AUTH_DISABLED": True,
            "POLICY_DIR": str(make_bundle(policies=policies())),
        }
    )
    result = app.test_cli_runner().invoke(args=["check", str(ADS), "--log", "--no-progress"])
    assert result.exit_code == 0, result.output
    app.ids = {v["advertiser_id"]: v["decision_id"] for v in (json.loads(line) for line in result.stdout.splitlines())}
    yield app
    close_stores()


def candidate(app, tmp_path, name="candidate", lexicons=None, rules=None):
    """A copy of the app's policy directory with a change."""
    d = tmp_path / name
    shutil.copytree(app.config["POLICY_DIR"], d)
    if lexicons is not None:
        for lex, data in lexicons.items():
            (d / "lexicons" / f"{lex}.json").write_text(json.dumps(data, ensure_ascii=False))
    if rules is not None:
        (d / "tiny.json").write_text(json.dumps(policies(rules)["tiny"], ensure_ascii=False))
    return d


def with_tusk():
    lex = copy.deepcopy(TINY_LEXICONS)
    lex["things"]["entries"][0]["terms"]["en"].append("tusk")  # walrus tusk is ivory too
    return {"things": lex["things"]}


def replay(app, *args):
    result = app.test_cli_runner().invoke(args=["replay", *args])
    assert result.exit_code == 0, result.output
    return result


def log_state(app):
    with app.app_context():
        db = store().db
        return (
            db.execute("SELECT count(*), max(seq), group_concat(row_hash) FROM verdicts").fetchone(),
            db.execute("SELECT count(*) FROM reviews").fetchone(),
        )


# -- shadow rules --------------------------------------------------------------------------------
def test_a_shadow_rules_hits_are_logged_but_never_answered(logged):
    with logged.app_context():
        row = store().get(logged.ids["adv-4"])
    assert row["decision"] == "approved"
    assert json.loads(row["reasons_json"]) == []
    (shadow,) = json.loads(row["shadow_json"])
    assert shadow["rule"] == "claw" and shadow["decision"] == "rejected"
    assert [(e["field"], e["text"], e["term"]) for e in shadow["evidence"]] == [("headline", "claw", "claw")]
    trace = json.loads(row["trace_json"])
    assert {"policy": "tiny", "rule": "claw", "decision": "rejected", "mode": "shadow"} in trace["rules"]


def test_a_shadow_rule_is_not_in_the_api_answer(logged):
    v = logged.test_client().post("/v1/check", json={"advertiser_id": "a", "headline": "Ivory and claw"}).get_json()
    assert v["decision"] == "rejected"
    assert [r["rule"] for r in v["reasons"]] == ["ivory"]
    assert "shadow" not in json.dumps(v)


def test_a_shadow_rule_never_changes_a_decision(make_bundle, tmp_path):
    with_shadow = Checker(load_bundle(make_bundle(policies=policies())))
    strict = copy.deepcopy(CLAW)
    strict["mode"] = "enforce"
    without = Checker(load_bundle(candidate_dir(make_bundle, tmp_path, [tiny_rule()])))
    enforced = Checker(load_bundle(candidate_dir(make_bundle, tmp_path, [tiny_rule(), strict], "enforced")))
    ads = [json.loads(line) for line in ADS.read_text().splitlines()]
    assert [with_shadow.check(ad).decision for ad in ads] == [without.check(ad).decision for ad in ads]
    # ... and it would have: enforced, the same rule rejects two of these ads.
    changed = [ad["advertiser_id"] for ad in ads if enforced.check(ad).decision != with_shadow.check(ad).decision]
    assert changed == ["adv-4", "adv-6"]


def candidate_dir(make_bundle, tmp_path, rules, name="without"):
    d = tmp_path / name
    shutil.copytree(make_bundle(policies={"tiny": tiny_policy(rules)}), d)
    return d


# -- replay ---------------------------------------------------------------------------------------
def test_replay_reports_what_a_new_term_would_change_and_writes_nothing(logged, tmp_path):
    before = log_state(logged)
    cand = candidate(logged, tmp_path, lexicons=with_tusk())
    report = json.loads(replay(logged, "--policies", str(cand), "--json").stdout)
    assert log_state(logged) == before
    assert report["rows"] == report["replayed"] == 6 and report["skipped_purged"] == 0
    assert report["transitions"] == [
        {
            "from": "approved",
            "to": "rejected",
            "count": 2,
            "examples": [logged.ids["adv-2"], logged.ids["adv-6"]],
        }
    ]
    assert report["unchanged"] == 4 and report["changed"] == report["decision_changed"] == 2
    (ivory,) = report["rules"]
    assert ivory == {
        "rule": "ivory",
        "policy": "tiny",
        "mode": "enforce",
        "before": 1,
        "after": 3,
        "gained": 2,
        "lost": 0,
        "redecided": 0,
        "gained_examples": [logged.ids["adv-2"], logged.ids["adv-6"]],
        "lost_examples": [],
        "redecided_examples": [],
    }
    first = report["changes"][0]
    assert first["decision_id"] == logged.ids["adv-2"] and (first["from"], first["to"]) == ("approved", "rejected")
    assert first["removed"] == []
    (added,) = first["added"]
    assert added["rule"] == "ivory" and added["evidence"] == [{"field": "headline", "text": "tusk"}]


def test_replay_text_report(logged, tmp_path):
    cand = candidate(logged, tmp_path, lexicons=with_tusk())
    out = replay(logged, "--policies", str(cand)).stdout
    assert "Replayed 6 of 6 logged verdicts" in out
    assert "Unchanged 4; changed 2 (2 decision(s), 0 reasons only)." in out
    assert f"approved → rejected     2   {logged.ids['adv-2']}, {logged.ids['adv-6']}" in out
    assert f"{logged.ids['adv-2']}  approved → rejected" in out
    assert "+ tiny/ivory (rejected): “tusk” in headline" in out


def test_replay_shows_a_rule_whose_decision_changed(logged, tmp_path):
    cand = candidate(logged, tmp_path, rules=[tiny_rule(decision="review"), CLAW])
    report = json.loads(replay(logged, "--policies", str(cand), "--json").stdout)
    (ivory_ad,) = [t["examples"] for t in report["transitions"]]
    assert [(t["from"], t["to"], t["count"]) for t in report["transitions"]] == [("rejected", "review", 1)]
    (rule,) = report["rules"]
    assert (rule["rule"], rule["before"], rule["after"], rule["gained"], rule["lost"]) == ("ivory", 1, 1, 0, 0)
    assert rule["redecided"] == 1 and rule["redecided_examples"] == ivory_ad
    (change,) = report["changes"]
    assert change["added"] == change["removed"] == []
    assert change["redecided"] == [{"policy": "tiny", "rule": "ivory", "from": "rejected", "to": "review"}]
    text = replay(logged, "--policies", str(cand)).stdout
    assert "~ tiny/ivory (rejected → review)" in text and f"re-decided: {ivory_ad[0]}" in text


def test_replay_of_a_rule_switched_to_shadow(logged, tmp_path):
    shadow_ivory = tiny_rule(mode="shadow")
    cand = candidate(logged, tmp_path, rules=[shadow_ivory, CLAW])
    report = json.loads(replay(logged, "--policies", str(cand), "--json").stdout)
    assert [(t["from"], t["to"], t["count"]) for t in report["transitions"]] == [("rejected", "approved", 1)]
    rules = {(r["rule"], r["mode"]): (r["gained"], r["lost"]) for r in report["rules"]}
    assert rules == {("ivory", "enforce"): (0, 1), ("ivory", "shadow"): (1, 0)}
    (change,) = report["changes"]
    assert change["removed"][0]["rule"] == "ivory" and change["removed"][0]["evidence"][0]["text"] == "ivory"


def test_replay_skips_purged_rows_and_says_how_many(logged, tmp_path):
    with logged.app_context():
        assert store().purge("9999-01-01") == 6
    cand = candidate(logged, tmp_path, lexicons=with_tusk())
    report = json.loads(replay(logged, "--policies", str(cand), "--json").stdout)
    assert report["rows"] == 6 and report["skipped_purged"] == 6 and report["replayed"] == 0
    assert report["transitions"] == [] and report["changed"] == 0
    assert "Skipped 6 purged row(s)" in replay(logged, "--policies", str(cand)).stdout


def test_replay_limit_takes_the_newest_and_since_filters_by_date(logged, tmp_path):
    cand = candidate(logged, tmp_path, lexicons=with_tusk())
    report = json.loads(replay(logged, "--policies", str(cand), "--limit", "1", "--json").stdout)
    assert report["rows"] == 1
    assert report["transitions"][0]["examples"] == [logged.ids["adv-6"]]
    report = json.loads(replay(logged, "--policies", str(cand), "--since", "9999-01-01", "--json").stdout)
    assert report["rows"] == 0
    report = json.loads(replay(logged, "--policies", str(cand), "--since", "2000-01-01", "--json").stdout)
    assert report["rows"] == 6


def test_replay_compares_with_reviewers(logged, tmp_path):
    with logged.app_context():
        store().add_review(logged.ids["adv-2"], "rev", "rejected", "walrus ivory")
        store().add_review(logged.ids["adv-5"], "rev", "approved", "fine")
    cand = candidate(logged, tmp_path, lexicons=with_tusk())
    report = json.loads(replay(logged, "--policies", str(cand), "--json").stdout)
    assert report["reviews"] == {"reviewed": 2, "agreed_logged": 1, "agreed_candidate": 2}
    change = next(c for c in report["changes"] if c["decision_id"] == logged.ids["adv-2"])
    assert change["review"] == "rejected"


def test_replay_html_is_a_readable_escaped_page(logged, tmp_path):
    cand = candidate(logged, tmp_path, name="<b>cand</b>", lexicons=with_tusk())
    page = tmp_path / "report.html"
    result = replay(logged, "--policies", str(cand), "--html", str(page))
    assert f"Wrote {page}" in result.stderr
    html = page.read_text()
    assert html.startswith("<!doctype html>")
    assert "&lt;b&gt;cand&lt;/b&gt;" in html and "<b>cand</b>" not in html
    assert logged.ids["adv-2"] in html and "tusk" in html
    assert "<script" not in html and 'href="http' not in html  # self-contained


def test_replay_refuses_a_broken_candidate(logged, tmp_path):
    cand = candidate(logged, tmp_path)
    (cand / "tiny.json").write_text("{")
    result = logged.test_cli_runner().invoke(args=["replay", "--policies", str(cand)])
    assert result.exit_code == 1
    assert "error: candidate/tiny.json: line 1, column 2: JSON syntax error" in result.stderr


def test_replay_warns_about_failing_examples_of_the_candidate(logged, tmp_path):
    bad = tiny_rule(match=["Old ivory carving", "Nothing to see"])
    cand = candidate(logged, tmp_path, rules=[bad, CLAW])
    result = replay(logged, "--policies", str(cand))
    assert "warning: 1 example(s) of the candidate fail" in result.stderr


# -- coverage -------------------------------------------------------------------------------------
def test_coverage_counts_hits_reviews_overturns_and_what_never_fired(logged):
    with logged.app_context():
        store().add_review(logged.ids["adv-1"], "rev", "approved", "it is bone")  # overturns ivory
        store().add_review(logged.ids["adv-4"], "rev", "rejected", "real claw")  # the shadow claw was right
        store().add_review(logged.ids["adv-6"], "rev", "approved", "resin")  # the shadow claw was wrong
    result = logged.test_cli_runner().invoke(args=["policies", "coverage", "--json"])
    assert result.exit_code == 0, result.output
    cov = json.loads(result.stdout)
    assert cov["rows"] == 6 and cov["reviewed"] == 3
    rules = {r["rule"]: r for r in cov["rules"]}
    assert rules["ivory"] == {
        "rule": "ivory",
        "policy": "tiny",
        "mode": "enforce",
        "hits": 1,
        "shadow_hits": 0,
        "reviewed": 1,
        "overturned": 1,
        "rate": 1.0,
    }
    assert (rules["claw"]["hits"], rules["claw"]["shadow_hits"], rules["claw"]["reviewed"]) == (0, 2, 2)
    assert (rules["claw"]["overturned"], rules["claw"]["rate"]) == (1, 0.5)
    assert cov["rules_never_fired"] == []
    terms = {(t["lexicon"], t["concept"], t["term"]): t for t in cov["terms"]}
    assert terms[("things", "ivory", "ivory")]["hits"] == 1
    assert terms[("things", "ivory", "ivory")]["overturned"] == 1
    assert terms[("things", "claw", "claw")]["hits"] == 2 and terms[("things", "claw", "claw")]["rules"] == ["claw"]
    never = {(t["lexicon"], t["concept"], t["term"]) for t in cov["terms_never_fired"]}
    assert ("things", "ivory", "elfenben") in never and ("things", "claw", "klo") in never
    assert ("things", "ivory", "ivory") not in never
    assert ("things", "faux", "faux") not in never  # a benign word cannot "fire"


def test_coverage_lists_rules_that_never_fired_and_counts_purged_rows_for_rules_only(logged):
    with logged.app_context():
        store().purge("9999-01-01")
    cov = json.loads(logged.test_cli_runner().invoke(args=["policies", "coverage", "--json"]).stdout)
    rules = {r["rule"]: r for r in cov["rules"]}
    assert rules["ivory"]["hits"] == 1 and rules["claw"]["shadow_hits"] == 2
    assert cov["purged"] == 6 and cov["terms"] == []
    result = logged.test_cli_runner().invoke(args=["policies", "coverage"])
    lines = result.stdout.splitlines()
    assert lines[0] == "Coverage over 6 logged verdicts (0 reviewed; 6 purged, counted for rules but not terms)."
    assert any(line.split()[:4] == ["claw", "shadow", "0", "2"] for line in lines)


def test_coverage_names_a_rule_that_never_fired(make_bundle, tmp_path):
    rules = [tiny_rule(), CLAW, tiny_rule("sale", when={"terms": ["sale"]}, match=["Tiger for sale"], no_match=["x"])]
    app = create_app(
        {
            "TESTING": True,
            "DATABASE": str(tmp_path / "v.db"),
            "AUTH_DISABLED": True,
            "POLICY_DIR": str(make_bundle(policies=policies(rules))),
        }
    )
    try:
        app.test_client().post("/v1/check", json={"advertiser_id": "a", "headline": "Old ivory"})
        out = app.test_cli_runner().invoke(args=["policies", "coverage"]).stdout
    finally:
        close_stores()
    assert "Rules that never fired: claw, sale" in out


@pytest.mark.parametrize(
    "flagged, reviewed, expected",
    [
        ("rejected", "approved", True),
        ("rejected", "rejected", False),
        ("review", "approved", True),
        ("review", "rejected", False),  # sending it to a person was right
        ("approved", "rejected", True),  # a miss
        ("approved", "approved", False),
        ("rejected", None, False),
    ],
)
def test_overturned(flagged, reviewed, expected):
    assert authoring.overturned(flagged, reviewed) is expected
