"""Every error leaves as JSON with a code, a message and, where it helps, the
fields at fault. One place translates exceptions to HTTP; handlers never
build error bodies themselves.
"""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from checker.errors import InvalidSubmission, NotFound, StoreUnavailable

# Codes and statuses: also the list the README documents (a test keeps them in step).
ERROR_CODES = {
    "invalid_json": 400,
    "invalid_submission": 400,
    "invalid_parameter": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "log_unavailable": 503,
    "not_ready": 503,
    "internal_error": 500,
}

_HTTP_CODES = {
    400: "invalid_json",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
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


def error_response(code: str, message: str, details: list[dict] | None = None, headers: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    resp = jsonify(body)
    resp.status_code = ERROR_CODES[code]
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
        code = _HTTP_CODES.get(e.code)
        if code is None:
            return error_response("internal_error", e.description or "Error.")
        headers = {}
        if e.code == 405 and getattr(e, "valid_methods", None):
            headers["Allow"] = ", ".join(e.valid_methods)
        messages = {
            404: "No such endpoint.",
            405: "This endpoint does not accept that method.",
            413: "The request body is larger than 256 KiB.",
            415: "Send the submission as application/json.",
        }
        return error_response(code, messages.get(e.code, e.description or "Bad request."), headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        app.logger.exception("unexpected error")
        return error_response("internal_error", "Something went wrong on our side; nothing was stored.")
