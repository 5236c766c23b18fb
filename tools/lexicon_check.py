"""Check one lexicon file on its own and try it on text.

    python tools/lexicon_check.py policies/lexicons/animals.json
    python tools/lexicon_check.py policies/lexicons/cues.json --try "Puppies for sale, 3 months old, £450"

Prints schema problems, terms that would match almost every ad, broken
patterns, per-list and per-language counts; with --try, every hit in the text.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checker.bundle import (  # noqa: E402
    _check_patterns,
    _check_terms,
    _languages,
    _load_json,
    _Problems,
    _validate,
)
from checker.document import build_documents  # noqa: E402
from checker.lexicon import compile_terms  # noqa: E402
from checker.match import Matcher  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--try", dest="texts", action="append", default=[])
    args = ap.parse_args()
    root = ROOT / "policies"
    problems = _Problems(root)
    schema = json.loads((root / "schema" / "lexicon.schema.json").read_text())
    lang_data = json.loads((root / "languages.json").read_text())
    languages = _languages(root, lang_data, root / "languages.json", problems)
    lexicons = []
    for f in args.files:
        data = _load_json(Path(f).resolve(), problems)
        if _validate(data, schema, Path(f).resolve(), problems):
            data["_file"] = str(Path(f).resolve())
            lexicons.append(data)
            for i, e in enumerate(data["entries"]):
                for lang in e.get("terms", {}):
                    if lang not in languages:
                        problems.add(f, f"$.entries[{i}].terms.{lang}", f"language {lang!r} not in languages.json")
    if lexicons:
        terms, patterns = compile_terms(lexicons, languages)
        _check_terms(terms, languages, {x["lexicon"]: x["_file"] for x in lexicons}, problems)
        _check_patterns(patterns, lexicons, problems)
        for p in problems.items:
            print("PROBLEM", p)
        lists = Counter(name for lex in lexicons for e in lex["entries"] for name in e.get("lists", []))
        langs = Counter(
            lang for lex in lexicons for e in lex["entries"] for lang, ts in e.get("terms", {}).items() for _ in ts
        )
        print(
            f"{sum(len(x['entries']) for x in lexicons)} entries, {len(terms)} searchable keys, {len(patterns)} patterns"
        )
        print("lists:", dict(sorted(lists.items())))
        print("terms per language:", dict(sorted(langs.items())))
        matcher = Matcher(terms, patterns, languages)
        for text in args.texts:
            print(f"\n{text!r}")
            for doc in build_documents({"body": text}):
                for h in matcher.find(doc):
                    pieces = doc.pieces(h.start, h.end)
                    shown = " + ".join(p.text for p in pieces)
                    neg = " (negated)" if h.negated else ""
                    print(f"  {shown!r}: {h.entry.lexicon}/{h.entry.concept} lists={sorted(h.lists)}{neg}")
    else:
        for p in problems.items:
            print("PROBLEM", p)
    return 1 if problems.items else 0


if __name__ == "__main__":
    sys.exit(main())
