"""Operations: readiness, status, metrics, structured logs, policy reload."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("ops", __name__)


def init_app(app: Flask) -> None:
    """Set up metrics, logging and reload handling for `app`."""


def checked(outcome) -> None:
    """Called once per stored verdict (outcome: checker.pipeline.Outcome)."""


def log_write_failed() -> None:
    """Called when the verdict log refused a write."""
