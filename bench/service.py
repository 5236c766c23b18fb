"""Pangolin over HTTP against the floor any check endpoint pays, in one run.

    python -m bench.service              # 1, 8 and 32 clients, 10 s each, per app
    python -m bench.service --quick      # 3 s each
    python -m bench.service --client python --json bench/out/service.json

Starts two gunicorn servers with the project's gunicorn.conf.py (same
workers, worker class, preload and JSON access log) on free ports of
127.0.0.1, each in its own process group:

    pangolin  app:create_app() on a fresh verdict log, called with a real
              submitter key (made with `flask keys create` before the start)
    baseline  bench/baseline_app.py: Flask parses the JSON, sqlite-utils
              inserts one row into a WAL database, the id is answered

and drives each with the same bodies (1 KB ads of every kind from
bench/ads.py) at each concurrency, the two apps taking turns so that drift
in the machine's load hits both. The load is closed-loop and bounded in
time: wrk (with a Lua script) where it is installed, else a Python client
(threads, one request per connection, as sync workers close them).

At the end every server is stopped (SIGTERM to its process group, SIGKILL
after 15 s; also on error, Ctrl-C and exit) and the stored rows are counted:
they must equal the 200s the server answered (its access log). The 200s the
client saw are shown too: wrk stops mid-request, so up to one request per
connection and level can be stored and answered after it stopped listening.

None of this is a test: the numbers move with the machine's load.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import ads as adgen  # noqa: E402

BIN = Path(sys.executable).parent
TARGET_RATIO = 0.6
TARGET_P99_MS = 30.0
_LIVE: set[Server] = set()


# -- servers ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn master and its workers, in a process group of their own."""

    def __init__(self, name: str, app_uri: str | None, env: dict, workdir: Path):
        self.name = name
        self.port = free_port()
        self.workdir = workdir
        self.access_log = workdir / f"{name}.access.log"
        self.error_log = workdir / f"{name}.error.log"
        self.argv = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")] + ([app_uri] if app_uri else [])
        self.env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        self.env.update(env, PANGOLIN_BIND=f"127.0.0.1:{self.port}")
        self.proc: subprocess.Popen | None = None

    def start(self, ready_path: str = "/readyz", timeout: float = 120) -> None:
        with open(self.access_log, "wb") as out, open(self.error_log, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=err, start_new_session=True
            )
        _LIVE.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.error_log.read_text()[-3000:]}")
            try:
                if request("GET", self.port, ready_path)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout} s")

    def workers(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def memory(self) -> list[tuple[str, int, dict[str, float]]]:
        """(role, pid, {Rss, Pss, Private} in MB) for the master and each worker."""
        out = []
        for role, pid in [("master", self.proc.pid)] + [("worker", p) for p in self.workers()]:
            mem: dict[str, float] = {}
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
                    key, _, value = line.partition(":")
                    if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                        mem[key] = int(value.split()[0]) / 1024
            except OSError:
                continue
            mem["Private"] = mem.pop("Private_Clean", 0) + mem.pop("Private_Dirty", 0)
            out.append((role, pid, mem))
        return out

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the master's pid is its group's id
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        _LIVE.discard(self)

    def answered_checks(self) -> int:
        """POST /v1/check answered 200, per the access log (JSON lines)."""
        n = 0
        for line in self.access_log.read_text().splitlines():
            if line.startswith("{"):
                rec = json.loads(line)
                n += rec.get("path") == "/v1/check" and rec.get("method") == "POST" and rec.get("status") == 200
        return n


def _stop_all() -> None:
    for s in list(_LIVE):
        s.stop()


atexit.register(_stop_all)


def request(method: str, port: int, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


# -- load --------------------------------------------------------------------------------
def python_load(port: int, clients: int, seconds: float, bodies: list[bytes], headers: dict) -> dict:
    """Closed loop: each client sends, waits for the answer, sends again, until time is up."""
    deadline = time.monotonic() + seconds
    lat: list[list[float]] = [[] for _ in range(clients)]
    ok = [0] * clients
    bad = [0] * clients
    errors = [0] * clients

    def client(i: int) -> None:
        n = i
        while time.monotonic() < deadline:
            body = bodies[n % len(bodies)]
            n += clients
            t0 = time.perf_counter()
            try:
                status, _ = request("POST", port, "/v1/check", body, headers)
            except OSError:
                errors[i] += 1
                continue
            lat[i].append((time.perf_counter() - t0) * 1000)
            if status == 200:
                ok[i] += 1
            else:
                bad[i] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    all_lat = sorted(x for xs in lat for x in xs)
    done = sum(ok) + sum(bad)
    return {
        "requests": done,
        "ok": sum(ok),
        "errors": sum(bad) + sum(errors),
        "rps": done / elapsed,
        "p50_ms": statistics.median(all_lat) if all_lat else float("nan"),
        "p99_ms": all_lat[max(0, int(len(all_lat) * 0.99 + 0.999) - 1)] if all_lat else float("nan"),
    }


WRK_SCRIPT = r"""
local bodies = {%(bodies)s}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  n = 0
  ok = 0
  bad = 0
end
function request()
  n = n + 1
  return wrk.format("POST", "/v1/check", {["Content-Type"] = "application/json", ["Authorization"] = "%(auth)s"},
                    bodies[(n %% #bodies) + 1])
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local good, wrong = 0, 0
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    wrong = wrong + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "ok": %%d, "bad": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d}\n',
    summary.requests, summary.duration, good, wrong, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(bodies: list[bytes], auth: str, path: Path) -> Path:
    items = ", ".join("[==[" + b.decode("utf-8") + "]==]" for b in bodies)
    path.write_text(WRK_SCRIPT % {"bodies": items, "auth": auth}, encoding="utf-8")
    return path


def wrk_load(port: int, clients: int, seconds: float, script: Path) -> dict:
    threads = min(clients, 2)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(clients),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/v1/check",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    r = json.loads(line[len("WRKJSON ") :])
    return {
        "requests": r["requests"],
        "ok": r["ok"],
        "errors": r["bad"] + r["socket_errors"],
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
    }


# -- profile (py-spy) ------------------------------------------------------------------------
def spy(pids: list[int], seconds: float, out_dir: Path) -> list[subprocess.Popen]:
    exe = shutil.which("py-spy") or str(BIN / "py-spy")
    procs = []
    for pid in pids:
        dest = out_dir / f"pyspy-{pid}.txt"
        procs.append(
            subprocess.Popen(
                [
                    exe,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    "500",
                    "--format",
                    "raw",
                    "--output",
                    str(dest),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


# Where a request's time goes: the innermost of these frames on each sample's stack.
STAGES = [
    ("checker/normalize.py", "check: normalise"),
    ("checker/document.py", "check: normalise"),
    ("checker/match.py", "check: match"),
    ("checker/conditions.py", "check: evaluate"),
    ("checker/evaluate.py", "check: evaluate"),
    ("checker/explain.py", "answer: reasons"),
    ("record (checker/store.py", "log write (store.record)"),
    ("checker/store.py", "answer: ids, canonical JSON, hashes"),
    ("checker/pipeline.py", "answer: ids, canonical JSON, hashes"),
    ("checker/submission.py", "validate (jsonschema)"),
    ("jsonschema/", "validate (jsonschema)"),
    ("web/auth.py", "auth (key lookup)"),
    ("web/ops.py", "metrics + JSON log line"),
    ("prometheus_client/", "metrics + JSON log line"),
    ("logging/", "metrics + JSON log line"),
    ("parse_json_body (web/api.py", "parse JSON body"),
    ("flask/", "Flask + Werkzeug"),
    ("werkzeug/", "Flask + Werkzeug"),
    ("gunicorn/", "gunicorn (accept, parse, write, access log)"),
]


def read_spy(files: list[Path]) -> dict:
    """Samples by stage (innermost known frame) and by innermost function."""
    stages: dict[str, int] = {}
    leaves: dict[str, int] = {}
    total = 0
    for f in files:
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            stage = "other"
            for fr in reversed(frames):  # py-spy records running threads only: no idle samples
                hit = next((label for key, label in STAGES if key in fr), None)
                if hit:
                    stage = hit
                    break
            stages[stage] = stages.get(stage, 0) + n
            leaf = frames[-1] if frames else "?"
            leaves[leaf] = leaves.get(leaf, 0) + n
            total += n
    return {"total": total, "stages": stages, "leaves": leaves}


# -- the run ------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 s per level instead of 10")
    ap.add_argument("--seconds", type=float, help="seconds per level and app")
    ap.add_argument("--clients", default="1,8,32", help="concurrency levels (default 1,8,32)")
    ap.add_argument("--client", choices=("wrk", "python"), help="load generator (default: wrk if installed)")
    ap.add_argument("--size", choices=list(adgen.SIZES), default="1KB", help="ad size (default 1KB)")
    ap.add_argument("--policies", default=str(ROOT / "policies"), help="the bundle to serve (default policies/)")
    ap.add_argument("--profile", action="store_true", help="py-spy the workers during the 8-client level")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks and atexit
    tmp = Path(tempfile.mkdtemp(prefix="pangolin-service-bench-"))
    try:
        return run(args, tmp)
    finally:
        _stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> int:

    seconds = args.seconds or (3.0 if args.quick else 10.0)
    levels = [int(x) for x in args.clients.split(",")]
    client = args.client or ("wrk" if shutil.which("wrk") else "python")
    bodies = [json.dumps(ad, ensure_ascii=False).encode() for _k, ad in adgen.corpus(adgen.SIZES[args.size], 10, 3)]

    results: dict = {"levels": {}}
    servers: dict[str, Server] = {}
    warm: dict[str, int] = {}
    try:
        db = tmp / "verdicts.db"
        env = {"PANGOLIN_DATABASE": str(db), "PANGOLIN_POLICY_DIR": str(Path(args.policies).resolve())}
        made = subprocess.run(
            [str(BIN / "flask"), "--app", "app", "keys", "create", "--role", "submitter", "--name", "bench"],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            raise RuntimeError(f"could not make a key:\n{made.stderr[-3000:]}")
        key = made.stdout.strip().splitlines()[-1]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        servers["pangolin"] = Server("pangolin", None, env, tmp)
        servers["baseline"] = Server(
            "baseline", "bench.baseline_app:create_app()", {"BASELINE_DATABASE": str(tmp / "baseline.db")}, tmp
        )
        for s in servers.values():
            s.start()
        n_workers = len(servers["pangolin"].workers())
        print(
            f"pangolin service benchmark ({'quick' if args.quick else 'full'}) — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
            f"Python {platform.python_version()}, {os.cpu_count()} cores"
        )
        print(
            f"servers: gunicorn.conf.py, {n_workers} sync workers each, preload; 127.0.0.1 ports "
            f"{servers['pangolin'].port} (pangolin) and {servers['baseline'].port} (baseline)"
        )
        print(
            f"load: {client} ({'closed loop, one request per connection' if client == 'python' else 'wrk -t<=2'}), "
            f"{seconds:g} s per level and app, apps taking turns; bodies: {len(bodies)} {args.size} ads of every kind; "
            "pangolin called with a real submitter key"
        )
        _status, body = request("GET", servers["pangolin"].port, "/v1/status", headers=headers)
        st = json.loads(body)
        print(
            f"policies: version {st['policy_version'][:19]}…, {sum(st['rules'].values())} rules, {st['terms']:,} terms"
        )

        for name, s in servers.items():  # warm up: first requests import and open what they need
            warm[name] = 0
            for b in bodies * 2:
                warm[name] += request("POST", s.port, "/v1/check", b, headers)[0] == 200
        script = wrk_script(bodies, headers["Authorization"], tmp / "load.lua") if client == "wrk" else None

        print()
        print(f"  {'clients':>7}  {'app':9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'answered':>9}")
        for i, c in enumerate(levels):
            order = ["pangolin", "baseline"] if i % 2 == 0 else ["baseline", "pangolin"]
            row = {}
            for name in order:
                s = servers[name]
                spies = []
                if args.profile and c == 8 and name == "pangolin":
                    spies = spy(s.workers(), seconds, tmp)
                if client == "wrk":
                    r = wrk_load(s.port, c, seconds, script)
                else:
                    r = python_load(s.port, c, seconds, bodies, headers)
                for p in spies:
                    p.wait(timeout=60)
                row[name] = r
            for name in ("pangolin", "baseline"):
                r = row[name]
                print(
                    f"  {c:7d}  {name:9} {r['rps']:8.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:7d} "
                    f"{r['ok']:9d}"
                )
            row["ratio"] = row["pangolin"]["rps"] / row["baseline"]["rps"]
            print(f"  {'':7}  {'ratio':9} {row['ratio']:8.2f}")
            results["levels"][c] = row
        print()
        print("pangolin memory after the load (preloaded: workers share the master's pages until they write them)")
        for role, pid, mem in servers["pangolin"].memory():
            print(
                f"  {role:6} {pid:>7}  RSS {mem.get('Rss', 0):6.1f} MB  PSS {mem.get('Pss', 0):6.1f} MB  "
                f"private {mem['Private']:6.1f} MB"
            )
        results["memory"] = servers["pangolin"].memory()
    finally:
        for s in servers.values():
            s.stop()

    print()
    counts = {}
    for name, s in servers.items():
        table = "verdicts" if name == "pangolin" else "submissions"
        dbfile = tmp / ("verdicts.db" if name == "pangolin" else "baseline.db")
        with sqlite3.connect(dbfile) as conn:
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        answered = s.answered_checks()
        client_seen = warm[name] + sum(results["levels"][c][name]["ok"] for c in levels)
        counts[name] = {"rows": rows, "answered": answered, "client": client_seen}
        verdict = "OK" if rows == answered else "MISMATCH"
        print(
            f"stored rows, {name}: {rows} rows, {answered} checks answered 200 (access log) — {verdict}; "
            f"the client received {client_seen} ({answered - client_seen} answered after the load generator stopped)"
        )
    results["rows"] = counts

    if args.profile:
        prof = read_spy(sorted(tmp.glob("pyspy-*.txt")))
        results["profile"] = prof
        print()
        print(
            f"profile of the pangolin workers at 8 clients (py-spy, {prof['total']} samples while running): "
            "by stage (the innermost one on the stack)"
        )
        for stage, n in sorted(prof["stages"].items(), key=lambda kv: -kv[1]):
            print(f"  {n / max(prof['total'], 1) * 100:5.1f}%  {stage}")
        print("  top innermost functions")
        for leaf, n in sorted(prof["leaves"].items(), key=lambda kv: -kv[1])[:12]:
            print(f"  {n / max(prof['total'], 1) * 100:5.1f}%  {leaf[:110]}")

    print()
    print("targets (8 clients)")
    if 8 in results["levels"]:
        r8 = results["levels"][8]
        p = r8["pangolin"]
        checks = [
            (f"req/s vs baseline {r8['ratio']:.2f}", r8["ratio"] >= TARGET_RATIO, f">= {TARGET_RATIO}"),
            (f"p99 {p['p99_ms']:.1f} ms", p["p99_ms"] <= TARGET_P99_MS, f"<= {TARGET_P99_MS:g} ms"),
            (f"errors {p['errors']}", p["errors"] == 0, "0"),
        ]
        for text, ok, want in checks:
            print(f"  {text:32} (target {want})  {'met' if ok else 'MISSED'}")
    rows_ok = counts["pangolin"]["rows"] == counts["pangolin"]["answered"]
    print(f"  {'stored rows = answered checks':32} {'met' if rows_ok else 'MISSED'}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
