"""In-process benchmark of the checker: per-check time, its split, memory, vocabulary growth.

    python -m bench.engine            # full run (a few minutes)
    python -m bench.engine --quick    # the same lines, fewer ads; only the unused-list vocabularies
    python -m bench.engine --json bench/out/engine.json

What is timed is `checker.pipeline.run`: normalise, match, evaluate, then the
answer and the log row (reasons in the advertiser's language, canonical JSON)
-- everything POST /v1/check does except parsing the request, validating the
submission (shown in its own column) and writing the row. The split comes
from `Verdict.timings`; "answer" is the rest of `pipeline.run`.

Each vocabulary size runs in its own worker process (a fresh interpreter
that builds the app with `create_app`, as a gunicorn worker does): its load
time and resident memory are those of a real worker, and it times the
default bundle and its own bundle alternately on the same ads, so the ratio
is taken in the same process at the same moment. Nothing is timed while
another worker loads. See bench/synth.py for what the synthetic terms are
and why there are two placements.

--quick takes under 30 s only while a vocabulary of the default bundle plus
100,000 terms loads in well under that; it says so when it does not.

None of this is a test: the numbers move with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter_ns

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import ads as adgen  # noqa: E402
from bench import synth  # noqa: E402

TARGETS = {"1KB": 0.5, "5KB": 3.0}  # median ms per check
RATIO_TARGET = 1.5
LOAD_TARGET = 1.0  # seconds
RSS_TARGET = 150.0  # MB


# -- small helpers -----------------------------------------------------------------
def proc_status() -> dict[str, float]:
    """VmRSS and VmHWM of this process, in MB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- timing ------------------------------------------------------------------------
def time_checks(bundle, checker, languages, subs: list[dict]) -> list[dict]:
    """Time pipeline.run on each (validated) submission; one dict per check."""
    from checker import pipeline

    out = []
    for sub in subs:
        t0 = perf_counter_ns()
        bundle.submissions.validate(sub)
        t1 = perf_counter_ns()
        o = pipeline.run(bundle, checker, sub, languages)
        t2 = perf_counter_ns()
        t = o.verdict.timings
        out.append(
            {
                "total": (t2 - t1) / 1e6,
                "validate": (t1 - t0) / 1e6,
                "normalize": t["normalize"],
                "match": t["match"],
                "evaluate": t["evaluate"],
                "answer": (t2 - t1) / 1e6 - (t["normalize"] + t["match"] + t["evaluate"]),
                "decision": o.verdict.decision,
            }
        )
    return out


def summarize(samples: list[dict]) -> dict:
    total = [s["total"] for s in samples]
    return {
        "n": len(samples),
        "median": med(total),
        "p99": pct(total, 99),
        **{k: med([s[k] for s in samples]) for k in ("normalize", "match", "evaluate", "answer", "validate")},
    }


def corpora(n_per_kind: int) -> dict[str, list[tuple[str, dict]]]:
    return {label: adgen.corpus(size, n_per_kind, seed=11) for label, size in adgen.SIZES.items()}


# -- worker process ----------------------------------------------------------------
def worker(policy_dir: str, n_per_kind: int, rounds: int, compare: str | None, with_profile: bool) -> None:
    """A fresh interpreter: build the app on `policy_dir`, report, then time on request."""
    t0 = time.perf_counter()
    from app import create_app
    from checker.bundle import load_bundle
    from checker.evaluate import Checker
    from checker.pipeline import supported_languages

    t1 = time.perf_counter()
    mem_imported = proc_status()
    bundle = load_bundle(policy_dir)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pangolin-bench-") as tmp:
        app = create_app(
            {"TESTING": True, "AUTH_DISABLED": True, "DATABASE": os.path.join(tmp, "v.db"), "POLICY_DIR": policy_dir}
        )
        client = app.test_client()
        for _kind, ad in adgen.corpus(adgen.SIZES["1KB"], 3, seed=5):
            r = client.post("/v1/check", json=ad)
            assert r.status_code == 200, r.get_data(as_text=True)
        mem = proc_status()
        ready = {
            "policy_dir": policy_dir,
            "import_s": t1 - t0,
            "load_s": t2 - t1,
            "terms": bundle.matcher.term_count,
            "keys": bundle.matcher.key_count,
            "rules": len(bundle.rules),
            "version": bundle.version,
            "rss_imported_mb": mem_imported["VmRSS"],
            "rss_mb": mem["VmRSS"],
            "hwm_mb": mem["VmHWM"],
        }
        subject = (bundle, Checker(bundle), supported_languages(bundle))
        default = None
        if compare:  # loaded after the memory was read
            b = load_bundle(compare)
            default = (b, Checker(b), supported_languages(b))
        print(json.dumps({"ready": ready}), flush=True)
        if sys.stdin.readline().strip() != "go":
            return
        if default is None:
            result = _table(subject, n_per_kind, rounds)
        else:
            result = _versus(subject, default, n_per_kind, rounds)
        if with_profile:
            subs = [ad for _k, ad in corpora(max(5, n_per_kind // 3))["5KB"]]
            result["profile"] = profile(*subject, subs, top=15 if default is None else 8)
        print(json.dumps({"result": result}), flush=True)


def _table(subject, n_per_kind: int, rounds: int) -> dict:
    """One bundle on every size and kind: summaries per size and per (size, kind)."""
    rows, sizes = [], {}
    for label, pairs in corpora(n_per_kind).items():
        subs = [ad for _k, ad in pairs]
        time_checks(*subject, subs[:20])  # warm up
        samples: list[dict] = []
        kinds: list[str] = []
        for _ in range(rounds):
            samples += time_checks(*subject, subs)
            kinds += [k for k, _ad in pairs]
        sizes[label] = summarize(samples)
        rows.append((label, "all", sizes[label]))
        for kind in adgen.KINDS:
            rows.append((label, kind, summarize([x for x, k in zip(samples, kinds, strict=True) if k == kind])))
    return {"rows": rows, "sizes": sizes}


def _versus(subject, default, n_per_kind: int, rounds: int) -> dict:
    """Two bundles on the same ads, each ad on both back to back, the order alternating."""
    result: dict = {"sizes": {}}
    for label, pairs in corpora(n_per_kind).items():
        subs = [ad for _k, ad in pairs]
        time_checks(*subject, subs[:20])  # warm up
        time_checks(*default, subs[:20])
        mine, base, ratios = [], [], []
        changed = 0
        for r in range(rounds):
            # Drift in the machine's load hits both sides alike.
            for sub in subs:
                pair = [default, subject] if r % 2 == 0 else [subject, default]
                first, second = (time_checks(*side, [sub])[0] for side in pair)
                d, m = (first, second) if r % 2 == 0 else (second, first)
                base.append(d)
                mine.append(m)
                ratios.append(m["total"] / d["total"])
                if r == 0 and m["decision"] != d["decision"]:
                    changed += 1
        result["sizes"][label] = {
            "subject": summarize(mine),
            "default": summarize(base),
            "ratio": med(ratios),
            "changed": changed,
            "of": len(subs),
        }
    return result


def spawn(
    policy_dir: str | Path, n_per_kind: int, rounds: int, compare: Path | None = None, with_profile: bool = False
) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bench.engine", "--worker", str(policy_dir), "--n", str(n_per_kind)]
    cmd += ["--rounds", str(rounds)] + (["--compare", str(compare)] if compare else [])
    cmd += ["--profile"] if with_profile else []
    return subprocess.Popen(
        cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def read_msg(proc: subprocess.Popen, key: str) -> dict:
    for line in proc.stdout:
        line = line.strip()
        if line.startswith("{"):
            msg = json.loads(line)
            if key in msg:
                return msg[key]
    raise RuntimeError(f"worker exited without {key!r}: {proc.stderr.read()[-3000:]}")


# -- profile -----------------------------------------------------------------------
def profile(bundle, checker, languages, subs: list[dict], top: int = 15, repeat: int = 3) -> dict:
    """Where pipeline.run spends its time: self time by function and by module (pyinstrument)."""
    from pyinstrument import Profiler

    from checker import pipeline

    prof = Profiler(interval=0.0001)
    prof.start()
    for _ in range(repeat):
        for sub in subs:
            pipeline.run(bundle, checker, sub, languages)
    session = prof.stop()
    root = session.root_frame()
    by_func: dict[str, float] = {}
    by_module: dict[str, float] = {}

    def walk(frame) -> None:
        # pyinstrument keeps a frame's own time in synthetic "[self]" children.
        real = [c for c in frame.children if not c.is_synthetic]
        own = frame.time - sum(c.time for c in real)
        if own > 0:
            path = frame.file_path or ""
            name = f"{_short(path)}:{frame.function}"
            by_func[name] = by_func.get(name, 0.0) + own
            by_module[_module(path)] = by_module.get(_module(path), 0.0) + own
        for c in real:
            walk(c)

    if root is not None:
        walk(root)
    total = sum(by_func.values()) or 1.0
    funcs = sorted(by_func.items(), key=lambda kv: -kv[1])[:top]
    mods = sorted(by_module.items(), key=lambda kv: -kv[1])
    return {
        "functions": [(name, t / total * 100) for name, t in funcs],
        "modules": [(name, t / total * 100) for name, t in mods if t / total >= 0.005],
    }


def _short(path: str) -> str:
    p = Path(path)
    try:
        return p.relative_to(ROOT).as_posix()
    except ValueError:
        parts = p.parts
        if "site-packages" in parts:
            return "/".join(parts[parts.index("site-packages") + 1 :])
        return "/".join(parts[-2:]) if len(parts) > 1 else path


def _module(path: str) -> str:
    short = _short(path)
    if short.startswith("checker/"):
        return short
    if "json" in short:
        return "json (stdlib)"
    if short.startswith("regex"):
        return "regex"
    return "other (stdlib, builtins)"


# -- the report --------------------------------------------------------------------
def fmt(v: float) -> str:
    return f"{v:8.3f}"


def print_table(title: str, rows: list[tuple[str, str, dict]]) -> None:
    print(title)
    print(
        f"  {'size':5} {'kind':8} {'n':>5} {'median':>8} {'p99':>8} {'normal.':>8} {'match':>8} "
        f"{'evaluate':>8} {'answer':>8} {'validate':>8}   (ms)"
    )
    for size, kind, s in rows:
        print(
            f"  {size:5} {kind:8} {s['n']:5d} {fmt(s['median'])} {fmt(s['p99'])} {fmt(s['normalize'])} "
            f"{fmt(s['match'])} {fmt(s['evaluate'])} {fmt(s['answer'])} {fmt(s['validate'])}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer ads and rounds, the same lines")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--compare", help=argparse.SUPPRESS)
    ap.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--policies", default=str(synth.POLICIES), help="the bundle to measure (default: policies/)")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.n, args.rounds, args.compare, args.profile)
        return 0

    quick = args.quick
    policies = Path(args.policies).resolve()
    n_main, rounds_main = (10, 2) if quick else (100, 5)  # ads per kind and size; rounds
    n_syn, rounds_syn = (5, 2) if quick else (40, 4)
    extra = (1_000, 10_000, 100_000)
    started = time.perf_counter()
    print(
        f"pangolin engine benchmark ({'quick' if quick else 'full'}) — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores"
    )

    workers: list[tuple[str, str, int, subprocess.Popen]] = []
    procs: list[subprocess.Popen] = []
    placements = ("unused",) if quick else ("unused", "used")
    with tempfile.TemporaryDirectory(prefix="pangolin-synth-") as tmp:
        try:
            # Nothing is timed while anything else of ours runs: the default
            # worker loads alone and times its table; then the synthetic
            # workers load, two at a time (one per core), biggest first, and
            # are timed one at a time.
            default_worker = spawn(policies, n_main, rounds_main, with_profile=True)
            procs.append(default_worker)
            base = read_msg(default_worker, "ready")
            _print_default(base)
            default_worker.stdin.write("go\n")
            default_worker.stdin.flush()
            main_result = read_msg(default_worker, "result")
            _print_main(main_result, n_main, rounds_main)

            plan = [(p, n) for n in sorted(extra, reverse=True) for p in placements]
            ready: dict[tuple[str, str], dict] = {}
            in_flight: list[tuple[str, str, subprocess.Popen]] = []
            while plan or in_flight:
                while plan and len(in_flight) < 2:
                    placement, n = plan.pop(0)
                    d = synth.build_bundle(Path(tmp) / f"{placement}-{n}", n, placement, source=policies)
                    biggest = placement == "unused" and n == max(extra)
                    proc = spawn(d, n_syn, rounds_syn, compare=policies, with_profile=biggest)
                    procs.append(proc)
                    workers.append((placement, f"+{n:,}", n, proc))
                    in_flight.append((placement, f"+{n:,}", proc))
                placement, label, proc = in_flight.pop(0)
                ready[(placement, label)] = read_msg(proc, "ready")
            workers.sort(key=lambda w: (placements.index(w[0]), w[2]))

            print()
            print(
                "vocabulary growth: same ads, default bundle and bundle+N timed alternately in one worker "
                f"({n_syn} ads per kind and size, {rounds_syn} rounds); ratio = median over ads of time(bundle+N) / time(default)"
            )
            print(
                f"  {'list':6} {'extra':>9} {'terms':>8} {'load s':>7} {'RSS MB':>7} "
                f"{'200B ms':>8} {'1KB ms':>8} {'5KB ms':>8} {'ratio 200B':>10} {'1KB':>6} {'5KB':>6}  changed"
            )
            syn_results = {}
            for placement, label, _n, proc in workers:
                proc.stdin.write("go\n")
                proc.stdin.flush()
                res = read_msg(proc, "result")
                syn_results[(placement, label)] = res
                r = ready[(placement, label)]
                sz = res["sizes"]
                ratios = [sz[s]["ratio"] for s in ("200B", "1KB", "5KB")]
                changed = sum(sz[s]["changed"] for s in sz)
                of = sum(sz[s]["of"] for s in sz)
                print(
                    f"  {placement:6} {label:>9} {r['terms']:8,d} {r['load_s']:7.2f} {r['rss_mb']:7.1f} "
                    f"{sz['200B']['subject']['median']:8.3f} {sz['1KB']['subject']['median']:8.3f} "
                    f"{sz['5KB']['subject']['median']:8.3f} {ratios[0]:9.2f}x {ratios[1]:5.2f}x {ratios[2]:5.2f}x"
                    f"  {changed}/{of} decisions"
                )
            if quick:
                for n in extra:
                    print(f"  {'used':6} {f'+{n:,}':>9}  (full run only)")
            big = syn_results[("unused", "+100,000")]
            print()
            print("profile with +100,000 terms (unused list), 5KB ads: self time by function")
            for name, share in big["profile"]["functions"]:
                print(f"  {share:5.1f}%  {name}")
        finally:
            for p in procs:  # a worker whose stdin closes returns (and removes its files)
                if p.stdin and not p.stdin.closed:
                    p.stdin.close()
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    big_ready = ready[("unused", "+100,000")]
    sizes = big["sizes"]
    print()
    print("targets")
    checks = [
        ("1KB ad, median per check", main_result["sizes"]["1KB"]["median"], TARGETS["1KB"], "ms"),
        ("5KB ad, median per check", main_result["sizes"]["5KB"]["median"], TARGETS["5KB"], "ms"),
        (
            "+100,000 terms / default, 1KB",
            sizes["1KB"]["ratio"],
            RATIO_TARGET,
            "x",
        ),
        (
            "+100,000 terms / default, 5KB",
            sizes["5KB"]["ratio"],
            RATIO_TARGET,
            "x",
        ),
        ("default bundle load", base["load_s"], LOAD_TARGET, "s"),
        ("worker RSS, default bundle", base["rss_mb"], RSS_TARGET, "MB"),
        ("worker RSS, +100,000 terms", big_ready["rss_mb"], RSS_TARGET, "MB"),
    ]
    for name, value, limit, unit in checks:
        print(
            f"  {name:32} {value:9.3f} {unit:2} (target <= {limit:g} {unit})  {'met' if value <= limit else 'MISSED'}"
        )
    took = time.perf_counter() - started
    print(f"done in {took:.1f} s", end="")
    if quick and took > 30:
        slowest = max(r["load_s"] for r in ready.values())
        print(f" (over the 30 s of --quick: loading the biggest vocabulary alone took {slowest:.1f} s)", end="")
    print()
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "quick": quick,
                    "default": base,
                    "main": main_result,
                    "synthetic": {
                        f"{p} {lbl}": {"ready": ready[(p, lbl)], **syn_results[(p, lbl)]} for p, lbl in ready
                    },
                },
                indent=1,
            )
        )
    return 0


def _print_default(base: dict) -> None:
    print(
        f"default bundle: {base['rules']} rules, {base['terms']:,} lexicon terms ({base['keys']:,} search keys), "
        f"version {base['version'][:19]}…"
    )
    print(
        f"  load (fresh process, compile + run rule examples) {base['load_s']:.2f} s; imports {base['import_s']:.2f} s"
    )
    print(
        f"  worker memory after create_app + checks: VmRSS {base['rss_mb']:.1f} MB, VmHWM {base['hwm_mb']:.1f} MB "
        f"(imports alone {base['rss_imported_mb']:.1f} MB)"
    )


def _print_main(result: dict, n_per_kind: int, rounds: int) -> None:
    print()
    print_table(
        f"default bundle, per check ({n_per_kind} ads per kind and size, {rounds} rounds; "
        "median of each column on its own)",
        [tuple(r) for r in result["rows"]],
    )
    prof = result["profile"]
    print()
    print("profile, default bundle, 5KB ads (pyinstrument): self time by module")
    for name, share in prof["modules"]:
        print(f"  {share:5.1f}%  {name}")
    print("  top functions by self time")
    for name, share in prof["functions"]:
        print(f"  {share:5.1f}%  {name}")


if __name__ == "__main__":
    sys.exit(main())
