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

from .normalize import _is_emoji, _is_scriptio_continua, fold_term, is_thai


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


@dataclass(frozen=True, slots=True)
class Pattern:
    source: str
    regex: object  # compiled `regex` pattern; None if it does not compile
    entry: Entry
    error: str | None = None


_SQUEEZE = re.compile(r"([^\W\d_])\1+")
MIN_FUZZY = 6  # letters: shorter terms have too many neighbours
MIN_COMPOUND = 4  # letters: shorter terms hide in too many words
MIN_RUN_TOGETHER = 4  # letters: inside hashtags and URL words


def term_kind(key: str) -> str:
    if key and all(_is_emoji(c) or c == " " for c in key):
        return "emoji"
    if any(_is_scriptio_continua(c) or is_thai(c) for c in key):
        return "continuous"
    return "word"


def compile_terms(lexicons: list[dict], languages: dict[str, Language]) -> tuple[list[Term], list[Pattern]]:
    """Turn validated lexicon data into searchable terms and patterns."""
    import regex

    terms: list[Term] = []
    patterns: list[Pattern] = []
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
                    terms.extend(_expand(item, lang, entry, languages.get(lang), lex_common))
            for pat in raw.get("patterns", []):
                try:
                    patterns.append(Pattern(pat, regex.compile(pat, regex.V1), entry))
                except regex.error as e:
                    patterns.append(Pattern(pat, None, entry, str(e)))
    return terms, patterns


def _expand(item: str | dict, lang: str, entry: Entry, language: Language | None, allow_common: bool) -> list[Term]:
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
            fuzzy and not stem,
            spec.get("allow_common", allow_common),
        )

    out = [term(key)]
    if kind == "word" and " " in key:
        # Joined, the words may meet on a doubled letter: "fur rug" -> "furug".
        out.append(term(_SQUEEZE.sub(r"\1", key.replace(" ", "")), joined=True))
    if (
        kind == "word"
        and language is not None
        and language.stem_suffixes
        and key[-1] in "aeiou"
        and letters >= 4
        and spec.get("inflect", True)
    ):
        out.append(term(key[:-1], stem=True))
    return out
