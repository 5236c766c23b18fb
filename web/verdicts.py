"""A stored verdict as people see it: the checker's decision as answered, the
appeals and reviews after it, and the decision in force.

The verdict row never changes. A reviewer's decision is a new row in the
append-only `reviews` table; the effective decision is the latest review's,
else the original. The API, the advertiser's page and the review pages all
read verdicts through here, so they agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from checker.document import TEXT_FIELDS
from checker.errors import NotFound
from checker.explain import complete_purged, segments
from checker.store import AppealRefused, appeal_answered
from checker.submission import unsafe_text

from . import errors
from .errors import ApiError
from .state import engine, store

REVIEW_DECISIONS = ("approved", "rejected")
APPEALABLE = ("rejected", "review")
MAX_TEXT = 2000
TRY_IT_ADVERTISER = "try-it"  # verdicts made on the Try it page; kept out of the review queue
QUEUE_LIMIT = 200


def effective_decision(original: str, reviews: list[dict]) -> str:
    """The latest review's decision, else the checker's."""
    return reviews[-1]["decision"] if reviews else original


@dataclass
class Case:
    """One verdict with its history."""

    row: dict
    reviews: list[dict] = field(default_factory=list)
    appeals: list[dict] = field(default_factory=list)

    @property
    def decision_id(self) -> str:
        return self.row["decision_id"]

    @property
    def effective(self) -> str:
        return effective_decision(self.row["decision"], self.reviews)

    @property
    def open_appeal(self) -> dict | None:
        """The latest appeal if no review came after it: a person still has to answer it."""
        if not self.appeals:
            return None
        last = self.appeals[-1]
        return None if appeal_answered(last, self.reviews[-1] if self.reviews else None) else last

    @property
    def reasons(self) -> list[dict]:
        """The reasons as answered; once purged, as the purge kept them."""
        reasons = json.loads(self.row["reasons_json"])
        if self.row.get("purged_at"):
            reasons = [complete_purged(r, engine().bundle) for r in reasons]
        return reasons

    @property
    def submission(self) -> dict | None:
        """The ad as sent; None once purged."""
        raw = self.row.get("submission_json")
        return json.loads(raw) if raw else None

    @property
    def trace(self) -> dict | None:
        raw = self.row.get("trace_json")
        return json.loads(raw) if raw else None

    def history(self) -> list[dict]:
        """Checked, appealed, reviewed: oldest first."""
        events = [{"kind": "checked", "at": self.row["checked_at"], "decision": self.row["decision"]}]
        events += [{"kind": "appeal", "at": a["created_at"], "reason": a["reason"]} for a in self.appeals]
        events += [
            {"kind": "review", "at": r["created_at"], "decision": r["decision"], "note": r["note"], "by": r["reviewer"]}
            for r in self.reviews
        ]
        return sorted(events, key=lambda e: e["at"])


def load(decision_id: str) -> Case | None:
    db = store()
    row = db.get(decision_id)
    if row is None:
        return None
    return Case(row, db.reviews(decision_id), db.appeals(decision_id))


def not_found() -> NotFound:
    """The one 404 for an unknown verdict, a bad link and a bad token alike: they must look the same."""
    return NotFound("No such verdict.")


def require(decision_id: str) -> Case:
    """The verdict, or not_found()."""
    case = load(decision_id)
    if case is None:
        raise not_found()
    return case


def public_review(r: dict) -> dict:
    return {"decision": r["decision"], "note": r["note"], "reviewer": r["reviewer"], "created_at": r["created_at"]}


def public_appeal(a: dict) -> dict:
    return {"reason": a["reason"], "language": a["language"], "created_at": a["created_at"]}


# -- writes ---------------------------------------------------------------------------------
def text_problem(value, name: str) -> dict | None:
    """A free-text field: a string of 1..2000 characters that is not blank."""
    if not isinstance(value, str):
        return {"field": name, "problem": "must be a string" if value is not None else "is required"}
    if not value.strip():
        return {"field": name, "problem": "must not be blank"}
    if len(value) > MAX_TEXT:
        return {"field": name, "problem": f"must be at most {MAX_TEXT} characters (it has {len(value)})"}
    unsafe = unsafe_text(name, value)
    return unsafe[0] if unsafe else None


APPEAL_REFUSED = {
    "approved": "The ad is approved: there is nothing to appeal.",
    "open": "An appeal is already waiting for a person; you can appeal again after they decide.",
}


class AppealConflict(ApiError):
    """409 to an appeal: `why` is "approved" (nothing to appeal) or "open" (an appeal already waits)."""

    def __init__(self, why: str):
        super().__init__("conflict", APPEAL_REFUSED[why])
        self.why = why


def appeal(case: Case, reason, language: str | None) -> dict:
    """Record an advertiser's appeal; ApiError if the reason is bad, AppealConflict if it cannot be appealed now."""
    problem = text_problem(reason, "$.reason")
    if problem:
        raise ApiError("invalid_request", "The appeal has a problem.", [problem])
    try:
        made = store().add_appeal_if_open(case.decision_id, reason.strip(), language, APPEALABLE)
    except AppealRefused as e:
        raise AppealConflict(e.why) from None
    errors.note_stored(f"the appeal of {case.decision_id}")
    return made


def review_problems(decision, note) -> list[dict]:
    details = []
    if decision not in REVIEW_DECISIONS:
        details.append({"field": "$.decision", "problem": f"must be one of {', '.join(REVIEW_DECISIONS)}"})
    problem = text_problem(note, "$.note")
    if problem:
        details.append(problem)
    return details


def review(case: Case, principal: dict, decision, note) -> dict:
    """Record a reviewer's decision. The verdict row itself is never touched."""
    details = review_problems(decision, note)
    if details:
        raise ApiError("invalid_request", "The review has problems.", details)
    made = store().add_review(case.decision_id, reviewer_name(principal), decision, note.strip())
    errors.note_stored(f"the review of {case.decision_id}")
    return made


def reviewer_name(principal: dict) -> str:
    """Who decided, as the log keeps it: the key's name and id (names need not be unique)."""
    return f"{principal['name']} ({principal['key_id']})" if principal.get("key_id") else principal["name"]


# -- the review queue -----------------------------------------------------------------------
_QUEUE_SQL = """
WITH candidates AS (
    SELECT decision_id FROM verdicts WHERE decision = 'review'
    UNION SELECT decision_id FROM appeals
),
q AS (
    SELECT v.seq, v.decision_id, v.advertiser_id, v.decision, v.checked_at, v.reasons_json,
           v.submission_json, v.language,
           COALESCE((SELECT r.decision FROM reviews r WHERE r.decision_id = v.decision_id
                     ORDER BY r.id DESC LIMIT 1), v.decision) AS effective,
           (SELECT r.answers_appeal FROM reviews r WHERE r.decision_id = v.decision_id
            ORDER BY r.id DESC LIMIT 1) AS answered_appeal,
           (SELECT max(r.created_at) FROM reviews r WHERE r.decision_id = v.decision_id) AS reviewed_at,
           (SELECT max(a.id) FROM appeals a WHERE a.decision_id = v.decision_id) AS last_appeal,
           (SELECT max(a.created_at) FROM appeals a WHERE a.decision_id = v.decision_id) AS appealed_at,
           (SELECT count(*) FROM appeals a WHERE a.decision_id = v.decision_id) AS appeal_count
    FROM verdicts v JOIN candidates c ON c.decision_id = v.decision_id
    WHERE v.advertiser_id != :try_it
),
p AS (
    -- As checker.store.appeal_answered: by appeal id, or by time for reviews written before m005.
    SELECT *, (reviewed_at IS NULL OR (last_appeal IS NOT NULL AND CASE
                   WHEN answered_appeal IS NULL THEN appealed_at > reviewed_at
                   ELSE last_appeal > answered_appeal END)) AS pending
    FROM q
)
SELECT * FROM p
WHERE (:state = 'all' OR pending)
  AND (:decision IS NULL OR decision = :decision)
  AND (:policy IS NULL OR EXISTS (
        SELECT 1 FROM json_each(p.reasons_json) j WHERE json_extract(j.value, '$.policy') = :policy))
ORDER BY COALESCE(appealed_at, checked_at) DESC, seq DESC
LIMIT :limit
"""


def queue(*, policy: str | None = None, decision: str | None = None, state: str = "pending") -> list[dict]:
    """Verdicts a person should look at: sent to review, or appealed. Newest activity first.

    `state` "pending" leaves out those a reviewer has answered since their
    last appeal; "all" keeps them. `decision` filters on the checker's
    decision; `policy` on any reason's policy.
    """
    rows = store().query(
        _QUEUE_SQL,
        {
            "try_it": TRY_IT_ADVERTISER,
            "state": state,
            "decision": decision,
            "policy": policy,
            "limit": QUEUE_LIMIT,
        },
    )
    out = []
    for r in rows:
        sub = json.loads(r["submission_json"]) if r["submission_json"] else None
        reasons = json.loads(r["reasons_json"])
        out.append(
            {
                **{k: r[k] for k in ("decision_id", "advertiser_id", "decision", "checked_at", "effective")},
                "appealed_at": r["appealed_at"],
                "appeal_count": r["appeal_count"],
                "reviewed_at": r["reviewed_at"],
                "pending": bool(r["pending"]),
                "policies": sorted({x["policy"] for x in reasons}),
                "summary": summary(sub),
            }
        )
    return out


def summary(submission: dict | None, limit: int = 90) -> str | None:
    """The ad's first words, for lists."""
    if submission is None:
        return None
    for name in TEXT_FIELDS:
        value = submission.get(name)
        if isinstance(value, list):
            value = ", ".join(value)
        if value and value.strip():
            value = " ".join(value.split())
            return value if len(value) <= limit else value[: limit - 1] + "…"
    return None


# -- the ad's text with evidence marked ---------------------------------------------------
def marked_fields(submission: dict | None, reasons: list[dict]) -> list[dict]:
    """The ad's text fields cut into runs of text; a run lists the reasons (1-based) whose evidence covers it.

    Only the evidence in `reasons` is marked: pass the advertiser's view to
    leave withheld words unmarked. A run is `withheld` when withheld evidence
    covers it (staff pages show those differently).
    """
    if submission is None:
        return []
    spans: dict[str, list[tuple[int, int, int]]] = {}
    hidden: dict[str, list[tuple[int, int]]] = {}
    for n, reason in enumerate(reasons, start=1):
        for ev in reason.get("evidence", []):
            if "start" in ev:
                spans.setdefault(ev["field"], []).append((ev["start"], ev["end"], n))
                if not ev.get("disclosed", True):
                    hidden.setdefault(ev["field"], []).append((ev["start"], ev["end"]))

    def item(field_name: str, text: str) -> dict:
        runs, at = [], 0
        for seg in segments(text, spans.get(field_name, [])):
            end = at + len(seg.text)
            withheld = any(s < end and at < e for s, e in hidden.get(field_name, [])) and bool(seg.marks)
            runs.append({"text": seg.text, "marks": seg.marks, "withheld": withheld})
            at = end
        return {"field": field_name, "runs": runs}

    out = []
    for name in TEXT_FIELDS:
        value = submission.get(name)
        if not value:
            continue
        if isinstance(value, list):
            out.append({"name": name, "items": [item(f"{name}[{i}]", v) for i, v in enumerate(value)]})
        else:
            out.append({"name": name, "items": [item(name, value)]})
    return out
