"""Operations: readiness, status, metrics, structured logs, policy reload.

    GET  /readyz            200 when the policies are loaded and the verdict log takes writes, else 503
    GET  /v1/status         policy version, when loaded, rule and term counts, verdict counts
    GET  /metrics           Prometheus text format
    POST /v1/admin/reload   admin key: load the policy files again; a broken bundle is refused

Metrics live in prometheus-client. Under gunicorn (gunicorn.conf.py sets
PROMETHEUS_MULTIPROC_DIR before anything imports prometheus_client) every
worker writes its own files and /metrics adds them up, so any worker answers
for all; elsewhere (flask run, tests) the values are this process's own.

Every stored verdict gives one JSON line on stderr (logger `pangolin.checks`):
decision id, decision, rules, duration, policy version; never the ad's text.

A reload builds a new Engine and swaps it in whole (web.state.replace_engine):
a request in flight finishes on the engine it started with, and every
verdict records the version that decided it. Under gunicorn a reload must
reach every worker, so the admin endpoint also signals the master (SIGHUP),
whose on_reload hook (gunicorn.conf.py) compiles the policies once and
replaces the workers with ones that share them. See docs/operations.md.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import sys
import time

from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from checker.bundle import load_bundle
from checker.errors import PolicyError, StoreUnavailable
from checker.store import BUSY_TIMEOUT_MS

from . import openapi
from .auth import require
from .errors import ApiError
from .state import engine, replace_engine, store

bp = Blueprint("ops", __name__)

READY_TIMEOUT_MS = 1000  # how long /readyz waits for the log's write lock

# -- metrics --------------------------------------------------------------------------
# Their own registry: several apps in one process (tests) share these
# counters, never registering them twice.
REGISTRY = CollectorRegistry(auto_describe=True)
CHECKS = Counter(
    "pangolin_checks", "Verdicts given (stored, then answered), by decision.", ["decision"], registry=REGISTRY
)
RULE_HITS = Counter(
    "pangolin_rule_hits",
    "Rules that fired in a stored verdict, by policy and rule; mode is enforce or shadow.",
    ["policy", "rule", "mode"],
    registry=REGISTRY,
)
CHECK_SECONDS = Histogram(
    "pangolin_check_duration_seconds",
    "Time to check one submission: normalise, match, evaluate, build the answer (the log write excluded).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
LOG_WRITE_FAILURES = Counter(
    "pangolin_log_write_failures",
    "Checks not answered because the verdict log refused the write (each was a 503).",
    registry=REGISTRY,
)
RELOADS = Counter(
    "pangolin_policy_reloads",
    "Policy reloads by result (loaded: a new version, unchanged: the same files, refused: a broken bundle kept "
    "out) and trigger (api: POST /v1/admin/reload in a worker, SIGHUP: the gunicorn master).",
    ["result", "trigger"],
    registry=REGISTRY,
)


def multiprocess_mode() -> bool:
    """True when prometheus_client was imported with PROMETHEUS_MULTIPROC_DIR set."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def exposition() -> bytes:
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


# -- structured logs ---------------------------------------------------------------------
log = logging.getLogger("pangolin")
check_log = logging.getLogger("pangolin.checks")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, event, then the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out = {
            "ts": f"{ts}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"), default=str)


class _Stderr(logging.StreamHandler):
    """A handler on whatever sys.stderr is at the moment (test capture swaps it)."""

    def __init__(self):
        super().__init__()
        self.setFormatter(JsonFormatter())

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _setup_logging(level: str) -> None:
    if not any(isinstance(h, _Stderr) for h in log.handlers):
        log.addHandler(_Stderr())
    log.propagate = False
    log.setLevel(level.upper())


def emit(logger: logging.Logger, level: int, event: str, **fields) -> None:
    """Log `event` with `fields` as one JSON line (see JsonFormatter)."""
    if logger.isEnabledFor(level):
        # makeRecord + handle is Logger.log without the walk up the stack for
        # the caller's file and line, which these lines never show: a third
        # of the cost of a line, paid on every check.
        record = logger.makeRecord(logger.name, level, "", 0, event, (), None, extra={"fields": fields})
        logger.handle(record)


# -- hooks the API calls --------------------------------------------------------------------
def init_app(app: Flask) -> None:
    """Set up metrics, logging and reload handling for `app`."""
    _setup_logging(str(app.config.get("LOG_LEVEL", "INFO")))
    app.extensions["pangolin.ops"] = {"supervisor": None}


_children: dict[tuple, object] = {}  # labelled series, looked up once (bounded: decisions x rules)


def _child(metric, *labels):
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def checked(outcome) -> None:
    """Called once per stored verdict (outcome: checker.pipeline.Outcome)."""
    verdict = outcome.verdict
    row = outcome.row
    _child(CHECKS, verdict.decision).inc()
    for f in verdict.findings:
        _child(RULE_HITS, f.policy, f.rule.id, "enforce").inc()
    for f in verdict.shadow:
        _child(RULE_HITS, f.policy, f.rule.id, "shadow").inc()
    CHECK_SECONDS.observe(row["duration_ms"] / 1000)
    emit(
        check_log,
        logging.INFO,
        "check",
        decision_id=row["decision_id"],
        decision=verdict.decision,
        rules=[f.rule.id for f in verdict.findings],
        shadow_rules=[f.rule.id for f in verdict.shadow],
        duration_ms=row["duration_ms"],
        policy_version=row["policy_version"],
        advertiser_id=row["advertiser_id"],
        language=row["language"],
    )


def log_write_failed() -> None:
    """Called when the verdict log refused a write."""
    LOG_WRITE_FAILURES.inc()
    emit(check_log, logging.ERROR, "check_not_stored", reason="the verdict log refused the write; answered 503")


# -- reload ------------------------------------------------------------------------------------
def reload_policies(app: Flask, trigger: str) -> dict:
    """Load the policy files again and swap them in; raise PolicyError if broken (nothing changes).

    Used by POST /v1/admin/reload in a worker and by gunicorn's on_reload hook
    in the master (SIGHUP). Returns what happened, for the answer and the log.
    """
    started = time.perf_counter()
    before = engine(app)
    try:
        old, new = replace_engine(app, lambda: load_bundle(app.config["POLICY_DIR"]))
    except PolicyError as e:
        _child(RELOADS, "refused", trigger).inc()
        emit(
            log,
            logging.ERROR,
            "policy_reload_refused",
            trigger=trigger,
            problems=len(e.problems),
            first_problems=e.problems[:5],
            policy_version=before.bundle.version if before.bundle else None,
        )
        raise
    result = "unchanged" if old.bundle is not None and old.bundle.version == new.bundle.version else "loaded"
    _child(RELOADS, result, trigger).inc()
    out = {
        "result": result,
        "policy_version": new.bundle.version,
        "previous_version": old.bundle.version if old.bundle else None,
        "loaded_at": new.bundle.loaded_at,
        "seconds": round(time.perf_counter() - started, 3),
    }
    emit(log, logging.INFO, "policy_reload", trigger=trigger, **out)
    return out


def supervised_by(app: Flask, master_pid: int) -> None:
    """Under gunicorn (post_fork hook): reloads must also reach the master and its other workers."""
    app.extensions.setdefault("pangolin.ops", {})["supervisor"] = master_pid


# -- endpoints -----------------------------------------------------------------------------------
@bp.get("/readyz")
def readyz():
    eng = engine()
    details = []
    if eng.bundle is None:
        n = len(eng.error.problems) if eng.error else 0
        details.append({"field": "policies", "problem": f"not loaded ({n} problem(s) in the bundle)"})
    problem = _log_write_problem()
    if problem:
        details.append({"field": "verdict_log", "problem": problem})
    if details:
        raise ApiError("not_ready", "Not ready: " + "; ".join(d["field"] for d in details) + ".", details)
    return jsonify({"status": "ready", "policy_version": eng.bundle.version})


def _log_write_problem() -> str | None:
    """None if this worker's connection can take the log's write lock and write; else why not.

    BEGIN IMMEDIATE takes the write lock (a stuck writer shows as busy); the
    page-header write, rolled back, fails on a read-only file or connection.
    Nothing is written.
    """
    try:
        conn = store().db.conn
    except StoreUnavailable as e:
        return str(e)
    try:
        conn.execute(f"PRAGMA busy_timeout = {READY_TIMEOUT_MS}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                conn.execute(f"PRAGMA user_version = {int(version)}")
            finally:
                conn.execute("ROLLBACK")
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except sqlite3.Error as e:
        return f"cannot write: {e}"
    return None


@bp.get("/v1/status")
@require("submitter")
def status():
    eng = engine()
    b = eng.bundle
    try:
        counts = store().decision_counts()
    except sqlite3.Error as e:
        raise StoreUnavailable(str(e)) from e
    verdicts = {d: counts.get(d, 0) for d in ("approved", "review", "rejected")}
    rules = b.rules if b else []
    return jsonify(
        {
            "ready": b is not None,
            "policy_version": b.version if b else None,
            "loaded_at": b.loaded_at if b else None,
            "serving_since": eng.since,
            "policies": len(b.policies) if b else 0,
            "rules": {
                "enforce": sum(1 for r in rules if r.mode != "shadow"),
                "shadow": sum(1 for r in rules if r.mode == "shadow"),
            },
            "lexicons": len(b.lexicons) if b else 0,
            "terms": b.matcher.term_count if b else 0,
            "verdicts": {**verdicts, "total": sum(counts.values())},
            "pid": os.getpid(),
        }
    )


@bp.get("/metrics")
def metrics():
    return Response(exposition(), content_type=CONTENT_TYPE_LATEST)


@bp.post("/v1/admin/reload")
@require("admin")
def admin_reload():
    app = current_app._get_current_object()
    try:
        out = reload_policies(app, trigger="api")
    except PolicyError as e:
        running = engine().bundle
        kept = running.version if running else "none"
        raise ApiError(
            "conflict",
            f"The policy bundle has {len(e.problems)} problem(s), so it was not loaded; "
            f"the running policies ({kept}) stay in force.",
            [_problem_detail(p) for p in e.problems],
        ) from None
    master = app.extensions.get("pangolin.ops", {}).get("supervisor")
    if master:
        # Every worker must follow: the master reloads once and replaces them.
        try:
            os.kill(master, signal.SIGHUP)
        except OSError as e:
            emit(log, logging.ERROR, "policy_reload_not_propagated", master_pid=master, error=str(e))
            master = None
    out["workers"] = "replacing" if master else "this process"
    return jsonify(out)


def _problem_detail(problem: str) -> dict:
    """'policies/x.json: $.rules[0].id: message' -> {"field": "policies/x.json: $.rules[0].id", "problem": ...}."""
    head, sep, rest = problem.partition(": ")
    if sep and rest.startswith(("$", "line ", "entry ")):
        where, sep2, message = rest.partition(": ")
        if sep2:
            return {"field": f"{head}: {where}", "problem": message}
    return {"field": head, "problem": rest or problem} if sep else {"field": "policies", "problem": problem}


# -- the OpenAPI document --------------------------------------------------------------------------
openapi.schema(
    "Ready",
    {
        "type": "object",
        "required": ["status", "policy_version"],
        "additionalProperties": False,
        "properties": {"status": {"const": "ready"}, "policy_version": {"type": "string"}},
    },
)
openapi.schema(
    "Status",
    {
        "type": "object",
        "required": [
            "ready",
            "policy_version",
            "loaded_at",
            "serving_since",
            "policies",
            "rules",
            "lexicons",
            "terms",
            "verdicts",
            "pid",
        ],
        "additionalProperties": False,
        "properties": {
            "ready": {"type": "boolean"},
            "policy_version": {"type": ["string", "null"]},
            "loaded_at": {"type": ["string", "null"], "description": "When this bundle was compiled."},
            "serving_since": {"type": "string", "description": "When this worker started serving it."},
            "policies": {"type": "integer", "minimum": 0},
            "rules": {
                "type": "object",
                "required": ["enforce", "shadow"],
                "additionalProperties": False,
                "properties": {"enforce": {"type": "integer"}, "shadow": {"type": "integer"}},
            },
            "lexicons": {"type": "integer", "minimum": 0},
            "terms": {"type": "integer", "minimum": 0, "description": "Search terms, inflected forms included."},
            "verdicts": {
                "type": "object",
                "required": ["approved", "review", "rejected", "total"],
                "additionalProperties": False,
                "properties": {
                    k: {"type": "integer", "minimum": 0} for k in ("approved", "review", "rejected", "total")
                },
            },
            "pid": {"type": "integer", "description": "The worker process that answered."},
        },
    },
)
openapi.schema(
    "Reload",
    {
        "type": "object",
        "required": ["result", "policy_version", "previous_version", "loaded_at", "seconds", "workers"],
        "additionalProperties": False,
        "properties": {
            "result": {"enum": ["loaded", "unchanged"]},
            "policy_version": {"type": "string"},
            "previous_version": {"type": ["string", "null"]},
            "loaded_at": {"type": "string"},
            "seconds": {"type": "number", "minimum": 0},
            "workers": {
                "enum": ["replacing", "this process"],
                "description": "Under gunicorn every worker is replaced by one with the new policies.",
            },
        },
    },
)
openapi.operation(
    "GET",
    "/readyz",
    summary="Readiness",
    description="200 when the policies are loaded and the verdict log takes writes; 503 (`not_ready`) names "
    "what is missing.",
    role=None,
    responses={200: ("Ready to check ads.", openapi.ref("Ready"))},
    errors=("not_ready",),
    tags=("operations",),
)
openapi.operation(
    "GET",
    "/v1/status",
    summary="Policy version, rule and term counts, verdict counts",
    role="submitter",
    responses={200: ("What this worker serves.", openapi.ref("Status"))},
    errors=("log_unavailable",),
    tags=("operations",),
)
openapi.operation(
    "GET",
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    description="pangolin_checks_total{decision}, pangolin_rule_hits_total{policy,rule,mode}, "
    "pangolin_check_duration_seconds, pangolin_log_write_failures_total, pangolin_policy_reloads_total{result,trigger}.",
    role=None,
    responses={200: ("Prometheus text exposition format.", None)},
    tags=("operations",),
)
openapi.operation(
    "POST",
    "/v1/admin/reload",
    summary="Reload the policies without a restart",
    description="Loads the policy files again. A broken bundle is refused (409 `conflict`, every problem "
    "in `details`) and the running policies stay in force. Under gunicorn every worker is replaced by one "
    "serving the new version.",
    role="admin",
    responses={200: ("The policies in force now.", openapi.ref("Reload"))},
    errors=("conflict",),
    tags=("operations",),
)
