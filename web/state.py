"""What the app holds between requests: the compiled policies, and one
verdict-log connection per thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask, current_app

from checker.bundle import Bundle
from checker.errors import PolicyError
from checker.evaluate import Checker
from checker.pipeline import supported_languages
from checker.store import VerdictStore

from .errors import ApiError


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Engine:
    """The bundle in force. Replaced whole on reload, never edited in place."""

    bundle: Bundle | None
    checker: Checker | None
    languages: set[str] = field(default_factory=set)
    error: PolicyError | None = None
    since: str = field(default_factory=_now)  # when it started serving

    @classmethod
    def of(cls, bundle: Bundle) -> Engine:
        return cls(bundle, Checker(bundle), supported_languages(bundle))

    @classmethod
    def broken(cls, error: PolicyError) -> Engine:
        return cls(None, None, set(), error)


def engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["pangolin"]


def ready_engine(app: Flask | None = None) -> Engine:
    """The engine in force, if its policies are loaded; else 503 not_ready (the CLI exits instead)."""
    eng = engine(app)
    if eng.bundle is None:
        raise ApiError("not_ready", "The policies are not loaded.")
    return eng


def set_engine(app: Flask, new: Engine) -> None:
    # One reference assignment: a request holds the engine it started with
    # (its bundle, checker and version) to the end, whatever replaces it.
    app.extensions["pangolin"] = new


_reload_lock = threading.Lock()


def replace_engine(app: Flask, load: Callable[[], Bundle]) -> tuple[Engine, Engine]:
    """Load a bundle and put a new Engine in place of the old; return (old, new).

    If `load` raises (a broken bundle), nothing changes and the error
    propagates: the running engine keeps serving. Reloads are serialised so
    that two at once cannot install an older bundle over a newer one.
    """
    with _reload_lock:
        old = engine(app)
        new = Engine.of(load())
        set_engine(app, new)
        return old, new


_local = threading.local()


def store(app: Flask | None = None) -> VerdictStore:
    """This thread's connection to the verdict log (opened on first use)."""
    app = app or current_app
    path = app.config["DATABASE"]
    stores = getattr(_local, "stores", None)
    if stores is None:
        stores = _local.stores = {}
    s = stores.get(path)
    if s is None:
        s = stores[path] = VerdictStore(path)
    return s


def close_stores() -> None:
    for s in getattr(_local, "stores", {}).values():
        s.close()
    _local.stores = {}
