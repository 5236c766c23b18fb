"""Operations: readiness, status, metrics, JSON logs, policy reload, gunicorn's settings and hooks."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from checker.errors import PolicyError
from tests.conftest import BundleMaker
from web import auth, ops
from web.state import Engine, close_stores, engine, set_engine, store

ROOT = Path(__file__).resolve().parent.parent
IVORY = {"advertiser_id": "adv-1", "headline": "Old ivory carving", "body": "Zyzzyva estate piece"}
CLEAN = {"advertiser_id": "adv-1", "headline": "Oak table", "body": "Seats six"}


@pytest.fixture(scope="module")
def shared_policy_dir(tmp_path_factory):
    """A small bundle for the tests that leave it alone (compiled once: the cache is by path and content)."""
    return BundleMaker(tmp_path_factory.mktemp("ops-bundle"))()


@pytest.fixture
def policy_dir(make_bundle):
    """A small bundle of the test's own, to change."""
    return make_bundle()


def _app(policy_dir: Path, db: Path):
    return create_app({"TESTING": True, "DATABASE": str(db), "AUTH_DISABLED": True, "POLICY_DIR": str(policy_dir)})


@pytest.fixture
def ops_app(shared_policy_dir, tmp_path):
    """An app on a small bundle of its own (the real vocabulary changes under other engineers' hands)."""
    app = _app(shared_policy_dir, tmp_path / "v.db")
    yield app
    close_stores()


@pytest.fixture
def fresh_app(policy_dir, tmp_path):
    """An app on `policy_dir`, which the test may change."""
    app = _app(policy_dir, tmp_path / "v.db")
    yield app
    close_stores()


@pytest.fixture
def ops_client(ops_app):
    return ops_app.test_client()


@pytest.fixture
def keyed(shared_policy_dir, tmp_path):
    """An app with authentication on, and a key for each role."""
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "k.db"), "POLICY_DIR": str(shared_policy_dir)})
    with app.app_context():
        keys = {role: auth.create_key(role, f"test-{role}")[1] for role in auth.ROLES}
    yield app, keys
    close_stores()


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def metric(client, name: str, **labels) -> float:
    """A sample's value as /metrics shows it (0 if absent)."""
    text = client.get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def add_term(policy_dir: Path, term: str) -> None:
    path = policy_dir / "lexicons" / "things.json"
    data = json.loads(path.read_text())
    data["entries"][3]["terms"]["en"].append(term)  # the "faux" entry: benign, harmless
    path.write_text(json.dumps(data))


# -- readiness --------------------------------------------------------------------------
def test_ready_when_policies_loaded_and_log_writable(ops_client, ops_app):
    r = ops_client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ready", "policy_version": engine(ops_app).bundle.version}


def test_not_ready_when_the_log_cannot_be_opened(ops_client, ops_app, tmp_path):
    (tmp_path / "a-file").write_text("")
    ops_app.config["DATABASE"] = str(tmp_path / "a-file" / "v.db")
    r = ops_client.get("/readyz")
    assert r.status_code == 503
    err = r.get_json()["error"]
    assert err["code"] == "not_ready"
    assert [d["field"] for d in err["details"]] == ["verdict_log"]
    assert "cannot open the verdict log" in err["details"][0]["problem"]


def test_not_ready_when_the_log_is_read_only(ops_client, ops_app):
    with ops_app.app_context():
        store().db.execute("PRAGMA query_only = 1")
    r = ops_client.get("/readyz")
    assert r.status_code == 503
    assert "readonly" in r.get_json()["error"]["details"][0]["problem"]
    with ops_app.app_context():
        store().db.execute("PRAGMA query_only = 0")
    assert ops_client.get("/readyz").status_code == 200


def test_not_ready_while_another_writer_holds_the_log(ops_client, ops_app, monkeypatch):
    monkeypatch.setattr(ops, "READY_TIMEOUT_MS", 50)
    other = sqlite3.connect(ops_app.config["DATABASE"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        r = ops_client.get("/readyz")
        assert r.status_code == 503
        assert "locked" in r.get_json()["error"]["details"][0]["problem"]
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert ops_client.get("/readyz").status_code == 200


def _log_files(db: str) -> dict[str, bytes]:
    return {suffix: Path(db + suffix).read_bytes() for suffix in ("", "-wal") if Path(db + suffix).exists()}


def test_probe_writes_nothing_and_restores_the_busy_timeout(ops_client, ops_app):
    db = ops_app.config["DATABASE"]
    assert ops_client.get("/readyz").status_code == 200  # opens the log: the files exist from here on
    watcher = sqlite3.connect(db, isolation_level=None)  # data_version moves when another connection commits
    try:
        version, files = watcher.execute("PRAGMA data_version").fetchone()[0], _log_files(db)
        assert ops_client.get("/readyz").status_code == 200
        assert watcher.execute("PRAGMA data_version").fetchone()[0] == version
        assert _log_files(db) == files
        with ops_app.app_context():
            assert store().db.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        # The watch sees a real write, so it would see the probe's.
        assert ops_client.post("/v1/check", json=CLEAN).status_code == 200
        assert watcher.execute("PRAGMA data_version").fetchone()[0] != version
    finally:
        watcher.close()


def test_not_ready_without_policies(ops_client, ops_app):
    set_engine(ops_app, Engine.broken(PolicyError(["policies/x.json: $.id: broken"])))
    r = ops_client.get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["error"]["details"][0] == {
        "field": "policies",
        "problem": "not loaded (1 problem(s) in the bundle)",
    }
    assert ops_client.get("/healthz").status_code == 200  # alive all the same


# -- status -------------------------------------------------------------------------------
def test_status_shows_version_counts_and_verdicts(ops_client, ops_app):
    for ad in (IVORY, IVORY, CLEAN):
        assert ops_client.post("/v1/check", json=ad).status_code == 200
    s = ops_client.get("/v1/status").get_json()
    bundle = engine(ops_app).bundle
    assert s["ready"] is True
    assert s["policy_version"] == bundle.version and s["loaded_at"] == bundle.loaded_at
    assert s["policies"] == 1 and s["rules"] == {"enforce": 1, "shadow": 0}
    assert s["terms"] == bundle.matcher.term_count > 0 and s["lexicons"] == 3
    assert s["verdicts"] == {"approved": 1, "review": 0, "rejected": 2, "total": 3}
    assert s["pid"] == os.getpid()


def test_status_needs_a_key(keyed):
    app, keys = keyed
    c = app.test_client()
    assert c.get("/v1/status").status_code == 401
    assert c.get("/v1/status", headers=bearer(keys["submitter"])).status_code == 200


# -- metrics ---------------------------------------------------------------------------------
def test_metrics_count_checks_rules_and_durations(ops_client):
    before = {
        "rejected": metric(ops_client, "pangolin_checks_total", decision="rejected"),
        "approved": metric(ops_client, "pangolin_checks_total", decision="approved"),
        "rule": metric(ops_client, "pangolin_rule_hits_total", policy="tiny", rule="ivory", mode="enforce"),
        "n": metric(ops_client, "pangolin_check_duration_seconds_count"),
    }
    ops_client.post("/v1/check", json=IVORY)
    ops_client.post("/v1/check", json=IVORY)
    ops_client.post("/v1/check", json=CLEAN)
    r = ops_client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    assert metric(ops_client, "pangolin_checks_total", decision="rejected") == before["rejected"] + 2
    assert metric(ops_client, "pangolin_checks_total", decision="approved") == before["approved"] + 1
    assert (
        metric(ops_client, "pangolin_rule_hits_total", policy="tiny", rule="ivory", mode="enforce")
        == before["rule"] + 2
    )
    assert metric(ops_client, "pangolin_check_duration_seconds_count") == before["n"] + 3
    assert "pangolin_log_write_failures_total" in r.get_data(as_text=True)


def test_refused_write_is_counted_logged_and_answered_503(ops_client, ops_app, capsys):
    before = metric(ops_client, "pangolin_log_write_failures_total")
    checks_before = metric(ops_client, "pangolin_checks_total", decision="rejected")
    with ops_app.app_context():
        store().db.execute(
            "CREATE TRIGGER fail_insert BEFORE INSERT ON verdicts BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    capsys.readouterr()
    r = ops_client.post("/v1/check", json=IVORY)
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "log_unavailable"
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert [x["event"] for x in lines] == ["check_not_stored"] and lines[0]["level"] == "error"
    assert metric(ops_client, "pangolin_log_write_failures_total") == before + 1
    assert metric(ops_client, "pangolin_checks_total", decision="rejected") == checks_before


def test_metrics_add_up_across_forked_workers(tmp_path, shared_policy_dir):
    """Multiprocess mode, as under gunicorn: a worker forked from a preloaded app, counted by any process."""
    script = f"""
import json, os, sys
sys.path.insert(0, {str(ROOT)!r})
from app import create_app
app = create_app({{"TESTING": True, "AUTH_DISABLED": True, "DATABASE": {str(tmp_path / "m.db")!r},
                  "POLICY_DIR": {str(shared_policy_dir)!r}}})
ad = {json.dumps(IVORY)!r}
pid = os.fork()
if pid == 0:  # a worker
    assert app.test_client().post("/v1/check", data=ad, content_type="application/json").status_code == 200
    os._exit(0)
os.waitpid(pid, 0)
assert app.test_client().post("/v1/check", data=ad, content_type="application/json").status_code == 200
print(app.test_client().get("/metrics").get_data(as_text=True))
"""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(out.stdout)
        for s in f.samples
    }
    assert samples[("pangolin_checks_total", (("decision", "rejected"),))] == 2
    assert len(list(metrics_dir.glob("counter_*.db"))) >= 2  # one file per process


# -- logs --------------------------------------------------------------------------------------
def test_one_json_line_per_check_without_the_ad_text(ops_client, capsys):
    capsys.readouterr()
    v = ops_client.post("/v1/check", json=IVORY).get_json()
    err = capsys.readouterr().err
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "check" and line["level"] == "info" and line["logger"] == "pangolin.checks"
    assert line["decision_id"] == v["decision_id"] and line["decision"] == "rejected"
    assert line["rules"] == ["ivory"] and line["shadow_rules"] == []
    assert line["policy_version"] == v["policy_version"]
    assert isinstance(line["duration_ms"], float) and line["ts"].endswith("Z")
    for text in ("Zyzzyva", "carving", "ivory carving"):
        assert text not in err


def test_log_level_from_config(shared_policy_dir, tmp_path, capsys):
    app = create_app(
        {
            "TESTING": True,
            "AUTH_DISABLED": True,
            "DATABASE": str(tmp_path / "q.db"),
            "POLICY_DIR": str(shared_policy_dir),
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        capsys.readouterr()
        assert app.test_client().post("/v1/check", json=IVORY).status_code == 200
        assert '"event":"check"' not in capsys.readouterr().err
    finally:
        ops._setup_logging("INFO")
        close_stores()


# -- reload ---------------------------------------------------------------------------------------
def test_reload_is_for_admins_only(keyed):
    app, keys = keyed
    c = app.test_client()
    assert c.post("/v1/admin/reload").status_code == 401
    assert c.post("/v1/admin/reload", headers=bearer(keys["submitter"])).status_code == 403
    assert c.post("/v1/admin/reload", headers=bearer(keys["reviewer"])).status_code == 403
    r = c.post("/v1/admin/reload", headers=bearer(keys["admin"]))
    assert r.status_code == 200
    assert r.get_json()["result"] == "unchanged" and r.get_json()["workers"] == "this process"


def test_reload_swaps_in_the_new_version_and_verdicts_record_it(fresh_app, policy_dir, capsys):
    ops_app, ops_client = fresh_app, fresh_app.test_client()
    old = ops_client.post("/v1/check", json=IVORY).get_json()
    old_engine = engine(ops_app)
    add_term(policy_dir, "bakelite")
    r = ops_client.post("/v1/admin/reload")
    assert r.status_code == 200
    out = r.get_json()
    assert out["result"] == "loaded" and out["previous_version"] == old["policy_version"]
    assert out["policy_version"] != old["policy_version"]
    assert engine(ops_app) is not old_engine and old_engine.bundle.version == old["policy_version"]  # not mutated
    new = ops_client.post("/v1/check", json=IVORY).get_json()
    assert new["policy_version"] == out["policy_version"]
    with ops_app.app_context():
        assert store().get(old["decision_id"])["policy_version"] == old["policy_version"]
        assert store().get(new["decision_id"])["policy_version"] == out["policy_version"]
    assert ops_client.get("/v1/status").get_json()["policy_version"] == out["policy_version"]
    assert any(
        json.loads(x).get("event") == "policy_reload" for x in capsys.readouterr().err.splitlines() if x[:1] == "{"
    )


def test_broken_bundle_is_refused_and_the_old_one_keeps_serving(fresh_app, policy_dir):
    ops_app, ops_client = fresh_app, fresh_app.test_client()
    version = engine(ops_app).bundle.version
    refused = metric(ops_client, "pangolin_policy_reloads_total", result="refused", trigger="api")
    policy = policy_dir / "tiny.json"
    data = json.loads(policy.read_text())
    data["rules"][0]["when"] = {"terms": ["no-such-list"]}
    policy.write_text(json.dumps(data))
    (policy_dir / "lexicons" / "things.json").write_text("{not json")
    r = ops_client.post("/v1/admin/reload")
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "conflict" and version in err["message"]
    fields = [d["field"] for d in err["details"]]
    assert any(f.endswith("lexicons/things.json: line 1, column 2") for f in fields), fields
    assert all(d["problem"] for d in err["details"])
    assert engine(ops_app).bundle.version == version
    v = ops_client.post("/v1/check", json=IVORY).get_json()
    assert v["decision"] == "rejected" and v["policy_version"] == version
    assert ops_client.get("/readyz").status_code == 200
    assert metric(ops_client, "pangolin_policy_reloads_total", result="refused", trigger="api") == refused + 1


def test_reload_under_gunicorn_asks_the_master_to_replace_the_workers(fresh_app, policy_dir):
    ops_app, ops_client = fresh_app, fresh_app.test_client()
    got = []
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: got.append(signum))
    try:
        ops.supervised_by(ops_app, os.getpid())  # as gunicorn.conf.py's post_fork does
        add_term(policy_dir, "celluloid")
        r = ops_client.post("/v1/admin/reload")
        assert r.status_code == 200 and r.get_json()["workers"] == "replacing"
        assert got == [signal.SIGHUP]
        # A refused reload leaves the master alone.
        (policy_dir / "lexicons" / "things.json").write_text("[]")
        assert ops_client.post("/v1/admin/reload").status_code == 409
        assert got == [signal.SIGHUP]
    finally:
        signal.signal(signal.SIGHUP, previous)


# -- gunicorn.conf.py ---------------------------------------------------------------------------------
@pytest.fixture
def conf(monkeypatch, tmp_path):
    """gunicorn.conf.py as gunicorn runs it (a metrics directory given, so none is made)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prom"))
    monkeypatch.delenv("PANGOLIN_BIND", raising=False)
    spec = importlib.util.spec_from_file_location("pangolin_gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_defaults(conf):
    assert conf.wsgi_app == "app:create_app()"
    assert conf.bind == ["127.0.0.1:8000"]
    assert conf.worker_class == "sync" and conf.preload_app is True
    assert conf.workers == int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))
    assert conf.accesslog == "-" and conf.logger_class is conf.JsonAccessLogger


def test_access_log_lines_are_json_whatever_the_client_sends(conf):
    from gunicorn.config import Config

    logger = conf.JsonAccessLogger(Config())  # no access log file (it would be left open): only the atoms count
    nasty = 'evil"agent\\ with \n newline \u2028 and "quotes"'
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": '/v1/check?x="1"',
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": '/v1/check\\"',
        "QUERY_STRING": 'x="1"',
        "HTTP_USER_AGENT": nasty,
        "REMOTE_ADDR": "127.0.0.1",
    }
    resp = SimpleNamespace(status="200 OK", headers=[], sent=1234)
    req = SimpleNamespace(headers=[("USER-AGENT", nasty)])
    atoms = logger.atoms_wrapper_class(logger.atoms(resp, req, environ, timedelta(milliseconds=12.5)))
    line = json.loads(conf.access_log_format % atoms)
    assert line["user_agent"] == nasty and line["path"] == '/v1/check\\"' and line["status"] == 200
    assert line["bytes"] == 1234 and line["duration_ms"] == 12.5 and line["pid"] == os.getpid()


def _access_line(conf, query: str) -> dict:
    from gunicorn.config import Config

    logger = conf.JsonAccessLogger(Config())  # no access log file: only its atoms are used
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/verdicts/vd_1?{query}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/verdicts/vd_1",
        "QUERY_STRING": query,
        "REMOTE_ADDR": "127.0.0.1",
    }
    resp = SimpleNamespace(status="200 OK", headers=[], sent=10)
    atoms = logger.atoms_wrapper_class(logger.atoms(resp, SimpleNamespace(headers=[]), environ, timedelta(0)))
    return json.loads(conf.access_log_format % atoms)


@pytest.mark.parametrize(
    "query, logged",
    [
        ("token=eyJ.secret.sig&lang=sv", "token=REDACTED&lang=sv"),
        ("lang=sv&token=eyJ.secret.sig", "lang=sv&token=REDACTED"),
        ("tok%65n=eyJ.secret.sig", "tok%65n=REDACTED"),  # the app decodes the name: so does the mask
        ("token=a&token=eyJ.secret.sig", "token=REDACTED&token=REDACTED"),
        ("lang=sv", "lang=sv"),
    ],
)
def test_access_log_never_holds_an_explanation_token(conf, query, logged):
    line = _access_line(conf, query)
    assert line["query"] == logged and "secret" not in json.dumps(line)


def test_hup_reloads_policies_in_the_master_and_survives_a_broken_bundle(conf, fresh_app, policy_dir):
    ops_app = fresh_app
    server = SimpleNamespace(
        cfg=SimpleNamespace(preload_app=True), app=SimpleNamespace(wsgi=lambda: ops_app), log=None, pid=os.getpid()
    )
    version = engine(ops_app).bundle.version
    add_term(policy_dir, "galalith")
    conf.on_reload(server)
    changed = engine(ops_app).bundle.version
    assert changed != version
    (policy_dir / "lexicons" / "things.json").write_text("{")
    conf.on_reload(server)  # must not raise: the master would die
    assert engine(ops_app).bundle.version == changed


def test_dead_workers_lose_their_live_gauge_files(conf, tmp_path):
    prom = tmp_path / "prom"
    prom.mkdir()
    (prom / "gauge_livesum_4242.db").write_bytes(b"")
    (prom / "counter_4242.db").write_bytes(b"")
    conf.child_exit(None, SimpleNamespace(pid=4242))
    assert sorted(p.name for p in prom.iterdir()) == ["counter_4242.db"]  # counters outlive their worker


# -- the real thing ------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _until(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not reached")


@pytest.mark.slow
def test_gunicorn_serves_reloads_on_hup_and_keeps_serving_on_a_broken_bundle(tmp_path, policy_dir):
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "PANGOLIN_BIND": f"127.0.0.1:{port}",
        "PANGOLIN_DATABASE": str(tmp_path / "g.db"),
        "PANGOLIN_POLICY_DIR": str(policy_dir),
        "WEB_CONCURRENCY": "2",
    }
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - open for the server's life
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _until(lambda: _get(port, "/readyz")[0] == 200)
        first = _get(port, "/readyz")[1]["policy_version"]
        add_term(policy_dir, "vulcanite")
        os.kill(proc.pid, signal.SIGHUP)
        second = _until(lambda: (v := _get(port, "/readyz")[1].get("policy_version")) != first and v)
        (policy_dir / "lexicons" / "things.json").write_text("{broken")
        os.kill(proc.pid, signal.SIGHUP)
        _until(lambda: "policy_reload_refused" in (tmp_path / "gunicorn.log").read_text())
        for _ in range(6):  # every worker, old or new, still serves the last good version
            assert _get(port, "/readyz") == (200, {"status": "ready", "policy_version": second})
        assert proc.poll() is None
        lines = (tmp_path / "gunicorn.log").read_text().splitlines()
        access = [json.loads(x) for x in lines if '"logger":"gunicorn.access"' in x]
        assert access and all(a["path"] == "/readyz" for a in access)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
