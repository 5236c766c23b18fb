"""The JSON API: check an ad, read verdicts, appeal and review them, health."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, g, jsonify, request

from checker import pipeline
from checker.errors import InvalidSubmission, StoreUnavailable
from checker.explain import pick_language

from . import links, ops, verdicts
from .auth import require
from .errors import ApiError, note_stored
from .state import engine, ready_engine, store

bp = Blueprint("api", __name__)

DECISIONS = ("approved", "review", "rejected")
MAX_LIMIT = 200


def parse_json_body():
    """The request body as JSON, or a precise 4xx."""
    if not request.is_json:
        raise ApiError("unsupported_media_type", "Send the submission as application/json.")
    raw = request.get_data(cache=True)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    # A chunked body (no Content-Length) is cut off at the limit, silently: look for more.
    overflow = request.content_length is None and len(raw) >= limit and request.environ["wsgi.input"].read(1)
    if len(raw) > limit or overflow:
        raise ApiError("payload_too_large", "The request body is larger than 256 KiB.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError("invalid_json", f"The body is not valid UTF-8 (byte {e.start}).") from None
    try:
        data = json.loads(text, parse_constant=_no_constants, parse_int=_bounded_int)
    except json.JSONDecodeError as e:
        raise ApiError(
            "invalid_json", f"The body is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})."
        ) from None
    except RecursionError:
        raise ApiError("invalid_json", "The body is nested too deeply.") from None
    except ValueError as e:
        raise ApiError("invalid_json", str(e)) from None
    # Depths just under the parser's own limit would exhaust the stack later
    # (validation, error messages): no valid body is more than a few levels deep.
    if _depth_exceeds(data, MAX_DEPTH):
        raise ApiError("invalid_json", f"The body is nested too deeply (more than {MAX_DEPTH} levels).")
    return data


MAX_DEPTH = 32
MAX_DIGITS = 100


def _no_constants(name: str):
    raise ValueError(f"The body is not valid JSON: {name} is not a JSON number.")


def _bounded_int(digits: str) -> int:
    if len(digits) > MAX_DIGITS:
        raise ValueError(f"The body is not valid JSON: a number has more than {MAX_DIGITS} digits.")
    return int(digits)


def _depth_exceeds(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def check_one(payload, *, try_it: bool = False) -> dict:
    """Validate, check, store, answer: the whole path for one submission.
    Only the Try it page (`try_it`) may check as its own advertiser."""
    eng = ready_engine()
    submission = eng.bundle.submissions.validate(payload)
    if not try_it and submission["advertiser_id"] == verdicts.TRY_IT_ADVERTISER:
        # Try-it verdicts stay out of the review queue: no advertiser may pass as one.
        raise InvalidSubmission([{"field": "$.advertiser_id", "problem": "is reserved for the staff Try it page"}])
    outcome = pipeline.run(eng.bundle, eng.checker, submission, eng.languages)
    try:
        store().record(outcome.row)  # no verdict leaves unstored
    except StoreUnavailable:
        ops.log_write_failed()
        raise
    note_stored(f"the verdict {outcome.row['decision_id']}")
    ops.checked(outcome)
    return {**outcome.response, "explanation_url": links.explanation_url(outcome.row["decision_id"])}


@bp.post("/v1/check")
@require("submitter")
def check():
    return jsonify(check_one(parse_json_body()))


@bp.get("/v1/verdicts/<decision_id>")
@require("submitter")
def get_verdict(decision_id: str):
    case = verdicts.require(decision_id)
    return jsonify(verdict_json(case.row, case))


@bp.get("/v1/verdicts")
@require("submitter")
def list_verdicts():
    args = request.args
    unknown = sorted(set(args) - {"advertiser_id", "decision", "limit", "before"})
    details = [{"field": f"query.{k}", "problem": "is not a known parameter"} for k in unknown]
    decision = args.get("decision")
    if decision is not None and decision not in DECISIONS:
        details.append({"field": "query.decision", "problem": f"must be one of {', '.join(DECISIONS)}"})
    limit = 50
    if "limit" in args:
        try:
            # int() alone would take " 5", "+5", "1_0" and other scripts' digits.
            if not (args["limit"].isascii() and args["limit"].isdigit()):
                raise ValueError
            limit = int(args["limit"])
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError
        except ValueError:
            details.append({"field": "query.limit", "problem": f"must be a whole number from 1 to {MAX_LIMIT}"})
    before_seq = None
    if "before" in args:
        before_seq = store().seq_of(args["before"])
        if before_seq is None:
            details.append({"field": "query.before", "problem": "is not the decision_id of a stored verdict"})
    if details:
        raise ApiError("invalid_parameter", "The query has problems.", details)
    rows = store().list(
        advertiser_id=args.get("advertiser_id"), decision=decision, before_seq=before_seq, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify(
        {
            "verdicts": [verdict_json(r) for r in rows],
            "next": rows[-1]["decision_id"] if more and rows else None,
        }
    )


def verdict_json(row: dict, case: verdicts.Case | None = None) -> dict:
    """A stored verdict as the API shows it: the answer as given, plus its review history.

    `decision` stays what the checker answered; `effective_decision` is the
    one in force (the latest review's, else the checker's).
    """
    if case is None:
        case = verdicts.Case(row, store().reviews(row["decision_id"]), store().appeals(row["decision_id"]))
    out = {
        "decision_id": row["decision_id"],
        "decision": row["decision"],
        "advertiser_id": row["advertiser_id"],
        "submission_id": row["submission_id"],
        "policy_version": row["policy_version"],
        "checked_at": row["checked_at"],
        "language": row["language"],
        "reasons": case.reasons,
        "explanation_url": links.explanation_url(row["decision_id"]),
        "effective_decision": case.effective,
        "reviews": [verdicts.public_review(r) for r in case.reviews],
        "appeals": [verdicts.public_appeal(a) for a in case.appeals],
    }
    return out


def _json_object() -> dict:
    body = parse_json_body()
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "Send a JSON object.", [{"field": "$", "problem": "must be a JSON object"}])
    return body


def _unknown_fields(body: dict, known: set[str]) -> list[dict]:
    return [{"field": f"$.{k}", "problem": "is not a known field"} for k in sorted(set(body) - known)]


@bp.post("/v1/verdicts/<decision_id>/appeal")
def appeal(decision_id: str):
    """An advertiser disputes a verdict.

    The credential is the explanation link's token (the advertiser has no
    key): any bad token is a 404, exactly like an unknown verdict. Without a
    token, a submitter key may appeal on the advertiser's behalf (the
    ad-submission flow that holds the advertiser relationship).
    """
    body = _json_object()
    token = body.get("token")
    if "token" in body:
        if not isinstance(token, str) or not links.valid(decision_id, token):
            raise verdicts.not_found()
    else:
        require("submitter")(lambda: None)()
    case = verdicts.require(decision_id)
    details = _unknown_fields(body, {"token", "reason", "language"})
    problem = verdicts.text_problem(body.get("reason"), "$.reason")
    if problem:
        details.append(problem)
    language = body.get("language", case.row["language"])
    if not isinstance(language, str) or not 1 <= len(language) <= 35:
        details.append({"field": "$.language", "problem": "must be a language tag such as en or sv"})
    if details:
        raise ApiError("invalid_request", "The appeal has problems.", details)
    made = verdicts.appeal(case, body["reason"], pick_language(language, engine().languages))
    # The advertiser may hold this answer: it carries no reasons, so no withheld evidence.
    return jsonify({"decision_id": decision_id, "appeal": verdicts.public_appeal(made), "status": "pending"}), 201


@bp.post("/v1/verdicts/<decision_id>/reviews")
@require("reviewer")
def add_review(decision_id: str):
    """A reviewer approves or rejects; the verdict row stays as it was."""
    body = _json_object()
    case = verdicts.require(decision_id)
    details = _unknown_fields(body, {"decision", "note"}) + verdicts.review_problems(
        body.get("decision"), body.get("note")
    )
    if details:
        raise ApiError("invalid_request", "The review has problems.", details)
    verdicts.review(case, g.principal, body.get("decision"), body.get("note"))
    return jsonify(verdict_json(case.row)), 201


@bp.get("/healthz")
def healthz():
    body = {"status": "ok"}
    if current_app.config["AUTH_DISABLED"]:
        body["auth"] = "disabled"
    return jsonify(body)
