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

import bisect
import functools
import html
import itertools
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

import ahocorasick

from .document import Document
from .lexicon import MIN_FUZZY, MIN_RUN_TOGETHER, Entry, Language, Pattern, Term, doubles_form
from .normalize import LEET, _confusables
from .prefilter import Presence

# How a hit was matched, beyond the normaliser's steps (bits above normalize's).
INFLECTION = 1 << 16
COMPOUND = 1 << 17
RUN_TOGETHER = 1 << 18
MISSPELLING = 1 << 19
JOINED = 1 << 20
EMOJI = 1 << 21
PATTERN = 1 << 22
_NEEDS_NEIGHBOUR = 1 << 30  # internal: dropped or cleared before hits leave find()

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
_CORRECTION_CACHE = 1 << 16  # words
_UNKNOWN = object()


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
    _tokens: tuple[int, int] | None = None  # (first, last) token, once asked for

    @property
    def lists(self) -> frozenset[str]:
        return self.entry.lists

    @property
    def tok_start(self) -> int:
        return (self._tokens or self._find_tokens())[0]

    @property
    def tok_end(self) -> int:
        return (self._tokens or self._find_tokens())[1]

    def _find_tokens(self) -> tuple[int, int]:
        # Conditions ask for these many times per hit ("near", negation).
        self._tokens = (self.doc.token_index(self.start), self.doc.token_index(self.end - 1))
        return self._tokens

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

    def __init__(
        self,
        terms: list[Term],
        patterns: list[Pattern],
        languages: dict[str, Language],
        trigger_lists: frozenset[str] | None = None,
    ):
        self.languages = languages
        # Lists that make some rule fire (see roles.py); None: every list.
        self.trigger_lists = trigger_lists
        self.patterns = patterns
        self._presence = Presence([p.needs for p in patterns])
        self.automaton = ahocorasick.Automaton()
        # A term that can only start a word is searched for with the space
        # before it (and after it, if nothing may follow), so that short
        # terms ("ni", "de") are not reported inside every longer word.
        by_key: dict[tuple[str, int, int], list[Term]] = {}
        for t in terms:
            lead, trail = self._anchoring(t)
            by_key.setdefault((t.key, lead, trail), []).append(t)
        for (key, lead, trail), ts in by_key.items():
            searched = " " * lead + key + " " * trail
            self.automaton.add_word(searched, (len(searched), lead, len(key), tuple(ts)))
        if by_key:
            self.automaton.make_automaton()
        self.term_count = len(terms)
        self.key_count = len({key for key, _, _ in by_key})
        self._build_fuzzy(terms)

    def _anchoring(self, t: Term) -> tuple[int, int]:
        """Whether `_accept` could take the term without a space before it
        (lead 0) or with letters after it (trail 0): see `_accept`."""
        if t.kind in ("emoji", "continuous") or len(t.key.replace(" ", "")) >= MIN_RUN_TOGETHER:
            return 0, 0
        lang = self.languages.get(t.lang or "")
        if lang is not None and lang.compounds and t.compound:
            return 0, 0
        if t.stem or (lang is not None and t.inflect):
            return 1, 0
        return 1, 1

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
        # Most deletions come from one word: a tuple, not a set, keeps a
        # vocabulary of 100,000 more terms in half the memory.
        self.deletes: dict[str, tuple[str, ...]] = {}
        for word in self.vocabulary:
            for i in range(len(word)):
                key = word[:i] + word[i + 1 :]
                had = self.deletes.get(key, ())
                if word not in had:
                    self.deletes[key] = (*had, word)
        common: set[str] = set()
        doubled: set[str] = set()
        for lang in self.languages.values():
            common |= lang.common
            doubled |= lang.doubled
        self.common_words = frozenset(common)
        self.common_doubled = frozenset(doubled)
        # The same words as folded text has them: a quick test before the real one.
        self._doubled_folded = frozenset(_SQUEEZE.sub(r"\1", "\0".join(doubled)).replace(" ", "").split("\0"))
        # Every word a term is written with, in any form: never "corrected".
        self.known = frozenset(w for t in terms if t.kind == "word" for w in t.key.split(" "))
        self._corrected: dict[str, str | None] = {}

    def _correct(self, word: str) -> str | None:
        """The vocabulary word `word` misspells (edit distance 1), if exactly one."""
        # Ads repeat their words: most lookups are answered from the cache.
        fixed = self._corrected.get(word, _UNKNOWN)
        if fixed is _UNKNOWN:
            if len(self._corrected) >= _CORRECTION_CACHE:
                self._corrected.clear()  # crude but safe across threads
            fixed = self._corrected[word] = self._correct_word(word)
        return fixed

    def _correct_word(self, word: str) -> str | None:
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
        present = self._presence.of(doc.text)
        for pat in self.patterns:
            for need in pat.needs:  # inline `prefilter.satisfied`: this loop is hot
                if need.isdisjoint(present):
                    break
            else:
                self._run_pattern(pat, doc, hits)
        hits = _anchor_run_together(hits, self.common_words, self.known, self.trigger_lists)
        hits = _keep_neighboured(hits)
        hits = _prefer_whole_words(hits)
        hits = _longest_wins(hits)
        hits = _dedupe(hits)
        hits = _apply_shields(hits)
        _mark_negated(hits)
        return hits

    @staticmethod
    def _run_pattern(pat: Pattern, doc: Document, hits: list[Hit]) -> None:
        try:
            for m in pat.regex.finditer(doc.text, timeout=PATTERN_TIMEOUT):
                if m.end() > m.start():
                    hits.append(Hit(doc, m.start(), m.end(), pat.entry, None, None, PATTERN))
        except TimeoutError:
            pass  # a slow pattern finds nothing rather than stall the check

    def _ordinary_doubled_word(self, text: str, start: int, end: int, doc: Document, span) -> bool:
        """The whole word, as written with its doubled letters, is an ordinary
        word: "feeder" is not the German "Feder" that it squeezes to."""
        if (start and text[start - 1] != " ") or (end < len(text) and text[end] != " "):
            return False
        if doc.text[span[0] : span[1]].replace(" ", "") not in self._doubled_folded:
            return False
        written = doubles_form("".join(p.text for p in doc.pieces(*span[:2]))).replace(" ", "")
        return written in self.common_doubled and _SQUEEZE.sub(r"\1", written) != written

    def _leet_readings(self, doc: Document) -> dict[tuple[int, int], str]:
        """Words that become a term's word when an ambiguous digit is read otherwise.

        The folded text reads a leet "1" as "i" ("s1ow" needs "l") and keeps a
        digit at a word's edge ("ca7", "1vory", but also "mp3"). Each word's
        combinations of readings are tried against the words terms are written
        with (inflected forms included); the first that is one wins.
        """
        fixes: dict[tuple[int, int], str] = {}
        by_word: dict[tuple[int, int], list[tuple[int, tuple[str, ...]]]] = {}
        for pos, readings in doc.ambiguous:
            start = doc.text.rfind(" ", 0, pos) + 1
            end = doc.text.find(" ", pos)
            by_word.setdefault((start, end if end >= 0 else len(doc.text)), []).append((pos, readings))
        for (start, end), places in by_word.items():
            places = places[:4]
            options = [(doc.text[pos], *readings) for pos, readings in places]
            candidates, common = [], False
            for combo in itertools.islice(itertools.product(*options), 1, 82):
                word = list(doc.text[start:end])
                for (pos, _), choice in zip(places, combo, strict=True):
                    word[pos - start] = choice
                raw = "".join(word)
                common = common or raw in self.common_words
                candidates.append((raw, _SQUEEZE.sub(r"\1", raw)))
            # "nai1" reads "nail"; it is not "naii" squeezed to a term's "nai".
            candidates = [sq for raw, sq in candidates if not (common and sq != raw)]
            # A term's own word first ("piel"), an inflected one ("pies") after.
            best = next((c for c in candidates if c in self.known), None) or next(
                (c for c in candidates if self._is_term_word(c)), None
            )
            if best is not None:
                fixes[(start, end)] = best
        return fixes

    def _is_term_word(self, word: str) -> bool:
        return word in self.known or any(word.endswith(s) and word[: -len(s)] in self.known for s in _GENERIC_SUFFIXES)

    def _corrections(self, doc: Document):
        """The text with misspelt words and leet "1"-for-"l" words read right,
        and a mapper from its positions back to the document's."""
        text = doc.text
        ells = self._leet_readings(doc) if doc.ambiguous else {}
        edits = []
        pos = 0
        for word in text.split(" "):
            span = (pos, pos + len(word))
            if span in ells:
                edits.append((*span, ells[span], LEET))
            else:
                fixed = self._correct(word) if len(word) >= MIN_FUZZY - 1 else None
                if fixed and doc.in_run_together(pos) and _ordinary_reading(word, 0, 0, self.common_words):
                    fixed = None  # "#livraisonle" is "livraison le", not a misspelling
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
        for last, (length, lead, core, terms) in self.automaton.iter(" " + text + " "):
            # Positions in the padded text are one past those in `text`.
            start = last - length + lead
            end = start + core
            span = (start, end, 0) if mapper is None else mapper(start, end)
            if span is None:
                continue
            for term in terms:
                how = self._accept(text, start, end, term, doc, span[0])
                if how is None:
                    continue
                if term.strict_accents and not _accents_match(doc, span[:2], term.strict_accents):
                    continue
                if term.doubles and not _doubles_match(doc, span[:2], term.doubles):
                    continue
                if (
                    not term.doubles
                    and term.kind == "word"
                    and self._ordinary_doubled_word(text, start, end, doc, span)
                ):
                    continue
                hit_end = span[1]
                if how & INFLECTION and mapper is None:
                    # The evidence is the word as written, ending and all ("tusks").
                    word_end = text.find(" ", end)
                    hit_end = len(text) if word_end < 0 else word_end
                hits.append(Hit(doc, span[0], hit_end, term.entry, term, term.lang, how | span[2]))
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
        if lang is not None and not prefix and term.inflect:
            endings = lang.stem_suffixes if term.stem else lang.suffixes
            if tail in endings and not self._another_languages_word(text[start:word_end], lang):
                return how | INFLECTION
        if term.stem:
            return None
        if len(term.key.replace(" ", "")) >= MIN_RUN_TOGETHER and doc.in_run_together(doc_start):
            return how | RUN_TOGETHER
        if lang is not None and lang.compounds and not term.compound and not prefix and tail:
            # A term kept out of compounds ("tiger" is also a Swedish verb)
            # still leads one whose rest is another term: "tiger|skinn".
            if text[word_start:word_end] not in lang.common and self._word_part(tail, lang, True, terms_only=True):
                return how | COMPOUND
            return None
        if lang is not None and lang.compounds and term.compound:
            whole = text[word_start:word_end]
            if whole in lang.common:
                return None  # "hundra" is a number, not a dog
            # The rest of the word must be a word too ("mammut|elfenben",
            # "hund|foder", "noshörning|s|horn"), not a stray syllable
            # ("omplace|ring" is not a ring).
            tail_ok = not tail or tail in lang.suffixes or self._word_part(tail, lang, leading=True)
            if not tail_ok:
                return None
            if prefix and len(term.key) < 5:
                # A short term at the end of a word needs another term right
                # before it ("leopard|fäll", "tiger|ben"), not "parke|ring":
                # find() keeps it only if one is there.
                return how | COMPOUND | _NEEDS_NEIGHBOUR
            if not prefix or self._word_part(prefix, lang, leading=False):
                return how | COMPOUND
        return None

    def _another_languages_word(self, word: str, lang: Language) -> bool:
        """An ending that turns the term into an ordinary word of another
        language is not an inflection: Italian "sam|e" is English "same"."""
        return word in self.common_words and word not in lang.common and word not in self.known

    _LINKS = ("", "s", "e", "en", "n", "er", "es", "a", "o")

    def _word_part(self, part: str, lang: Language, leading: bool, terms_only: bool = False) -> bool:
        """A known or common word, once a compound's linking letters are taken off."""
        for link in self._LINKS:
            if leading:
                p = part[len(link) :] if part.startswith(link) else None
            else:
                p = part[: len(part) - len(link)] if part.endswith(link) else None
            if p and len(p) >= 3 and (self._is_term_word(p) or (not terms_only and p in lang.common)):
                return True
        return False


def _anchor_run_together(
    hits: list[Hit], common: frozenset[str], known: frozenset[str], trigger_lists: frozenset[str] | None
) -> list[Hit]:
    """Keep a term found inside a run-together word only if the word splits there.

    "#driedseahorse" holds "seahorse" at its end; "delivery" holds "liver"
    in its middle, touching nothing. A hit counts if it starts or ends the
    word (an inflection ending may follow) or touches a hit that counts, and
    is not inside a longer one ("horse" in "seahorse"). A word that is an
    ordinary word of some language ("chairs" in a URL path) or a term's own
    word ("tortuga-de" holds no "gà đẻ") is not run together at all. But a
    word made of terms end to end ("#slowloris|forsale", "#tiger|skin") is
    read as those terms, whatever ordinary words it also holds.
    """
    loose = [h for h in hits if h.how & RUN_TOGETHER]
    if not loose:
        return hits
    firm = [h for h in hits if not h.how & RUN_TOGETHER]
    kept: list[Hit] = []
    pending = []
    tilings: dict[tuple[int, int, int], set[tuple[int, int]]] = {}
    for h in loose:
        text = h.doc.text
        word_start = text.rfind(" ", 0, h.start) + 1
        word_end = text.find(" ", h.end)
        word_end = len(text) if word_end < 0 else word_end
        word = text[word_start:word_end]
        key = (id(h.doc), word_start, word_end)
        if key not in tilings:
            tilings[key] = _tiling(text, word_start, word_end, [o for o in hits if o.doc is h.doc], trigger_lists)
        if (h.start, h.end) in tilings[key]:
            kept.append(h)
            continue
        if word in common or _ordinary_reading(word, h.start - word_start, h.end - word_start, common):
            continue
        first_end = text.find(" ", h.start, word_end)
        if (
            h.start > word_start
            and first_end > 0
            and (text[word_start:first_end] in known or text[word_start:first_end] in common)
        ):
            continue  # a phrase starting inside a word that is a word of its own
        # At an edge, the rest must be able to be a word ("#tigercub"), not a
        # stray syllable ("#lardig" is "lär dig", not lard).
        rest_after, rest_before = text[h.end : word_end], text[word_start : h.start]
        if (
            (h.start == word_start and _could_be_word(rest_after))
            or (h.end == word_end and _could_be_word(rest_before))
            or (h.start == word_start and rest_after in _GENERIC_SUFFIXES)
        ):
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
    everything = kept + firm
    kept = [
        h
        for h in kept
        if not any(
            o is not h
            and o.doc is h.doc
            and o.start <= h.start
            and h.end <= o.end
            and o.end - o.start > h.end - h.start
            for o in everything
        )
    ]
    return firm + kept


_LONGEST_WORD = 24  # letters of one ordinary word inside a run-together one


def _tiling(
    text: str, start: int, end: int, hits: list[Hit], trigger_lists: frozenset[str] | None
) -> set[tuple[int, int]]:
    """The hit spans that cover text[start:end] end to end (an inflection
    ending may close it), if two or more do; else nothing. Only words of
    lists that make rules fire vouch: "#pangolin|streaming" is a
    documentary's tag."""
    spans = {
        (h.start, h.end)
        for h in hits
        if start <= h.start and h.end <= end and (trigger_lists is None or h.entry.lists & trigger_lists)
    }
    ends = {end} | {end - len(s) for s in _GENERIC_SUFFIXES if s and text[end - len(s) : end] == s}
    forward, backward = {start}, set(ends)
    for a, b in sorted(spans):
        if a in forward:
            forward.add(b)
    for a, b in sorted(spans, key=lambda s: -s[1]):
        if b in backward:
            backward.add(a)
    path = {(a, b) for a, b in spans if a in forward and b in backward}
    return path if len(path) >= 2 and start in backward else set()


def _ordinary_reading(word: str, a: int, b: int, common: frozenset[str]) -> bool:
    """The run-together word splits into ordinary words, one of which runs
    across the hit's edge [a, b): "#maderacon" is "madera con", not a raccoon;
    "#fivecolours" is "five colours", not the French "l'ours". With a = b = 0
    any split into ordinary words will do."""
    return True in _readings(word, a, b, common)


def _readings(word: str, a: int, b: int, common: frozenset[str]) -> set[bool]:
    n = len(word)
    # states[i]: readings of word[:i] so far, as "has a word crossed an edge yet".
    states: list[set[bool]] = [set() for _ in range(n + 1)]
    states[0].add(False)
    for i in range(n):
        if not states[i]:
            continue
        for j in range(i + 2, min(n, i + _LONGEST_WORD) + 1):
            if word[i:j] in common:
                crosses = i < a < j or i < b < j
                states[j].update(crossed or crosses or (a == b == 0) for crossed in states[i])
    return states[n]


def _keep_neighboured(hits: list[Hit]) -> list[Hit]:
    """Short compound ends count only right after another term in the same word."""
    if not any(h.how & _NEEDS_NEIGHBOUR for h in hits):
        return hits
    out = []
    for h in hits:
        if h.how & _NEEDS_NEIGHBOUR:
            if not any(
                o is not h and o.doc is h.doc and 0 <= h.start - o.end <= 2 and " " not in h.doc.text[o.end : h.start]
                for o in hits
            ):
                continue
            h.how &= ~_NEEDS_NEIGHBOUR
        out.append(h)
    return out


def _longest_wins(hits: list[Hit]) -> list[Hit]:
    """A term inside a longer term is part of it, not a finding of its own:
    "suchen ein Zuhause" is rehoming, not the wanted-ad word "suche";
    "hatching eggs" are live animals, not eggs; "cross-hatched grain" is a
    hint, not a hatching date."""
    covered: set[tuple[int, int, int]] = set()
    by_doc: dict[int, set[tuple[int, int]]] = {}
    for h in hits:
        by_doc.setdefault(id(h.doc), set()).add((h.start, h.end))
    for doc, spans in by_doc.items():
        # Sweep by start (longest first at equal starts): a span is inside a
        # longer one if an earlier start reaches as far, or a same start reaches further.
        reach = -1
        previous_start, group_end = None, -1
        for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
            if start != previous_start:
                previous_start, group_end, before = start, end, reach
                if before >= end:
                    covered.add((doc, start, end))
            elif group_end > end or before >= end:
                covered.add((doc, start, end))
            reach = max(reach, end)
    return [h for h in hits if (id(h.doc), h.start, h.end) not in covered]


def _prefer_whole_words(hits: list[Hit]) -> list[Hit]:
    """A word that is a term as it stands is not also another term inflected
    or compounded: "plaster" is a plaster, not the Swedish "plast" + "er"."""
    whole = {(id(h.doc), h.start, h.end) for h in hits if not h.how & (INFLECTION | COMPOUND)}
    if not whole:
        return hits
    out = []
    for h in hits:
        if h.how & (INFLECTION | COMPOUND):
            text = h.doc.text
            ws = text.rfind(" ", 0, h.start) + 1
            we = text.find(" ", h.end)
            we = len(text) if we < 0 else we
            if (id(h.doc), ws, we) in whole:
                continue
        out.append(h)
    return out


def _could_be_word(rest: str) -> bool:
    return not rest or len(rest) >= 3


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


def _doubles_match(doc: Document, span: tuple[int, int], wanted: str) -> bool:
    """Whether the advertiser wrote the term's double letters ("perro", not "pero")."""
    written = "".join(p.text for p in doc.pieces(*span))
    # A leet "1" may be an i or an l: it stands in the text as a letter of its own.
    letters = _unstretch(_undisguise(written.replace("1", _ONE)))
    return _doubles_pattern(wanted).search(doubles_form(letters).replace(" ", "")) is not None


def _unstretch(text: str) -> str:
    """Undo stretching that repeats every letter ("dddeeerrr" is "der", not "deer")."""
    runs = [(m.group(1), len(m.group())) for m in re.finditer(r"([^\W\d_])\1*", text)]
    shortest = min((n for _, n in runs), default=1)
    if shortest < 2:
        return text
    return "".join(c * max(1, round(n / shortest)) for c, n in runs)


_ONE = "ȸ"  # a letter no text has (and no look-alike), standing for a leet "1"


@functools.lru_cache(maxsize=4096)
def _doubles_pattern(wanted: str) -> re.Pattern:
    """Each letter at least as often as the term has it in a row ("perro": p+e+r{2,}o+)."""
    parts = []
    for m in re.finditer(r"(.)\1*", wanted.replace(" ", "")):
        c, n = m.group(1), len(m.group())
        cls = f"[{c}{_ONE}]" if c in "il" else re.escape(c)
        parts.append(f"{cls}{{{n},}}" if n > 1 else f"{cls}+")
    return re.compile("".join(parts))


def _undisguise(text: str) -> str:
    text = unicodedata.normalize("NFC", html.unescape(unquote(text))).casefold()
    table = _confusables()
    return "".join(table.get(c, _LEET_LETTERS.get(c, c)) for c in text if c.isalnum() or c == " ")


def accent_form(text: str) -> str:
    """Letters only, accents kept: undo URL escapes, entities, look-alikes, stretching."""
    text = unicodedata.normalize("NFC", html.unescape(unquote(text))).casefold()
    table = _confusables()
    text = "".join(table.get(c, _LEET_LETTERS.get(c, c)) for c in text)
    return _REPEATS.sub(r"\1", "".join(c for c in text if c.isalpha()))


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """One hit per concept and place: the widest, then the most direct."""
    # Sorted by start, widest and most direct first, a hit lies inside an
    # earlier one of its concept exactly when an earlier one reaches as far.
    reach: dict[Entry, int] = {}
    kept = []
    for h in sorted(hits, key=lambda h: (h.start, -h.end, _quality(h))):
        if reach.get(h.entry, -1) >= h.end:
            continue
        reach[h.entry] = h.end
        kept.append(h)
    return kept


def _quality(h: Hit) -> int:
    return bin(h.how & (MISSPELLING | COMPOUND | RUN_TOGETHER)).count("1")


def _apply_shields(hits: list[Hit]) -> list[Hit]:
    shields = [h for h in hits if h.entry.shield]
    if not shields:
        return hits
    # Strictly inside: a benign phrase that is also a shield still counts as itself.
    # reach[i]: the furthest end of the first i shields by start.
    shields.sort(key=lambda s: s.start)
    starts = [s.start for s in shields]
    reach = list(itertools.accumulate((s.end for s in shields), max, initial=-1))

    def shielded(h: Hit) -> bool:
        before = reach[bisect.bisect_left(starts, h.start)]  # shields starting earlier
        at_or_before = reach[bisect.bisect_right(starts, h.start)]
        return before >= h.end or at_or_before > h.end

    return [h for h in hits if h.entry.shield or not shielded(h)]


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
