"""The pattern prefilter may skip a pattern only when it cannot match."""

import json
from pathlib import Path

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.document import build_documents
from checker.prefilter import DIGIT, Presence, requirements, satisfied

ROOT = Path(__file__).resolve().parent.parent


def test_digits_and_unit_words_are_required():
    needs = requirements(r"\b\d{1,2} ?mo old\b")
    assert frozenset([DIGIT]) in needs
    assert frozenset(["mo old"]) in needs


def test_alternatives_are_united():
    needs = requirements(r"\b\d+ ?(?:kr|sek|usd)\b")
    assert frozenset(["kr", "sek", "usd"]) in needs


def test_optional_parts_and_lookarounds_add_nothing():
    assert requirements(r"(?<!price )(?:gratis )?\d") == (frozenset([DIGIT]),)


def test_an_alternative_without_requirement_drops_the_union():
    assert requirements(r"(?:\d+|x*) ?eggs") == (frozenset(["eggs"]),)


def test_syntax_python_does_not_know_is_not_filtered():
    assert requirements(r"[[a-z]--[aeiou]]xyz") == ()
    assert requirements(r"(?:ivory){e<=1}") == ()
    assert requirements(r"(?i)ivory") == ()


def test_unicode_properties_are_anything():
    assert requirements(r"\p{Sc} ?\d+") == (frozenset([DIGIT]),)
    assert requirements(r"[\p{Sc}x]\d") == (frozenset([DIGIT]),)


def test_single_common_letters_are_not_worth_checking():
    assert requirements(r"[ab]\d") == (frozenset([DIGIT]),)


# Random patterns over a small alphabet: a match must always pass the filter.
_ATOMS = st.sampled_from(["a", "b", "ab", "ba", "kr", "mo", " ", "1", "\\d", "[0-9]", "[ab]", "[a1]", ".", "\\b", "x"])


def _patterns():
    def extend(inner):
        return st.one_of(
            st.lists(inner, min_size=1, max_size=4).map("".join),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(?:" + "|".join(xs) + ")"),
            st.tuples(inner, st.sampled_from(["?", "*", "+", "{1,2}", "{0,2}", "{2}"])).map(
                lambda t: f"(?:{t[0]}){t[1]}"
            ),
            inner.map(lambda x: f"(?={x})"),
            inner.map(lambda x: f"(?<!{x})"),
        )

    return st.recursive(_ATOMS, extend, max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(_patterns(), st.text(alphabet="ab1kromx ", max_size=30))
def test_a_matching_text_always_passes_the_filter(pattern, text):
    try:
        compiled = regex.compile(pattern, regex.V1)
    except regex.error:
        return  # not a pattern at all: lexicon loading reports it
    if compiled.search(text):
        needs = requirements(pattern)
        assert satisfied(needs, Presence([needs]).of(text))


def _eval_texts():
    for line in (ROOT / "eval" / "extra-dev.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)["submission"]


def test_policy_patterns_are_never_skipped_where_they_match(default_bundle):
    docs = [d for sub in _eval_texts() for d in build_documents(sub)]
    assert len(docs) > 400
    patterns = default_bundle.matcher.patterns
    presence = Presence([p.needs for p in patterns])
    checked = skipped = 0
    for d in docs:
        present = presence.of(d.text)
        for pat in patterns:
            if pat.regex.search(d.text):
                checked += 1
                assert satisfied(pat.needs, present), (pat.source, d.text)
            elif not satisfied(pat.needs, present):
                skipped += 1
    assert checked > 100
    assert skipped > len(docs)  # the filter does spare work
