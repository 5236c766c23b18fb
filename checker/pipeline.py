"""One check, from a parsed submission to the answer and the row to store.

The HTTP endpoint, the batch endpoint, the evaluation command and the CLI all
go through `run`, so what is measured is what is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import perf_counter

from .bundle import Bundle
from .evaluate import Checker, Verdict
from .explain import PHRASES, pick_language, reasons
from .store import canonical, new_decision_id, now_iso


@dataclass(slots=True)
class Outcome:
    response: dict  # what the caller receives
    row: dict  # what the verdict log stores (before the chain fields)
    verdict: Verdict


def supported_languages(bundle: Bundle) -> set[str]:
    """Languages every rule and policy speaks, and the explanation phrases too."""
    langs = set(PHRASES)
    for policy in bundle.policies:
        langs &= set(policy.title)
        for rule in policy.rules:
            langs &= set(rule.title) & set(rule.message) & set(rule.advice)
    return langs or {"en"}


def run(bundle: Bundle, checker: Checker, submission: dict, languages: set[str] | None = None) -> Outcome:
    """Check a validated submission; build the answer and the log row."""
    started = perf_counter()
    verdict = checker.check(submission)
    lang = pick_language(submission.get("language"), languages or supported_languages(bundle))
    public_reasons = reasons(verdict.findings, bundle, lang)
    shadow = [
        {"policy": f.policy, "rule": f.rule.id, "decision": f.decision, "evidence": [e.trace() for e in f.evidence]}
        for f in verdict.shadow
    ]
    decision_id = new_decision_id()
    checked_at = now_iso()
    response = {
        "decision_id": decision_id,
        "decision": verdict.decision,
        "advertiser_id": submission["advertiser_id"],
        "submission_id": submission.get("submission_id"),
        "policy_version": bundle.version,
        "checked_at": checked_at,
        "language": lang,
        "reasons": public_reasons,
    }
    trace = verdict.trace()
    trace["evidence"] = [
        {"policy": f.policy, "rule": f.rule.id, "evidence": [e.trace() for e in f.evidence]} for f in verdict.findings
    ]
    duration_ms = round((perf_counter() - started) * 1000, 3)
    row = {
        "decision_id": decision_id,
        "advertiser_id": submission["advertiser_id"],
        "submission_id": submission.get("submission_id"),
        "submission_json": canonical(submission),
        "decision": verdict.decision,
        "reasons_json": canonical(public_reasons),
        "shadow_json": canonical(shadow),
        "trace_json": canonical(trace),
        "policy_version": bundle.version,
        "language": lang,
        "checked_at": checked_at,
        "duration_ms": duration_ms,
    }
    return Outcome(response, row, verdict)
