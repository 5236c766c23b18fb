"""POST /v1/check/batch: up to 100 submissions, one result per item.

The body is a JSON array of 1 to 100 items. The answer is 200 with
`{"results": [...], "counts": {...}}`: one result per item, in order, each
either the verdict exactly as POST /v1/check answers it (stored in the log
first) or that item's own error, `{"error": {"code", "message", "details"}}`
with `details` fields relative to the item (`$.headline`). A bad item never
fails the others, so a mixed batch is still a 200; read every result.

Whole-request errors are the single check's: a body that is not an array of
1 to 100 items is 400 `invalid_submission` (details field `$`), plus
invalid_json, payload_too_large (the 256 KiB limit covers the whole batch),
unsupported_media_type, unauthorized, forbidden and not_ready.

If the verdict log refuses a write, that item and every item after it get
`log_unavailable` (none of them has a verdict; retry them), the items before
keep their stored verdicts, and the answer carries Retry-After.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from checker.authoring import error_body, invalid_submission_body
from checker.errors import InvalidSubmission, StoreUnavailable

from . import openapi
from .api import check_one, parse_json_body
from .auth import require
from .errors import ApiError, internal_error_message, stored_in_this_request
from .state import ready_engine

bp = Blueprint("batch", __name__)

MAX_ITEMS = 100
LOG_UNAVAILABLE = error_body(
    "log_unavailable", "The verdict log cannot be written, so no verdict was given for this item. Retry it later."
)


@bp.post("/v1/check/batch")
@require("submitter")
def check_batch():
    body = parse_json_body()
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_ITEMS:
        problem = (
            f"has {len(body)} items; send 1 to {MAX_ITEMS}"
            if isinstance(body, list)
            else f"must be an array of 1 to {MAX_ITEMS} submissions"
        )
        raise ApiError("invalid_submission", "The batch is not valid.", [{"field": "$", "problem": problem}])
    ready_engine()  # a bundle that is not loaded fails the whole batch, as it fails a single check
    results: list[dict] = []
    log_down = False
    for item in body:
        if log_down:
            results.append({"error": LOG_UNAVAILABLE})
            continue
        stored_before = len(stored_in_this_request())
        try:
            results.append(check_one(item))
        except InvalidSubmission as e:
            results.append({"error": invalid_submission_body(e)})
        except StoreUnavailable as e:
            current_app.logger.error("verdict log unavailable during a batch: %s", e)
            log_down = True  # later items would wait for the same lock; fail them fast
            results.append({"error": LOG_UNAVAILABLE})
        except Exception:
            current_app.logger.exception("unexpected error on a batch item")
            stored = stored_in_this_request()[stored_before:]  # this item's verdict, if it got that far
            results.append({"error": error_body("internal_error", internal_error_message(stored))})
    counts = {"approved": 0, "review": 0, "rejected": 0, "error": 0}
    for r in results:
        counts["error" if "error" in r else r["decision"]] += 1
    resp = jsonify({"results": results, "counts": counts})
    if log_down:
        resp.headers["Retry-After"] = "5"
    return resp


_ITEM_ERROR_CODES = ["invalid_submission", "log_unavailable", "internal_error"]

openapi.schema(
    "BatchRequest",
    {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_ITEMS,
        "description": "1 to 100 items, each checked as POST /v1/check checks its body (see Submission). "
        "An item that is not a valid submission gets its own error in the results; it does not fail the batch.",
        "items": {},
    },
)
openapi.schema(
    "BatchResult",
    {
        "type": "object",
        "required": ["results", "counts"],
        "additionalProperties": False,
        "properties": {
            "results": {
                "type": "array",
                "description": "One per item, in order: the stored verdict, or the item's own error.",
                "items": {
                    "anyOf": [
                        openapi.ref("Verdict"),
                        {
                            "allOf": [
                                openapi.ref("Error"),
                                {"properties": {"error": {"properties": {"code": {"enum": _ITEM_ERROR_CODES}}}}},
                            ]
                        },
                    ]
                },
            },
            "counts": {
                "type": "object",
                "required": ["approved", "review", "rejected", "error"],
                "additionalProperties": False,
                "properties": {
                    k: {"type": "integer", "minimum": 0} for k in ("approved", "review", "rejected", "error")
                },
            },
        },
    },
)
openapi.operation(
    "POST",
    "/v1/check/batch",
    summary="Check up to 100 ad submissions",
    description="Each item is validated, checked and stored exactly as POST /v1/check does it. The answer is 200 "
    "whenever the body is an array of 1 to 100 items, with one result per item in order: the verdict or the "
    "item's own error (`invalid_submission`; `log_unavailable` for an item whose verdict could not be stored, "
    "and for every item after it: retry those).",
    role="submitter",
    body=openapi.ref("BatchRequest"),
    body_examples={
        "mixed": [
            {"advertiser_id": "adv-17", "headline": "Antique carved ivory netsuke", "body": "Signed. $400."},
            {"advertiser_id": "adv-17", "headline": "Grain-free dog food, 12 kg"},
            {"advertiser_id": "adv-17"},
        ]
    },
    responses={200: ("One result per item, in order.", openapi.ref("BatchResult"))},
    errors=("invalid_submission", "not_ready"),
    tags=("verdicts",),
)
