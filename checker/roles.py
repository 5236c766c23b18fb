"""Roles of term lists: which lists make rules fire and which cancel them.

A list named where a rule looks for a reason to fire is a *trigger* list
("banned" words, and the cues that complete them); a list named inside an
`unless` clause or a `not` is a *benign* list: its words cancel a rule. A
`not` or `unless` inside a benign clause flips back. Read from the rules'
JSON, so the matcher and the authoring tools agree without knowing any
list by name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

TRIGGER, BENIGN = "trigger", "benign"


def walk(node: dict, path: str, benign: bool = False, fields: frozenset[str] | None = None) -> Iterator[tuple]:
    """Every condition node of a rule's `when`: (node, json path, benign?, fields in force)."""
    yield node, path, benign, fields
    for key in ("all", "any", "of", "near"):
        for i, sub in enumerate(node.get(key, [])):
            yield from walk(sub, f"{path}.{key}[{i}]", benign, fields)
    if "not" in node:
        yield from walk(node["not"], f"{path}.not", not benign, fields)
    if "unless" in node:
        yield from walk(node["unless"], f"{path}.unless", not benign, None)  # benign contexts: every field
    if "match" in node:
        narrowed = fields
        if "fields" in node:
            narrowed = frozenset(node["fields"]) if fields is None else fields & frozenset(node["fields"])
        yield from walk(node["match"], f"{path}.match", benign, narrowed)


def list_roles(whens: Iterable[dict]) -> dict[str, set[str]]:
    """For every term list the rules name: {"trigger"}, {"benign"} or both."""
    roles: dict[str, set[str]] = defaultdict(set)
    for when in whens:
        for node, _, benign, _ in walk(when, "$"):
            for name in node.get("terms", []):
                roles[name].add(BENIGN if benign else TRIGGER)
    return dict(roles)


def trigger_lists(whens: Iterable[dict]) -> frozenset[str]:
    return frozenset(name for name, roles in list_roles(whens).items() if TRIGGER in roles)
