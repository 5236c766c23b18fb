"""The normaliser: each folding step, and the map back to the original."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from checker.normalize import flag_names, fold_term, normalize


@pytest.mark.parametrize(
    "text, folded, step",
    [
        ("ＩＶＯＲＹ ｃａｒｖｉｎｇ", "ivory carving", "unicode-compat"),
        ("𝐢𝐯𝐨𝐫𝐲", "ivory", "unicode-compat"),
        ("ﬁne", "fine", "unicode-compat"),
        ("iv\u200bory", "ivory", "invisible"),
        ("iv\u00adory", "ivory", "invisible"),
        ("iv\u2060ory", "ivory", "invisible"),
        ("\u202aivory\u202c", "ivory", "invisible"),
        ("\u202eyrovi\u202c netsuke", "ivory netsuke", "bidi-override"),
        ("ivory\ufe0f", "ivory", "invisible"),
        ("і𝐯ory", "ivory", "homoglyph"),
        ("Pаngolin", "pangolin", "homoglyph"),
        ("Cοrne", "corne", "homoglyph"),
        ("pӏush", "plush", "homoglyph"),
        ("sừng tê giác", "sung te giac", "diacritics"),
        ("Björngalla", "bjorngala", "diacritics"),
        ("i̵v̵o̵r̵y̵", "ivory", "noise-marks"),
        ("1v0ry", "ivory", "leet"),
        ("rh1n0", "rhino", "leet"),
        ("C@puchin", "capuchin", "leet"),
        ("i.v.o.r.y", "ivory", "separators"),
        ("i-v-o-r-y", "ivory", "separators"),
        ("i v o r y", "ivory", "separators"),
        ("i_v_o_r_y", "ivory", "separators"),
        ("i*v*o*r*y", "ivory", "separators"),
        ("iiivvvooorrryyy", "ivory", "stretched"),
        ("#RhinoHornForSale", "rhino horn for sale", "camel-case"),
        ("#driedseahorse", "driedseahorse", "hashtag"),
        ("<b>ivory</b>&amp;bone", "ivory bone", "markup"),
    ],
)
def test_each_step(text, folded, step):
    n = normalize(text)
    assert n.text == folded
    assert step in flag_names(n.transforms(0, len(n.text)))


@pytest.mark.parametrize(
    "text, folded",
    [
        ("$190 + shipping, 10g, 1950s, 925 silver", "$190 shiping 10g 1950s 925 silver"),
        ("US$260/kg and A$4,200", "us$260 kg and a$4 200"),
        ("Only 2 left!", "only 2 left"),
        ("Москва и Санкт-Петербург", "москва и санкт петербург"),
        ("Ελληνικά νέα", "εληνικα νεα"),  # squeezed like every term
        ("犀角粉 退高烧", "犀 角 粉 退 高 烧"),
        ("สวัสดี งาช้าง", "สวัสดี งาช้าง"),
        ("Vảy tê tê sao vàng", "vay te te sao vang"),
        ("🐘🦷 for sale", "🐘 🦷 for sale"),
    ],
)
def test_genuine_text_is_not_damaged(text, folded):
    assert normalize(text).text == folded


def test_url_is_decoded_and_split():
    n = normalize("https://shop.example.com/rhino-horn-for-sale?x=%C3%A9l%C3%A9phant", is_url=True)
    assert "rhino horn for sale" in n.text and "elephant" in n.text
    assert "url" in flag_names(n.transforms(0, len(n.text)))


def test_ambiguous_leet_is_recorded_for_the_matcher():
    n = normalize("s1ow loris")
    assert n.text.startswith("siow")
    assert n.ambiguous == [(1, ("l",))]
    assert normalize("p4ngo1in").ambiguous == [(5, ("li",))]
    assert normalize("ca7").ambiguous == [(2, ("t",))]
    assert normalize("1vory").ambiguous == [(0, ("i", "l"))]


@pytest.mark.parametrize(
    "text, digits",
    [
        ("500kr", "500"),
        ("3juta", "3"),
        ("12weeks", "12"),
        ("价格1200元", "1200"),
        ("3个月", "3"),
        ("1950s", "1950"),
        ("us$260", "260"),
        ("10g", "10"),
    ],
)
def test_numbers_with_units_stay_numbers(text, digits):
    # Digits at a word's edge stay in the folded text; at most the matcher may
    # try reading one or two of them as letters.
    n = normalize(text)
    assert digits in n.text
    assert len(n.ambiguous) <= 2


@pytest.mark.parametrize(
    "text, word",
    [
        ("Real 1v0ry bangle", "ivory"),
        ("Björn\u200bgalla", "bjorngala"),
        ("i.v.o.r.y!", "ivory"),
        ("ＩＶＯＲＹ", "ivory"),
    ],
)
def test_spans_map_back_to_what_was_written(text, word):
    n = normalize(text)
    i = n.text.index(word)
    start, end = n.span(i, i + len(word))
    written = text[start:end]
    assert normalize(written).text == word


def test_terms_fold_like_text():
    assert fold_term("Schildpatt") == normalize("SCHILDPATT").text == "schildpat"


def test_the_short_cut_for_plain_terms_folds_like_normalize(default_bundle):
    texts = {
        t if isinstance(t, str) else t["text"]
        for lex in default_bundle.lexicons
        for e in lex["entries"]
        for terms in e.get("terms", {}).values()
        for t in terms
    }
    assert len(texts) > 10_000
    assert [t for t in texts if fold_term(t) != normalize(t).text] == []


# -- properties -----------------------------------------------------------------
# The scripts ads arrive in (Latin with its accents, Greek, Cyrillic, CJK, kana,
# Thai), with the tricks played on them: fullwidth and mathematical letters,
# combining marks, invisibles, emoji, punctuation, digits and symbols.
AD_ALPHABET = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x24F),
    st.characters(min_codepoint=0x370, max_codepoint=0x4FF),
    st.characters(min_codepoint=0x300, max_codepoint=0x36F),
    st.characters(min_codepoint=0x1E00, max_codepoint=0x1EFF),
    st.characters(min_codepoint=0x2000, max_codepoint=0x206F),
    st.characters(min_codepoint=0x3000, max_codepoint=0x30FF),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),
    st.characters(min_codepoint=0x0E00, max_codepoint=0x0E7F),
    st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),
    st.characters(min_codepoint=0x1D400, max_codepoint=0x1D7FF),
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),
    st.sampled_from("\u200b\u200c\u200d\u2060\u00ad\ufeff\u202e\ufe0f#@$!|%&<>"),
)
text_strategy = st.text(alphabet=AD_ALPHABET, max_size=80) | st.sampled_from(
    ["a.b c.d", "1v0ry iv0ry", "#TigerClawForSale", "p4ngo1in", "i v o r y", "ǅ", "ß"]
)


@settings(max_examples=400, deadline=None)
@given(text_strategy)
@example("a.b c.d e.f")
@example("Ǆ ǅ ǆ")
def test_normalisation_is_idempotent(text):
    once = normalize(text).text
    assert normalize(once).text == once


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_offset_map_is_monotonic_and_in_range(text):
    n = normalize(text)
    assert len(n.text) == len(n.starts) == len(n.ends) == len(n.flags)
    for i in range(len(n.text)):
        assert 0 <= n.starts[i] <= n.ends[i] <= len(text)
        if i:
            assert n.starts[i - 1] <= n.starts[i]
            assert n.ends[i - 1] <= n.ends[i]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-16", categories=["Cs", "L", "Cf", "Zs"]), max_size=60))
def test_normaliser_never_raises(text):
    normalize(text)
    normalize(text, is_url=True)


def test_two_letter_words_join_only_beside_a_longer_spelled_out_word():
    assert normalize("sừng t.ê g.i.á.c, 1.2kg").text.startswith("sung te giac")
    assert normalize("e.g. carved bone").text == "e g carved bone"
    assert normalize("t-e g.i.a.c").text == "t e giac"  # another mark: not the same hand
