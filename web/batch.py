"""POST /v1/check/batch: up to 100 submissions, one result per item."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("batch", __name__)
