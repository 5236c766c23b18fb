"""What a text must contain before a pattern can match it.

A policy's patterns (prices, ages, weights) need digits or unit words that
most fields do not have. Running each pattern over each field costs more
than all of the term matching, so a pattern's required pieces are worked
out once from its syntax, and a field without them skips the pattern.

A requirement is a set of strings, one of which must occur; `DIGIT` stands
for any decimal digit. A pattern needs all of its requirements. Whatever
the analysis does not understand adds no requirement, so it can only make
the filter weaker, never wrong.
"""

from __future__ import annotations

import re
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]

import ahocorasick

DIGIT = "\\d"
Requirement = frozenset[str]

_UNICODE_PROPERTY = re.compile(r"\\[pP]\{[^}]*\}|\\[pP][A-Za-z]")
# Syntax of the `regex` module that Python's parser would read as literals:
# set operations, nested sets and fuzzy matching. Such a pattern is not filtered.
_REGEX_ONLY = re.compile(r"\[\[|--|&&|\|\||~~|\{[^}]*[eids] *<")
_MAX_CLASS = 24  # characters: a larger class is not worth checking
_REPEATS = (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT))
_ZERO_WIDTH = (c.AT, c.ASSERT, c.ASSERT_NOT)
_DIGIT_TEST = re.compile(r"\d")


def requirements(source: str) -> tuple[Requirement, ...]:
    """The requirements of a `regex`-module pattern, strongest first."""
    if _REGEX_ONLY.search(source):
        return ()
    # Python's parser does not know \p{..}; \s is read as "no requirement"
    # both alone and inside a class.
    try:
        parsed = _parser.parse(_UNICODE_PROPERTY.sub(r"\\s", source))
    except (re.error, OverflowError, RecursionError):
        return ()
    if parsed.state.flags & c.SRE_FLAG_IGNORECASE:
        return ()
    found = [r for r in _of_sequence(list(parsed)) if _worth_checking(r)]
    unique = list(dict.fromkeys(found))
    return tuple(sorted(unique, key=lambda r: (DIGIT not in r, -_strength(r))))


class Presence:
    """Which of the patterns' required strings a text holds, in one pass."""

    def __init__(self, needs: list[tuple[Requirement, ...]]):
        strings = {s for reqs in needs for req in reqs for s in req if s != DIGIT}
        self._automaton = ahocorasick.Automaton()
        for s in strings:
            self._automaton.add_word(s, s)
        self._empty = not strings
        if strings:
            self._automaton.make_automaton()

    def of(self, text: str) -> set[str]:
        found = set() if self._empty else {s for _, s in self._automaton.iter(text)}
        if _DIGIT_TEST.search(text):
            found.add(DIGIT)
        return found


def satisfied(needs: tuple[Requirement, ...], present: set[str]) -> bool:
    return all(not need.isdisjoint(present) for need in needs)


def _strength(r: Requirement) -> int:
    return min(1 if s == DIGIT else len(s) for s in r)


def _worth_checking(r: Requirement) -> bool:
    """Single common letters or spaces filter nothing."""
    return all(s == DIGIT or len(s) > 1 or not (s.isascii() and (s.isalpha() or s == " ")) for s in r)


def _of_sequence(items: list) -> list[Requirement]:
    reqs: list[Requirement] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            reqs.append(frozenset(["".join(run)]))
            run.clear()

    for op, av in items:
        if op == c.LITERAL:
            run.append(chr(av))
            continue
        if op in _ZERO_WIDTH:
            continue  # takes no characters: the literals either side still touch
        flush()
        reqs.extend(_of_item(op, av))
    flush()
    return reqs


def _of_item(op, av) -> list[Requirement]:
    if op == c.IN:
        chars = _class_chars(av)
        return [chars] if chars else []
    if op in _REPEATS:
        low, _high, sub = av
        return _of_sequence(list(sub)) if low >= 1 else []
    if op == c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        if add_flags & c.SRE_FLAG_IGNORECASE:
            return []
        return _of_sequence(list(sub))
    if op == c.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            best = _best(_of_sequence(list(branch)))
            if best is None:
                return []
            union |= best
        return [frozenset(union)]
    return []  # ANY, NOT_LITERAL, group references...: no requirement


def _best(reqs: list[Requirement]) -> Requirement | None:
    reqs = [r for r in reqs if r]
    if not reqs:
        return None
    return max(reqs, key=lambda r: (_strength(r), -len(r)))


def _class_chars(items) -> Requirement | None:
    chars: set[str] = set()
    for op, av in items:
        if op == c.LITERAL:
            chars.add(chr(av))
        elif op == c.RANGE:
            low, high = av
            if high - low >= _MAX_CLASS:
                return None
            chars.update(chr(x) for x in range(low, high + 1))
        elif op == c.CATEGORY and av == c.CATEGORY_DIGIT:
            chars.add(DIGIT)
        else:
            return None  # negated classes, \w, \s: anything goes
    if len(chars) > _MAX_CLASS:
        return None
    # An ASCII digit is a digit: one test covers them all.
    if DIGIT in chars or set("0123456789") <= chars:
        chars.add(DIGIT)
        chars = {ch for ch in chars if not ch.isdigit()}
    return frozenset(chars)
