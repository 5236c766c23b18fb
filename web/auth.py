"""Who may do what.

API keys are random, shown once, and stored only as SHA-256 hashes (a key
has 256 bits of entropy, so a slow hash adds nothing). Each key has a role:

    submitter  the ad-submission flow: check ads, read verdicts
    reviewer   the review queue and its decisions (also what a submitter may do)
    admin      keys and policy reloads (and everything else)

`/v1/*` takes `Authorization: Bearer <key>`: no valid key is 401, the wrong
role 403. Reviewer pages take a session cookie obtained by signing in with a
reviewer key; every form there carries a CSRF token. With AUTH_DISABLED (tests
and evaluation tools only) every check passes, and the service says so.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import sqlite3

from flask import Flask, current_app, g, request, session

from checker.store import now_iso

from .errors import ApiError
from .state import store

ROLES = ("submitter", "reviewer", "admin")
# Which roles may act as which: an admin can review, a reviewer can submit.
IMPLIES = {
    "admin": {"admin", "reviewer", "submitter"},
    "reviewer": {"reviewer", "submitter"},
    "submitter": {"submitter"},
}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(role: str, name: str, db=None) -> tuple[str, str]:
    """Make a key; return (key_id, key). The key itself is never stored."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    key = f"pgk_{secrets.token_urlsafe(32)}"
    key_id = f"key_{secrets.token_hex(6)}"
    (db or store()).add_key(key_id, name, role, hash_key(key))
    return key_id, key


def principal_for(key: str | None) -> dict | None:
    if not key:
        return None
    return store().find_key(hash_key(key))


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def require(role: str):
    """Decorator for API views: a bearer key whose role includes `role`."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            if current_app.config["AUTH_DISABLED"]:
                g.principal = {"key_id": None, "name": "auth-disabled", "role": "admin"}
                return view(*args, **kwargs)
            key = _bearer()
            who = principal_for(key)
            if who is None:
                raise ApiError(
                    "unauthorized",
                    "Send a valid API key: Authorization: Bearer <key>."
                    if key is None
                    else "The API key is not valid.",
                    headers={"WWW-Authenticate": 'Bearer realm="pangolin"'},
                )
            if role not in IMPLIES[who["role"]]:
                raise ApiError("forbidden", f"A {who['role']} key may not do this; it needs the {role} role.")
            g.principal = who
            return view(*args, **kwargs)

        return inner

    return wrap


# -- reviewer sessions ----------------------------------------------------------------
def sign_in(key: str) -> dict | None:
    """Start a session for a reviewer or admin key; None if the key may not."""
    who = principal_for(key)
    if who is None or "reviewer" not in IMPLIES[who["role"]]:
        return None
    session.clear()
    session["key_id"] = who["key_id"]
    session["name"] = who["name"]
    session["role"] = who["role"]
    session["csrf"] = secrets.token_urlsafe(32)
    return who


def sign_out() -> None:
    session.clear()


def session_principal(role: str = "reviewer") -> dict | None:
    """The signed-in person, if their key is still valid and has `role`."""
    if current_app.config["AUTH_DISABLED"]:
        return {"key_id": None, "name": "auth-disabled", "role": "admin"}
    key_id = session.get("key_id")
    if not key_id:
        return None
    who = store().active_key(key_id)
    if who is None or role not in IMPLIES[who["role"]]:
        return None
    return who


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok() -> bool:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    return bool(session.get("csrf")) and hmac.compare_digest(sent, session["csrf"])


# -- start-up ---------------------------------------------------------------------------
def ensure_first_key(app: Flask, db) -> str | None:
    """Secure by default: with no keys, make an admin key and return it once."""
    if app.config["AUTH_DISABLED"]:
        return None
    conn = db.db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[0]:
            conn.execute("COMMIT")
            return None
        key = f"pgk_{secrets.token_urlsafe(32)}"
        key_id = f"key_{secrets.token_hex(6)}"
        conn.execute(
            "INSERT INTO api_keys (key_id, name, role, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            [key_id, "first-admin", "admin", hash_key(key), now_iso()],
        )
        conn.execute("COMMIT")
        return key
    except sqlite3.Error:
        conn.execute("ROLLBACK")
        raise
