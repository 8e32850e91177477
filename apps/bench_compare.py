#!/usr/bin/env python3
"""Compares one benchmark program of two builds side by side.

  apps/bench_compare.py BEFORE_TREE AFTER_TREE RUNS PROGRAM [ARGS...]

Runs BEFORE_TREE/build/apps/PROGRAM and AFTER_TREE/build/apps/PROGRAM (two
checkouts, each built with `cmake -S . -B build -DCMAKE_BUILD_TYPE=Release`)
alternately, RUNS times each (before, after, after, before, ...), each in its
own tree, and prints a Markdown table: each result row's median and range for
both, and after/before. For sourcery_load, the report's throughput and append
latencies instead (its JSON report goes to /tmp/bench-compare-*.json)."""
import subprocess, sys, statistics, re, json, os
if len(sys.argv) < 5:
    sys.exit(__doc__)
roots = {"before": os.path.abspath(sys.argv[1]), "after": os.path.abspath(sys.argv[2])}
runs = int(sys.argv[3]); prog = sys.argv[4]; args = sys.argv[5:]
vals = {"before": {}, "after": {}}
order = []
def num(s):
    s = s.replace(",", "").strip()
    m = re.match(r"^-?[0-9.]+", s)
    return float(m.group(0)) if m else None
def put(side, key, v):
    if key not in order: order.append(key)
    vals[side].setdefault(key, []).append(v)
for i in range(runs):
    for side in (("before", "after") if i % 2 == 0 else ("after", "before")):
        root = roots[side]
        extra = []
        if prog == "sourcery_load":
            extra = [f"--harness.report-json=/tmp/bench-compare-{side}.json", f"--harness.report-svg=/tmp/bench-compare-{side}.svg",
                     "--harness.progress-interval=0"]
            if "durable" in " ".join(args):
                extra += [f"--storage.path=/tmp/bench-compare-store-{side}", "--storage.wipe=true"]
        out = subprocess.run([f"{root}/build/apps/{prog}"] + args + extra, cwd=root, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{side} run {i} exit {out.returncode}: {out.stderr[-800:]}", file=sys.stderr)
        if prog == "sourcery_load":
            r = json.load(open(f"/tmp/bench-compare-{side}.json"))
            put(side, "events/s", r["throughput"]["events_per_s"])
            for k, v in r["latency"]["append"].items():
                if k in ("p50_us", "p99_us"): put(side, f"append {k}", v)
            for k, v in r["latency"]["append_to_subscriber"].items():
                if k in ("p50_us", "p99_us"): put(side, f"append→subscriber {k}", v)
            continue
        for line in out.stdout.splitlines():
            if not line.startswith("| ") or line.startswith("|--"): continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) < 3: continue
            v = num(cells[1])
            if v is None: continue
            put(side, cells[0] + " [" + cells[2] + "]", v)
print(f"{prog} {' '.join(args)}  ({runs} runs each, alternating; medians)")
print("| what | before [min–max] | after [min–max] | after/before |")
print("|---|---:|---:|---:|")
for k in order:
    b = vals["before"].get(k, []); a = vals["after"].get(k, [])
    if not b or not a: continue
    mb, ma = statistics.median(b), statistics.median(a)
    r = f"{ma/mb:.3f}" if mb else "-"
    print(f"| {k} | {mb:,.4g} [{min(b):,.4g}–{max(b):,.4g}] | {ma:,.4g} [{min(a):,.4g}–{max(a):,.4g}] | {r} |")
