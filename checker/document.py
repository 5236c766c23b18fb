"""An ad's text fields, folded once, with the way back to what was written.

Keywords are folded one by one and then joined into a single document, so a
term split over two keywords ("sừng", "tê") still reads as one phrase, while
each piece of evidence still names the keyword it came from (`keywords[3]`).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field

from .normalize import Normalized, normalize

_SPACE = re.compile(" ")

# The order in which fields are shown and searched.
TEXT_FIELDS = ("headline", "body", "keywords", "landing_url", "on_screen_text", "transcript")


@dataclass(frozen=True, slots=True)
class Piece:
    """A part of the evidence, in the advertiser's own text."""

    field: str  # "headline", "keywords[3]"
    start: int
    end: int
    text: str


@dataclass(slots=True)
class Segment:
    """One original string inside a document: folded range and its own offsets."""

    label: str
    begin: int  # folded start in the document
    end: int  # folded end in the document
    norm: Normalized


@dataclass(slots=True)
class Document:
    field: str
    text: str  # folded
    ambiguous: list[tuple[int, tuple[str, ...]]]  # positions the matcher may read otherwise
    segments: list[Segment]
    _space_index: list[int] | None = field(default=None, repr=False)

    def token_index(self, pos: int) -> int:
        """Index of the token holding folded position `pos`."""
        if self._space_index is None:
            self._space_index = [m.start() for m in _SPACE.finditer(self.text)]
        return bisect_left(self._space_index, pos)

    def segment_at(self, pos: int) -> Segment:
        for seg in self.segments:
            if seg.begin <= pos < seg.end:
                return seg
        return self.segments[-1]

    def pieces(self, start: int, end: int) -> list[Piece]:
        """The original text behind folded [start, end), one piece per string."""
        out = []
        for seg in self.segments:
            a, b = max(start, seg.begin), min(end, seg.end)
            if a >= b:
                continue
            la, lb = a - seg.begin, b - seg.begin
            # Trim folded spaces at the edges: they stand for separators.
            while la < lb and seg.norm.text[la] == " ":
                la += 1
            while lb > la and seg.norm.text[lb - 1] == " ":
                lb -= 1
            if la >= lb:
                continue
            o_start, o_end = seg.norm.span(la, lb)
            out.append(Piece(seg.label, o_start, o_end, seg.norm.original[o_start:o_end]))
        return out

    def transforms(self, start: int, end: int) -> int:
        mask = 0
        for seg in self.segments:
            a, b = max(start, seg.begin), min(end, seg.end)
            if a < b:
                mask |= seg.norm.transforms(a - seg.begin, b - seg.begin)
        return mask

    def in_run_together(self, pos: int) -> bool:
        seg = self.segment_at(pos)
        return seg.norm.in_run_together(pos - seg.begin)


RIGHT_TO_LEFT_OVERRIDE = "\u202e"


def build_documents(submission: dict) -> list[Document]:
    """Fold every text field of a (validated) submission."""
    docs = []
    for name in TEXT_FIELDS:
        value = submission.get(name)
        if name == "keywords":
            if value:
                docs.append(_join(name, [(f"keywords[{i}]", kw) for i, kw in enumerate(value)]))
            continue
        if isinstance(value, str) and value.strip():
            docs.append(_join(name, [(name, value)], is_url=(name == "landing_url")))
    return docs


def _join(name: str, strings: list[tuple[str, str]], is_url: bool = False) -> Document:
    segments = []
    parts: list[str] = []
    ambiguous: list[tuple[int, tuple[str, ...]]] = []
    pos = 0
    readings = []
    for label, value in strings:
        readings.append((label, normalize(value, is_url=is_url)))
        if RIGHT_TO_LEFT_OVERRIDE in value:
            # Shown reversed, stored in order: a word may hide in either.
            readings.append((label, normalize(value, is_url=is_url, as_shown=False)))
    for label, norm in readings:
        if not norm.text:
            continue
        if parts:
            parts.append(" ")
            pos += 1
        segments.append(Segment(label, pos, pos + len(norm.text), norm))
        parts.append(norm.text)
        ambiguous.extend((pos + i, r) for i, r in norm.ambiguous)
        pos += len(norm.text)
    if not segments:  # only blank strings: keep an empty document for the field
        norm = normalize("")
        segments.append(Segment(strings[0][0] if strings else name, 0, 0, norm))
    return Document(name, "".join(parts), ambiguous, segments)
