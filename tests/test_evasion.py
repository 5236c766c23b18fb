"""Every disguise tactic over every term of the default lexicons.

Each term is disguised one family at a time (look-alike letters, leetspeak,
separators, invisible characters, stretched letters, hashtags, emoji,
misspellings, inflections, URLs), put in a plain carrier sentence, and must
still be found; the same tactics applied to benign text must find nothing
new. `python -m checker.evasion` prints the same table.
"""

from __future__ import annotations

import pytest

from checker import evasion
from checker.lexicon import compile_terms


@pytest.fixture(scope="module")
def scores(default_bundle, default_checker):
    terms, _ = compile_terms(default_bundle.lexicons, default_bundle.languages)
    suffixes = {code: sorted(lang.suffixes) for code, lang in default_bundle.languages.items() if lang.suffixes}
    return evasion.measure(
        default_bundle.matcher, terms, suffixes, evasion.benign_corpus(default_bundle), checker=default_checker
    )


@pytest.mark.parametrize("tactic", evasion.TACTICS)
def test_tactic_is_seen_through(scores, tactic):
    s = scores[tactic]
    assert s.tried > 0
    assert s.rate >= 0.98, f"{tactic}: {s.caught}/{s.tried}; missed e.g. {s.misses[:10]}"


@pytest.mark.parametrize("tactic", evasion.TACTICS)
def test_tactic_creates_no_false_hits(scores, tactic):
    s = scores[tactic]
    assert s.benign_tried > 0
    assert s.false_hits == 0, [m for m in s.misses if m.startswith("FALSE HIT")]


def test_generators_disguise():
    import random

    rng = random.Random(1)
    assert all(v != "pangolin" for v in evasion.lookalike("pangolin", rng))
    assert next(iter(evasion.separators("ivory", rng))) == "i.v.o.r.y"
    assert "#RhinoHornForSale" in list(evasion.hashtag("rhino horn", rng))
    assert any(ch in v for v in evasion.invisible("ivory", rng) for ch in evasion.INVISIBLES)
