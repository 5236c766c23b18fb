"""CLI tools for policy authors: validate, test, check, replay, coverage."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Add the authoring commands to `app.cli`."""
