"""Nothing is lost: the real server (gunicorn, 4 sync workers, 127.0.0.1 only) under load.

* 5,000 checks from 16 concurrent clients with a real submitter key: every
  200 answer's decision id is in the log, the log holds exactly as many
  verdicts as there were 200 answers, the chain verifies, and the server
  never said "database is locked".
* The same with two workers killed (kill -9) mid-load, each in the middle of
  a check (one before its verdict is written, one after): every verdict
  that was answered is in the log after a restart, and every request whose
  verdict was not answered got an error, not a verdict.

The server is started from a fresh log with authentication on, as a first
deployment would be: four workers race to create the tables and the first
admin key, and exactly one key must come out of it. `-c /dev/null` keeps a
gunicorn.conf.py in the repository from changing these settings.

Bounded: every socket has a timeout, the client threads a deadline, the
server is stopped by its process group in a finally.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from checker.store import VerdictStore
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

WORKERS = 4
CLIENTS = 16
CHECKS = 5000
KILL_CHECKS = 1000
START_TIMEOUT = 120  # seconds for gunicorn and its workers to come up
RUN_TIMEOUT = 420  # seconds for a whole load run
SOCKET_TIMEOUT = 60

ADS = [
    json.loads(line)["submission"]
    for line in (ROOT / "tests" / "data" / "sample_ads.jsonl").read_text().splitlines()
    if line
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving app:create_app() on a log of our own."""

    def __init__(self, tmp: Path, db: Path):
        self.tmp, self.db = tmp, db
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.starts = 0
        self.first_stderr = ""
        self.key = ""
        self.config = "/dev/null"
        self.extra_env: dict[str, str] = {}

    @property
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PANGOLIN_", "GUNICORN_", "FLASK_"))}
        env.pop("WEB_CONCURRENCY", None)
        env.update(PANGOLIN_DATABASE=str(self.db), PANGOLIN_SECRET_KEY="load-test-secret", PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        return env

    def start(self, config: str = "/dev/null", **extra_env: str) -> None:
        """Start gunicorn; `config` replaces /dev/null as its config file, `extra_env` adds to its environment."""
        self.config, self.extra_env = config, extra_env
        self.starts += 1
        self.port = _free_port()
        self.err_path = self.tmp / f"gunicorn-{self.starts}.err"
        self._out = open(self.tmp / f"gunicorn-{self.starts}.out", "wb")  # noqa: SIM115 (closed in stop)
        self._err = open(self.err_path, "wb")  # noqa: SIM115
        cmd = [sys.executable, "-m", "gunicorn", "-c", self.config, "-w", str(WORKERS), "-k", "sync"]
        cmd += ["-b", f"127.0.0.1:{self.port}", "--timeout", "30", "--graceful-timeout", "10", "app:create_app()"]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=self._out, stderr=self._err, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.proc.poll() is None, f"gunicorn exited {self.proc.returncode}:\n{self.stderr()[-3000:]}"
            assert time.monotonic() < deadline, f"gunicorn did not come up:\n{self.stderr()[-3000:]}"
            if self._healthy() and len(self.workers()) == WORKERS and self.stderr().count("Booting worker") >= WORKERS:
                break
            time.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def workers(self) -> set[int]:
        """The master's children, from /proc."""
        try:
            pid = self.proc.pid
            return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
        except (FileNotFoundError, ProcessLookupError):
            return set()

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        except ProcessLookupError:
            self.proc.wait(timeout=30)
        finally:
            self._out.close()
            self._err.close()
            self.proc = None

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        """The real CLI on the same log."""
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One server for the module, started on a fresh log with authentication on; and a submitter key."""
    tmp = tmp_path_factory.mktemp("load")
    s = Server(tmp, tmp / "verdicts.db")
    try:
        s.start()
        s.first_stderr = s.stderr()
        s.key = _submitter_key(s)
        yield s
    finally:
        s.stop()


@dataclass
class Outcome:
    status: int | None = None  # None: the connection failed
    body: dict | None = None
    error: str | None = None


@dataclass
class Load:
    """16 client threads, each with its own connection, sharing one list of jobs."""

    port: int
    key: str
    jobs: list[dict]
    results: list[Outcome | None] = field(init=False)
    done: int = 0

    def __post_init__(self):
        self.results = [None] * len(self.jobs)
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self, during=None) -> float:
        """Send every job; call during(self) from this thread while they run. Returns seconds taken."""
        started = time.monotonic()
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        deadline = started + RUN_TIMEOUT
        while any(t.is_alive() for t in threads):
            if during is not None:
                during(self)
            if time.monotonic() > deadline:
                self._stop.set()
                pytest.fail(f"the load did not finish in {RUN_TIMEOUT} s ({self.done} of {len(self.jobs)} done)")
            time.sleep(0.05)
        for t in threads:
            t.join(timeout=SOCKET_TIMEOUT)
        return time.monotonic() - started

    def _client(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=SOCKET_TIMEOUT)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        try:
            while not self._stop.is_set():
                i = next(self._next)
                if i >= len(self.jobs):
                    return
                try:
                    conn.request("POST", "/v1/check", body=json.dumps(self.jobs[i]).encode(), headers=headers)
                    resp = conn.getresponse()
                    raw = resp.read()
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = None
                    self.results[i] = Outcome(resp.status, body)
                    if resp.will_close:
                        conn.close()
                except (OSError, http.client.HTTPException) as e:
                    self.results[i] = Outcome(None, None, f"{type(e).__name__}: {e}")
                    conn.close()
                with self._lock:
                    self.done += 1
        finally:
            conn.close()

    def answered(self) -> dict[str, str]:
        """submission_id -> decision_id of every 200 answer."""
        out = {}
        for job, r in zip(self.jobs, self.results, strict=True):
            if r is not None and r.status == 200:
                assert r.body["submission_id"] == job["submission_id"]
                out[job["submission_id"]] = r.body["decision_id"]
        return out

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.results:
            key = "not sent" if r is None else (str(r.status) if r.status else r.error.split(":")[0])
            counts[key] = counts.get(key, 0) + 1
        return counts


def _jobs(prefix: str, n: int) -> list[dict]:
    return [
        {**ADS[i % len(ADS)], "advertiser_id": f"load-{i % 37}", "submission_id": f"{prefix}-{i}"} for i in range(n)
    ]


def _stored(db: Path) -> dict[str, str]:
    """submission_id -> decision_id of every verdict in the log (read directly, not through the app)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT submission_id, decision_id FROM verdicts").fetchall()
    out = dict(rows)
    assert len(out) == len(rows), "a submission was stored twice"
    return out


def _submitter_key(server: Server) -> str:
    made = server.flask("keys", "create", "--role", "submitter", "--name", "load-test")
    assert made.returncode == 0, made.stderr
    key = made.stdout.splitlines()[1]
    assert key.startswith("pgk_")
    return key


def _report(request, line: str) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


def _assert_clean_stderr(server: Server) -> None:
    err = server.stderr()
    assert "database is locked" not in err
    assert "Traceback" not in err, err[err.index("Traceback") - 500 :][:4000]


def test_four_workers_starting_on_a_fresh_log_make_one_admin_key(live):
    announced = re.findall(r"keep it safe:\s+(pgk_\S+)", live.first_stderr)
    with sqlite3.connect(live.db) as conn:
        admins = conn.execute("SELECT name, key_hash FROM api_keys WHERE role = 'admin'").fetchall()
    assert len(announced) == 1 and len(admins) == 1 and admins[0][0] == "first-admin"
    # The key printed is the key stored, and it works.
    req = urllib.request.Request(
        f"http://127.0.0.1:{live.port}/v1/verdicts?limit=1", headers={"Authorization": f"Bearer {announced[0]}"}
    )
    with urllib.request.urlopen(req, timeout=SOCKET_TIMEOUT) as r:
        assert r.status == 200


def test_five_thousand_checks_from_sixteen_clients(live, request):
    server = live
    load = Load(server.port, server.key, _jobs("load", CHECKS))
    seconds = load.run()

    assert load.summary() == {"200": CHECKS}, load.summary()
    answered = load.answered()
    stored = {sub: d for sub, d in _stored(server.db).items() if sub.startswith("load-")}
    assert len(set(answered.values())) == CHECKS
    assert stored == answered  # every answer's verdict is in the log, and nothing else is
    log = VerdictStore(str(server.db))
    try:
        assert log.verify().ok
    finally:
        log.close()
    _assert_clean_stderr(server)
    _report(
        request,
        f"\nload: {CHECKS} checks from {CLIENTS} clients in {seconds:.1f} s ({CHECKS / seconds:.0f}/s): "
        f"answered 200: {len(answered)}, stored: {len(stored)}",
    )


def test_ten_megabytes_get_413_without_being_sent(live):
    """The server answers from the headers: it neither reads nor waits for the 10 MB."""
    server, key = live, live.key
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as s:
        s.sendall(
            b"POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\nContent-Length: {10 * 1024 * 1024}\r\n\r\n".encode()
        )
        # Only the headers are sent: a server waiting for the body would hit the socket timeout.
        response = b""
        while chunk := s.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    _assert_clean_stderr(server)


def test_ten_megabytes_chunked_get_413_after_the_limit(live):
    """Without a Content-Length the server reads up to the limit, then answers 413 and stops reading."""
    server, key = live, live.key
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as s:
        s.sendall(
            b"POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b" " * 65536
        try:
            while sent < 10 * 1024 * 1024:
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server stopped reading: expected
        response = b""
        while chunk := s.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    _assert_clean_stderr(server)


# A gunicorn config for the kill test only: in every worker, the check of a submission named in
# PANGOLIN_TEST_HOLD ("id=before,id=after") stops inside VerdictStore.record, before or after the
# write, and leaves a file "<pid> <id>" in PANGOLIN_TEST_HOLD_DIR. The test kills that worker there.
HOLD_CONFIG = """
import os
import time
from pathlib import Path


def post_fork(server, worker):
    from checker.store import VerdictStore

    hold = dict(item.split("=") for item in os.environ["PANGOLIN_TEST_HOLD"].split(","))
    signals = Path(os.environ["PANGOLIN_TEST_HOLD_DIR"])
    record = VerdictStore.record

    def stop_here(row):
        (signals / f"{os.getpid()} {row['submission_id']}").write_text("")
        time.sleep(600)  # until killed (or, if the test is gone, gunicorn's timeout)

    def held(self, row):
        when = hold.get(row.get("submission_id"))
        if when == "before":
            stop_here(row)
        out = record(self, row)
        if when == "after":
            stop_here(row)
        return out

    VerdictStore.record = held
"""


def test_a_worker_killed_mid_load_loses_no_answered_verdict(live, request, tmp_path):
    """Last in the module: it restarts the server."""
    server, key = live, live.key
    held = {f"kill-{KILL_CHECKS // 3}": "before", f"kill-{2 * KILL_CHECKS // 3}": "after"}
    signals = tmp_path / "held"
    signals.mkdir()
    config = tmp_path / "hold.conf.py"
    config.write_text(HOLD_CONFIG)
    server.stop()
    server.start(
        str(config),
        PANGOLIN_TEST_HOLD=",".join(f"{k}={v}" for k, v in held.items()),
        PANGOLIN_TEST_HOLD_DIR=str(signals),
    )
    killed: dict[str, int] = {}  # submission_id -> the worker killed in the middle of its check
    done_at_kill: list[int] = []
    before = server.workers()

    def kill_the_held(load: Load) -> None:
        for signal_file in signals.iterdir():
            pid, submission_id = signal_file.name.split()
            if submission_id not in killed:
                os.kill(int(pid), signal.SIGKILL)
                killed[submission_id] = int(pid)
                done_at_kill.append(load.done)

    load = Load(server.port, key, _jobs("kill", KILL_CHECKS))
    load.run(during=kill_the_held)
    assert set(killed) == set(held), "the workers were not killed in the middle of a check"

    # The master replaced the dead workers.
    deadline = time.monotonic() + START_TIMEOUT
    while len(server.workers()) != WORKERS or set(killed.values()) & server.workers():
        assert time.monotonic() < deadline, "gunicorn did not replace the killed workers"
        time.sleep(0.2)
    assert server.workers() != before
    _assert_clean_stderr(server)

    # Restart (as served normally), then look: the log as a new server finds it.
    server.stop()
    server.start()
    answered = load.answered()
    stored = {s: d for s, d in _stored(server.db).items() if s.startswith("kill-")}
    failed = {job["submission_id"] for job, r in zip(load.jobs, load.results, strict=True) if r.status != 200}

    assert answered.items() <= stored.items()  # every verdict answered is in the log, as answered
    assert set(stored) - set(answered) <= failed  # a stored verdict nobody saw: its client saw an error
    assert all(r.status in (200, None) or r.status >= 500 for r in load.results), load.summary()
    assert len(answered) + len(failed) == KILL_CHECKS
    # Killed before the write: nothing stored, an error. Killed after it: stored, and an error, not a verdict.
    before_write, after_write = held
    assert before_write in failed and before_write not in stored
    assert after_write in failed and after_write in stored
    # A sync worker holds one request at a time: nothing else was lost with them.
    assert set(stored) - set(answered) == {after_write} and failed == {before_write, after_write}
    for decision_id in list(answered.values())[:: max(1, len(answered) // 50)]:
        with urllib.request.urlopen(
            urllib.request.Request(
                f"http://127.0.0.1:{server.port}/v1/verdicts/{decision_id}", headers={"Authorization": f"Bearer {key}"}
            ),
            timeout=SOCKET_TIMEOUT,
        ) as r:
            assert json.loads(r.read())["decision_id"] == decision_id
    verify = server.flask("verdicts", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    _report(
        request,
        f"\nkill: workers {killed} killed mid-check after {done_at_kill} of {KILL_CHECKS} checks; {load.summary()}; "
        f"answered {len(answered)}, stored {len(stored)}, stored but not answered {len(stored) - len(answered)}; "
        f"after restart every answered verdict is in the log; {verify.stdout.splitlines()[0]}",
    )
