"""Find every lexicon term in an ad's folded text, in one pass per field.

All terms of all lexicons live in one Aho-Corasick automaton, so the cost of
a scan grows with the length of the ad, not with the size of the vocabulary.
A raw occurrence becomes a hit only if it sits at a word boundary, or is
followed by one of its language's inflection endings, or is part of a
compound in a compounding language, or lies inside a run-together hashtag or
URL word. A hit knows its term, its entry and lists, and the steps that were
needed to see it.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

import ahocorasick

from .document import Document
from .lexicon import MIN_FUZZY, MIN_RUN_TOGETHER, Entry, Language, Pattern, Term
from .normalize import _confusables

# How a hit was matched, beyond the normaliser's steps (bits above normalize's).
INFLECTION = 1 << 16
COMPOUND = 1 << 17
RUN_TOGETHER = 1 << 18
MISSPELLING = 1 << 19
JOINED = 1 << 20
EMOJI = 1 << 21
PATTERN = 1 << 22

MATCH_FLAG_NAMES = {
    INFLECTION: "inflection",
    COMPOUND: "compound",
    RUN_TOGETHER: "run-together",
    MISSPELLING: "misspelling",
    JOINED: "joined",
    EMOJI: "emoji",
    PATTERN: "pattern",
}

NEGATION_LIST = "negation"
NEGATION_WINDOW = 3  # tokens: "not", "no es pasta ni acetato"
_CLAUSE_BREAK = re.compile(r"[.!?;:,\n\r–—|•()\[\]{}。，！？；：、]")
_GENERIC_SUFFIXES = ("s", "es", "en", "er", "et", "n", "e", "a", "i")
_SQUEEZE = re.compile(r"([^\W\d_])\1+")
PATTERN_TIMEOUT = 0.05  # seconds per pattern and field


@dataclass(slots=True)
class Hit:
    doc: Document
    start: int  # folded
    end: int
    entry: Entry
    term: Term | None  # None for a pattern hit
    lang: str | None
    how: int  # MATCH flags
    negated: bool = False

    @property
    def lists(self) -> frozenset[str]:
        return self.entry.lists

    @property
    def tok_start(self) -> int:
        return self.doc.token_index(self.start)

    @property
    def tok_end(self) -> int:
        return self.doc.token_index(self.end - 1)

    def transforms(self) -> int:
        return self.doc.transforms(self.start, self.end) | self.how

    def distance(self, other: Hit) -> int | None:
        """Tokens between two hits (0 when they share a token); None across fields."""
        if other.doc is not self.doc:
            return None
        if self.start < other.end and other.start < self.end:
            return 0
        if self.end <= other.start:
            return max(0, other.tok_start - self.tok_end)
        return max(0, self.tok_start - other.tok_end)


class Matcher:
    """All terms compiled once; `find` runs per document."""

    def __init__(self, terms: list[Term], patterns: list[Pattern], languages: dict[str, Language]):
        self.languages = languages
        self.patterns = patterns
        self.automaton = ahocorasick.Automaton()
        by_key: dict[str, list[Term]] = {}
        for t in terms:
            by_key.setdefault(t.key, []).append(t)
        for key, ts in by_key.items():
            self.automaton.add_word(key, (len(key), tuple(ts)))
        if by_key:
            self.automaton.make_automaton()
        self.term_count = len(terms)
        self.key_count = len(by_key)
        self._build_fuzzy(terms)

    # -- misspellings ---------------------------------------------------------
    def _build_fuzzy(self, terms: list[Term]) -> None:
        """A deletion index (SymSpell) over the words of fuzzy terms."""
        # word -> the concepts it names; a misspelling that could be two
        # words of one concept ("elepant": elephant, elefant) is still clear.
        self.vocabulary: dict[str, set[Entry]] = {}
        for t in terms:
            if not t.fuzzy or t.kind != "word" or t.joined:
                continue
            for word in t.key.split(" "):
                if len(word) >= MIN_FUZZY and word.isalpha():
                    self.vocabulary.setdefault(word, set()).add(t.entry)
        self.deletes: dict[str, set[str]] = {}
        for word in self.vocabulary:
            for i in range(len(word)):
                self.deletes.setdefault(word[:i] + word[i + 1 :], set()).add(word)
        common: set[str] = set()
        for lang in self.languages.values():
            common |= lang.common
        self.common_words = frozenset(common)
        # Every word a term is written with, in any form: never "corrected".
        self.known = frozenset(w for t in terms if t.kind == "word" for w in t.key.split(" "))

    def _correct(self, word: str) -> str | None:
        """The vocabulary word `word` misspells (edit distance 1), if exactly one."""
        if (
            len(word) < MIN_FUZZY - 1
            or word in self.known
            or word in self.common_words
            or not word.isalpha()
            or any(word.endswith(s) and word[: -len(s)] in self.known for s in _GENERIC_SUFFIXES)
        ):
            return None
        found: set[str] = set()
        for cand in (word, *[word[: -len(s)] for s in _GENERIC_SUFFIXES if word.endswith(s)]):
            if len(cand) < MIN_FUZZY - 1:
                continue
            suffix = word[len(cand) :]
            if cand in self.vocabulary:
                continue  # an inflected known word, not a misspelling
            for v in self.deletes.get(cand, ()):  # a letter missing
                found.add(v + suffix)
            for i in range(len(cand)):
                d = cand[:i] + cand[i + 1 :]
                if d in self.vocabulary:  # a letter too many
                    found.add(d + suffix)
                for v in self.deletes.get(d, ()):  # a letter changed or swapped
                    if _within_one(cand, v):
                        found.add(v + suffix)
            if found:
                break
        found.discard(word)
        if not found:
            return None
        concepts = {frozenset(self.vocabulary[f[: len(f) - len(suffix)]]) for f in found}
        if len(concepts) != 1:
            return None
        return min(found)

    # -- scanning -------------------------------------------------------------
    def find(self, doc: Document) -> list[Hit]:
        hits = self._scan(doc.text, doc, None)
        corrected = self._corrections(doc)
        if corrected is not None:
            text, mapper = corrected
            hits += self._scan(text, doc, mapper)
        for pat in self.patterns:
            try:
                for m in pat.regex.finditer(doc.text, timeout=PATTERN_TIMEOUT):
                    if m.end() > m.start():
                        hits.append(Hit(doc, m.start(), m.end(), pat.entry, None, None, PATTERN))
            except TimeoutError:
                continue  # a slow pattern finds nothing rather than stall the check
        hits = _anchor_run_together(hits)
        hits = _dedupe(hits)
        hits = _apply_shields(hits)
        _mark_negated(hits)
        return hits

    def _ones_as_ells(self, doc: Document) -> dict[tuple[int, int], str]:
        """Words where a leet "1" must be read as "l" to make a term's word.

        The folded text reads every leet "1" as "i"; "s1ow" and "ba1m" need
        "l". Each word's combinations of i and l are tried against the words
        terms are written with (inflected forms included).
        """
        fixes: dict[tuple[int, int], str] = {}
        if not doc.ambiguous:
            return fixes
        by_word: dict[tuple[int, int], list[tuple[int, str]]] = {}
        for pos, reading in doc.ambiguous:
            start = doc.text.rfind(" ", 0, pos) + 1
            end = doc.text.find(" ", pos)
            by_word.setdefault((start, end if end >= 0 else len(doc.text)), []).append((pos, reading))
        for (start, end), positions in by_word.items():
            positions = positions[:4]
            for mask in range(1, 1 << len(positions)):
                word = list(doc.text[start:end])
                for k, (pos, reading) in enumerate(positions):
                    if mask >> k & 1:
                        word[pos - start] = reading
                candidate = _SQUEEZE.sub(r"\1", "".join(word))
                if self._is_term_word(candidate):
                    fixes[(start, end)] = candidate
                    break
        return fixes

    def _is_term_word(self, word: str) -> bool:
        return word in self.known or any(word.endswith(s) and word[: -len(s)] in self.known for s in _GENERIC_SUFFIXES)

    def _corrections(self, doc: Document):
        """The text with misspelt words and leet "1"-for-"l" words read right,
        and a mapper from its positions back to the document's."""
        text = doc.text
        ells = self._ones_as_ells(doc)
        edits = []
        pos = 0
        for word in text.split(" "):
            span = (pos, pos + len(word))
            if span in ells:
                edits.append((*span, ells[span], 0))
            else:
                fixed = self._correct(word) if len(word) >= MIN_FUZZY - 1 else None
                if fixed:
                    edits.append((*span, fixed, MISSPELLING))
            pos += len(word) + 1
        if not edits:
            return None
        parts = []
        anchors = []  # (corrected start, corrected end, doc start, doc end, flag)
        last = 0
        cpos = 0
        for a, b, fixed, flag in edits:
            parts.append(text[last:a])
            cpos += a - last
            anchors.append((cpos, cpos + len(fixed), a, b, flag))
            parts.append(fixed)
            cpos += len(fixed)
            last = b
        parts.append(text[last:])
        corrected = "".join(parts)

        def mapper(cstart: int, cend: int) -> tuple[int, int, int] | None:
            """Doc span and flags for a corrected span; None unless it touches a correction."""
            touched = [anc for anc in anchors if anc[0] < cend and cstart < anc[1]]
            if not touched:
                return None
            shift_start = shift_end = 0
            for _ca, cb, _da, db, _ in anchors:
                if cb <= cstart:
                    shift_start = db - cb
                if cb <= cend:
                    shift_end = db - cb
            start = next((da for ca, cb, da, db, _ in touched if ca <= cstart), cstart + shift_start)
            end = next((db for ca, cb, da, db, _ in reversed(touched) if cend <= cb), cend + shift_end)
            flags = 0
            for *_, flag in touched:
                flags |= flag
            return start, end, flags

        return corrected, mapper

    def _scan(self, text: str, doc: Document, mapper) -> list[Hit]:
        hits = []
        for last, (length, terms) in self.automaton.iter(text):
            start, end = last - length + 1, last + 1
            span = (start, end, 0) if mapper is None else mapper(start, end)
            if span is None:
                continue
            for term in terms:
                how = self._accept(text, start, end, term, doc, span[0])
                if how is None:
                    continue
                if term.strict_accents and not _accents_match(doc, span[:2], term.strict_accents):
                    continue
                hits.append(Hit(doc, span[0], span[1], term.entry, term, term.lang, how | span[2]))
        return hits

    def _accept(self, text: str, start: int, end: int, term: Term, doc: Document, doc_start: int) -> int | None:
        """Match flags if this occurrence counts as the term, else None."""
        if term.kind == "emoji":
            return EMOJI
        if term.kind == "continuous":
            return 0
        n = len(text)
        left_ok = start == 0 or text[start - 1] == " "
        right_ok = end == n or text[end] == " "
        how = JOINED if term.joined else 0
        if left_ok and right_ok and not term.stem:
            return how
        word_start = text.rfind(" ", 0, start) + 1
        word_end = text.find(" ", end)
        if word_end < 0:
            word_end = n
        prefix, tail = text[word_start:start], text[end:word_end]
        lang = self.languages.get(term.lang or "")
        if lang is not None and not prefix:
            endings = lang.stem_suffixes if term.stem else lang.suffixes
            # An ending that starts with the term's last letter lost that letter
            # to squeezing: "klo" + "or" reads "klor".
            if tail in endings or (tail and term.key[-1] + tail in endings):
                return how | INFLECTION
        if term.stem:
            return None
        if len(term.key.replace(" ", "")) >= MIN_RUN_TOGETHER and doc.in_run_together(doc_start):
            return how | RUN_TOGETHER
        if lang is not None and lang.compounds and term.compound:
            prefix_ok = not prefix or len(prefix) >= 3
            tail_ok = not tail or tail in lang.suffixes or len(tail) >= 3
            whole = text[word_start:word_end]
            if prefix_ok and tail_ok and whole not in lang.common:
                return how | COMPOUND
        return None


def _anchor_run_together(hits: list[Hit]) -> list[Hit]:
    """Keep a term found inside a run-together word only if the word splits there.

    "#driedseahorse" holds "seahorse" at its end; "delivery" holds "liver"
    in its middle, touching nothing. A hit counts if it starts or ends the
    word (an inflection ending may follow) or touches a hit that counts, and
    is not inside a longer one ("horse" in "seahorse").
    """
    loose = [h for h in hits if h.how & RUN_TOGETHER]
    if not loose:
        return hits
    firm = [h for h in hits if not h.how & RUN_TOGETHER]
    kept: list[Hit] = []
    pending = []
    for h in loose:
        text = h.doc.text
        word_start = text.rfind(" ", 0, h.start) + 1
        word_end = text.find(" ", h.end)
        word_end = len(text) if word_end < 0 else word_end
        if h.start == word_start or h.end == word_end or text[h.end : word_end] in _GENERIC_SUFFIXES:
            kept.append(h)
        else:
            pending.append(h)
    grew = True
    while pending and grew:
        grew = False
        for h in list(pending):
            if any(k.doc is h.doc and (k.end == h.start or k.start == h.end) for k in kept + firm):
                kept.append(h)
                pending.remove(h)
                grew = True
    kept = [
        h
        for h in kept
        if not any(
            o is not h
            and o.doc is h.doc
            and o.start <= h.start
            and h.end <= o.end
            and (o.end - o.start) > (h.end - h.start)
            for o in kept
        )
    ]
    return firm + kept


def _within_one(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance of at most one, for equal-length words."""
    if len(a) != len(b):
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) <= 1:
        return True
    if len(diff) == 2 and diff[1] == diff[0] + 1:
        i, j = diff
        return a[i] == b[j] and a[j] == b[i]
    return False


def _accents_match(doc: Document, span: tuple[int, int], wanted: str) -> bool:
    """Whether the advertiser wrote the term's accents (disguises aside)."""
    written = "".join(p.text for p in doc.pieces(*span))
    want = accent_form(wanted)
    return accent_form(written.replace("1", "i")) == want or accent_form(written.replace("1", "l")) == want


_REPEATS = re.compile(r"(.)\1+")
_LEET_LETTERS = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}


def accent_form(text: str) -> str:
    """Letters only, accents kept: undo URL escapes, entities, look-alikes, stretching."""
    text = unicodedata.normalize("NFC", html.unescape(unquote(text))).casefold()
    table = _confusables()
    text = "".join(table.get(c, _LEET_LETTERS.get(c, c)) for c in text)
    return _REPEATS.sub(r"\1", "".join(c for c in text if c.isalpha()))


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """One hit per concept and place: the widest, then the most direct."""
    by_entry: dict[Entry, list[Hit]] = {}
    for h in sorted(hits, key=lambda h: (h.start - h.end, _quality(h))):
        kept = by_entry.setdefault(h.entry, [])
        if not any(k.start <= h.start and h.end <= k.end for k in kept):
            kept.append(h)
    return sorted((h for kept in by_entry.values() for h in kept), key=lambda h: (h.start, -h.end))


def _quality(h: Hit) -> int:
    return bin(h.how & (MISSPELLING | COMPOUND | RUN_TOGETHER)).count("1")


def _apply_shields(hits: list[Hit]) -> list[Hit]:
    shields = [h for h in hits if h.entry.shield]
    if not shields:
        return hits
    return [h for h in hits if h.entry.shield or not any(s.start <= h.start and h.end <= s.end for s in shields)]


def _mark_negated(hits: list[Hit]) -> None:
    negations = [h for h in hits if NEGATION_LIST in h.entry.lists]
    if not negations:
        return
    for h in hits:
        if NEGATION_LIST in h.entry.lists:
            continue
        for n in negations:
            if n.end > h.start or n.start >= h.start:
                continue
            if h.tok_start - n.tok_end > NEGATION_WINDOW:
                continue
            seg_n = h.doc.segment_at(n.start)
            seg_h = h.doc.segment_at(h.start)
            if seg_n is not seg_h:
                continue
            a = seg_n.norm.span(n.start - seg_n.begin, n.end - seg_n.begin)[1]
            b = seg_h.norm.span(h.start - seg_h.begin, h.end - seg_h.begin)[0]
            if _CLAUSE_BREAK.search(seg_n.norm.original[a:b]):
                continue
            h.negated = True
            break
