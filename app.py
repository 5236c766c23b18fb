"""Pangolin: the Flask application factory.

    flask --app app run            # the service
    flask --app app eval FILE      # measure the policies on labelled ads

Everything is read and compiled here, once: configuration, the policy bundle,
the verdict log's schema. Request handlers only parse, call `checker`, store
and answer.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from flask import Flask

from checker.bundle import load_bundle
from checker.errors import PolicyError
from checker.store import VerdictStore
from web import api, auth, batch, cli, cli_policies, cli_verdicts, errors, openapi, ops, pages, review, stats
from web.state import Engine, set_engine

ROOT = Path(__file__).resolve().parent
MAX_BODY = 256 * 1024


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        DATABASE=os.path.join(app.instance_path, "pangolin.db"),
        POLICY_DIR=str(ROOT / "policies"),
        SECRET_KEY=None,
        AUTH_DISABLED=False,
        EXPLANATION_LINK_MAX_AGE=180 * 24 * 3600,  # seconds an explanation link stays valid
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=None,  # None: secure unless debugging or testing (decided below)
        MAX_CONTENT_LENGTH=MAX_BODY,
    )
    app.config.from_prefixed_env("PANGOLIN")
    if test_config:
        app.config.from_mapping(test_config)
    if app.config["SESSION_COOKIE_SECURE"] is None:
        # The staff session rides in this cookie: never over plain HTTP, except on a developer's machine.
        app.config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing)
    app.json.sort_keys = False
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(app)

    try:
        set_engine(app, Engine.of(load_bundle(app.config["POLICY_DIR"])))
    except PolicyError as e:
        if not _cli_tool_run():
            raise
        # A CLI tool (such as `flask policies validate`) must still start so
        # that it can report the problems; serving stays impossible.
        set_engine(app, Engine.broken(e))

    db = VerdictStore(app.config["DATABASE"])
    db.migrate()
    # Only a server makes the first admin key: a CLI tool (eval, check, policies)
    # run on a fresh machine must not mint and print one.
    first_key = None if _cli_tool_run() else auth.ensure_first_key(app, db)
    db.close()
    _announce(app, first_key)

    errors.register(app)
    for blueprint in (api.bp, batch.bp, pages.bp, review.bp, stats.bp, openapi.bp, ops.bp):
        app.register_blueprint(blueprint)
    for commands in (cli, cli_policies, cli_verdicts):
        commands.register(app)
    ops.init_app(app)
    return app


def _announce(app: Flask, first_key: str | None) -> None:
    if first_key:
        print(
            "\n  No API keys existed, so an admin key was made. It is shown once; keep it safe:\n\n"
            f"      {first_key}\n\n"
            "  Make keys for the ad-submission flow with: flask --app app keys create --role submitter --name NAME\n",
            file=sys.stderr,
            flush=True,
        )
    if app.config["AUTH_DISABLED"] and not app.config.get("TESTING"):
        print(
            "\n  WARNING: AUTH_DISABLED is on. Anyone can use every endpoint. Tests and evaluation only.\n",
            file=sys.stderr,
            flush=True,
        )
    if app.config["AUTH_DISABLED"]:
        app.logger.warning("authentication is DISABLED (AUTH_DISABLED=True): tests and evaluation tools only")


def _instance_secret(app: Flask) -> str:
    """A signing key that survives restarts: instance/secret_key, made once."""
    path = Path(app.instance_path) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


def _cli_tool_run() -> bool:
    """True for `flask <command>` other than `flask run`."""
    return os.environ.get("FLASK_RUN_FROM_CLI") == "true" and "run" not in sys.argv[1:]
