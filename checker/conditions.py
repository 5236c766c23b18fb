"""The rule language: one small function per condition kind, and a table.

A condition is a JSON object with exactly one kind key (see KINDS). It is
compiled once, at load, into a function from the ad's hits to an Outcome:
whether it holds, and the hits that show it (the evidence). The policy
schema lists the same kinds; a test keeps the two in step.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from .match import Hit


@dataclass(slots=True)
class Context:
    hits: list[Hit]
    submission: dict
    fields: frozenset[str] | None = None  # None: every field
    # Positions of the hits of each list, built on first use and shared by
    # narrowed contexts: every `terms` condition reads it.
    _by_list: dict[str, list[int]] | None = None

    def within(self, fields: frozenset[str]) -> Context:
        narrowed = fields if self.fields is None else self.fields & fields
        return Context(self.hits, self.submission, narrowed, self._index())

    def everywhere(self) -> Context:
        return Context(self.hits, self.submission, None, self._index())

    def listed(self, lists: frozenset[str]) -> list[Hit]:
        """Hits in any of `lists`, in the order they were found."""
        index = self._index()
        found = [index[name] for name in lists if name in index]
        if not found:
            return []
        positions = found[0] if len(found) == 1 else sorted(set().union(*found))
        return [self.hits[i] for i in positions]

    def _index(self) -> dict[str, list[int]]:
        if self._by_list is None:
            self._by_list = {}
            for i, h in enumerate(self.hits):
                for name in h.lists:
                    self._by_list.setdefault(name, []).append(i)
        return self._by_list


@dataclass(frozen=True, slots=True)
class Outcome:
    matched: bool
    hits: tuple[Hit, ...] = ()


NO = Outcome(False)
YES = Outcome(True)
Evaluator = Callable[[Context], Outcome]


class ConditionError(ValueError):
    """A condition that the schema accepted but that cannot be compiled."""


def compile_condition(node: dict, known_lists: set[str], path: str = "$") -> Evaluator:
    kinds = [k for k in node if k in KINDS]
    if len(kinds) != 1:
        raise ConditionError(f"{path}: a condition needs exactly one of {sorted(KINDS)}")
    kind = kinds[0]
    return KINDS[kind](node, known_lists, f"{path}.{kind}")


def _sub(node: dict, known: set[str], path: str) -> Evaluator:
    return compile_condition(node, known, path)


def _union(outcomes) -> tuple[Hit, ...]:
    seen = {}
    for o in outcomes:
        for h in o.hits:
            seen.setdefault(id(h), h)
    return tuple(seen.values())


# -- kinds ----------------------------------------------------------------------
def terms(node: dict, known: set[str], path: str) -> Evaluator:
    """Hits of any of the named lists (negated hits only if asked for; at least
    `min` different words if given)."""
    lists = frozenset(node["terms"])
    missing = sorted(lists - known)
    if missing:
        raise ConditionError(f"{path}: unknown term list(s) {', '.join(missing)}")
    include_negated = node.get("include_negated", False)
    need = node.get("min", 1)  # different words: two different hints, not one said twice

    def run(ctx: Context) -> Outcome:
        found = tuple(
            h
            for h in ctx.listed(lists)
            if (include_negated or not h.negated) and (ctx.fields is None or h.doc.field in ctx.fields)
        )
        if need > 1 and len({h.doc.text[h.start : h.end] for h in found}) < need:
            return NO
        return Outcome(bool(found), found)

    return run


def all_of(node: dict, known: set[str], path: str) -> Evaluator:
    """Every sub-condition holds; the evidence is all of theirs."""
    subs = [_sub(c, known, f"{path}[{i}]") for i, c in enumerate(node["all"])]

    def run(ctx: Context) -> Outcome:
        outs = []
        for s in subs:
            o = s(ctx)
            if not o.matched:
                return NO
            outs.append(o)
        return Outcome(True, _union(outs))

    return run


def any_of(node: dict, known: set[str], path: str) -> Evaluator:
    """At least one sub-condition holds; the evidence is that of those that do."""
    subs = [_sub(c, known, f"{path}[{i}]") for i, c in enumerate(node["any"])]

    def run(ctx: Context) -> Outcome:
        outs = [o for o in (s(ctx) for s in subs) if o.matched]
        return Outcome(True, _union(outs)) if outs else NO

    return run


def not_(node: dict, known: set[str], path: str) -> Evaluator:
    """The sub-condition does not hold (no evidence of its own)."""
    sub = _sub(node["not"], known, path)
    return lambda ctx: NO if sub(ctx).matched else YES


def at_least(node: dict, known: set[str], path: str) -> Evaluator:
    """At least N of the sub-conditions hold."""
    need = node["at_least"]
    subs = [_sub(c, known, f"{path}.of[{i}]") for i, c in enumerate(node["of"])]
    if need > len(subs):
        raise ConditionError(f"{path}: needs {need} of only {len(subs)} conditions")

    def run(ctx: Context) -> Outcome:
        outs = [o for o in (s(ctx) for s in subs) if o.matched]
        return Outcome(True, _union(outs)) if len(outs) >= need else NO

    return run


def near(node: dict, known: set[str], path: str) -> Evaluator:
    """Hits of both sides in the same field, at most `within` words apart."""
    left, right = (_sub(c, known, f"{path}[{i}]") for i, c in enumerate(node["near"]))
    within = node.get("within", 5)
    ordered = node.get("ordered", False)

    def run(ctx: Context) -> Outcome:
        a, b = left(ctx), right(ctx)
        if not (a.matched and b.matched):
            return NO
        found = {}
        index = _TokenIndex(b.hits)
        for x in a.hits:
            for y in index.around(x, within):
                if x is y or (ordered and x.start > y.start):
                    continue
                d = x.distance(y)
                if d is None or d > within:
                    continue
                found[id(x)] = x
                found[id(y)] = y
        return Outcome(True, tuple(found.values())) if found else NO

    return run


class _TokenIndex:
    """Hits per field, sorted by token: the neighbours of a hit are found by
    bisection, so a long transcript full of hits costs n log n, not n²."""

    def __init__(self, hits: tuple[Hit, ...]):
        self.by_doc: dict[int, tuple[list[int], list[Hit]]] = {}
        groups: dict[int, list[Hit]] = {}
        for h in hits:
            groups.setdefault(id(h.doc), []).append(h)
        for key, hs in groups.items():
            hs.sort(key=lambda h: h.tok_start)
            self.by_doc[key] = ([h.tok_start for h in hs], hs)

    def around(self, x: Hit, within: int) -> list[Hit]:
        entry = self.by_doc.get(id(x.doc))
        if entry is None:
            return []
        starts, hs = entry
        lo = bisect_left(starts, x.tok_start - within - _LONGEST_TERM)
        hi = bisect_right(starts, x.tok_end + within)
        return hs[lo:hi]


_LONGEST_TERM = 12  # tokens: a hit that starts this far before x may still end within reach


def fields(node: dict, known: set[str], path: str) -> Evaluator:
    """Look only at some fields: {"fields": ["headline"], "match": ...}."""
    names = frozenset(node["fields"])
    sub = _sub(node["match"], known, f"{path}.match")
    return lambda ctx: sub(ctx.within(names))


def unless(node: dict, known: set[str], path: str) -> Evaluator:
    """Cancel hits by a benign context: {"unless": B, "match": C, "within": N}.

    Without `within`, a benign context anywhere in the ad cancels the whole
    condition (a zoo ad, an anti-poaching appeal). With it, only the hits of C
    that have a B hit at most N words away are cancelled ("ivory" next to
    "colour"); C still holds if other hits remain.
    """
    benign = _sub(node["unless"], known, f"{path}")
    sub = _sub(node["match"], known, f"{path}.match")
    within = node.get("within")

    def run(ctx: Context) -> Outcome:
        out = sub(ctx)
        if not out.matched:
            return NO
        # Benign contexts are looked for in every field.
        b = benign(ctx.everywhere())
        if not b.matched:
            return out
        if within is None:
            return NO
        index = _TokenIndex(b.hits)
        kept = tuple(
            h
            for h in out.hits
            if not any((d := h.distance(x)) is not None and d <= within for x in index.around(h, within))
        )
        return Outcome(True, kept) if kept else NO

    return run


def category(node: dict, known: set[str], path: str) -> Evaluator:
    """The ad's category is one of these (case-insensitive)."""
    wanted = {c.casefold() for c in node["category"]}

    def run(ctx: Context) -> Outcome:
        value = ctx.submission.get("category")
        return YES if isinstance(value, str) and value.strip().casefold() in wanted else NO

    return run


def countries(node: dict, known: set[str], path: str) -> Evaluator:
    """The ad targets at least one of these countries."""
    wanted = set(node["countries"])

    def run(ctx: Context) -> Outcome:
        return YES if wanted & set(ctx.submission.get("target_countries") or ()) else NO

    return run


def language(node: dict, known: set[str], path: str) -> Evaluator:
    """The ad declares one of these languages (primary subtag)."""
    wanted = {c.casefold() for c in node["language"]}

    def run(ctx: Context) -> Outcome:
        value = ctx.submission.get("language") or ""
        return YES if value.split("-")[0].casefold() in wanted else NO

    return run


KINDS: dict[str, Callable[[dict, set[str], str], Evaluator]] = {
    "terms": terms,
    "all": all_of,
    "any": any_of,
    "not": not_,
    "at_least": at_least,
    "near": near,
    "fields": fields,
    "unless": unless,
    "category": category,
    "countries": countries,
    "language": language,
}
