"""Score the checker on labelled ads (the format of shared/eval/README.md).

Recall counts a violation as caught when the checker rejects it or sends it
to review; strict recall counts only rejections. False-positive rates are
over the ads that should be approved: hard for rejections, soft for reviews.
Policy accuracy is the share of caught violations whose reasons name the
expected policy; review agreement the share of expected-review ads sent to
review (rejections of them are counted apart).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(slots=True)
class Case:
    id: str
    submission: dict
    expected: str  # approved | review | rejected
    policy: str | None
    tags: list[str]
    got: str = ""
    policies: list[str] = field(default_factory=list)
    reasons: list[dict] = field(default_factory=list)
    error: str | None = None


def read_cases(path: str) -> list[Case]:
    cases = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                cases.append(
                    Case(
                        id=d.get("id", f"line-{n}"),
                        submission=d["submission"],
                        expected=d["expected"]["decision"],
                        policy=d["expected"].get("policy"),
                        tags=d.get("tags", []),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{n}: not a labelled case: {e}") from None
    return cases


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def score(cases: list[Case]) -> dict:
    bad = [c for c in cases if c.expected == "rejected"]
    good = [c for c in cases if c.expected == "approved"]
    rev = [c for c in cases if c.expected == "review"]
    caught = [c for c in bad + rev if c.got in ("rejected", "review")]
    return {
        "cases": len(cases),
        "recall": _ratio(sum(c.got in ("rejected", "review") for c in bad), len(bad)),
        "strict_recall": _ratio(sum(c.got == "rejected" for c in bad), len(bad)),
        "fp_hard": _ratio(sum(c.got == "rejected" for c in good), len(good)),
        "fp_soft": _ratio(sum(c.got == "review" for c in good), len(good)),
        "fp_any": _ratio(sum(c.got != "approved" for c in good), len(good)),
        "policy_accuracy": _ratio(sum(c.policy in c.policies for c in caught), len(caught)),
        "review_agreement": _ratio(sum(c.got == "review" for c in rev), len(rev)),
        "review_rejected": _ratio(sum(c.got == "rejected" for c in rev), len(rev)),
        "errors": sum(c.error is not None for c in cases),
        "n": {"rejected": len(bad), "approved": len(good), "review": len(rev)},
    }


def by_tag(cases: list[Case]) -> dict[str, dict]:
    groups: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        for t in c.tags:
            groups[t].append(c)
    return {t: score(cs) for t, cs in sorted(groups.items())}


def misses(cases: list[Case]) -> list[Case]:
    """Cases the checker got wrong: a missed violation, a false alarm, a wrong policy."""
    return [c for c in cases if _wrong(c)]


def _wrong(c: Case) -> bool:
    if c.expected == "approved":
        return c.got != "approved"
    if c.got == "approved" or c.got != c.expected:
        return True
    return c.policy not in c.policies
