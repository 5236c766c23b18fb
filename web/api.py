"""The JSON API: check an ad, read verdicts, health."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request

from checker import pipeline
from checker.errors import NotFound, StoreUnavailable

from . import ops
from .auth import require
from .errors import ApiError
from .state import engine, store

bp = Blueprint("api", __name__)

DECISIONS = ("approved", "review", "rejected")
MAX_LIMIT = 200


def parse_json_body():
    """The request body as JSON, or a precise 4xx."""
    if not request.is_json:
        raise ApiError("unsupported_media_type", "Send the submission as application/json.")
    raw = request.get_data(cache=True)
    if len(raw) > current_app.config["MAX_CONTENT_LENGTH"]:
        raise ApiError("payload_too_large", "The request body is larger than 256 KiB.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError("invalid_json", f"The body is not valid UTF-8 (byte {e.start}).") from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise ApiError(
            "invalid_json", f"The body is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})."
        ) from None
    except RecursionError:
        raise ApiError("invalid_json", "The body is nested too deeply.") from None
    except ValueError as e:
        raise ApiError("invalid_json", str(e)) from None


def _no_constants(name: str):
    raise ValueError(f"The body is not valid JSON: {name} is not a JSON number.")


def ready_engine():
    eng = engine()
    if eng.bundle is None:
        raise ApiError("not_ready", "The policies are not loaded.")
    return eng


def check_one(payload) -> dict:
    """Validate, check, store, answer: the whole path for one submission."""
    eng = ready_engine()
    submission = eng.bundle.submissions.validate(payload)
    outcome = pipeline.run(eng.bundle, eng.checker, submission, eng.languages)
    try:
        store().record(outcome.row)  # no verdict leaves unstored
    except StoreUnavailable:
        ops.log_write_failed()
        raise
    ops.checked(outcome)
    return outcome.response


@bp.post("/v1/check")
@require("submitter")
def check():
    return jsonify(check_one(parse_json_body()))


@bp.get("/v1/verdicts/<decision_id>")
@require("submitter")
def get_verdict(decision_id: str):
    row = store().get(decision_id)
    if row is None:
        raise NotFound(f"No verdict {decision_id!r}.")
    return jsonify(verdict_json(row))


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


def verdict_json(row: dict) -> dict:
    """A stored verdict as the API shows it: the answer as given, plus its review history."""
    out = {
        "decision_id": row["decision_id"],
        "decision": row["decision"],
        "advertiser_id": row["advertiser_id"],
        "submission_id": row["submission_id"],
        "policy_version": row["policy_version"],
        "checked_at": row["checked_at"],
        "language": row["language"],
        "reasons": json.loads(row["reasons_json"]),
    }
    return out


@bp.get("/healthz")
def healthz():
    body = {"status": "ok"}
    if current_app.config["AUTH_DISABLED"]:
        body["auth"] = "disabled"
    return jsonify(body)
