"""gunicorn settings for Pangolin in production.

    .venv/bin/gunicorn -c gunicorn.conf.py            # serves app:create_app()
    PANGOLIN_BIND=0.0.0.0:8080 .venv/bin/gunicorn -c gunicorn.conf.py
    kill -HUP <master pid>                             # reload the policies (see on_reload)

Sync workers, one per core: a check is CPU work and the log write is short,
so more workers than cores only queue on the same cores. Put a proxy that
buffers slow clients (nginx) in front: a sync worker is busy for as long as
its client takes to send the request.

The app is loaded once, in the master, before the workers fork (preload):
the compiled policies are built once and shared copy-on-write, and a broken
bundle stops the start before any worker exists. It also decides what a
SIGHUP does: gunicorn's HUP re-reads this file and replaces every worker,
but with preload it does *not* reload the app, so on_reload below reloads
the policies in the master before the new workers fork. A broken bundle is
refused there and the running one kept; the service carries on.

Each setting here can be overridden on the command line (`-w 3`, `-b ...`).
"""

from __future__ import annotations

import datetime as _dt
import gc
import glob
import json
import os
import shutil
import tempfile
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger, SafeAtoms

wsgi_app = "app:create_app()"
bind = [os.environ.get("PANGOLIN_BIND", "127.0.0.1:8000")]
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)) or 1)
preload_app = True
timeout = 30  # a check takes milliseconds; a worker silent for 30 s is stuck and is replaced
graceful_timeout = 30
control_socket_disable = True  # gunicorn >= 25: one shared default path per user; signals do the job
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat files off the disk: no stalls under I/O load

# -- metrics: one file per worker, added up by /metrics ----------------------------------------
# Must be set before the app (and so prometheus_client) is imported. This file
# runs again on every HUP: keep the directory of the first run.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="pangolin-metrics-")
    os.environ["GUNICORN_PANGOLIN_METRICS_DIR_OWNED"] = "1"


# -- logs: gunicorn's own to stderr, the access log as JSON lines on stdout ------------------
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = (
    '{"ts":"%(iso)s","logger":"gunicorn.access","remote":"%(h)s","method":"%(m)s","path":"%(U)s",'
    '"query":"%(q)s","status":%(s)s,"bytes":%(B)s,"duration_ms":%(ms)s,"user_agent":"%(a)s","pid":%(pid)s}'
)


# Query parameters that are credentials: the verdict page's `?token=` is the advertiser's only one.
SECRET_PARAMETERS = frozenset({"token"})


def masked_query(query: str) -> str:
    """The query string with the values of SECRET_PARAMETERS replaced, however their names are encoded."""
    parts = []
    for part in query.split("&"):
        name, eq, _ = part.partition("=")
        if unquote_plus(name) in SECRET_PARAMETERS:
            part = f"{name}{eq}REDACTED" if eq else part
        parts.append(part)
    return "&".join(parts)


class _JsonAtoms(SafeAtoms):
    """gunicorn's atoms with JSON string escaping (its own only escapes double quotes)."""

    def __init__(self, atoms):
        dict.__init__(self)
        for key, value in atoms.items():
            self[key] = json.dumps(value, ensure_ascii=False)[1:-1] if isinstance(value, str) else value


class JsonAccessLogger(Logger):
    atoms_wrapper_class = _JsonAtoms

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["iso"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        atoms["q"] = masked_query(atoms.get("q") or "")
        atoms["ms"] = round(request_time.total_seconds() * 1000, 3)
        atoms["B"] = atoms.get("B") or 0
        atoms["pid"] = os.getpid()
        return atoms


logger_class = JsonAccessLogger


# -- hooks -----------------------------------------------------------------------------------------
def on_starting(server):
    # A directory given by the operator may hold the files of an earlier run.
    if not os.environ.get("GUNICORN_PANGOLIN_METRICS_DIR_OWNED"):
        for f in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
            os.remove(f)


def when_ready(server):
    # The preloaded app (policies included) never changes in the workers:
    # keep the collector from walking it, so its pages stay shared.
    gc.collect()
    gc.freeze()


def _pangolin_app(server):
    """The preloaded Pangolin app, or None (no preload, or another app served with this file)."""
    if not server.cfg.preload_app:
        return None
    app = server.app.wsgi()
    return app if "pangolin" in getattr(app, "extensions", {}) else None


def post_fork(server, worker):
    app = _pangolin_app(server)
    if app is not None:
        from web import ops

        # An admin reload in one worker must reach the master and the other workers.
        ops.supervised_by(app, server.pid)


def on_reload(server):
    """SIGHUP: reload the policies in the master; the workers forked next share them."""
    app = _pangolin_app(server)
    if app is None:
        return  # without preload each new worker imports the app (and the policies) itself
    from checker.errors import PolicyError
    from web import ops

    try:
        ops.reload_policies(app, trigger="SIGHUP")
    except PolicyError:
        pass  # logged (policy_reload_refused); the running policies stay
    except Exception:
        server.log.exception("policy reload failed; the running policies stay")
    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if os.environ.get("GUNICORN_PANGOLIN_METRICS_DIR_OWNED"):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
