"""Write lexicon files in one compact, readable layout: an entry's header on
one line, one line per language, then notes and sources.

    python tools/format_lexicons.py [FILE ...]     # default: policies/lexicons/*.json

Only the layout changes; the data is read and written back as it is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAD = ("concept", "lists", "scientific_name", "cites", "disclose", "emoji")
TAIL = ("meaning", "note", "source")


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def format_entry(entry: dict) -> str:
    head = ", ".join(f"{dumps(k)}: {dumps(entry[k])}" for k in HEAD if k in entry)
    lines = ["    {" + head]
    for key in entry:
        if key in HEAD or key in TAIL:
            continue
        value = entry[key]
        if key == "terms":
            langs = [f"       {dumps(lang)}: {dumps(items)}" for lang, items in value.items()]
            lines.append('     "terms": {\n' + ",\n".join(langs) + "\n     }")
        elif key == "patterns":
            pats = [f"       {dumps(p)}" for p in value]
            lines.append('     "patterns": [\n' + ",\n".join(pats) + "\n     ]")
        else:
            lines.append(f"     {dumps(key)}: {dumps(value)}")
    for key in TAIL:
        if key in entry:
            lines.append(f"     {dumps(key)}: {dumps(entry[key])}")
    return ",\n".join(lines) + "}"


def format_lexicon(data: dict) -> str:
    out = ["{"]
    top = [f"  {dumps(k)}: {dumps(v)}" for k, v in data.items() if k != "entries"]
    out.append(",\n".join(top) + ",")
    out.append('  "entries": [')
    out.append(",\n".join(format_entry(e) for e in data["entries"]))
    out.append("  ]")
    out.append("}")
    return "\n".join(out) + "\n"


def main(paths: list[str]) -> None:
    files = [Path(p).resolve() for p in paths] or sorted((ROOT / "policies" / "lexicons").glob("*.json"))
    for f in files:
        data = json.loads(f.read_text(encoding="utf-8"))
        text = format_lexicon(data)
        assert json.loads(text) == data, f"{f}: formatting changed the data"
        f.write_text(text, encoding="utf-8")
        print(f"{f.relative_to(ROOT)}: {len(data['entries'])} entries")


if __name__ == "__main__":
    main(sys.argv[1:])
