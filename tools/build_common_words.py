"""Write policies/common-words/<lang>.txt from wordfreq's frequency lists.

The matcher uses these lists to refuse compound matches and misspelling
corrections that land on an ordinary word ("hundra" is not a dog, "mitten"
is not a kitten). Regenerate when adding a language:

    pip install wordfreq
    python tools/build_common_words.py sv de en ...
"""

import sys
from pathlib import Path

from wordfreq import top_n_list

DEFAULT = ["en", "sv", "de", "fr", "es", "pt", "it", "id", "vi"]
COUNT = 20000


def main(langs: list[str]) -> None:
    out_dir = Path(__file__).resolve().parent.parent / "policies" / "common-words"
    out_dir.mkdir(parents=True, exist_ok=True)
    for lang in langs:
        words = [w for w in top_n_list(lang, COUNT * 2) if w.isalpha()][:COUNT]
        header = (
            f"# The {COUNT} most frequent {lang} words, most frequent first.\n"
            "# From wordfreq by Robyn Speer (https://github.com/rspeer/wordfreq), data CC BY-SA 4.0.\n"
        )
        (out_dir / f"{lang}.txt").write_text(header + "\n".join(words) + "\n", encoding="utf-8")
        print(f"{lang}: {len(words)} words")


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
