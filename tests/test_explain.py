"""Reasons an advertiser can act on: policy, what it forbids, field, fragment,
what to change, in their language; withheld words stay withheld."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker import explain, pipeline
from checker.bundle import load_bundle
from checker.evaluate import Checker
from tests.conftest import POLICIES, tiny_policy, tiny_rule

IVORY = {"advertiser_id": "adv-17", "headline": "Antique carved ivory netsuke", "body": "Signed, Meiji period."}


def _run(bundle, checker, sub, languages=None):
    return pipeline.run(bundle, checker, bundle.submissions.validate(sub), languages)


def _ivory_reason(out) -> dict:
    return next(r for r in out.response["reasons"] if r["rule"] == "ivory-any-animal")


def test_english_reason_names_policy_forbids_field_fragment_and_what_to_do(default_bundle, default_checker):
    out = _run(default_bundle, default_checker, {**IVORY, "language": "en"})
    r = _ivory_reason(out)
    assert out.response["language"] == out.row["language"] == "en"
    assert r["message"].startswith("Ads may not sell or ask for ivory from any animal")
    assert "(policy “Products from protected animals”)" in r["message"]
    assert r["message"].endswith("Found in the headline: “ivory”.")
    assert r["advice"].startswith("Remove the ivory item.")
    assert "If “ivory” is the colour, say “ivory colour” or “cream”." in r["advice"]
    assert r["help_url"] == "/policies/protected-wildlife-products"
    assert r["policy_title"] == "Products from protected animals"


def test_swedish_reason_with_english_suggestions_for_an_english_word(default_bundle, default_checker):
    out = _run(default_bundle, default_checker, {**IVORY, "language": "sv-SE"})
    r = _ivory_reason(out)
    assert out.row["language"] == r["language"] == "sv"
    assert r["message"].startswith("Annonser får inte sälja eller efterfråga elfenben från något djur")
    assert "(policyn ”Produkter från skyddade djur”)" in r["message"]
    assert r["message"].endswith("Hittat i rubriken: ”ivory”.")
    # Swedish words to explain, English words to use: the headline is English.
    assert "Om ”ivory” är färgen, skriv ”ivory colour” eller ”cream”." in r["advice"]


def test_swedish_word_gets_swedish_suggestions(default_bundle, default_checker):
    out = _run(default_bundle, default_checker, {"advertiser_id": "a", "headline": "Snidad figur i elfenben"})
    r = _ivory_reason(out)
    assert r["language"] == "en"  # no language asked for: English
    assert "If “elfenben” is the colour, say “elfenbensfärg” or “gräddvit”." in r["advice"]


def test_a_tip_serves_a_longer_term_that_starts_with_its_word(default_bundle, default_checker):
    # "Ivory bangle" may be a cream-coloured bangle; "elephant ivory" is never a colour.
    bangle = _run(default_bundle, default_checker, {"advertiser_id": "a", "headline": "Ivory bangle, 1920s"})
    r = _ivory_reason(bangle)
    assert r["evidence"][0]["text"] == "Ivory bangle"
    assert "If “ivory” is the colour, say “ivory colour” or “cream”." in r["advice"]
    elephant = _run(default_bundle, default_checker, {"advertiser_id": "a", "headline": "Elephant ivory bangle"})
    assert "is the colour" not in _ivory_reason(elephant)["advice"]


def test_unknown_language_falls_back_to_english(default_bundle, default_checker):
    out = _run(default_bundle, default_checker, {**IVORY, "language": "ja"})
    assert out.row["language"] == "en"
    assert _ivory_reason(out)["message"].startswith("Ads may not")


def test_no_tip_for_a_disguised_spelling(default_bundle, default_checker):
    out = _run(default_bundle, default_checker, {"advertiser_id": "a", "headline": "Antique carved 1v0ry netsuke"})
    r = _ivory_reason(out)
    assert r["evidence"][0]["text"] == "1v0ry"
    assert "colour" not in r["advice"]


# Every suggestion a tip makes must really be approved: a tip that does not
# work teaches nothing. (term language, slot) -> (an ad the rule rejects, how to follow the tip)
TIP_TRIALS = {
    ("en", "colour"): ("Antique carved ivory netsuke", lambda ad, word: ad.replace("ivory", word)),
    ("en", "material"): ("Antique carved ivory netsuke", lambda ad, word: ad.replace("ivory", f"{word} ivory")),
    ("sv", "colour"): ("Snidad figur i elfenben", lambda ad, word: ad.replace("elfenben", word)),
    ("sv", "material"): ("Snidad figur i elfenben", lambda ad, word: ad.replace("elfenben", word)),
    ("de", "colour"): ("Geschnitzte Figur aus Elfenbein", lambda ad, word: ad.replace("Elfenbein", word)),
    ("de", "material"): ("Geschnitzte Figur aus Elfenbein", lambda ad, word: ad.replace("Elfenbein", word)),
    ("fr", "colour"): ("Statuette sculptée en ivoire", lambda ad, word: ad.replace("ivoire", word)),
    ("fr", "material"): ("Statuette sculptée en ivoire", lambda ad, word: ad.replace("ivoire", word)),
    ("es", "colour"): ("Figura tallada en marfil", lambda ad, word: ad.replace("marfil", word)),
    ("es", "material"): ("Figura tallada en marfil", lambda ad, word: ad.replace("marfil", word)),
}
TIP_CASES = [
    ((rule.id, tip["concept"]), term_lang, slot, word)
    for rule in load_bundle(POLICIES).rules
    for tip in rule.tips
    for term_lang, slots in tip["words"].items()
    for slot, words in slots.items()
    for word in words
]


@pytest.mark.parametrize("key, term_lang, slot, word", TIP_CASES, ids=[f"{c[1]}-{c[2]}-{c[3]}" for c in TIP_CASES])
def test_every_tip_suggestion_is_approved(default_bundle, default_checker, key, term_lang, slot, word):
    rule_id, _concept = key
    ad, apply = TIP_TRIALS[(term_lang, slot)]
    before = default_checker.check({"advertiser_id": "a", "headline": ad})
    assert rule_id in {f.rule.id for f in before.findings}, "the trial ad must trip the rule first"
    after = default_checker.check({"advertiser_id": "a", "headline": apply(ad, word)})
    assert after.decision == "approved", (apply(ad, word), [f.rule.id for f in after.findings])


def test_tips_are_complete(default_bundle):
    tips = [tip for r in default_bundle.rules for tip in r.tips]
    assert tips, "the default policies give tips"
    for tip in tips:
        assert set(tip["say"]) >= {"en", "sv"}
        assert set(tip["words"]) == set(tip["terms"])


# -- withheld evidence ------------------------------------------------------------------------
@pytest.fixture
def secret_bundle(make_bundle):
    """One rule that withholds its words, one that does not."""
    rules = [
        tiny_rule("ivory", disclose=False, message={"en": "No forbidden goods.", "sv": "Inga förbjudna varor."}),
        tiny_rule(
            "claw",
            when={"terms": ["part"]},
            match=["Tiger claw"],
            no_match=["Paw"],
            title={"en": "Claws", "sv": "Klor"},
            message={"en": "No claws.", "sv": "Inga klor."},
            advice={"en": "Drop the claw.", "sv": "Ta bort klon."},
        ),
    ]
    return load_bundle(make_bundle(policies={"tiny": tiny_policy(rules)}))


def test_withheld_words_are_not_quoted_but_the_field_is_named(secret_bundle):
    out = _run(secret_bundle, Checker(secret_bundle), {"advertiser_id": "a", "body": "Old ivory carving"})
    (r,) = out.response["reasons"]
    assert "ivory" not in r["message"].lower()
    assert r["message"] == (
        "No forbidden goods (policy “Tiny”). Found in the body text. We do not quote the words this rule looks for."
    )
    assert r["advice"] == "Remove it."
    # The trusted ad-submission flow keeps the evidence, marked.
    assert r["evidence"] == [{"field": "body", "text": "ivory", "start": 4, "end": 9, "disclosed": False}]
    assert explain.advertiser_view(r)["evidence"] == []


def test_withheld_words_in_swedish(secret_bundle):
    out = _run(secret_bundle, Checker(secret_bundle), {"advertiser_id": "a", "headline": "Old ivory", "language": "sv"})
    (r,) = out.response["reasons"]
    assert r["message"] == (
        "Inga förbjudna varor (policyn ”Liten”). Hittat i rubriken. Vi citerar inte de ord som regeln letar efter."
    )


def test_disclosed_reasons_beside_withheld_ones_still_quote(secret_bundle):
    out = _run(secret_bundle, Checker(secret_bundle), {"advertiser_id": "a", "body": "Old ivory and a tiger claw"})
    by_rule = {r["rule"]: r for r in out.response["reasons"]}
    assert by_rule["claw"]["message"].endswith("Found in the body text: “claw”.")
    assert "ivory" not in by_rule["ivory"]["message"]


# -- the same reasons in another language ---------------------------------------------------
def test_reasons_rebuilt_from_the_trace_equal_a_fresh_run(default_bundle, default_checker):
    import json

    out = _run(default_bundle, default_checker, {**IVORY, "language": "en"})
    trace = json.loads(out.row["trace_json"])
    again = explain.reasons_in_language(trace["evidence"], default_bundle, "sv")
    fresh = _run(default_bundle, default_checker, {**IVORY, "language": "sv"}).response["reasons"]
    assert again == fresh


def test_rebuilding_gives_up_when_a_rule_is_gone(default_bundle):
    assert explain.reasons_in_language([{"policy": "gone", "rule": "x", "evidence": []}], default_bundle, "sv") is None


def test_accept_language_picks_the_best_we_speak():
    assert explain.pick_from_header([("de", 1.0), ("sv", 0.8), ("en", 0.5)], {"en", "sv"}) == "sv"
    assert explain.pick_from_header([("en-GB", 0.4), ("sv-SE", 0.9)], {"en", "sv"}) == "sv"
    assert explain.pick_from_header([("fr", 1.0), ("*", 0.1)], {"en", "sv"}) is None
    assert explain.pick_from_header([("sv", 0)], {"en", "sv"}) is None


# -- marking evidence in place ------------------------------------------------------------------
def test_segments_mark_overlapping_spans_of_two_reasons():
    runs = explain.segments("carved ivory tusk", [(7, 12, 1), (7, 17, 2)])
    assert [(s.text, s.marks) for s in runs] == [("carved ", ()), ("ivory", (1, 2)), (" tusk", (2,))]


@given(
    st.text(max_size=40),
    st.lists(st.tuples(st.integers(-5, 50), st.integers(-5, 50), st.integers(1, 4)), max_size=6),
)
def test_segments_always_join_back_to_the_text(text, spans):
    runs = explain.segments(text, spans)
    assert "".join(s.text for s in runs) == text
    # Every character carries exactly the reasons whose spans cover it.
    at = 0
    for run in runs:
        assert run.text
        for p in range(at, at + len(run.text)):
            assert run.marks == tuple(sorted({n for s, e, n in spans if s <= p < e}))
        at += len(run.text)
