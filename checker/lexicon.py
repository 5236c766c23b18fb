"""Vocabulary as data: lexicon entries, their terms, and the languages' rules
for inflection and compounding.

A lexicon file holds entries; an entry is one concept ("elephant", "sale
cue: for sale") with its terms in many languages and the named lists it
belongs to. Rules refer to lists, never to words, so a policy author adds a
language or a slang word by editing the lexicon alone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .normalize import _CONTINUOUS, _is_emoji, fold_term
from .prefilter import requirements


@dataclass(frozen=True, slots=True)
class Entry:
    lexicon: str
    concept: str
    lists: frozenset[str]
    # A term of a shield lexicon hides every shorter term it covers:
    # "Ivory Coast" hides "ivory", "bone china" hides "bone".
    shield: bool
    # Withhold the matched words from advertisers (code words, slang).
    disclose: bool


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    # Endings that may follow a term: plural, definite, possessive.
    suffixes: frozenset[str]
    # Endings that replace a term's final vowel (Swedish kattunge -> kattungar,
    # Italian pitone -> pitoni).
    stem_suffixes: frozenset[str]
    # Terms may be parts of longer words (Swedish, German compounds).
    compounds: bool
    # Frequent words: a compound or a misspelling that lands on one is not a hit.
    common: frozenset[str]
    # The most frequent of them: a term equal to one would match almost every ad.
    top: frozenset[str] = frozenset()
    # Common words with a doubled letter, unsqueezed ("feeder"): they are
    # themselves, not a term that squeezes to the same letters ("Feder").
    doubled: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Term:
    key: str  # folded form searched for
    text: str  # as the lexicon writes it
    lang: str | None
    entry: Entry
    kind: str  # "word", "continuous" (CJK, Thai: no spaces) or "emoji"
    compound: bool
    strict_accents: str | None  # NFC form that must appear as written, if any
    joined: bool  # space-free form of a multi-word term ("rhinohorn")
    stem: bool  # key is a stem: one of the language's stem suffixes must follow
    fuzzy: bool  # may also match at edit distance 1
    allow_common: bool = False  # frequent or one character on purpose
    # Letters as written, doubles kept, when squeezing them makes an ordinary
    # word ("perro" squeezed is "pero", Spanish for "but"): the ad must have the doubles.
    doubles: str | None = None
    inflect: bool = True  # may take its language's endings


@dataclass(frozen=True, slots=True)
class Pattern:
    source: str
    regex: object  # compiled `regex` pattern; None if it does not compile
    entry: Entry
    error: str | None = None
    needs: tuple[frozenset[str], ...] = ()  # see prefilter: text a match must contain


_SQUEEZE = re.compile(r"([^\W\d_])\1+")
MIN_FUZZY = 6  # letters: shorter terms have too many neighbours
MIN_COMPOUND = 4  # letters: shorter terms hide in too many words
MIN_RUN_TOGETHER = 4  # letters: inside hashtags and URL words


_TRIPLE = re.compile(r"(.)\1{2,}")
_ASCII_DOUBLE = re.compile(r"([a-z])\1")


def doubles_form(text: str) -> str:
    """Letters and spaces as written: lower case, no accents, doubles kept (at most two)."""
    letters = []
    for ch in unicodedata.normalize("NFD", text.casefold()):
        if unicodedata.combining(ch):
            continue
        letters.append(ch if ch.isalpha() else " ")
    return _TRIPLE.sub(r"\1\1", " ".join("".join(letters).split()))


def term_kind(key: str) -> str:
    if key.isascii():
        return "word"  # the common case, decided without a look at each character
    if key and all(_is_emoji(c) or c == " " for c in key):
        return "emoji"
    if _CONTINUOUS.search(key):
        return "continuous"
    return "word"


def compile_terms(lexicons: list[dict], languages: dict[str, Language]) -> tuple[list[Term], list[Pattern]]:
    """Turn validated lexicon data into searchable terms and patterns."""
    import regex

    terms: list[Term] = []
    patterns: list[Pattern] = []
    common: set[str] = set()
    for lang in languages.values():
        common |= lang.common
    for lexicon in lexicons:
        shield = lexicon.get("shield", False)
        lex_disclose = lexicon.get("disclose", True)
        lex_common = lexicon.get("allow_common", False)
        for raw in lexicon["entries"]:
            entry = Entry(
                lexicon=lexicon["lexicon"],
                concept=raw["concept"],
                lists=frozenset(raw.get("lists", [])) | {lexicon["lexicon"]},
                shield=shield,
                disclose=raw.get("disclose", lex_disclose),
            )
            for emoji in raw.get("emoji", []):
                key = fold_term(emoji)
                if key:
                    terms.append(Term(key, emoji, None, entry, "emoji", False, None, False, False, False))
            for lang, items in raw.get("terms", {}).items():
                for item in items:
                    terms.extend(_expand(item, lang, entry, languages.get(lang), lex_common, common))
            for pat in raw.get("patterns", []):
                try:
                    patterns.append(Pattern(pat, regex.compile(pat, regex.V1), entry, needs=requirements(pat)))
                except regex.error as e:
                    patterns.append(Pattern(pat, None, entry, str(e)))
    return terms, patterns


def _expand(
    item: str | dict,
    lang: str,
    entry: Entry,
    language: Language | None,
    allow_common: bool,
    common: set[str] | frozenset[str] = frozenset(),
) -> list[Term]:
    spec = {"text": item} if isinstance(item, str) else item
    text = spec["text"]
    key = fold_term(text)
    if not key:
        return []
    kind = term_kind(key)
    letters = len(key.replace(" ", ""))
    compound = spec.get("compound", bool(language and language.compounds) and letters >= MIN_COMPOUND)
    strict = unicodedata.normalize("NFC", text).casefold() if spec.get("accents") == "strict" else None
    fuzzy = spec.get("fuzzy", kind == "word" and " " not in key and letters >= MIN_FUZZY)
    doubles = None
    plain_single = text.isascii() and not _ASCII_DOUBLE.search(text.lower())
    if kind == "word" and not plain_single and any(w in common for w in key.split(" ")):
        written = doubles_form(text)
        if _SQUEEZE.sub(r"\1", written) != written:
            doubles = written

    def term(k: str, joined: bool = False, stem: bool = False) -> Term:
        return Term(
            k,
            text,
            lang,
            entry,
            kind,
            compound,
            strict,
            joined,
            stem,
            fuzzy and not stem and doubles is None,
            spec.get("allow_common", allow_common),
            doubles if not (joined or stem) else None,
            spec.get("inflect", True),
        )

    out = [term(key)]
    if kind == "word" and " " in key:
        # Joined, the words may meet on a doubled letter: "fur rug" -> "furug".
        # Not when that makes an ordinary word ("đõ ong" joined is "dong").
        joined = _SQUEEZE.sub(r"\1", key.replace(" ", ""))
        if joined not in common:
            out.append(term(joined, joined=True))
    if (
        kind == "word"
        and language is not None
        and language.stem_suffixes
        and key[-1] in "aeiou"
        and key[-2:-1] != " "  # "sms:a" is "sms a": its "a" is no ending
        and letters >= 4
        and spec.get("inflect", True)
    ):
        out.append(term(key[:-1], stem=True))
    return out
