"""What the app holds between requests: the compiled policies, and one
verdict-log connection per thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import Flask, current_app

from checker.bundle import Bundle
from checker.errors import PolicyError
from checker.evaluate import Checker
from checker.pipeline import supported_languages
from checker.store import VerdictStore


@dataclass
class Engine:
    """The bundle in force. Replaced whole on reload, never edited in place."""

    bundle: Bundle | None
    checker: Checker | None
    languages: set[str] = field(default_factory=set)
    error: PolicyError | None = None

    @classmethod
    def of(cls, bundle: Bundle) -> Engine:
        return cls(bundle, Checker(bundle), supported_languages(bundle))

    @classmethod
    def broken(cls, error: PolicyError) -> Engine:
        return cls(None, None, set(), error)


def engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["pangolin"]


def set_engine(app: Flask, new: Engine) -> None:
    app.extensions["pangolin"] = new


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
