"""Where one POST /v1/check spends its time in the web layer, in process.

    python -m bench.webpath [--n 400] [--policies DIR]

Calls the app through Flask's test client (no network, no gunicorn) with a
real submitter key and times each stage of the request by wrapping the
functions web/api.py calls; "Flask + test client" is what is left. The same
client then calls bench/baseline_app.py, the floor. Use it with
`bench/service.py --profile` (py-spy under gunicorn) to see what the web and
store layer add on top of the checker.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import ads as adgen  # noqa: E402

STAGES = [
    ("auth (key lookup)", "web.auth", "principal_for"),
    ("parse JSON body", "web.api", "parse_json_body"),
    ("validate (jsonschema)", "checker.submission", "SubmissionValidator.validate"),
    ("pipeline.run (check + answer)", "checker.pipeline", "run"),
    ("log write (store.record)", "checker.store", "VerdictStore.record"),
    ("metrics + JSON log line", "web.ops", "checked"),
    ("explanation_url (signing)", "web.links", "explanation_url"),
    ("jsonify", "web.api", "jsonify"),
]


def _wrap(times: dict, label: str, module: str, name: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    owner, attr = (mod, name) if "." not in name else (getattr(mod, name.split(".")[0]), name.split(".")[1])
    original = getattr(owner, attr)

    def timed(*args, **kwargs):
        t0 = time.perf_counter_ns()
        try:
            return original(*args, **kwargs)
        finally:
            times[label].append((time.perf_counter_ns() - t0) / 1e6)

    setattr(owner, attr, timed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=400, help="requests per app (default 400)")
    ap.add_argument("--policies", default=str(ROOT / "policies"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pangolin-webpath-")
    try:
        return _run(args, tmp)
    finally:
        from web.state import close_stores

        close_stores()
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args, tmp: str) -> int:
    from app import create_app
    from bench.baseline_app import create_app as baseline_app
    from checker.store import VerdictStore
    from web import auth

    db = os.path.join(tmp, "v.db")
    log = VerdictStore(db)
    log.migrate()
    key = "pgk_bench_webpath_key"
    log.add_key("key_bench", "bench", "submitter", auth.hash_key(key))
    log.close()
    app = create_app({"DATABASE": db, "POLICY_DIR": args.policies})
    base = baseline_app(os.path.join(tmp, "b.db"))
    bodies = [json.dumps(ad).encode() for _k, ad in adgen.corpus(adgen.SIZES["1KB"], 10, 3)]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    times: dict[str, list[float]] = defaultdict(list)
    for label, module, name in STAGES:
        _wrap(times, label, module, name)

    def drive(client, n: int, hdrs: dict) -> list[float]:
        out = []
        for i in range(n):
            t0 = time.perf_counter_ns()
            r = client.post("/v1/check", data=bodies[i % len(bodies)], headers=hdrs)
            out.append((time.perf_counter_ns() - t0) / 1e6)
            assert r.status_code == 200, r.get_data(as_text=True)
        return out

    devnull = open(os.devnull, "w")  # noqa: SIM115 - the check log lines, for the run's length
    stderr, sys.stderr = sys.stderr, devnull
    try:
        drive(app.test_client(), 40, headers)
        drive(base.test_client(), 40, {"Content-Type": "application/json"})
        times.clear()
        total = drive(app.test_client(), args.n, headers)
        floor = drive(base.test_client(), args.n, {"Content-Type": "application/json"})
    finally:
        sys.stderr = stderr
        devnull.close()

    mean_total = statistics.fmean(total)
    print(f"POST /v1/check in process (Flask test client, {args.n} 1KB ads, real submitter key); mean ms per request")
    print(f"  {'stage':34} {'mean ms':>8} {'share':>6}")
    accounted = 0.0
    for label, _m, _n in STAGES:
        v = statistics.fmean(times[label]) if times[label] else 0.0
        accounted += v
        print(f"  {label:34} {v:8.3f} {v / mean_total * 100:5.1f}%")
    rest = mean_total - accounted
    print(f"  {'Flask + test client (the rest)':34} {rest:8.3f} {rest / mean_total * 100:5.1f}%")
    print(f"  {'total':34} {mean_total:8.3f}")
    web = mean_total - statistics.fmean(times["pipeline.run (check + answer)"])
    print(f"  {'total without pipeline.run':34} {web:8.3f}")
    print(f"baseline app (parse JSON + sqlite-utils insert): {statistics.fmean(floor):.3f} ms per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
