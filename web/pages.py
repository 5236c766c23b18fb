"""Pages for people: verdict explanations, the policy centre, the review queue, try-it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)
