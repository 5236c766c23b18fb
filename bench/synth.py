"""Synthetic vocabularies: the real bundle plus N generated lexicon terms.

The terms are pronounceable pseudo-words (and some two-word phrases) in the
Latin-script languages of languages.json, four languages to an entry, so
they get the same treatment as real terms: inflection endings, compounds in
Swedish and German, stems in Italian and Swedish, misspelling correction for
single words of six letters or more. None equals a common word.

Where the terms go decides what is measured:

    unused  a list no rule refers to ("bench-synthetic"). The matcher does
            not know which lists rules use, so every term is still searched,
            its raw occurrences still checked, its misspellings still
            corrected and its hits still handed to every rule: this is the
            cost of a bigger vocabulary with the verdicts unchanged. This is
            the variant the target (<= 1.5x) is judged on.
    used    the list "animal", which the live-animal-offer rule pairs with a
            sale cue. Same cost, plus whatever extra hits change: compounds
            and misspelling corrections that land on a pseudo-word now count
            as animals. It shows what a large vocabulary does to verdicts
            (the count of changed decisions), not only to time.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
LANGS = ("en", "sv", "de", "fr", "es", "it", "pt", "id")
LISTS = {"unused": ["bench-synthetic"], "used": ["animal"]}
_SYLLABLES = [
    "ba",
    "ko",
    "ri",
    "sta",
    "mel",
    "dor",
    "vin",
    "qua",
    "tre",
    "lo",
    "zen",
    "pa",
    "gri",
    "mu",
    "shi",
    "fa",
    "nel",
    "ost",
    "ul",
    "ka",
    "tor",
    "ven",
    "bri",
    "sa",
    "plo",
    "dri",
    "ne",
    "xa",
    "ju",
    "che",
    "lim",
    "oru",
    "pe",
    "sko",
    "tha",
    "gam",
    "wel",
    "fi",
    "dro",
    "nak",
]


def _common_words(source: Path = POLICIES) -> set[str]:
    words: set[str] = set()
    for f in (source / "common-words").glob("*.txt"):
        words |= {w.strip().casefold() for w in f.read_text(encoding="utf-8").splitlines()}
    return words


def terms(n: int, seed: int = 7, source: Path = POLICIES) -> list[str]:
    """`n` distinct pseudo-words and phrases, none a common word."""
    rng = random.Random(seed)
    common = _common_words(source)
    out: set[str] = set()

    def word() -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))

    while len(out) < n:
        w = word()
        if rng.random() < 0.15:
            w = f"{w} {word()}"
        if w not in common and not any(part in common for part in w.split()):
            out.add(w)
    result = sorted(out)
    rng.shuffle(result)
    return result


def lexicon(n: int, placement: str = "unused", seed: int = 7, source: Path = POLICIES) -> dict:
    words = terms(n, seed, source)
    entries = []
    for i in range(0, len(words), 4):
        chunk = words[i : i + 4]
        by_lang: dict[str, list[str]] = {}
        for j, w in enumerate(chunk):
            by_lang.setdefault(LANGS[(i // 4 + j) % len(LANGS)], []).append(w)
        entries.append({"concept": f"synthetic-{i // 4}", "lists": LISTS[placement], "terms": by_lang})
    return {
        "lexicon": "bench-synthetic",
        "description": f"{n} generated terms for the engine benchmark ({placement} list).",
        "entries": entries,
    }


def build_bundle(dest: Path, n: int, placement: str = "unused", seed: int = 7, source: Path = POLICIES) -> Path:
    """Copy the bundle at `source` to `dest` and add the synthetic lexicon; return `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".*"))
    data = lexicon(n, placement, seed, source)
    (dest / "lexicons" / "bench-synthetic.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return dest
