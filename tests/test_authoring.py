"""Tools for policy authors: `flask policies validate`, `flask policies test`, `flask check`."""

from __future__ import annotations

import copy
import dataclasses
import json
import sys

import pytest

from app import create_app
from checker import authoring
from checker.bundle import load_bundle
from checker.evaluate import Checker
from tests.conftest import ROOT, TINY_LEXICONS, tiny_policy, tiny_rule
from web.state import close_stores, store

ADS = ROOT / "tests" / "data" / "authoring_ads.jsonl"


def lexicons(**changes) -> dict:
    """TINY_LEXICONS with extra entries: lexicons(things=[entry, ...])."""
    lex = copy.deepcopy(TINY_LEXICONS)
    for name, entries in changes.items():
        lex[name]["entries"].extend(entries)
    return lex


@pytest.fixture
def tiny_app(make_bundle, tmp_path):
    """An app on the tiny bundle, so these tests do not depend on the shipped vocabulary."""
    app = create_app(
        {"TESTING": True, "DATABASE": str(tmp_path / "v.db"), "AUTH_DISABLED": True, "POLICY_DIR": str(make_bundle())}
    )
    yield app
    close_stores()


@pytest.fixture
def tiny_runner(tiny_app):
    return tiny_app.test_cli_runner()


def validate(runner, directory, *args):
    result = runner.invoke(args=["policies", "validate", str(directory), *args])
    return result, result.stdout.splitlines()


# -- validate ---------------------------------------------------------------------------------
def test_validate_a_sound_bundle_exits_0_and_lists_its_warnings(tiny_runner, make_bundle):
    result, lines = validate(tiny_runner, make_bundle())
    assert result.exit_code == 0, result.output
    assert lines[-1].startswith("0 error(s), ")
    # 'animal', 'part' and 'sale' are declared but no rule names them; 'negation' is the matcher's own.
    unused = [line for line in lines if "is used by no rule" in line]
    assert sorted(line.split("list ")[1].split(" ")[0] for line in unused) == ["'animal'", "'part'", "'sale'"]
    assert all(line.startswith("warning: policies/lexicons/things.json: $.entries[") for line in unused)


def test_validate_strict_fails_on_warnings(tiny_runner, make_bundle):
    result, _ = validate(tiny_runner, make_bundle(), "--strict")
    assert result.exit_code == 1


def test_validate_prints_every_loader_problem_with_its_location(tiny_runner, make_bundle):
    policy = tiny_policy([tiny_rule(when={"terms": ["no-such-list"]}), tiny_rule("second", decision="maybe")])
    d = make_bundle(policies={"tiny": policy})
    result, lines = validate(tiny_runner, d)
    assert result.exit_code == 1
    assert "error: policies/tiny.json: $.rules[1].decision: 'maybe' is not one of ['reject', 'review']" in lines
    assert lines[-1].startswith("1 error(s), 0 warning(s)") and "run once the bundle loads" in lines[-1]


def test_validate_works_when_the_apps_own_bundle_is_broken(make_bundle, tmp_path, monkeypatch):
    d = make_bundle()
    (d / "tiny.json").write_text('{"id": "tiny",')
    # As `flask policies validate` runs it: a CLI tool, so the app starts on a broken bundle.
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setattr(sys, "argv", ["flask", "policies", "validate"])
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "v.db"), "AUTH_DISABLED": True, "POLICY_DIR": str(d)})
    try:
        result = app.test_cli_runner().invoke(args=["policies", "validate"])
    finally:
        close_stores()
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        "error: policies/tiny.json: line 1, column 15: JSON syntax error: Expecting property name enclosed in double quotes"
    )


def test_validate_reports_examples_that_no_longer_hold_as_errors(tiny_runner, make_bundle):
    rule = tiny_rule(match=["A faux ivory chess set"], no_match=["Carved ivory, antique"])
    result, lines = validate(tiny_runner, make_bundle(policies={"tiny": tiny_policy([rule])}))
    assert result.exit_code == 1
    assert lines[:2] == [
        "error: policies/tiny.json: $.rules[0].examples.match[0]: should make rule 'ivory' fire, but it does not",
        "error: policies/tiny.json: $.rules[0].examples.no_match[0]: should not make rule 'ivory' fire, but it does",
    ]


def test_a_term_in_a_trigger_list_and_a_benign_list_is_an_overlap(tiny_runner, make_bundle):
    lex = lexicons(things=[{"concept": "resin-ivory", "lists": ["ivory"], "terms": {"en": ["Resin"]}}])
    result, lines = validate(tiny_runner, make_bundle(lexicons=lex))
    assert result.exit_code == 0
    (overlap,) = [line for line in lines if "benign list" in line]
    assert overlap.startswith("warning: policies/lexicons/things.json: $.entries[3].terms.en[1]: 'resin'")
    assert "in benign list 'benign' and in trigger list 'ivory'" in overlap
    assert "policies/lexicons/things.json: $.entries[5].terms.en[0]" in overlap


def test_list_roles_follow_unless_and_not(make_bundle):
    bundle = load_bundle(make_bundle(), run_examples=False)
    fake = dataclasses.replace(
        bundle,
        policies=(
            dataclasses.replace(
                bundle.policies[0],
                rules=(
                    dataclasses.replace(
                        bundle.policies[0].rules[0],
                        source={
                            "when": {
                                "all": [
                                    {"unless": {"terms": ["b1"]}, "match": {"terms": ["t1"]}},
                                    {"not": {"terms": ["b2"]}},
                                    {"not": {"not": {"terms": ["t2"]}}},
                                ]
                            }
                        },
                    ),
                ),
            ),
        ),
    )
    assert authoring.list_roles(fake) == {"b1": {"benign"}, "t1": {"trigger"}, "b2": {"benign"}, "t2": {"trigger"}}


def test_duplicate_terms_in_an_entry_and_across_entries(tiny_runner, make_bundle):
    lex = lexicons(
        things=[
            {"concept": "walrus-ivory", "lists": ["ivory"], "terms": {"en": ["walrus ivory", "Walrus-Ivory"]}},
            {"concept": "elfenben-again", "lists": ["ivory"], "terms": {"sv": ["elfenben"]}},
        ]
    )
    _, lines = validate(tiny_runner, make_bundle(lexicons=lex))
    dupes = [line for line in lines if "duplicate" in line or "same word" in line]
    assert any(
        line.startswith("warning: policies/lexicons/things.json: $.entries[5].terms.en[1]: 'Walrus-Ivory' folds to")
        for line in dupes
    ), dupes
    assert any(
        line.startswith("warning: policies/lexicons/things.json: $.entries[6].terms.sv[0]: 'elfenben' (sv)")
        and "concept 'ivory'" in line
        for line in dupes
    ), dupes


def test_common_words_of_any_language_are_warned_about(tiny_runner, make_bundle):
    lex = lexicons(
        things=[
            {"concept": "fur", "lists": ["part"], "terms": {"en": ["fur"]}},  # German für, among the top 100
            {"concept": "fur-ok", "lists": ["part"], "terms": {"en": [{"text": "pelt", "allow_common": True}]}},
        ]
    )
    _, lines = validate(tiny_runner, make_bundle(lexicons=lex))
    (fur,) = [line for line in lines if "'fur'" in line]
    assert fur.startswith("warning: policies/lexicons/things.json: $.entries[5].terms.en[0]: 'fur' is a very common")
    assert " in de" in fur
    assert not any("'pelt'" in line for line in lines)


def test_common_word_ranks_match_the_loaders_top_list(make_bundle):
    bundle = load_bundle(make_bundle(), run_examples=False)
    en = bundle.languages["en"]
    ranks = authoring.common_word_ranks(bundle, set(en.top) | {"zzzz-not-a-word"})["en"]
    assert set(ranks) == set(en.top)
    assert all(rank <= 100 for rank in ranks.values())


def test_untested_branches_of_a_rule_are_warned_about(tiny_runner, make_bundle):
    rule = tiny_rule(
        when={
            "unless": {"terms": ["benign"]},
            "match": {"any": [{"terms": ["ivory"]}, {"near": [{"terms": ["animal"]}, {"terms": ["part"]}]}]},
        },
        match=["Old ivory carving"],
        no_match=["Dog bed"],
    )
    _, lines = validate(tiny_runner, make_bundle(policies={"tiny": tiny_policy([rule])}))
    gaps = [line for line in lines if "example of rule" in line]
    assert gaps == [
        "warning: policies/tiny.json: $.rules[0].when.unless: no no_match example of rule 'ivory' shows this "
        "exception at work: add one",
        "warning: policies/tiny.json: $.rules[0].when.match.any[1]: no match example of rule 'ivory' makes this "
        "alternative hold: add one that does",
    ]


def test_a_rule_without_examples_is_warned_about(make_bundle):
    bundle = load_bundle(make_bundle(), run_examples=False)
    policy = bundle.policies[0]
    bare = dataclasses.replace(policy.rules[0], examples={"match": [], "no_match": []})
    fake = dataclasses.replace(bundle, policies=(dataclasses.replace(policy, rules=(bare,)),))
    issues = authoring._example_gaps(fake, Checker(fake), authoring._Problems(fake.path))
    assert [str(i) for i in issues] == [
        "policies/tiny.json: $.rules[0].examples: rule 'ivory' has no match examples",
        "policies/tiny.json: $.rules[0].examples: rule 'ivory' has no no_match examples",
    ]


def test_validate_json(tiny_runner, make_bundle):
    result = tiny_runner.invoke(args=["policies", "validate", str(make_bundle()), "--json"])
    body = json.loads(result.stdout)
    assert body["ok"] is True and body["errors"] == 0 and body["warnings"] == len(body["issues"]) > 0
    assert {i["code"] for i in body["issues"]} >= {"unused-list"}


# -- test -------------------------------------------------------------------------------------
def test_policies_test_prints_a_table_of_examples(tiny_runner, make_bundle):
    rules = [tiny_rule(), tiny_rule("claw", when={"terms": ["part"]}, match=["Tiger claw"], no_match=["Dog bed"])]
    result = tiny_runner.invoke(args=["policies", "test", str(make_bundle(policies={"tiny": tiny_policy(rules)}))])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["rule", "policy", "mode", "match", "no_match", "result"]
    assert lines[1].split() == ["ivory", "tiny", "enforce", "1/1", "1/1", "ok"]
    assert lines[2].split() == ["claw", "tiny", "enforce", "1/1", "1/1", "ok"]
    assert lines[-1] == "2 rules, 4 examples: 4 passed, 0 failed."


def test_policies_test_fails_and_locates_each_failing_example(tiny_runner, make_bundle):
    rule = tiny_rule(match=["Old ivory carving", "A faux ivory box"], no_match=["Faux ivory chess set"])
    result = tiny_runner.invoke(args=["policies", "test", str(make_bundle(policies={"tiny": tiny_policy([rule])}))])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["ivory", "tiny", "enforce", "1/2", "1/1", "FAIL"]
    assert "policies/tiny.json: $.rules[0].examples.match[1]: should make rule 'ivory' fire, but it does not" in lines
    assert lines[-1] == "1 rules, 3 examples: 2 passed, 1 failed in 1 rule(s)."


def test_policies_test_on_a_broken_bundle_lists_the_problems(tiny_runner, make_bundle):
    d = make_bundle()
    (d / "tiny.json").write_text("[]")
    result = tiny_runner.invoke(args=["policies", "test", str(d)])
    assert result.exit_code == 1
    assert "error: policies/tiny.json: $: [] is not of type 'object'" in result.stderr


# -- check ------------------------------------------------------------------------------------
def test_check_jsonl_prints_one_line_per_input_in_order_and_stores_nothing(tiny_app, tmp_path):
    f = tmp_path / "mixed.jsonl"
    f.write_text(
        '{"advertiser_id": "a", "headline": "Old ivory carving"}\n'
        "not json\n"
        "\n"
        '{"advertiser_id": "a"}\n'
        '{"advertiser_id": "b", "headline": "Dog bed"}\n'
    )
    result = tiny_app.test_cli_runner().invoke(args=["check", str(f), "--no-progress"])
    assert result.exit_code == 1  # some lines were not valid
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("decision") for o in out] == ["rejected", None, None, "approved"]
    assert out[0]["reasons"][0]["rule"] == "ivory" and "explanation_url" not in out[0]
    assert out[1] == {
        "line": 2,
        "error": {"code": "invalid_json", "message": out[1]["error"]["message"], "details": []},
    }
    assert out[2]["line"] == 4 and out[2]["error"]["code"] == "invalid_submission"
    assert out[2]["error"]["details"][0]["field"] == "$"
    assert "4 checked: 1 approved, 1 rejected, 2 invalid; nothing stored" in result.stderr
    with tiny_app.app_context():
        assert store().count() == 0


def test_check_answers_what_the_api_answers(tiny_app, tmp_path):
    ad = {"advertiser_id": "adv-9", "headline": "Antique ivory, $300", "language": "sv"}
    f = tmp_path / "one.json"
    f.write_text(json.dumps(ad, indent=2))  # one pretty-printed JSON document
    result = tiny_app.test_cli_runner().invoke(args=["check", str(f)])
    assert result.exit_code == 0
    (line,) = result.stdout.splitlines()
    cli = json.loads(line)
    api = tiny_app.test_client().post("/v1/check", json=ad).get_json()
    volatile = {"decision_id", "checked_at", "explanation_url"}
    assert {k: v for k, v in cli.items() if k not in volatile} == {k: v for k, v in api.items() if k not in volatile}
    assert cli["language"] == "sv" and cli["reasons"][0]["message"].startswith("Inget elfenben")


def test_check_log_stores_every_verdict_it_prints(tiny_app):
    result = tiny_app.test_cli_runner().invoke(args=["check", str(ADS), "--log"])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 6
    with tiny_app.app_context():
        assert store().count() == 6
        for v in out:
            row = store().get(v["decision_id"])
            assert row["decision"] == v["decision"]
            assert json.loads(row["reasons_json"]) == v["reasons"]
            assert v["explanation_url"].startswith("/")
        assert store().verify().ok


def test_check_reads_labelled_cases_by_their_submission(tiny_app, tmp_path):
    ads = [json.loads(line) for line in ADS.read_text().splitlines()]
    f = tmp_path / "labelled.jsonl"
    f.write_text(
        "".join(
            json.dumps({"id": f"c-{i}", "submission": ad, "expected": {"decision": "approved"}}) + "\n"
            for i, ad in enumerate(ads)
        )
    )
    result = tiny_app.test_cli_runner().invoke(args=["check", str(f)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    checker = Checker(load_bundle(tiny_app.config["POLICY_DIR"]))
    assert [o["decision"] for o in out] == [checker.check(ad).decision for ad in ads]
    assert [o["decision"] for o in out] == ["rejected", "approved", "approved", "approved", "approved", "approved"]
    assert [o["advertiser_id"] for o in out] == [ad["advertiser_id"] for ad in ads]


def test_check_with_workers_gives_the_same_answers_in_the_same_order(tiny_app, tmp_path):
    lines = ADS.read_text().splitlines() * 5
    f = tmp_path / "many.jsonl"
    f.write_text("\n".join([*lines, '{"advertiser_id": "x"}']) + "\n")
    runner = tiny_app.test_cli_runner()
    one = runner.invoke(args=["check", str(f), "--no-progress"])
    two = runner.invoke(args=["check", str(f), "--workers", "2", "--no-progress"])
    assert one.exit_code == two.exit_code == 1

    def stable(result):
        return [
            {k: v for k, v in json.loads(line).items() if k not in ("decision_id", "checked_at")}
            for line in result.stdout.splitlines()
        ]

    assert stable(one) == stable(two)
    assert len(stable(two)) == 31 and stable(two)[-1]["line"] == 31


def test_check_shows_a_progress_bar_on_stderr_only(tiny_app, tmp_path):
    f = tmp_path / "long.jsonl"
    f.write_text(ADS.read_text() * 10)
    result = tiny_app.test_cli_runner().invoke(args=["check", str(f)])
    assert result.exit_code == 0
    assert "checking" in result.stderr
    assert len(result.stdout.splitlines()) == 60
    quiet = tiny_app.test_cli_runner().invoke(args=["check", str(f), "--no-progress"])
    assert "checking" not in quiet.stderr


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{\n  "advertiser_id": "a",\n  "body": "x"\n}\n', [(1, {"advertiser_id": "a", "body": "x"}, None)]),
        (
            '{"advertiser_id": "a", "body": "x"}\n\n{"advertiser_id": "b", "body": "y"}\n',
            [(1, "a", None), (3, "b", None)],
        ),
        (
            '{"submission": {"advertiser_id": "a", "body": "x"}, "expected": {}}',
            [(1, {"advertiser_id": "a", "body": "x"}, None)],
        ),
        ('{\n  "advertiser_id": "a",\n  "body": \n}\n', [(1, None, "invalid_json")]),
        ("[1, 2]", [(1, [1, 2], None)]),
    ],
)
def test_read_items(text, expected):
    items = authoring.read_items(text)
    got = []
    for it, (n, payload, error) in zip(items, expected, strict=True):
        got.append(it.number == n and (it.error or {}).get("code") == error)
        if isinstance(payload, str):
            got.append(it.payload["advertiser_id"] == payload)
        elif payload is not None:
            got.append(it.payload == payload)
    assert all(got)
