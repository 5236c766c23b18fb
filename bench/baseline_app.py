"""The floor for the service benchmark: what any check endpoint must pay.

Flask parses the JSON body and sqlite-utils inserts one row into a WAL
database (synchronous=NORMAL, as the verdict log), then the id is answered.
No validation, no checking, no hash chain. bench/service.py serves it with
the same gunicorn.conf.py (workers, worker class, preload, logging) as
Pangolin:

    BASELINE_DATABASE=/tmp/b.db gunicorn -c gunicorn.conf.py 'bench.baseline_app:create_app()'
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from sqlite_utils import Database


def _connect(path: str) -> Database:
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA synchronous = NORMAL")
    return Database(conn)


def create_app(path: str | None = None) -> Flask:
    app = Flask(__name__)
    path = path or os.environ["BASELINE_DATABASE"]
    db = _connect(path)
    db.enable_wal()
    db["submissions"].create(
        {"id": int, "advertiser_id": str, "submission_json": str, "received_at": str}, pk="id", if_not_exists=True
    )
    db.conn.close()
    local = threading.local()

    def table():
        if getattr(local, "db", None) is None:
            local.db = _connect(path)  # one connection per worker thread, kept open
        return local.db["submissions"]

    @app.post("/v1/check")
    def check():
        payload = request.get_json()
        t = table()
        t.insert(
            {
                "advertiser_id": payload.get("advertiser_id"),
                "submission_json": json.dumps(payload, ensure_ascii=False),
                "received_at": datetime.now(UTC).isoformat(),
            }
        )
        return jsonify({"id": t.last_pk, "stored": True})

    @app.get("/readyz")
    def readyz():
        return jsonify({"status": "ready"})

    return app
