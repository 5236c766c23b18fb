"""`flask eval` scores labelled ads through the same path as the endpoint."""

from __future__ import annotations

import json

from checker import evaluation
from tests.conftest import ROOT

SAMPLE = str(ROOT / "tests" / "data" / "sample_ads.jsonl")


def test_eval_prints_the_figures(runner):
    result = runner.invoke(args=["eval", SAMPLE, "--by-tag"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("policy_version sha256:")
    header = lines[1].split()
    assert header == ["n", "recall", "strict", "fp_hard", "fp_soft", "fp_any", "policy", "review"]
    assert any(line.startswith("overall") and line.split()[1] == "8" for line in lines)
    assert any(line.startswith("lang:sv") for line in lines)


def test_eval_json_matches_the_scoring_rules(runner):
    result = runner.invoke(args=["eval", SAMPLE, "--json"])
    assert result.exit_code == 0, result.output
    overall = json.loads(result.output)["overall"]
    assert overall["cases"] == 8 and overall["n"] == {"rejected": 5, "approved": 3, "review": 0}
    for key in ("recall", "strict_recall", "fp_hard", "fp_soft", "fp_any", "policy_accuracy"):
        assert 0 <= overall[key] <= 1


def test_eval_writes_nothing_to_the_log(runner, app):
    from web.state import store

    runner.invoke(args=["eval", SAMPLE])
    with app.app_context():
        assert store().count() == 0


def test_eval_refuses_a_broken_file(runner, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    result = runner.invoke(args=["eval", str(bad)])
    assert result.exit_code != 0
    assert "bad.jsonl:1: not a labelled case" in result.output


def test_scoring_arithmetic():
    cases = [
        evaluation.Case("a", {}, "rejected", "p", [], got="rejected", policies=["p"]),
        evaluation.Case("b", {}, "rejected", "p", [], got="review", policies=["q"]),
        evaluation.Case("c", {}, "rejected", "p", [], got="approved"),
        evaluation.Case("d", {}, "approved", None, [], got="review", policies=["p"]),
        evaluation.Case("e", {}, "approved", None, [], got="approved"),
        evaluation.Case("f", {}, "review", "p", [], got="review", policies=["p"]),
    ]
    s = evaluation.score(cases)
    assert s["recall"] == round(2 / 3, 4)
    assert s["strict_recall"] == round(1 / 3, 4)
    assert s["fp_hard"] == 0 and s["fp_soft"] == 0.5 and s["fp_any"] == 0.5
    assert s["policy_accuracy"] == round(2 / 3, 4)
    assert s["review_agreement"] == 1.0
    assert [c.id for c in evaluation.misses(cases)] == ["b", "c", "d"]
