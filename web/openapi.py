"""The OpenAPI 3.1 document, built from the same JSON Schemas the service validates with."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("openapi", __name__)
