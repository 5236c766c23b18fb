"""Every error leaves as JSON with a code, a message and the fields at fault
(`details`, empty when no field is). One place translates exceptions to HTTP;
handlers never build error bodies themselves. Blueprints that serve pages to
people (marked with `pages_blueprint`) get the same status as an HTML page
(templates/error.html).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    has_request_context,
    jsonify,
    make_response,
    render_template,
    request,
)
from werkzeug.exceptions import HTTPException

from checker.errors import InvalidSubmission, NotFound, StoreUnavailable

# Codes and their statuses: also the list the README documents (a test keeps them in step).
ERROR_CODES = {
    "invalid_json": 400,
    "invalid_submission": 400,
    "invalid_parameter": 400,
    "invalid_request": 400,
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "http_error": 400,  # any other 4xx HTTP status, answered with that status (416, 431, ...)
    "log_unavailable": 503,
    "not_ready": 503,
    "internal_error": 500,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
_HTTP_MESSAGES = {
    404: "No such endpoint.",
    405: "This endpoint does not accept that method.",
    413: "The request body is larger than 256 KiB.",
    415: "Send the submission as application/json.",
}


class ApiError(Exception):
    """An error answer: `code` from ERROR_CODES, a message, optional details."""

    def __init__(self, code: str, message: str, details: list[dict] | None = None, headers: dict | None = None):
        super().__init__(message)
        self.code = code
        self.status = ERROR_CODES[code]
        self.message = message
        self.details = details
        self.headers = headers or {}


def pages_blueprint(bp: Blueprint) -> Blueprint:
    """Mark `bp` as serving pages to people: its errors are pages, and it gets the pages' headers."""
    bp.serves_pages = True
    return bp


def serves_pages() -> bool:
    """True while answering a request of a blueprint marked with `pages_blueprint`."""
    if not has_request_context() or request.blueprint is None:
        return False
    return getattr(current_app.blueprints.get(request.blueprint), "serves_pages", False)


def note_stored(what: str) -> None:
    """This request stored `what` ("the verdict vd_…"): an error after it must not claim nothing was stored."""
    g.setdefault("stored", []).append(what)


def stored_in_this_request() -> list[str]:
    return list(g.get("stored", [])) if has_request_context() else []


def internal_error_message(stored: list[str]) -> str:
    if not stored:
        return "Something went wrong on our side; nothing was stored."
    named = ", ".join(stored[:3]) + (f" and {len(stored) - 3} more" if len(stored) > 3 else "")
    return f"Something went wrong on our side after storing {named}; what was stored stays in the log."


def error_response(
    code: str,
    message: str,
    details: list[dict] | None = None,
    headers: dict | None = None,
    status: int | None = None,
):
    """The error answer: a page for page blueprints, else JSON. `status` overrides the code's own."""
    status = status or ERROR_CODES[code]
    if serves_pages():
        resp = make_response(render_template("error.html", status=status, code=code, message=message, details=details))
        resp.status_code = status
        for k, v in (headers or {}).items():
            if k != "WWW-Authenticate":
                resp.headers[k] = v
        return resp
    resp = jsonify({"error": {"code": code, "message": message, "details": details or []}})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(e: ApiError):
        return error_response(e.code, e.message, e.details, e.headers)

    @app.errorhandler(InvalidSubmission)
    def _invalid(e: InvalidSubmission):
        n = len(e.details)
        return error_response(
            "invalid_submission", f"The submission has {n} problem{'s' if n != 1 else ''}.", e.details
        )

    @app.errorhandler(StoreUnavailable)
    def _store(e: StoreUnavailable):
        app.logger.error("verdict log unavailable: %s", e)
        return error_response(
            "log_unavailable",
            "The verdict log cannot be written, so no verdict was given. Retry later.",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(NotFound)
    def _not_found(e: NotFound):
        return error_response("not_found", str(e) or "Not found.")

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        status = e.code or 500
        if status >= 500:
            app.logger.error("HTTP %s: %s", status, e.description)
            return error_response("internal_error", internal_error_message(stored_in_this_request()), status=status)
        code = _HTTP_CODES.get(status, "http_error")
        # werkzeug's own headers (Allow on a 405, Content-Range on a 416) go along; the body is ours.
        headers = {k: v for k, v in e.get_headers() if k.lower() != "content-type"}
        message = _HTTP_MESSAGES.get(status) or e.description or e.name
        return error_response(code, message, headers=headers, status=status)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        app.logger.exception("unexpected error")
        return error_response("internal_error", internal_error_message(stored_in_this_request()))
