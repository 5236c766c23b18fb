"""Fold an advertiser's text into one canonical form, remembering where every
character came from.

Traffickers disguise words (look-alike letters, digits, spaced letters,
invisible characters, hashtags, URLs). Matching runs on the folded text; every
finding is then mapped back through `Normalized.span` so that the evidence
slices exactly the characters the advertiser wrote.

The folding is a chain of named steps. Each output character carries a bit
mask of the steps that touched it, so a finding can say which tricks it had to
see through (shown to reviewers, never to advertisers).

The same function folds lexicon terms, so a term and a disguised spelling of
it meet in the same form: lower case, no diacritics on Latin/Greek/Cyrillic
letters, runs of a repeated letter squeezed to one, punctuation turned into
single spaces, and every CJK character and emoji a token of its own.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

import regex

# --- transform flags --------------------------------------------------------
COMPAT = 1 << 0  # NFKC: fullwidth, mathematical letters, ligatures
INVISIBLE = 1 << 1  # zero-width, soft hyphen, bidi controls, variation selectors
HOMOGLYPH = 1 << 2  # look-alike letter from another script folded to Latin
DIACRITICS = 1 << 3  # accents removed
NOISE_MARKS = 1 << 4  # stacked combining marks (Zalgo) removed
LEET = 1 << 5  # digits/symbols used as letters
SEPARATORS = 1 << 6  # i.v.o.r.y, i v o r y
STRETCHED = 1 << 7  # iiivvvooorrryyy
HASHTAG = 1 << 8  # #RhinoHornForSale
CAMEL_CASE = 1 << 9  # RhinoHorn
MARKUP = 1 << 10  # HTML tags and entities
URL = 1 << 11  # percent-encoding, hosts, paths
LEET_MAYBE = 1 << 12  # a digit at a word's edge that may stand for a letter
BIDI_OVERRIDE = 1 << 13  # text written backwards under a right-to-left override

FLAG_NAMES = {
    COMPAT: "unicode-compat",
    INVISIBLE: "invisible",
    HOMOGLYPH: "homoglyph",
    DIACRITICS: "diacritics",
    NOISE_MARKS: "noise-marks",
    LEET: "leet",
    LEET_MAYBE: "leet",
    BIDI_OVERRIDE: "bidi-override",
    SEPARATORS: "separators",
    STRETCHED: "stretched",
    HASHTAG: "hashtag",
    CAMEL_CASE: "camel-case",
    MARKUP: "markup",
    URL: "url",
}

# Steps that are ordinary spelling, not evasion: they never count as a
# transform a reviewer needs to see on their own.
ROUTINE = DIACRITICS


def flag_names(mask: int) -> list[str]:
    return [name for bit, name in FLAG_NAMES.items() if mask & bit]


@dataclass(slots=True)
class Normalized:
    """Folded text plus, per folded character, the original span and flags."""

    text: str
    starts: list[int]
    ends: list[int]
    flags: list[int]
    original: str
    # Folded-text ranges where a term may match inside a word: hashtags and
    # URL parts that run words together ("#driedseahorse").
    run_together: list[tuple[int, int]] = field(default_factory=list)
    # Folded positions the matcher may read otherwise, with the readings:
    # a leet "1" read as "i" that may be "l" ("s1ow" -> (1, ("l",))), and a
    # digit at a word's edge that may be a letter ("ca7" -> (2, ("t",))).
    ambiguous: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) for folded [start, end)."""
        return self.starts[start], self.ends[end - 1]

    def transforms(self, start: int, end: int) -> int:
        mask = 0
        for f in self.flags[start:end]:
            mask |= f
        return mask

    def in_run_together(self, pos: int) -> bool:
        i = bisect_right(self.run_together, (pos, 1 << 62)) - 1
        return i >= 0 and self.run_together[i][0] <= pos < self.run_together[i][1]


# --- character classes --------------------------------------------------------
_INVISIBLE_CATEGORIES = {"Cf", "Cc", "Co", "Cn", "Cs"}
_VARIATION = re.compile(r"[\ufe00-\ufe0f\U000e0100-\U000e01ef\U0001f3fb-\U0001f3ff]")
_LATINISH = ("LATIN", "GREEK", "CYRILLIC")
_EXTRA_FOLDS = {
    "đ": "d",
    "ð": "d",
    "ø": "o",
    "ł": "l",
    "ħ": "h",
    "ŧ": "t",
    "ı": "i",
    "ȷ": "j",
    "ŀ": "l",
    "ſ": "s",
    "ƀ": "b",
    "ɨ": "i",
    "ʉ": "u",
}
_WORD_PUNCT_KEEP = set("@$!|")  # may stand for letters inside a word


def _is_scriptio_continua(ch: str) -> bool:
    """Han, kana, Hangul: every character is a token of its own."""
    o = ord(ch)
    return (
        0x3040 <= o <= 0x30FF  # hiragana, katakana
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x3134F
        or 0xAC00 <= o <= 0xD7AF
        or 0x31F0 <= o <= 0x31FF
    )


def _is_emoji(ch: str) -> bool:
    o = ord(ch)
    return (
        0x1F000 <= o <= 0x1FAFF
        or 0x2600 <= o <= 0x27BF
        or 0x2B00 <= o <= 0x2BFF
        or o in (0x2122, 0x2139, 0x3030, 0x303D, 0x3297, 0x3299)
    )


def is_thai(ch: str) -> bool:
    return 0x0E00 <= ord(ch) <= 0x0E7F


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or unicodedata.category(ch) in ("Mn", "Mc", "Sc")


@lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    try:
        return unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return ""


@lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Map look-alike characters to the ASCII letter they imitate (TR39 data)."""
    import confusable_homoglyphs

    path = os.path.join(os.path.dirname(confusable_homoglyphs.__file__), "confusables.json")
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    table: dict[str, str] = {}
    # TR39 lists a character under several letters; "l" is the prototype of
    # the vertical strokes (ӏ, ǀ, ∣), so it is read last and wins.
    targets = sorted((t for t in data if len(t) == 1 and t.isascii() and t.isalpha()), key=lambda t: t == "l")
    for target in targets:
        for entry in data[target]:
            c = entry["c"].strip("\u200e\u200f")
            if len(c) == 1 and not c.isascii() and (c not in table or target == "l"):
                table[c] = target.lower()
    # The packaged data files the vertical strokes under "i"; TR39 itself
    # maps them to "l", which is what they imitate in a word ("pӏush").
    for c in "ӏӀǀ׀∣":
        table[c] = "l"
    # Folding happens after case folding, so the lower-case forms count too.
    for c, target in list(table.items()):
        low = c.casefold()
        if len(low) == 1 and low not in table and not low.isascii():
            table[low] = target
    return table


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> tuple[str, int]:
    """Fold one character (already NFKC and case-folded) to its matching form."""
    if ch in _EXTRA_FOLDS:
        return _EXTRA_FOLDS[ch], DIACRITICS
    decomposed = unicodedata.normalize("NFD", ch)
    if len(decomposed) == 1:
        if not ch.isascii() and _script(ch) == "LATIN" and ch in _confusables():
            # A Latin letter that only imitates another (ʀ, ɑ, ı) is always a disguise.
            return _confusables()[ch], HOMOGLYPH
        return ch, 0
    base = decomposed[0]
    if _script(base) in _LATINISH or base.isascii():
        marks = [c for c in decomposed[1:] if unicodedata.combining(c)]
        if len(marks) == len(decomposed) - 1:
            return _EXTRA_FOLDS.get(base, base), DIACRITICS
    return ch, 0


def _build_fast_table() -> dict[int, str]:
    """translate() table for text needing only case, accent and punctuation folding."""
    table: dict[int, str] = {}
    ranges = [(0x20, 0x7F), (0xA0, 0x250), (0x1E00, 0x1F00), (0x2010, 0x2030), (0x20A0, 0x20C0)]
    for lo, hi in ranges:
        for o in range(lo, hi):
            ch = chr(o)
            cat = unicodedata.category(ch)
            if cat.startswith("L"):
                low = unicodedata.normalize("NFKC", ch).casefold()
                if len(low) != 1:
                    continue
                folded, _ = _fold_char(low)
                # Only letters that stay Latin: others (µ is Greek mu) go the slow way.
                if len(folded) != 1 or not (folded.isascii() or _script(folded) == "LATIN"):
                    continue
                table[o] = folded
            elif (cat == "Nd" and ch.isascii()) or cat == "Sc":
                table[o] = ch
            elif cat.startswith(("P", "Z", "S")) or ch in "\t\n\r":
                if cat == "So":
                    continue
                table[o] = " "
    for ch in "\t\n\r\x0b\x0c":
        table[ord(ch)] = " "
    return table


_FAST_TABLE = _build_fast_table()
_FAST_CHARS = frozenset(chr(o) for o in _FAST_TABLE)
_NOT_FAST = re.compile("[^" + re.escape("".join(sorted(_FAST_CHARS))) + "]")
# Accent flags only mean something for characters that had one.
_ACCENTED = frozenset(
    chr(o) for o, v in _FAST_TABLE.items() if v != chr(o).casefold() and v != " " and chr(o).casefold() != v
)


# --- the buffer the steps work on ----------------------------------------------
class _Buf:
    """Characters with their original spans and flags; steps rewrite it."""

    __slots__ = ("ends", "flags", "run_together", "s", "starts")

    def __init__(self, s: str, starts: list[int], ends: list[int], flags: list[int]):
        self.s = s
        self.starts = starts
        self.ends = ends
        self.flags = flags
        self.run_together: list[tuple[int, int]] = []

    @classmethod
    def of(cls, text: str) -> _Buf:
        n = len(text)
        return cls(text, list(range(n)), list(range(1, n + 1)), [0] * n)

    def apply(self, edits: list[tuple[int, int, str, int, bool]]) -> None:
        """Rewrite [a, b) with `repl` for each edit (sorted, non-overlapping).

        A `linear` edit keeps a one-to-one span per character (same length);
        otherwise every new character spans the whole replaced range.
        """
        if not edits:
            return
        s, st, en, fl = self.s, self.starts, self.ends, self.flags
        out_s: list[str] = []
        out_st: list[int] = []
        out_en: list[int] = []
        out_fl: list[int] = []
        pos = 0
        n = len(s)
        moved: list[tuple[int, int]] = []  # (old position, new position) for run-together ranges
        for a, b, repl, flag, linear in edits:
            if a > pos:
                out_s.append(s[pos:a])
                out_st.extend(st[pos:a])
                out_en.extend(en[pos:a])
                out_fl.extend(fl[pos:a])
            moved.append((a, len(out_st)))
            if linear:
                out_s.append(repl)
                out_st.extend(st[a:b])
                out_en.extend(en[a:b])
                out_fl.extend(f | flag for f in fl[a:b])
            else:
                if a < b:
                    o_start, o_end = st[a], en[b - 1]
                    mask = flag
                    for f in fl[a:b]:
                        mask |= f
                else:  # insertion: zero-width at the boundary
                    o_start = o_end = st[a] if a < n else (en[n - 1] if n else 0)
                    mask = flag
                k = len(repl)
                out_s.append(repl)
                out_st.extend([o_start] * k)
                out_en.extend([o_end] * k)
                out_fl.extend([mask] * k)
            pos = b
            moved.append((b, len(out_st)))
        if pos < n:
            out_s.append(s[pos:])
            out_st.extend(st[pos:])
            out_en.extend(en[pos:])
            out_fl.extend(fl[pos:])
        if self.run_together:
            self.run_together = [(_remap(a, moved), _remap(b, moved)) for a, b in self.run_together]
        self.s = "".join(out_s)
        self.starts, self.ends, self.flags = out_st, out_en, out_fl

    def mark_run_together(self, a: int, b: int) -> None:
        self.run_together.append((a, b))


def _remap(pos: int, moved: list[tuple[int, int]]) -> int:
    """New position of an old position, given the anchors recorded by apply()."""
    delta = 0
    for old, new in moved:
        if old > pos:
            break
        delta = new - old
    return pos + delta


# --- steps ----------------------------------------------------------------------
_TAG = re.compile(r"</?[A-Za-z!][^<>]{0,2000}>")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _markup(buf: _Buf) -> None:
    s = buf.s
    if "<" not in s and "&" not in s:
        return
    edits = []
    for m in _TAG.finditer(s):
        edits.append((m.start(), m.end(), " ", MARKUP, False))
    taken = [(a, b) for a, b, *_ in edits]
    for m in _ENTITY.finditer(s):
        if any(a <= m.start() < b for a, b in taken):
            continue
        decoded = html.unescape(m.group())
        if decoded == m.group():
            continue
        edits.append((m.start(), m.end(), decoded, MARKUP, False))
    edits.sort()
    buf.apply(edits)


_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_URL_WORD = re.compile(r"[^\W_]{6,}")


def _urls(buf: _Buf, whole_is_url: bool) -> None:
    """Decode percent-escapes; let terms match inside run-together URL words."""
    s = buf.s
    spans = [(0, len(s))] if whole_is_url else [m.span() for m in _URL.finditer(s)]
    if not spans:
        return
    edits = []
    for a, b in spans:
        for m in _PERCENT_RUN.finditer(s, a, b):
            raw = bytes.fromhex(m.group().replace("%", ""))
            decoded = raw.decode("utf-8", errors="replace").replace("\ufffd", " ")
            edits.append((m.start(), m.end(), decoded, URL, False))
    buf.apply(edits)
    s = buf.s
    spans = [(0, len(s))] if whole_is_url else [m.span() for m in _URL.finditer(s)]
    for a, b in spans:
        for m in _URL_WORD.finditer(s, a, b):
            buf.mark_run_together(m.start(), m.end())
        for i in range(a, b):
            buf.flags[i] |= URL


_HASHTAG = re.compile(r"#([^\W_][\w]*)")
_CAMEL = regex.compile(r"(?<=\p{Ll}\p{M}*)(?=\p{Lu}\p{Ll})")


def _hashtags_and_camel_case(buf: _Buf) -> None:
    s = buf.s
    edits = []
    run_together = []
    for m in _HASHTAG.finditer(s):
        word = m.group(1)
        edits.append((m.start(), m.start() + 1, " ", HASHTAG, False))
        a = m.start(1)
        cuts = [c.start() for c in _CAMEL.finditer(word)]
        if cuts:
            for c in cuts:
                edits.append((a + c, a + c, " ", HASHTAG | CAMEL_CASE, False))
        else:
            run_together.append((a, m.end()))
        for i in range(a, m.end()):
            buf.flags[i] |= HASHTAG
    hashtag_spans = [(m.start(), m.end()) for m in _HASHTAG.finditer(s)]
    for m in _CAMEL.finditer(s):
        p = m.start()
        if any(a <= p < b for a, b in hashtag_spans):
            continue
        edits.append((p, p, " ", CAMEL_CASE, False))
        buf.flags[p] |= CAMEL_CASE
        if p > 0:
            buf.flags[p - 1] |= CAMEL_CASE
    edits.sort(key=lambda e: (e[0], e[1]))
    # Record run-together ranges in old coordinates; apply() remaps them.
    for a, b in run_together:
        buf.mark_run_together(a, b)
    buf.apply(edits)


_SEP = r"[ \t._\-*·•/\\|+~:,'\"=]{1,3}"
_LETTER = r"[^\W_]"
_SPACED = re.compile(rf"(?<![^\W_]){_LETTER}(?P<sep>{_SEP}){_LETTER}(?:(?P=sep){_LETTER})+(?![^\W_])")
_SPACED_PAIR = re.compile(
    rf"(?<![^\W_]|[._\-*·•/\\|+~:]){_LETTER}(?P<sep>{_SEP}){_LETTER}(?![^\W_]|[._\-*·•/\\|+~:][^\W_])"
)


def _spelled_out(chunk: str) -> bool:
    letters = [c for c in chunk if c.isalnum()]
    return (
        any(c.isalpha() for c in letters)
        and not any(_is_scriptio_continua(c) or is_thai(c) for c in letters)  # CJK: tokens of their own anyway
    )


def _separators(buf: _Buf) -> None:
    """Join letters written one at a time: i.v.o.r.y, i v o r y, E-l-f-e-n.

    A two-letter word is joined only when the text also spells a longer
    word that way with the same mark ("t.e g.i.a.c"): alone, "e.g" is not one.
    """
    s = buf.s
    edits = []
    runs = [m for m in _SPACED.finditer(s) if _spelled_out(m.group())]
    marks = {m.group("sep") for m in runs if m.group("sep").strip()}
    pairs = [m for m in _SPACED_PAIR.finditer(s) if m.group("sep") in marks and _spelled_out(m.group())]
    for m in sorted(runs + pairs, key=lambda m: m.start()):
        chunk = m.group()
        letters = [(i, c) for i, c in enumerate(chunk, m.start()) if c.isalnum()]
        # Drop every separator between the letters.
        for (i, _), (j, _) in itertools.pairwise(letters):
            if j > i + 1:
                edits.append((i + 1, j, "", SEPARATORS, False))
        for i, _ in letters:
            buf.flags[i] |= SEPARATORS
    buf.apply(edits)


_LEET_MAP = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"}
_LEET_WORD = re.compile(
    r"[0-9@$!|A-Za-z\u00c0-\u024f\u1e00-\u1eff]*[0-9@$!|][0-9@$!|A-Za-z\u00c0-\u024f\u1e00-\u1eff]*"
)
_CURRENCY_AMOUNT = re.compile(r"(?:us|au|a|c|nz|hk|s|r|nt|rm|rp|sg|mx)\$?[0-9]+", re.IGNORECASE)
_DIGIT_RUN = re.compile(r"[0-9@$!|]+")


def _leet(buf: _Buf) -> None:
    """Read digits and symbols as letters inside words that mix them.

    Where a digit sits between letters ("1v0ry", "rh1n0", "t00th") the word
    is leet and every digit in it is read as a letter. One or two digits only
    at a word's edge ("1vory", "ca7", "31efant", but also "3juta", "mp3") may
    be either, so they are kept and flagged: the matcher tries the letters
    where that makes a term's word. Longer numbers at an edge ("500kr",
    "1950s"), digits that stand for no letter ("12weeks") and amounts
    ("us$260") are numbers. "!", "$" and "|" count only between letters.
    """
    s = buf.s
    edits = []
    for m in _LEET_WORD.finditer(s):
        word = m.group()
        if not any(c.isalpha() for c in word) or _CURRENCY_AMOUNT.fullmatch(word):
            continue
        runs = list(_DIGIT_RUN.finditer(word))
        inner = [r for r in runs if r.start() > 0 and r.end() < len(word)]
        if inner:
            cands = [i for i, c in enumerate(word) if c in _LEET_MAP]
            mapped = [_LEET_MAP[c] if i in cands else c for i, c in enumerate(word)]
            # Symbols only between letters ("left!" and "$45" are not words).
            cands = [
                i
                for i in cands
                if word[i] not in "!$|"
                or (0 < i < len(word) - 1 and mapped[i - 1].isalpha() and mapped[i + 1].isalpha())
            ]
            if not cands:
                continue
            repl = "".join(_LEET_MAP[c] if i in cands else c for i, c in enumerate(word))
            edits.append((m.start(), m.end(), repl, 0, True))
            for i in cands:
                buf.flags[m.start() + i] |= LEET
        elif all(r.end() - r.start() <= 2 and all(c in "013457@" for c in r.group()) for r in runs):
            # "@" at a word's edge is an "a" ("ng@"); digits there may be letters.
            if "@" in word:
                edits.append((m.start(), m.end(), word.replace("@", "a"), 0, True))
            for r in runs:
                for i in range(r.start(), r.end()):
                    buf.flags[m.start() + i] |= LEET if word[i] == "@" else LEET_MAYBE
    buf.apply(edits)


def _fold_fast(buf: _Buf) -> None:
    """Case, accents and punctuation for text made only of common characters."""
    s = buf.s
    folded = s.translate(_FAST_TABLE)
    if any(c in _ACCENTED for c in s):
        fl = buf.flags
        for i, c in enumerate(s):
            if c in _ACCENTED:
                fl[i] |= DIACRITICS
    buf.s = folded


def _fold_slow(buf: _Buf) -> None:
    """Character by character: NFKC, invisibles, marks, look-alikes, CJK, emoji."""
    s, st, en, fl = buf.s, buf.starts, buf.ends, buf.flags
    out_s: list[str] = []
    out_st: list[int] = []
    out_en: list[int] = []
    out_fl: list[int] = []
    newpos = [0] * (len(s) + 1)  # old index -> new index, to move run-together ranges
    pending = 0  # flags owed to the next emitted character (removed invisibles)
    marks_on_base = 0
    for i, ch in enumerate(s):
        newpos[i] = len(out_s)
        a, b, f = st[i], en[i], fl[i] | pending
        fast = _FAST_TABLE.get(ord(ch))
        if fast is not None:
            out_s.append(fast)
            out_st.append(a)
            out_en.append(b)
            out_fl.append(f | DIACRITICS if ch in _ACCENTED else f)
            pending = marks_on_base = 0
            continue
        cat = unicodedata.category(ch)
        if cat in ("Mn", "Me", "Mc"):
            marks_on_base += 1
            prev = out_s[-1] if out_s else " "
            if prev != " " and (prev.isascii() or _script(prev) in _LATINISH or marks_on_base > 3):
                # An accent (or Zalgo noise) on a Latin-like letter: drop it,
                # but let the letter's span cover it. A mark that composes with
                # the letter is an accent; one that does not (a stroke
                # overlay) or a pile of them is noise.
                accent = marks_on_base <= 2 and len(unicodedata.normalize("NFC", prev + ch)) == 1
                out_en[-1] = b
                out_fl[-1] |= DIACRITICS if accent else NOISE_MARKS
                continue
            if prev != " ":
                composed = unicodedata.normalize("NFC", prev + ch)
                if len(composed) == 1:
                    out_s[-1] = composed
                    out_en[-1] = b
                    continue
                if is_thai(prev) or _script(prev) not in ("", "LATIN"):
                    out_s.append(ch)  # Thai vowels, Indic signs: part of the word
                    out_st.append(a)
                    out_en.append(b)
                    out_fl.append(f)
                    continue
            pending |= NOISE_MARKS
            continue
        if cat in _INVISIBLE_CATEGORIES or _VARIATION.match(ch):
            pending |= INVISIBLE
            continue
        pending = marks_on_base = 0
        compat = unicodedata.normalize("NFKC", ch)
        if compat != ch:
            f |= COMPAT
        for c in compat.casefold():
            c_fast = _FAST_TABLE.get(ord(c))
            c_cat = unicodedata.category(c)
            if c_fast is not None:
                out_s.append(c_fast)
                if c in _ACCENTED:
                    f |= DIACRITICS
            elif c_cat in ("Mn", "Me", "Mc"):
                continue  # a mark NFKC split off a symbol (゛, 𝅗𝅥): nothing to read
            elif _is_scriptio_continua(c) or _is_emoji(c) or c_cat == "So":
                # A token of its own: spaces around it.
                out_s.extend((" ", c, " "))
                out_st.extend((a, a))
                out_en.extend((b, b))
                out_fl.extend((f, f))
            elif c.isalpha() or c.isdigit():
                folded, extra = _fold_char(c)
                out_s.append(folded)
                f |= extra
            elif c_cat.startswith(("P", "Z", "S", "C")):
                out_s.append(" ")
            else:
                out_s.append(c)
            out_st.append(a)
            out_en.append(b)
            out_fl.append(f)
    newpos[len(s)] = len(out_s)
    buf.s = "".join(out_s)
    buf.starts, buf.ends, buf.flags = out_st, out_en, out_fl
    buf.run_together = [(newpos[a], newpos[b]) for a, b in buf.run_together]
    _fold_lookalikes(buf)


_NON_ASCII_WORD = re.compile(r"[^\W\d_]*[^\x00-\x7f][^\W\d_]*")


def _fold_lookalikes(buf: _Buf) -> None:
    """Fold Cyrillic/Greek look-alikes inside words that mix them with Latin.

    A word wholly in another script is genuine text and is left alone, unless
    the text around it is mostly Latin and every letter of the word has a
    Latin twin (a whole-word disguise in an otherwise Latin ad). Mixed words
    are folded first, so they count as Latin when the majority is taken.
    """
    table = _confusables()
    for whole_words in (False, True):
        s = buf.s
        words = [m for m in _NON_ASCII_WORD.finditer(s) if any(c in table for c in m.group())]
        if not words or (whole_words and not _latin_majority(s)):
            return
        edits = []
        for m in words:
            word = m.group()
            mixed = any(c.isascii() for c in word)
            if mixed == whole_words:
                continue
            if whole_words and not all(c in table or c.isascii() for c in word):
                continue
            edits.append((m.start(), m.end(), "".join(table.get(c, c) for c in word), 0, True))
            for i, c in enumerate(word, m.start()):
                if c in table:
                    buf.flags[i] |= HOMOGLYPH
        buf.apply(edits)


_REPEAT = re.compile(r"([^\W\d_])\1+")


def _squeeze(buf: _Buf) -> None:
    """Squeeze a run of one letter to a single letter (terms are squeezed too)."""
    s = buf.s
    edits = []
    for m in _REPEAT.finditer(s):
        ch = m.group(1)
        if _is_scriptio_continua(ch) or is_thai(ch):
            continue
        a, b = m.span()
        flag = STRETCHED if b - a >= 3 else 0
        # Keep the first character's own span, extended over the run.
        edits.append((a, b, ch, flag, False))
    buf.apply(edits)


_SPACES = re.compile(r" {2,}|^ +| +$")


def _collapse_spaces(buf: _Buf) -> None:
    s = buf.s
    edits = []
    for m in _SPACES.finditer(s):
        a, b = m.span()
        if a == 0 or b == len(s):
            edits.append((a, b, "", 0, False))
        else:
            edits.append((a + 1, b, "", 0, False))
    buf.apply(edits)


_STRAY_MARKS = regex.compile(r"(?<=[a-z0-9])\p{M}+")
_SINGLES = re.compile(r"(?<![^\W_])[^\W_](?: [^\W_]){2,}(?![^\W_])")


def _join_single_letters(buf: _Buf) -> None:
    """Letters left standing one by one after folding ("a.b c.d") become a word.

    The separator step joins runs with one consistent separator; this catches
    the rest, so folding folded text changes nothing.
    """
    s = buf.s
    edits = []
    for m in _SINGLES.finditer(s):
        chars = m.group()[::2]
        if chars.isdigit() or any(_is_scriptio_continua(c) or is_thai(c) or not c.isalnum() for c in chars):
            continue
        for i in range(m.start() + 1, m.end(), 2):
            edits.append((i, i + 1, "", SEPARATORS, False))
    buf.apply(edits)


_ASCII_LETTERS = str.maketrans("", "", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _latin_majority(text: str) -> bool:
    latin = len(text) - len(text.translate(_ASCII_LETTERS))
    other = 0
    for c in _NON_ASCII.findall(text):  # only these need a script lookup
        if c.isalpha():
            if _script(c) == "LATIN":
                latin += 1
            else:
                other += 1
    return latin > other


def normalize(text: str, *, is_url: bool = False, as_shown: bool = True) -> Normalized:
    """Fold `text` for matching; see the module docstring for the steps.

    `as_shown` reads text under a right-to-left override in the order it is
    shown; without it, in the order it is stored (callers check both).
    """
    buf = _Buf.of(text)
    _markup(buf)
    fast = _NOT_FAST.search(buf.s) is None
    if not fast:
        # Invisible characters must go before letters are regrouped into words.
        _strip_invisible_and_compat(buf, as_shown)
    _urls(buf, is_url)
    # Letters spaced out first ("L.a.M.a.n.c.h.a"), so CamelCase sees the word.
    if _SPACED.search(buf.s):
        _separators(buf)
    if "#" in buf.s or _CAMEL.search(buf.s):
        _hashtags_and_camel_case(buf)
    if any(c in buf.s for c in "0123457@$!|"):
        _leet(buf)
    if fast and _NOT_FAST.search(buf.s) is None:
        _fold_fast(buf)
    else:
        _fold_slow(buf)
    _collapse_spaces(buf)
    # Folding can leave what the earlier steps look for (letters standing
    # one by one, a digit next to letters); a second look makes folding
    # idempotent: folded text folds to itself.
    _squeeze(buf)
    _join_single_letters(buf)
    if any(c in buf.s for c in "0123457@$"):
        _leet(buf)
    if not buf.s.isascii():
        _fold_lookalikes(buf)
        # A mark left on a letter that turned Latin ("〇̀" -> "ò") goes too.
        buf.apply([(m.start(), m.end(), "", NOISE_MARKS, False) for m in _STRAY_MARKS.finditer(buf.s)])
    _squeeze(buf)
    readings = []
    for i, f in enumerate(buf.flags):
        if f & LEET_MAYBE and buf.s[i].isdigit():
            readings.append((i, _leet_readings(buf.s[i])))
        elif f & LEET and "1" in (written := text[buf.starts[i] : buf.ends[i]]):
            # A "1" read as "i" may have been an "l" ("s1ow"); after squeezing,
            # the one character may stand for "1i" ("p4ngo1in").
            readings.append((i, ("".join(c for c in written.lower().replace("1", "l") if c.isalpha()),)))
    run_together = sorted((a, b) for a, b in buf.run_together if a < b)
    return Normalized(buf.s, buf.starts, buf.ends, buf.flags, text, run_together, readings)


def _leet_readings(digit: str) -> tuple[str, ...]:
    return ("i", "l") if digit == "1" else (_LEET_MAP.get(digit, digit),)


_RLO = re.compile("\u202e([^\u202a-\u202e\u2066-\u2069\n]*)(?:\u202c|$)")


def _strip_invisible_and_compat(buf: _Buf, as_shown: bool = True) -> None:
    """Remove invisible characters and apply NFKC, keeping case for CamelCase.

    Text under a right-to-left override is shown backwards, so "\u202eyrovi"
    reads "ivory" on screen: it is reversed here to read as it is shown.
    """
    if as_shown and "\u202e" in buf.s:
        buf.apply(
            [(m.start(), m.end(), m.group(1)[::-1], BIDI_OVERRIDE | INVISIBLE, False) for m in _RLO.finditer(buf.s)]
        )
    s, fl = buf.s, buf.flags
    edits = []
    pending_at: list[int] = []
    for i, ch in enumerate(s):
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\x0b\x0c":
            continue
        if cat in _INVISIBLE_CATEGORIES or _VARIATION.match(ch):
            edits.append((i, i + 1, "", INVISIBLE, False))
            pending_at.append(i + 1)
            continue
        if ch.isascii():
            continue
        compat = unicodedata.normalize("NFKC", ch)
        if compat != ch and (compat.isalnum() or compat in "@$!|"):
            edits.append((i, i + 1, compat, COMPAT, len(compat) == 1))
    for p in pending_at:
        if p < len(s):
            fl[p] |= INVISIBLE
        if p - 2 >= 0:
            fl[p - 2] |= INVISIBLE
    buf.apply(edits)


_HAN_KANA = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CONTINUOUS = re.compile(
    "[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0003134f]"
)
_PLAIN_TERM = re.compile(r"[^\W\d_]+(?:[ '\-][^\W\d_]+)*")


@lru_cache(maxsize=65536)
def fold_term(term: str) -> str:
    """The matching key for a lexicon term: the same folding as ad text.

    Most terms are plain words in one case style; they take a short cut that
    gives the same result as `normalize` (a test holds the two together).
    """
    if (
        _NOT_FAST.search(term) is None
        and _PLAIN_TERM.fullmatch(term)
        and not _CAMEL.search(term)
        and not _SPACED.search(term)
    ):
        folded = term.translate(_FAST_TABLE)
        if _REPEAT.search(folded):  # most terms have no doubled letter: skip the substitution
            folded = _REPEAT.sub(r"\1", folded)
        return " ".join(folded.split())
    if _HAN_KANA.fullmatch(term):
        return " ".join(term)  # every character a token of its own
    return normalize(term).text
