"""Property tests: the checker never raises on any string, and what the
validator accepts can always be checked, answered and stored.

The strings include what validation would refuse (lone surrogates, NUL,
every control character), because the checker is a library and other
callers (the eval command, tools) may skip validation.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker import pipeline
from checker.document import TEXT_FIELDS
from checker.errors import InvalidSubmission
from checker.store import VerdictStore

pytestmark = pytest.mark.slow

# Every code point, lone surrogates included (Hypothesis leaves them out by default).
ANY_CHAR = st.characters(exclude_categories=())
ANY_TEXT = st.text(ANY_CHAR, max_size=300)
# Text biased towards what the policies look for, so that rules fire and evidence is made.
# fmt: off
BAIT = [
    "ivory", "1v0ry", "i v o r y", "IVORY", "elfenben", "rhino horn", "#RhinoHornForSale", "pangolin",
    "scales", "tiger", "bone", "shark fin", "for sale", "$400", "400 kr", "puppy", "baby monkey", "dog food",
    "Tiger Balm", "faux", "resin", "not", "\u200b", "\u202e", "\u0301", "<b>", "</b>", "&amp;", " ", "\n", "-",
    ".", "😀", "🐯", "\ud800", "\x00", "ß", "İ", "ﬁ", "ⓘ", "Ｉ",
]
# fmt: on
WORDS = st.sampled_from(BAIT)
MIXED_TEXT = st.lists(st.one_of(WORDS, ANY_TEXT.map(lambda s: s[:12])), max_size=40).map("".join)
TEXT = st.one_of(ANY_TEXT, MIXED_TEXT)


def _value(sub: dict, field: str) -> str:
    name, _, index = field.partition("[")
    return sub[name][int(index.rstrip("]"))] if index else sub[name]


def _check_invariants(bundle, checker, sub: dict) -> dict:
    out = pipeline.run(bundle, checker, sub)
    answer = out.response
    assert answer["decision"] in ("approved", "review", "rejected")
    assert (answer["decision"] == "approved") == (answer["reasons"] == [])
    for reason in answer["reasons"]:
        assert reason["evidence"]
        for ev in reason["evidence"]:
            assert 0 <= ev["start"] < ev["end"] <= len(_value(sub, ev["field"]))
            assert _value(sub, ev["field"])[ev["start"] : ev["end"]] == ev["text"]
    json.dumps(answer, ensure_ascii=False)
    return answer


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(TEXT_FIELDS),
    text=TEXT,
    language=st.one_of(st.none(), st.sampled_from(["en", "sv", "de", "pt-BR", "xx"])),
)
def test_checker_never_raises_on_any_string(default_bundle, default_checker, field, text, language):
    sub = {"advertiser_id": "adv-1", field: [text] if field == "keywords" else text}
    if language:
        sub["language"] = language
    _check_invariants(default_bundle, default_checker, sub)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.fixed_dictionaries({f: TEXT for f in TEXT_FIELDS if f != "keywords"}),
    keywords=st.lists(TEXT, max_size=8),
    category=st.one_of(st.none(), TEXT),
)
def test_checker_never_raises_on_a_whole_submission(default_bundle, default_checker, fields, keywords, category):
    sub = {"advertiser_id": "adv-1", **fields, "keywords": keywords}
    if category is not None:
        sub["category"] = category
    _check_invariants(default_bundle, default_checker, sub)


LIMITS = {"headline": 200, "body": 5000, "landing_url": 2048, "on_screen_text": 5000, "transcript": 20000}


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chunk=st.text(ANY_CHAR, min_size=1, max_size=40), words=st.lists(WORDS, min_size=1, max_size=6))
def test_checker_never_raises_on_huge_input(default_bundle, default_checker, chunk, words):
    piece = chunk + " ".join(words)
    sub = {"advertiser_id": "adv-1", "keywords": [(piece * 100)[:100]] * 50}
    for field, limit in LIMITS.items():
        sub[field] = (piece * (limit // len(piece) + 1))[:limit]
    _check_invariants(default_bundle, default_checker, sub)


# -- the validator, then the log -------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4),
    max_leaves=20,
)
KNOWN = ["advertiser_id", "submission_id", "category", "target_countries", "language", *TEXT_FIELDS]


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        JSON,
        st.dictionaries(st.sampled_from(KNOWN), st.one_of(JSON, ANY_TEXT, st.lists(ANY_TEXT, max_size=3)), max_size=8),
    )
)
def test_validator_answers_every_json_value_with_fields_or_a_submission(default_bundle, data):
    try:
        default_bundle.submissions.validate(data)
    except InvalidSubmission as e:
        assert e.details
        for d in e.details:
            assert isinstance(d["field"], str) and d["field"].startswith("$")
            assert isinstance(d["problem"], str) and d["problem"]


SAFE_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=200)


@pytest.fixture(scope="module")
def memory_log():
    log = VerdictStore(":memory:")
    log.migrate()
    yield log
    log.close()


@settings(max_examples=150, deadline=None)
@given(
    advertiser=st.from_regex(r"\A[A-Za-z0-9._:-]{1,64}\Z"),
    headline=st.one_of(
        SAFE_TEXT, MIXED_TEXT.filter(lambda s: "\x00" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s))
    ),
    keywords=st.lists(SAFE_TEXT.map(lambda s: s[:100]), max_size=5),
)
def test_whatever_validates_is_checked_and_stored(
    default_bundle, default_checker, memory_log, advertiser, headline, keywords
):
    sub = {"advertiser_id": advertiser, "headline": headline, "keywords": keywords}
    try:
        sub = default_bundle.submissions.validate(sub)
    except InvalidSubmission:
        return  # blank or too long: the validator's business, tested above
    _check_invariants(default_bundle, default_checker, sub)
    row = memory_log.record(pipeline.run(default_bundle, default_checker, sub).row)
    assert json.loads(memory_log.get(row["decision_id"])["submission_json"]) == sub
    assert memory_log.verify().ok
