"""CLI for the verdict log: verify the chain, purge old text."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Add the `verdicts` commands to `app.cli`."""
