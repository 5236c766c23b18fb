"""A broken policy bundle is refused, with every problem located precisely."""

from __future__ import annotations

import json

import pytest

from checker.bundle import load_bundle
from checker.conditions import KINDS
from checker.errors import PolicyError
from tests.conftest import POLICIES, TINY_LEXICONS, tiny_policy, tiny_rule


def problems_of(path) -> list[str]:
    with pytest.raises(PolicyError) as e:
        load_bundle(path)
    return e.value.problems


def test_the_tiny_bundle_loads(make_bundle):
    b = load_bundle(make_bundle())
    assert [p.id for p in b.policies] == ["tiny"]
    assert b.version.startswith("sha256:")


def test_json_syntax_error_names_file_line_and_column(make_bundle):
    d = make_bundle()
    (d / "tiny.json").write_text('{\n  "id": "tiny",\n  "title": {"en": "x" "sv": "y"}\n}')
    (msg,) = problems_of(d)
    assert msg.startswith("policies/tiny.json: line 3, column 23: JSON syntax error")


def test_schema_errors_name_the_json_path_and_all_are_listed(make_bundle):
    policy = tiny_policy([tiny_rule(when={"terms": [""]}), tiny_rule("second", decision="maybe")])
    del policy["rules"][1]["decision"]
    policy["rules"][1]["decision"] = "maybe"
    d = make_bundle(policies={"tiny": policy})
    msgs = problems_of(d)
    assert any(m.startswith("policies/tiny.json: $.rules[0].when.terms[0]: ") for m in msgs), msgs
    assert any(m.startswith("policies/tiny.json: $.rules[1].decision: 'maybe' is not one of") for m in msgs), msgs


def test_missing_english_or_swedish_message_is_refused(make_bundle):
    rule = tiny_rule()
    del rule["message"]["sv"]
    msgs = problems_of(make_bundle(policies={"tiny": tiny_policy([rule])}))
    assert msgs == ["policies/tiny.json: $.rules[0].message: 'sv' is a required property"]


def test_failing_example_is_refused(make_bundle):
    rule = tiny_rule(match=["A lovely faux ivory chess set"], no_match=["Carved ivory, antique"])
    msgs = problems_of(make_bundle(policies={"tiny": tiny_policy([rule])}))
    assert msgs == [
        "policies/tiny.json: $.rules[0].examples.match[0]: should make rule 'ivory' fire, but it does not",
        "policies/tiny.json: $.rules[0].examples.no_match[0]: should not make rule 'ivory' fire, but it does",
    ]


def test_example_that_is_not_a_valid_submission_is_refused(make_bundle):
    rule = tiny_rule(match=[{"headline": "ivory", "colour": "red"}])
    (msg,) = problems_of(make_bundle(policies={"tiny": tiny_policy([rule])}))
    assert "examples.match[0]: not a valid submission: $.colour: is not a known field" in msg


def test_unknown_term_list_is_refused(make_bundle):
    rule = tiny_rule(when={"terms": ["no-such-list"]})
    (msg,) = problems_of(make_bundle(policies={"tiny": tiny_policy([rule])}))
    assert msg == "policies/tiny.json: $.rules[0].when.terms: unknown term list(s) no-such-list"


def test_condition_with_two_kinds_is_refused(make_bundle):
    rule = tiny_rule(when={"terms": ["ivory"], "category": ["pets"]})
    (msg,) = problems_of(make_bundle(policies={"tiny": tiny_policy([rule])}))
    assert "$.rules[0].when: a condition needs exactly one of" in msg


def test_duplicate_rule_ids_are_refused(make_bundle):
    msgs = problems_of(make_bundle(policies={"tiny": tiny_policy([tiny_rule(), tiny_rule()])}))
    assert any("$.rules[1].id: duplicate rule id 'ivory'" in m for m in msgs)


def test_policy_id_must_match_file_name(make_bundle):
    msgs = problems_of(make_bundle(policies={"other": tiny_policy()}))
    assert msgs == ["policies/other.json: $.id: must equal the file name 'other'"]


def test_lexicon_problems(make_bundle):
    lex = json.loads(json.dumps(TINY_LEXICONS))
    lex["things"]["entries"].append({"concept": "bad", "lists": ["x"], "terms": {"en": ["the"], "xx": ["foo"]}})
    msgs = problems_of(make_bundle(lexicons=lex))
    assert any("lexicons/things.json: $.entries[5].terms.xx: language 'xx' is not in languages.json" in m for m in msgs)


def test_too_common_and_one_letter_terms_are_refused(make_bundle):
    lex = json.loads(json.dumps(TINY_LEXICONS))
    lex["things"]["entries"].append({"concept": "bad", "lists": ["x"], "terms": {"en": ["the", "x"]}})
    msgs = problems_of(make_bundle(lexicons=lex))
    assert any("term 'the': is among the 100 most common en words" in m for m in msgs)
    assert any("term 'x': a one-character term would match almost every ad" in m for m in msgs)


@pytest.mark.parametrize(
    "pattern, problem",
    [
        ("(a+)+b", "catastrophic backtracking"),
        ("x?", "matches empty text"),
        ("\\w+", "matches every neutral sample sentence"),
        ("weeks", "doubled letter"),
        ("(unclosed", "not a valid regular expression"),
    ],
)
def test_dangerous_patterns_are_refused(make_bundle, pattern, problem):
    lex = json.loads(json.dumps(TINY_LEXICONS))
    lex["things"]["entries"].append({"concept": "pat", "lists": ["x"], "patterns": [pattern]})
    msgs = problems_of(make_bundle(lexicons=lex))
    assert any(problem in m and "lexicons/things.json" in m for m in msgs), msgs


def test_every_condition_kind_is_in_the_schema_and_back():
    schema = json.loads((POLICIES / "schema" / "policy.schema.json").read_text())
    keys = set(schema["$defs"]["condition"]["properties"])
    modifiers = {"include_negated", "min", "within", "ordered", "match", "of"}
    assert keys - modifiers == set(KINDS)


def test_version_changes_with_any_file(make_bundle):
    d = make_bundle()
    v1 = load_bundle(d).version
    (d / "common-words" / "en.txt").write_text("changed\n")
    assert load_bundle(d).version != v1


def test_default_bundle_loads_with_both_policies(default_bundle):
    assert {p.id for p in default_bundle.policies} == {"protected-wildlife-products", "live-animal-sales"}
