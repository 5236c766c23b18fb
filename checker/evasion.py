"""Disguise a term the way traffickers do, one family of variants per tactic,
and measure how many disguises the matcher still sees.

    python -m checker.evasion [--policies DIR] [--sample N]

prints, per tactic: variants tried, caught (the disguised term still hits
its own concept), and false hits (new hits when the same tactic is applied
to benign text). The test suite asserts the same figures.
"""

from __future__ import annotations

import argparse
import random
import string
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

from .document import build_documents
from .lexicon import MIN_FUZZY, Term
from .match import Matcher
from .normalize import fold_term

# Cyrillic and Greek letters that look like Latin ones (a subset of TR39).
LOOKALIKES = {
    "a": "а",
    "c": "с",
    "e": "е",
    "i": "і",
    "j": "ј",
    "o": "о",
    "p": "р",
    "s": "ѕ",
    "x": "х",
    "y": "у",
    "h": "һ",
    "v": "ν",
    "k": "κ",
    "t": "τ",
    "n": "ո",
    "u": "υ",
    "d": "ԁ",
    "l": "ӏ",
}
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "l": "1"}
INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u202c"]
SEPARATORS = [".", "-", "_", "*", " "]
CARRIERS = {
    "default": "Look at this {} today",
    "zh": "这是{}的照片",
    "ja": "これは{}です",
    "th": "นี่คือ{}ครับ",
}

TACTICS = (
    "lookalike",
    "leet",
    "separators",
    "invisible",
    "stretching",
    "hashtag",
    "emoji",
    "misspelling",
    "inflection",
    "url",
)


@dataclass(slots=True)
class Variant:
    tactic: str
    text: str  # the disguised term
    field: str = "body"  # where it goes: body, or landing_url for the url tactic


def _latin_word(term: str) -> bool:
    return any(c.isascii() and c.isalpha() for c in term)


def _letters(term: str) -> list[int]:
    return [i for i, c in enumerate(term) if c.isascii() and c.isalpha()]


def lookalike(term: str, rng: random.Random) -> Iterator[str]:
    idx = [i for i in _letters(term) if term[i].lower() in LOOKALIKES]
    if not idx:
        return
    for k in {1, max(1, len(idx) // 2)}:
        chosen = set(rng.sample(idx, k))
        yield "".join(LOOKALIKES[c.lower()] if i in chosen else c for i, c in enumerate(term))


def leet(term: str, rng: random.Random) -> Iterator[str]:
    words = term.split(" ")
    idx = [i for i in _letters(term) if term[i].lower() in LEET]
    letters = _letters(term)
    if not idx or len(letters) < 3:
        return
    # At most a third of each word's letters, so the word stays a word.
    chosen: set[int] = set()
    offset = 0
    for w in words:
        in_word = [i for i in idx if offset <= i < offset + len(w)]
        n_letters = sum(c.isascii() and c.isalpha() for c in w)
        if in_word and n_letters >= 3:
            chosen |= set(rng.sample(in_word, max(1, min(len(in_word), n_letters // 3))))
        offset += len(w) + 1
    # No more than two digits in a row: "5731nnus" is a number, not a word.
    chosen = {i for i in chosen if not {i - 1, i - 2} <= chosen}
    if not chosen:
        return
    # Two equal digits side by side read as one stretched letter ("p4ngo11n"):
    # keep only one of each such pair.
    chosen = {i for i in chosen if not (i - 1 in chosen and LEET[term[i - 1].lower()] == LEET[term[i].lower()])}
    out = "".join(LEET[c.lower()] if i in chosen else c for i, c in enumerate(term))
    if all(sum(ch.isalpha() for ch in w) >= 2 for w in out.split(" ")) and len(words) == len(out.split(" ")):
        yield out


def separators(term: str, rng: random.Random) -> Iterator[str]:
    term = "".join(c if c.isalnum() else " " for c in term)
    for sep in SEPARATORS:
        words = term.split(" ")
        if any(len(w) < 3 for w in words) and sep == " ":
            continue
        if all(len(w) >= 3 for w in words):
            yield " ".join(sep.join(w) for w in words) if sep != " " else sep.join(term.replace(" ", ""))


def invisible(term: str, rng: random.Random) -> Iterator[str]:
    if len(term) < 2:
        return
    for ch in INVISIBLES[:4] + INVISIBLES[4:6]:
        pos = rng.randrange(1, len(term))
        if term[pos - 1] == " " or term[pos] == " ":
            continue
        yield term[:pos] + ch + term[pos:]


def stretching(term: str, rng: random.Random) -> Iterator[str]:
    if not _latin_word(term):
        return
    yield "".join(c * 3 if c.isalpha() else c for c in term)
    idx = [i for i, c in enumerate(term) if c.isalpha()]
    i = rng.choice(idx)
    yield term[:i] + term[i] * 4 + term[i + 1 :]


def hashtag(term: str, rng: random.Random) -> Iterator[str]:
    words = [
        "".join(c for c in w if c.isalnum() or unicodedata.category(c).startswith("M"))
        for w in term.replace("'", " ").replace("-", " ").split(" ")
    ]
    words = [w for w in words if w]
    if _latin_word(term):
        yield "#" + "".join(w[:1].upper() + w[1:] for w in words) + "ForSale"
        yield "#" + "".join(words).lower()
    else:
        yield "#" + "".join(words)


def misspelling(term: str, rng: random.Random) -> Iterator[str]:
    if " " in term or not term.isalpha() or len(term) < MIN_FUZZY or not _latin_word(term):
        return
    i = rng.randrange(1, len(term) - 1)
    yield term[:i] + term[i] + term[i:]  # a letter doubled ("pangolinn")
    # A letter missing; not one whose neighbours are equal ("puppies" -> "pppies"
    # would read as a stretched "p").
    gaps = [j for j in range(1, len(term) - 1) if term[j - 1].lower() != term[j + 1].lower()]
    if gaps:
        i = rng.choice(gaps)
        yield term[:i] + term[i + 1 :]
    j = rng.randrange(1, len(term) - 1)
    yield term[:j] + term[j + 1] + term[j] + term[j + 2 :]  # two letters swapped
    k = rng.randrange(1, len(term))
    # A changed letter that equals a neighbour would read as a stretched letter.
    neighbours = {term[k - 1].lower(), term[k + 1].lower() if k + 1 < len(term) else ""}
    repl = next(c for c in "eaoiu" if c != term[k] and c not in neighbours)
    yield term[:k] + repl + term[k + 1 :]  # a letter changed


def inflection(term: str, suffixes: list[str]) -> Iterator[str]:
    for s in suffixes:
        # An ending starting with the term's last letter makes a double that
        # real inflection would not ("klo" + "or"): not a word anyone writes.
        if term and s[0] != term[-1].lower():
            yield term + s


def url(term: str, rng: random.Random) -> Iterator[str]:
    path = "-".join(term.split(" "))
    yield f"https://shop.example.com/products/{quote(path)}-for-sale?ref=ad"
    yield f"https://www.example.com/p?item={quote(term)}"


@dataclass
class TacticScore:
    tried: int = 0
    caught: int = 0
    false_hits: int = 0
    benign_tried: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.caught / self.tried if self.tried else 1.0


def _hits(matcher: Matcher, submission: dict) -> list:
    return [h for d in build_documents(submission) for h in matcher.find(d)]


def _carrier(term: Term) -> str:
    return CARRIERS.get(term.lang or "", CARRIERS["default"])


def variants(term: Term, suffixes: dict[str, list[str]], rng: random.Random, emoji_of: dict) -> Iterator[Variant]:
    text = unicodedata.normalize("NFC", term.text)
    latin = _latin_word(text)
    families: dict[str, Callable[..., Iterator[str]]] = {
        "lookalike": lookalike,
        "leet": leet,
        "separators": separators,
        "invisible": invisible,
        "stretching": stretching,
        "hashtag": hashtag,
        "misspelling": misspelling,
        "url": url,
    }
    for tactic, fn in families.items():
        if tactic in ("lookalike", "leet", "separators", "url") and not latin:
            continue
        if tactic == "misspelling" and not term.fuzzy:
            continue
        for v in fn(text, rng):
            yield Variant(tactic, v)
    if term.lang in suffixes and term.kind == "word":
        for v in inflection(text, suffixes[term.lang]):
            yield Variant("inflection", v)
    for e in emoji_of.get(term.entry, ()):
        yield Variant("emoji", e)


CHUNK = 40  # variants checked together in one document
SEPARATOR = " xqzx "  # a token no term contains: variants cannot join up across it


def measure(
    matcher: Matcher,
    terms: list[Term],
    suffixes: dict[str, list[str]],
    benign_texts: list[str],
    seed: int = 7,
    sample: int | None = None,
    checker=None,
) -> dict[str, TacticScore]:
    """Catch rate per tactic over `terms`; false hits over `benign_texts`.

    A variant is caught when the disguised term still produces a hit of its
    own concept. Variants are checked forty to a document (separated by a
    token no term contains) and each hit is credited to the variant whose
    span it lies in.

    An emoji in a benign text does name its animal ("🐯 Balm" is no longer the
    brand): for emoji a false hit is a changed verdict (with `checker`), not a
    new hit.
    """
    rng = random.Random(seed)
    scores = {t: TacticScore() for t in TACTICS}
    emoji_of: dict = {}
    for t in terms:
        if t.kind == "emoji":
            emoji_of.setdefault(t.entry, []).append(t.text)
    # Negations are grammar, not something a trafficker disguises.
    words = [t for t in terms if t.kind != "emoji" and not t.joined and not t.stem and t.entry.lexicon != "negations"]
    # Benign texts get the emoji of the words they hold ("Tiger Balm" → "🐯 Balm").
    emoji_for_word = {t.text.lower(): emoji_of[t.entry][0] for t in words if t.entry in emoji_of and " " not in t.text}
    if sample is not None and sample < len(words):
        words = rng.sample(words, sample)
    emoji_done = set()
    queue: list[tuple[Term, Variant]] = []
    for term in words:
        for v in variants(term, suffixes, rng, emoji_of):
            if v.tactic == "emoji":
                if (term.entry, v.text) in emoji_done:
                    continue
                emoji_done.add((term.entry, v.text))
            if v.tactic == "misspelling" and fold_term(v.text) in matcher.common_words:
                continue  # that spelling is another word, not a disguise
            queue.append((term, v))
    for i in range(0, len(queue), CHUNK):
        _check_chunk(matcher, queue[i : i + CHUNK], scores)
    for text in benign_texts:
        plain = {(h.entry.lexicon, h.entry.concept) for h in _hits(matcher, {"body": text})}
        for tactic, disguised in disguise_text(text, rng, emoji_for_word if checker else None):
            s = scores[tactic]
            s.benign_tried += 1
            sub = {"landing_url": disguised} if tactic == "url" else {"body": disguised}
            if tactic == "emoji":
                before = checker.check({"advertiser_id": "evasion", "body": text}).decision
                after = checker.check({"advertiser_id": "evasion", **sub}).decision
                if after != before:
                    s.false_hits += 1
                    s.misses.append(f"FALSE HIT {before} → {after} in {disguised!r}")
                continue
            new = {(h.entry.lexicon, h.entry.concept) for h in _hits(matcher, sub)} - plain
            # Benign contexts and shields appearing is not a false hit; cues are not either.
            if any(lex not in ("benign", "names", "negations", "cues") for lex, _ in new):
                s.false_hits += 1
                if len(s.misses) < 40:
                    s.misses.append(f"FALSE HIT {sorted(new)} in {disguised!r}")
    return scores


def _check_chunk(matcher: Matcher, chunk: list[tuple[Term, Variant]], scores: dict[str, TacticScore]) -> None:
    parts, spans = [], []
    pos = 0
    for term, v in chunk:
        text = _carrier(term).format(v.text)
        if parts:
            pos += len(SEPARATOR)
        spans.append((pos, pos + len(text)))
        parts.append(text)
        pos += len(text)
    body = SEPARATOR.join(parts)
    caught = [set() for _ in chunk]
    for doc in build_documents({"body": body}):
        for h in matcher.find(doc):
            for piece in doc.pieces(h.start, h.end):
                for k, (a, b) in enumerate(spans):
                    if a <= piece.start < b:
                        caught[k].add(h.entry)
    for (term, v), found in zip(chunk, caught, strict=True):
        s = scores[v.tactic]
        s.tried += 1
        if term.entry in found:
            s.caught += 1
        elif len(s.misses) < 20:
            s.misses.append(v.text)


def disguise_text(text: str, rng: random.Random, emoji_for_word: dict | None = None) -> Iterator[tuple[str, str]]:
    """Apply each tactic to the words of a benign text."""
    words = text.split(" ")
    emoji_for_word = emoji_for_word or {}

    def each(fn) -> str:
        out = []
        for w in words:
            vs = list(fn(w, rng)) if len(w) >= 3 else []
            out.append(vs[0] if vs else w)
        return " ".join(out)

    yield "lookalike", each(lookalike)
    yield "leet", each(leet)
    yield "separators", " ".join(next(iter(separators(w, rng)), w) if len(w) >= 3 else w for w in words)
    yield "invisible", each(invisible)
    yield "stretching", each(stretching)
    # Hashtags as advertisers write them: pairs of words run together.
    # Numbers stand as tags of their own ("#1kg"), not glued to a word.
    tags = [t for t in (w.strip(string.punctuation) for w in words) if t.isalnum()]
    pairs: list[list[str]] = []
    for t in tags:
        if pairs and len(pairs[-1]) < 2 and t.isalpha() and pairs[-1][0].isalpha():
            pairs[-1].append(t)
        else:
            pairs.append([t])
    yield "hashtag", " ".join("#" + "".join(w[:1].upper() + w[1:] for w in p) for p in pairs)
    yield "hashtag", " ".join("#" + "".join(p).lower() for p in pairs)
    emoji = [emoji_for_word.get(w.strip(string.punctuation).lower()) for w in words]
    if any(emoji):
        # The word replaced by its emoji, and the emoji added as decoration.
        yield "emoji", " ".join(e or w for w, e in zip(words, emoji, strict=True))
        yield "emoji", " ".join(f"{w} {e}" if e else w for w, e in zip(words, emoji, strict=True))
    yield "misspelling", each(misspelling)
    yield "inflection", " ".join([*words[:-1], words[-1] + "s"]) if words[-1].isalpha() else text
    yield "url", "https://shop.example.com/" + "-".join(quote(w) for w in words)


def report(scores: dict[str, TacticScore]) -> str:
    lines = [f"{'tactic':<12}{'tried':>7}{'caught':>8}{'rate':>8}{'benign':>8}{'false':>7}"]
    for tactic, s in scores.items():
        lines.append(f"{tactic:<12}{s.tried:>7}{s.caught:>8}{s.rate:>8.3f}{s.benign_tried:>8}{s.false_hits:>7}")
    return "\n".join(lines)


def main() -> None:
    from pathlib import Path

    from .bundle import load_bundle
    from .evaluate import Checker
    from .lexicon import compile_terms

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policies", default=str(Path(__file__).resolve().parent.parent / "policies"))
    ap.add_argument("--sample", type=int, default=None, help="only N random terms")
    ap.add_argument("--misses", action="store_true", help="print missed variants and false hits")
    args = ap.parse_args()
    bundle = load_bundle(args.policies, run_examples=False)
    terms, _ = compile_terms(bundle.lexicons, bundle.languages)
    suffixes = {code: sorted(lang.suffixes) for code, lang in bundle.languages.items() if lang.suffixes}
    scores = measure(
        bundle.matcher, terms, suffixes, benign_corpus(bundle), sample=args.sample, checker=Checker(bundle)
    )
    print(report(scores))
    if args.misses:
        for tactic, s in scores.items():
            for m in s.misses:
                print(f"{tactic}: {m!r}")


def benign_corpus(bundle) -> list[str]:
    """Our own benign sentences plus every rule's no_match examples."""
    from pathlib import Path

    path = Path(bundle.path).parent / "tests" / "data" / "benign_corpus.txt"
    texts = []
    if path.exists():
        texts = [
            line.strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
    for rule in bundle.rules:
        for ex in rule.examples["no_match"]:
            if isinstance(ex, str):
                texts.append(ex)
            else:
                texts.extend(v for k, v in ex.items() if k in ("headline", "body") and isinstance(v, str))
    return texts


if __name__ == "__main__":
    main()
