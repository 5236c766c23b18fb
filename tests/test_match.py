"""The matcher: where a term counts as found, and where it does not."""

from __future__ import annotations

import pytest

from checker.bundle import load_bundle
from checker.document import build_documents

LEXICONS = {
    "things": {
        "lexicon": "things",
        "description": "Test vocabulary.",
        "entries": [
            {
                "concept": "ivory",
                "lists": ["banned"],
                "terms": {"en": ["ivory"], "sv": ["elfenben"], "de": ["Elfenbein"]},
            },
            {"concept": "tusk", "lists": ["part"], "terms": {"en": ["tusk"], "sv": ["bete"]}},
            {"concept": "dog", "lists": ["animal"], "terms": {"en": ["dog"], "sv": ["hund"], "es": ["perro"]}},
            {"concept": "mammoth", "lists": ["animal"], "terms": {"en": ["mammoth"], "sv": ["mammut"]}},
            {"concept": "kitten", "lists": ["animal"], "terms": {"sv": ["kattunge"], "en": ["kitten"]}},
            {"concept": "pangolin", "lists": ["animal"], "emoji": ["🦔"], "terms": {"en": ["pangolin", "slow loris"]}},
            {"concept": "seahorse", "lists": ["animal"], "terms": {"en": ["seahorse", "dried seahorse"]}},
            {"concept": "liver", "lists": ["part"], "terms": {"en": ["liver"]}},
            {"concept": "rhino-horn", "lists": ["banned"], "terms": {"vi": ["sừng tê giác"], "zh": ["犀角"]}},
            {"concept": "dog-vi", "lists": ["animal"], "terms": {"vi": [{"text": "chó", "accents": "strict"}]}},
            {"concept": "resin", "lists": ["benign"], "terms": {"en": ["resin", "plastic"]}},
            {"concept": "price", "lists": ["cue"], "patterns": ["[$€£]\\d+"]},
        ],
    },
    "names": {
        "lexicon": "names",
        "description": "Shields.",
        "shield": True,
        "entries": [{"concept": "ivory-coast", "terms": {"en": ["Ivory Coast"]}}],
    },
    "negations": {
        "lexicon": "negations",
        "description": "Negations.",
        "allow_common": True,
        "entries": [{"concept": "not", "lists": ["negation"], "terms": {"en": ["not", "no"], "sv": ["inte"]}}],
    },
}


@pytest.fixture(scope="module")
def matcher(tmp_path_factory):
    from tests.conftest import BundleMaker, tiny_policy, tiny_rule

    maker = BundleMaker(tmp_path_factory.mktemp("match"))
    rule = tiny_rule(when={"terms": ["banned"]}, match=["ivory"], no_match=["dog"])
    return load_bundle(maker(LEXICONS, {"tiny": tiny_policy([rule])})).matcher


def found(matcher, text: str, field: str = "body") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for doc in build_documents({field: text}):
        for h in matcher.find(doc):
            pieces = doc.pieces(h.start, h.end)
            out.setdefault(h.entry.concept, []).append(" + ".join(p.text for p in pieces))
    return out


@pytest.mark.parametrize(
    "text, concept, written",
    [
        ("an ivory carving", "ivory", "ivory"),
        ("two tusks", "tusk", "tusks"),  # inflection
        ("elfenbenet är gammalt", "ivory", "elfenbenet"),  # Swedish definite form
        ("des Elfenbeins", "ivory", "Elfenbeins"),
        ("mammutelfenben", "ivory", "elfenben"),  # Swedish compound after another term
        ("Kattungar säljes", "kitten", "Kattungar"),  # stem + ending
        ("a pangolinn", "pangolin", "pangolinn"),  # stretched
        ("pangolim scales", "pangolin", "pangolim"),  # misspelt, edit distance 1
        ("sung te giac", "rhino-horn", "sung te giac"),  # accents left out
        ("正宗犀角粉", "rhino-horn", "犀角"),  # no spaces in Chinese
        ("#driedseahorse", "seahorse", "driedseahorse"),  # run-together hashtag
        ("#SlowLorisForSale", "pangolin", "SlowLoris"),
        ("https://shop.example/dried-seahorse-for-sale", "seahorse", "dried-seahorse"),
        ("🦔 for sale", "pangolin", "🦔"),
        ("s1ow loris", "pangolin", "s1ow loris"),  # leet 1 read as l
        ("Vendo perro", "dog", "perro"),
        ("Bán chó Poodle", "dog-vi", "chó"),
    ],
)
def test_found(matcher, text, concept, written):
    assert written in found(matcher, text).get(concept, []), found(matcher, text)


@pytest.mark.parametrize(
    "text, concept",
    [
        ("hundra kronor", "dog"),  # a common word that contains the term
        ("ivorybill", "ivory"),  # not a word boundary, not a compound language
        ("pero no es caro", "dog"),  # "perro" squeezed is "pero": the doubles must be written
        ("free delivery", "liver"),  # not inside an ordinary word
        ("#freedelivery", "liver"),  # run together, but the word does not split there
        ("cho tôi", "dog-vi"),  # "cho" without its accent is "for"
        ("Chocolate from the Ivory Coast", "ivory"),  # hidden by the shield
    ],
)
def test_not_found(matcher, text, concept):
    assert concept not in found(matcher, text)


def test_negated_hits_are_marked(matcher):
    doc = build_documents({"body": "Not resin, real ivory. Plastic base, not ever ivory."})[0]
    marks = [(h.entry.concept, h.negated) for h in matcher.find(doc) if h.entry.concept in ("resin", "ivory")]
    # "not" reaches three words on, and never past a clause break.
    assert marks == [("resin", True), ("ivory", False), ("resin", False), ("ivory", True)]


def test_pattern_hits_come_back_as_original_text(matcher):
    assert found(matcher, "Only $450 today")["price"] == ["$450"]


def test_evidence_of_a_split_keyword_names_each_keyword(matcher):
    doc = build_documents({"keywords": ["sừng", "tê giác", "other"]})[0]
    (hit,) = [h for h in matcher.find(doc) if h.entry.concept == "rhino-horn"]
    assert [(p.field, p.text) for p in doc.pieces(hit.start, hit.end)] == [
        ("keywords[0]", "sừng"),
        ("keywords[1]", "tê giác"),
    ]


def test_every_search_key_is_whole_words(default_bundle):
    # The matcher reads a key's end as a word's end: a key ending in a space
    # ran past the text ("sms:a" stemmed to "sms ", then "sms!" crashed).
    from checker.lexicon import compile_terms

    terms, _ = compile_terms(default_bundle.lexicons, default_bundle.languages)
    bad = [t.key for t in terms if t.key != t.key.strip() or "  " in t.key]
    assert bad == []


def test_a_term_with_punctuation_alone_or_at_the_end_gets_a_verdict(default_bundle, default_checker):
    from checker.lexicon import compile_terms

    terms, _ = compile_terms(default_bundle.lexicons, default_bundle.languages)
    texts = {t.text for t in terms if any(not (c.isalnum() or c == " ") for c in t.text)}
    assert "sms:a" in texts
    for text in sorted(texts):
        for body in (text, text + "!", "Hör av dig på " + text + "!"):
            assert default_checker.check({"advertiser_id": "a", "body": body}).decision in {
                "approved",
                "review",
                "rejected",
            }


@pytest.mark.parametrize(
    "text, found, not_found",
    [
        # a run-together word made of trigger terms end to end is read as them
        ("#slowlorisforsale", {"slow-loris", "for-sale"}, set()),
        ("#tigerskinn", {"tiger", "skin"}, set()),
        # benign words do not vouch for a split
        ("#pangolinstreaming", set(), {"pangolin"}),
        # a term kept out of compounds still leads one whose rest is a term
        ("Tigerkrallen in Silber", {"tiger", "claw"}, set()),
        ("Tigerente aus Holz", set(), {"tiger"}),
        # a phrase may not start inside a word that is a word of its own
        ("https://shop.example.com/tortuga-de-peluche", {"turtle", "plush"}, {"chicken"}),
        # a leet reading that needs squeezing loses to a common word
        ("d0g gro0m1ng 4nd nai1 tr1ms", set(), {"deer"}),
    ],
)
def test_run_together_and_compound_readings(default_bundle, text, found, not_found):
    field = "landing_url" if text.startswith("http") else "body"
    concepts = {h.entry.concept for d in build_documents({field: text}) for h in default_bundle.matcher.find(d)}
    assert found <= concepts and not (not_found & concepts), concepts
