"""Decide: run every rule of every policy over an ad's hits and combine them
into a verdict. Matching has already happened; nothing here searches text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter

from .bundle import Bundle, Rule
from .conditions import Context
from .document import TEXT_FIELDS, Document, build_documents
from .match import MATCH_FLAG_NAMES, Hit
from .normalize import ROUTINE, flag_names

DECISIONS = {"reject": "rejected", "review": "review"}
SEVERITY = {"approved": 0, "review": 1, "rejected": 2}
MAX_EVIDENCE = 12


@dataclass(frozen=True, slots=True)
class Evidence:
    """One span of the advertiser's text that a rule relied on."""

    field: str  # "headline", "keywords[2]"
    start: int
    end: int
    text: str  # == submission[field][start:end]
    disclosed: bool  # may the advertiser see it?
    transforms: tuple[str, ...]  # normalisation steps needed to see it (reviewers)
    concept: str
    lexicon: str
    term: str | None  # the lexicon term, None for a pattern

    def public(self) -> dict:
        return {
            "field": self.field,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "disclosed": self.disclosed,
        }

    def trace(self) -> dict:
        return {
            **self.public(),
            "transforms": list(self.transforms),
            "concept": self.concept,
            "lexicon": self.lexicon,
            "term": self.term,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    rule: Rule
    evidence: tuple[Evidence, ...]

    @property
    def policy(self) -> str:
        return self.rule.policy

    @property
    def decision(self) -> str:
        return DECISIONS[self.rule.decision]


@dataclass(slots=True)
class Verdict:
    decision: str  # approved | review | rejected
    findings: list[Finding]  # enforced rules that fired, most severe first
    shadow: list[Finding]  # shadow rules that fired: logged, never decisive
    documents: list[Document]
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds

    def trace(self) -> dict:
        """What a reviewer needs to see how the verdict came about."""
        return {
            "documents": [{"field": d.field, "folded": d.text} for d in self.documents],
            "hits": [
                {
                    "field": h.doc.field,
                    "folded": h.doc.text[h.start : h.end],
                    "concept": h.entry.concept,
                    "lexicon": h.entry.lexicon,
                    "term": h.term.text if h.term else None,
                    "negated": h.negated,
                    "transforms": _transform_names(h.transforms()),
                }
                for h in self.hits
            ],
            "rules": [
                {"policy": f.policy, "rule": f.rule.id, "decision": f.decision, "mode": f.rule.mode}
                for f in self.findings + self.shadow
            ],
            "timings_ms": self.timings,
        }


class Checker:
    """A compiled bundle, ready to check submissions. Thread-safe: no state per check."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle

    def check(self, submission: dict) -> Verdict:
        """Check a submission that has passed validation."""
        t0 = perf_counter()
        docs = build_documents(submission)
        t1 = perf_counter()
        hits = [h for d in docs for h in self.bundle.matcher.find(d)]
        t2 = perf_counter()
        ctx = Context(hits, submission)
        findings, shadow = [], []
        for rule in self.bundle.rules:
            out = rule.when(ctx)
            if not out.matched:
                continue
            finding = Finding(rule, _evidence(out.hits, rule))
            (shadow if rule.mode == "shadow" else findings).append(finding)
        findings.sort(key=lambda f: -SEVERITY[f.decision])
        decision = findings[0].decision if findings else "approved"
        t3 = perf_counter()
        timings = {
            "normalize": round((t1 - t0) * 1000, 3),
            "match": round((t2 - t1) * 1000, 3),
            "evaluate": round((t3 - t2) * 1000, 3),
        }
        return Verdict(decision, findings, shadow, docs, hits, timings)

    def fired_rules(self, submission: dict) -> set[str]:
        v = self.check(submission)
        return {f.rule.id for f in v.findings + v.shadow}


def _evidence(hits: tuple[Hit, ...], rule: Rule) -> tuple[Evidence, ...]:
    """The rule's hits as spans of original text; overlapping spans merged."""
    spans: dict[str, list[list]] = {}  # field -> [[start, end, disclosed, transforms, hit]]
    for h in sorted(hits, key=lambda h: h.start):
        transforms = set(_transform_names(h.transforms()))
        disclosed = rule.disclose and h.entry.disclose
        for piece in h.doc.pieces(h.start, h.end):
            items = spans.setdefault(piece.field, [])
            for item in items:
                if piece.start < item[1] and item[0] < piece.end:
                    item[0], item[1] = min(item[0], piece.start), max(item[1], piece.end)
                    item[2] = item[2] and disclosed
                    item[3] |= transforms
                    break
            else:
                items.append([piece.start, piece.end, disclosed, transforms, h, piece])
    out = []
    for field_name, items in spans.items():
        for start, end, disclosed, transforms, h, piece in items:
            original = piece.text if (start, end) == (piece.start, piece.end) else None
            out.append(
                Evidence(
                    field=field_name,
                    start=start,
                    end=end,
                    text=original if original is not None else _slice(h, field_name, start, end),
                    disclosed=disclosed,
                    transforms=tuple(sorted(transforms)),
                    concept=h.entry.concept,
                    lexicon=h.entry.lexicon,
                    term=h.term.text if h.term else None,
                )
            )
    out.sort(key=_evidence_order)
    return tuple(out[:MAX_EVIDENCE])


def _slice(h: Hit, field_name: str, start: int, end: int) -> str:
    for seg in h.doc.segments:
        if seg.label == field_name:
            return seg.norm.original[start:end]
    return ""


_FIELD_ORDER = {name: i for i, name in enumerate(TEXT_FIELDS)}


def _evidence_order(e: Evidence) -> tuple:
    name, _, index = e.field.partition("[")
    return (_FIELD_ORDER.get(name, 99), int(index.rstrip("]") or 0), e.start)


def _transform_names(mask: int) -> tuple[str, ...]:
    names = flag_names(mask & ~ROUTINE)
    names += [name for bit, name in MATCH_FLAG_NAMES.items() if mask & bit]
    return tuple(names)
