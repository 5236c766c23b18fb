"""Signed explanation links: the advertiser's only credential.

An advertiser has no account. The ad-submission flow hands them
`explanation_url`, whose token is the decision id signed with the app's
SECRET_KEY (itsdangerous, timestamped). Holding the link is the right to read
the verdict page and to appeal. A missing, altered, expired or borrowed token
(signed for another verdict) is indistinguishable from an unknown verdict.
"""

from __future__ import annotations

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "pangolin.explanation-link.v1"  # keeps these tokens apart from session cookies
DEFAULT_MAX_AGE = 180 * 24 * 3600  # seconds; config EXPLANATION_LINK_MAX_AGE


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def token_for(decision_id: str) -> str:
    return _serializer().dumps(decision_id)


def explanation_url(decision_id: str) -> str:
    """The verdict page's path with its token (relative, like `help_url`)."""
    return url_for("pages.verdict", decision_id=decision_id, token=token_for(decision_id))


def valid(decision_id: str, token: str | None) -> bool:
    """True only for an unexpired token signed for exactly this verdict."""
    if not token or len(token) > 500:
        return False
    max_age = current_app.config.get("EXPLANATION_LINK_MAX_AGE")
    max_age = DEFAULT_MAX_AGE if max_age is None else int(max_age)
    try:
        signed_id = _serializer().loads(token, max_age=max_age)
    except BadSignature:  # also SignatureExpired, a subclass
        return False
    return signed_id == decision_id
